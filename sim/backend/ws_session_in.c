/* ws_session_in.c -- what comes into a WebSocket session: the client's
 * frames, reassembled into messages (size-capped), each crossing ws.message,
 * queued in order behind a delayed one or the start-up gate, then answered
 * or dispatched (a chat message becomes a run); and the clock, which makes
 * the next thing due happen (sim_ws_session_tick). Pure, as ws_session.c,
 * whose steps it calls and which never calls back. */
#include "ws_session.h"
#include "ws_session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"


/* A client queues more than a session may hold: everything it queued is
 * dropped, frames not yet written too, so that the close goes out at once;
 * the session is closed with 1013 and its later input ignored. */
static void flood(sim_ws_session *s, int64_t now) {
    if (s->flooded) return;
    s->flooded = 1;
    sim_warn("ws %s: over %d pending runs or %d queued messages; closing with %d", s->conn_id,
             SIM_WS_MAX_PENDING_RUNS, SIM_WS_MAX_QUEUED_MSGS, SIM_WS_FLOOD_CODE);
    sim_wss_stop_runs(s);
    sim_wss_in_clear(s);
    sim_wss_list_clear(&s->pipe);
    sim_wss_list_clear(&s->held);
    if (!s->close_queued) sim_wss_out_clear(s);
    sim_wss_session_close(s, SIM_WS_FLOOD_CODE, SIM_WS_FLOOD_REASON, now);
}

static int starts_run(const sim_ws_msg *m) {
    return (m->kind == SIM_WS_MSG_CHAT || m->kind == SIM_WS_MSG_START_AGENT) && m->text;
}

/* Handles a parsed client message (takes its contents). run_ord: the run
 * ordinal given to it on arrival. */
static void dispatch(sim_ws_session *s, sim_ws_msg *m, uint64_t run_ord, uint64_t user_ord,
                     int64_t now) {
    if (s->flooded) {
        sim_ws_msg_free(m);
        return;
    }
    if (m->kind == SIM_WS_MSG_CHAT || m->kind == SIM_WS_MSG_START_AGENT) {
        /* While shutting down, and without text, no run starts. */
        char tid[64];
        if (m->text && !s->shutting_down && s->nruns >= SIM_WS_MAX_PENDING_RUNS) {
            flood(s, now);
        } else if (m->text && !s->shutting_down && s->env->claim_thread &&
                   s->env->claim_thread(s->env->ctx, sim_wss_chat_thread(s, m, tid), s->hs->user_id)) {
            /* Another user's thread: no run, and nothing is stored there. */
            char text[200];
            snprintf(text, sizeof(text), "Thread %.64s belongs to another user",
                     sim_wss_chat_thread(s, m, tid));
            sim_wss_send_message(s, sim_ws_error("AUTH_FAILED", text, now), "error_message", s->runs_req,
                         NULL, now);
        } else if (m->text && !s->shutting_down) {
            s->nruns++;
            pending_run *p = sim_xcalloc(1, sizeof(*p));
            p->msg = *m;
            p->ord = run_ord;
            p->user_ord = user_ord;
            memset(m, 0, sizeof(*m));
            if (s->rtail) s->rtail->next = p;
            else s->rhead = p;
            s->rtail = p;
            sim_wss_run_start_next(s, now);
        }
        sim_ws_msg_free(m);
        return;
    }
    char *reply = sim_ws_reply(m, s->hs->user_id, now);
    if (reply) {
        const char *type = m->kind == SIM_WS_MSG_PING        ? "pong"
                           : m->kind == SIM_WS_MSG_HEARTBEAT ? "heartbeat_ack"
                           : m->kind == SIM_WS_MSG_UNKNOWN   ? "ack"
                                                             : "error_message";
        sim_wss_send_message(s, reply, type, s->runs_req, NULL, now);
    }
    sim_ws_msg_free(m);
}

/* Handles (or answers) one client message; frees what the entry holds,
 * not the entry. */
static void inmsg_handle(sim_ws_session *s, inmsg *q, int64_t now) {
    if (!s->hung && !s->aborted) {
        if (q->reply) {
            uint64_t run = q->run_ord ? q->run_ord : s->runs_req;
            sim_wss_send_message(s, q->reply, q->reply_type, run, NULL, now);
            q->reply = NULL;
        } else {
            dispatch(s, &q->m, q->run_ord, q->user_ord, now);
        }
    }
    free(q->reply);
    sim_ws_msg_free(&q->m);
}

/* Handles one queued client message and frees the entry. */
static void inmsg_run(sim_ws_session *s, inmsg *q, int64_t now) {
    inmsg_handle(s, q, now);
    free(q);
}

/* Queues a client message (or its REPLACE answer, taken) behind the
 * earlier ones; handled at once when nothing waits and it is not delayed. */
static void in_push(sim_ws_session *s, sim_ws_msg *m, uint64_t run_ord, uint64_t user_ord,
                    char *reply, const char *reply_type, int64_t due, int64_t now) {
    if (s->flooded || s->nin >= SIM_WS_MAX_QUEUED_MSGS) {
        sim_ws_msg_free(m);
        free(reply);
        flood(s, now);
        return;
    }
    due = s->gate_until_ms > due ? s->gate_until_ms : due;   /* behind the start-up gate */
    inmsg now_q = {.m = *m, .run_ord = run_ord, .user_ord = user_ord, .reply = reply, .due_ms = due};
    memset(m, 0, sizeof(*m));
    if (reply_type) snprintf(now_q.reply_type, sizeof(now_q.reply_type), "%s", reply_type);
    if (!s->ihead && due <= now) {
        /* The common case: handled at once, never queued, never allocated. */
        inmsg_handle(s, &now_q, now);
        return;
    }
    inmsg *q = sim_xmalloc(sizeof(*q));
    *q = now_q;
    if (s->itail) s->itail->next = q;
    else s->ihead = q;
    s->itail = q;
    s->nin++;
}

/* One complete client message: crosses ws.message (its type after aliases;
 * a chat message carries the ordinal of the run it starts, any other the
 * runs asked for so far), then handles it. */
static void client_message(sim_ws_session *s, const char *data, size_t len, int64_t now) {
    sim_ws_msg m;
    sim_ws_parse(data, len, &m);
    int run = starts_run(&m);
    uint64_t run_ord = run ? s->runs_req + 1 : s->runs_req;
    uint64_t user_ord = run ? s->env->user_run(s->env->ctx, s->hs->user_id) : 0;
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_REQUEST, .proto = "ws",
                  .name = sim_ws_msg_name(&m), .user_id = sim_wss_user_of(s), .conn = s->ordinal,
                  .msg = ++s->msgs_in, .run = run_ord, .user_run = user_ord};
    sim_action a;
    s->env->cross(s->env->ctx, &w, now, &a);
    switch (a.kind) {
    case SIM_ACT_PASS:
    case SIM_ACT_DELAY:
        if (run) s->runs_req++;
        in_push(s, &m, run ? run_ord : 0, user_ord, NULL, NULL,
                now + (a.kind == SIM_ACT_DELAY ? a.delay_ms : 0), now);
        return;
    case SIM_ACT_REPLACE: {
        /* Answered with the rule's message instead of being handled. */
        char *r = sim_wss_replacement(s, &a, m.run_id, now);
        const char *type = a.field ? a.field : "error_message";
        sim_ws_msg_free(&m);
        in_push(s, &m, 0, 0, r, type, now, now);
        return;
    }
    default:
        sim_wss_act(s, &a, now);
        sim_ws_msg_free(&m);
        return;
    }
}

void sim_ws_session_receive(sim_ws_session *s, const void *data, size_t len, int final,
                            int64_t now_ms) {
    if (s->hung || s->aborted || s->close_queued || s->flooded) return;
    /* lws has no size limit of its own (docs/libraries.md §2.10); the
     * profile decides (docs/contract.md §2.7). The rest of an oversized
     * message is read and dropped: closing while the client still sends it
     * would leave its bytes unread, the kernel would answer them with a
     * reset, and the client would lose the close frame (1006). */
    if (s->rx.len + len > SIM_WS_MAX_MESSAGE || s->rx_dropping) {
        s->rx_dropping = !final;
        s->rx.len = 0;
        /* legacy: the message is dropped, the connection stays. */
        if (final && s->cfg->sc->profile != SIM_PROFILE_LEGACY) {
            sim_wss_stop_runs(s);
            sim_wss_in_clear(s);
            sim_wss_list_clear(&s->pipe);
            sim_wss_list_clear(&s->held);
            sim_wss_session_close(s, SIM_WS_TOO_BIG_CODE, SIM_WS_TOO_BIG_REASON, now_ms);
        }
        return;
    }
    if (final && !s->rx.len) {
        /* The whole message in one piece (the usual case): parsed where
         * lws left it, no copy. */
        if (s->heartbeat_due_ms) sim_wss_heartbeat_start(s, now_ms);
        client_message(s, len ? data : "", len, now_ms);
        return;
    }
    sim_buf_append(&s->rx, data, len);
    if (!final) return;
    /* Any client frame, a pong included, resets the heartbeat. */
    if (s->heartbeat_due_ms) sim_wss_heartbeat_start(s, now_ms);
    /* The message is parsed from the buffer, which then goes: an idle
     * session holds no receive buffer. */
    sim_buf rx = s->rx;
    s->rx = (sim_buf){0};
    client_message(s, rx.data ? rx.data : "", rx.len, now_ms);
    sim_buf_free(&rx);
}

/* ---- time ----------------------------------------------------------------- */

/* What is due next. */
typedef enum { DUE_NONE, DUE_GATE, DUE_INBOUND, DUE_RUN, DUE_HEARTBEAT, DUE_PIPE } due_kind;

/* Keeps the earlier of *at and `when`; on a tie the one considered first. */
static void consider(due_kind *k, int64_t *at, int64_t when, due_kind kind) {
    if (when < *at) {
        *at = when;
        *k = kind;
    }
}

static due_kind next_due(const sim_ws_session *s, int64_t *at) {
    due_kind k = DUE_NONE;
    *at = SIM_WS_NO_DEADLINE;
    if (s->gate_until_ms) consider(&k, at, s->gate_until_ms, DUE_GATE);
    /* Messages behind the start-up gate are due when it opens (in_push):
     * the gate, considered first, goes first. */
    if (s->ihead) consider(&k, at, s->ihead->due_ms, DUE_INBOUND);
    if (s->run_active && !s->stalled && !s->hung && !s->aborted)
        consider(&k, at, s->run_due_ms, DUE_RUN);
    if (s->heartbeat_due_ms) consider(&k, at, s->heartbeat_due_ms, DUE_HEARTBEAT);
    if (s->pipe.head) consider(&k, at, s->pipe.head->due_ms, DUE_PIPE);
    return k;
}

int64_t sim_ws_session_deadline(const sim_ws_session *s) {
    int64_t at;
    next_due(s, &at);
    return at;
}

void sim_ws_session_tick(sim_ws_session *s, int64_t now_ms) {
    int64_t at;
    due_kind k;
    /* Each step removes or moves on what made it due, so this ends. */
    while ((k = next_due(s, &at)) != DUE_NONE && at <= now_ms) {
        switch (k) {
        case DUE_GATE: sim_wss_gate_step(s, now_ms); break;
        case DUE_INBOUND: {
            inmsg *q = s->ihead;
            s->ihead = q->next;
            if (!s->ihead) s->itail = NULL;
            s->nin--;
            inmsg_run(s, q, now_ms);
            break;
        }
        case DUE_RUN: sim_wss_run_step(s, now_ms); break;
        case DUE_HEARTBEAT: sim_wss_heartbeat_step(s, now_ms); break;
        case DUE_PIPE: sim_wss_out_push(s, sim_wss_list_pop(&s->pipe)); break;
        case DUE_NONE: break;
        }
    }
}
