/* backend_ws.c -- the backend's WebSocket sessions: who the client is
 * (token, user), the outgoing frame queue with LWS_PRE headroom, client
 * messages, and agent runs driven by an ev_timer per connection (never an lws
 * timer: the 4.1.6 libev glue fires those late). Pure protocol lives in
 * ws_proto.c and agent_run.c; this file binds it to a connection.
 *
 * Fault actions on ws.send and ws.message are carried out here. Every frame
 * goes through a per-connection pipe before lws's queue, and every client
 * message through an inbound queue, so that a DELAY holds back what comes
 * after it instead of letting it overtake (HOLD is the one that reorders). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend_int.h"
#include "startup.h"
#include "util.h"

static void run_start_next(conn *c);

_Static_assert((int)SIM_WS_MALFORM_REMOVE_FIELD == (int)SIM_MALFORM_REMOVE_FIELD &&
                   (int)SIM_WS_MALFORM_WRONG_TYPE == (int)SIM_MALFORM_WRONG_TYPE &&
                   (int)SIM_WS_MALFORM_INVALID_JSON == (int)SIM_MALFORM_INVALID_JSON,
               "ws_proto's malform modes follow fault.h's");

/* ---- WebSocket upgrade facts ------------------------------------------- */

/* Finds the token, checks it (revocation included: the store is shared with
 * the auth service) and decides the user. Called once per upgrade. */
void sim_backend_ws_prepare(conn *c, const char *path, const char *subprotocols, const char *authz,
                       const char *query) {
    sim_backend *b = c->b;
    sim_ws_auth_free(&c->auth);
    c->ws_prepared = 1;
    snprintf(c->path, sizeof(c->path), "%s", path);
    sim_ws_auth_extract(subprotocols, authz, query, &c->auth);
    c->auth_status = SIM_AUTH_OK;
    c->user_id[0] = '\0';
    if (c->auth.token) {
        memset(&c->who, 0, sizeof(c->who));
        c->auth_status = b->cfg.auth ? sim_auth_check_access(b->cfg.auth, c->auth.token,
                                                             sim_backend_now_ms(b), &c->who)
                                     : SIM_AUTH_INVALID;
        if (c->auth_status == SIM_AUTH_OK) snprintf(c->user_id, sizeof(c->user_id), "%s",
                                                    c->who.user_id);
    } else if (b->cfg.sc->no_token == SIM_NO_TOKEN_DEMO) {
        snprintf(c->user_id, sizeof(c->user_id), "%s",
                 b->cfg.sc->demo_user_id ? b->cfg.sc->demo_user_id : "demo-user-001");
    }
}


/* ---- WebSocket session ---------------------------------------------------- */

static outmsg *outmsg_text(const char *json) {
    size_t len = strlen(json);
    outmsg *m = sim_xcalloc(1, sizeof(*m));
    m->buf = sim_xmalloc(LWS_PRE + len + 1);
    memcpy(m->buf + LWS_PRE, json, len);
    m->len = len;
    return m;
}

static outmsg *outmsg_copy(const outmsg *o) {
    outmsg *m = sim_xcalloc(1, sizeof(*m));
    *m = *o;
    m->next = NULL;
    m->buf = sim_xmalloc(LWS_PRE + o->len + 1);
    memcpy(m->buf + LWS_PRE, o->buf + LWS_PRE, o->len);
    return m;
}

static void outmsg_free(outmsg *m) {
    if (!m) return;
    free(m->buf);
    free(m);
}

static void outlist_free(outmsg **head, outmsg **tail) {
    while (*head) {
        outmsg *m = *head;
        *head = m->next;
        outmsg_free(m);
    }
    *tail = NULL;
}

static int ws_gone(const conn *c) {
    return c->close_queued || c->aborted || !c->wsi;
}

/* Hands a frame to lws's writeable callback: the last step, no more delays. */
static void ws_enqueue(conn *c, outmsg *m) {
    if (ws_gone(c)) {
        outmsg_free(m);
        return;
    }
    m->next = NULL;
    if (m->close) c->close_queued = 1;
    if (c->qtail) c->qtail->next = m;
    else c->qhead = m;
    c->qtail = m;
    lws_callback_on_writable(c->wsi);
}

/* ---- the pipe: outgoing frames in order, a delayed one holds back the rest */

static void pipe_arm(conn *c) {
    ev_timer_stop(c->b->loop, &c->pipe_timer);
    if (!c->phead) return;
    int64_t wait = c->phead->due_ms - sim_backend_now_ms(c->b);
    ev_timer_set(&c->pipe_timer, sim_backend_wait_s(c->b, wait), 0.0);
    ev_timer_start(c->b->loop, &c->pipe_timer);
}

static void pipe_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    conn *c = (conn *)((char *)t - offsetof(conn, pipe_timer));
    int64_t now = sim_backend_now_ms(c->b);
    /* The head is what the timer waited for; then everything already due. */
    int first = 1;
    while (c->phead && (first || c->phead->due_ms <= now)) {
        outmsg *m = c->phead;
        c->phead = m->next;
        if (!c->phead) c->ptail = NULL;
        ws_enqueue(c, m);
        first = 0;
    }
    pipe_arm(c);
}

/* Sends m at `due` (loop time) but never before a frame pushed earlier:
 * DELAY delays the stream, it does not reorder it. Takes m. */
static void pipe_push(conn *c, outmsg *m, int64_t due) {
    if (ws_gone(c)) {
        outmsg_free(m);
        return;
    }
    if (!c->phead && due <= sim_backend_now_ms(c->b)) {
        ws_enqueue(c, m);
        return;
    }
    m->due_ms = due;
    m->next = NULL;
    if (c->ptail) c->ptail->next = m;
    else c->phead = m;
    c->ptail = m;
    if (c->phead == m) pipe_arm(c);
}

/* Frames held back by HOLD go out right after the frame just pushed. */
static void held_release(conn *c, int64_t due) {
    while (c->held_head) {
        outmsg *m = c->held_head;
        c->held_head = m->next;
        if (!c->held_head) c->held_tail = NULL;
        pipe_push(c, m, due);
    }
}

void sim_backend_ws_close(conn *c, int code, const char *reason) {
    outmsg *m = sim_xcalloc(1, sizeof(*m));
    m->close = 1;
    m->code = code;
    snprintf(m->reason, sizeof(m->reason), "%s", reason ? reason : "");
    pipe_push(c, m, sim_backend_now_ms(c->b));
}

void sim_backend_ws_stop_runs(conn *c) {
    ev_timer_stop(c->b->loop, &c->run_timer);
    if (c->run_active) sim_run_free(&c->run);
    c->run_active = 0;
    while (c->runs_head) {
        pending_run *p = c->runs_head;
        c->runs_head = p->next;
        sim_ws_msg_free(&p->msg);
        free(p);
    }
    c->runs_tail = NULL;
    c->nruns_pending = 0;
}

/* STALL: the active run stops where it is and never ends; chat messages
 * still queue behind it (the staging symptom S23). Pings are answered. */
static void ws_stall(conn *c) {
    ev_timer_stop(c->b->loop, &c->run_timer);
    c->stalled = 1;
}

char *sim_backend_ws_replacement(conn *c, const sim_action *a, const char *run_id) {
    return sim_ws_replacement(a->field ? a->field : "error_message", a->error_code, a->text, run_id,
                              c->user_id[0] ? c->user_id : NULL, c->b->cfg.sc->agent.agent_name,
                              sim_backend_now_ms(c->b));
}

/* MISROUTE: the frame goes to every open session of `user` instead (an
 * isolation breach); nobody there, it is lost. */
static void ws_misroute(conn *c, const char *user, const char *json) {
    for (conn *d = c->b->conns; d; d = d->next) {
        if (d->kind != C_WS || ws_gone(d) || d->hung || strcmp(d->user_id, user) != 0) continue;
        pipe_push(d, outmsg_text(json), sim_backend_now_ms(d->b));
        held_release(d, sim_backend_now_ms(d->b));
    }
}

/* Applies a connection-level action of a WebSocket crossing (close, abort,
 * hang, reply). Returns 1 when the caller must not go on with what it was
 * doing. */
static int ws_act(conn *c, const sim_action *a) {
    switch (a->kind) {
    case SIM_ACT_PASS: return 0;
    case SIM_ACT_DROP: return 1;
    case SIM_ACT_CLOSE:
        sim_backend_ws_stop_runs(c);
        sim_backend_ws_close(c, a->code ? a->code : 1011, a->text ? a->text : "");
        return 1;
    case SIM_ACT_ABORT:
        sim_backend_ws_stop_runs(c);
        sim_backend_conn_abort(c);
        return 1;
    case SIM_ACT_HANG:
        sim_backend_ws_stop_runs(c);
        c->hung = 1;
        return 1;
    case SIM_ACT_REPLY: {
        const char *t = a->text ? a->text : "";
        if (t[0] == '{') {
            pipe_push(c, outmsg_text(t), sim_backend_now_ms(c->b));
        } else {
            char *e = sim_ws_error("CRITICAL_FAILURE", t, sim_backend_now_ms(c->b));
            pipe_push(c, outmsg_text(e), sim_backend_now_ms(c->b));
            free(e);
        }
        return 1;
    }
    default: return 0;
    }
}

/* What ws_out did with a frame. */
enum { OUT_GONE_ON, OUT_STOPPED };

/* Sends one server message (takes json): crosses ws.send, then carries out
 * the action. `run_id` names the run the message belongs to (for REPLACE),
 * may be NULL. Returns OUT_STOPPED when the action ended the run or the
 * session (close, abort, hang, stall): the caller must not touch the run. */
static int ws_out(conn *c, char *json, const char *type, uint64_t run, const char *run_id) {
    sim_action a;
    if (c->hung || c->aborted) {
        free(json);
        return OUT_STOPPED;
    }
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_SEND, .proto = "ws", .name = type,
                  .user_id = c->user_id[0] ? c->user_id : NULL, .conn = c->ordinal,
                  .msg = ++c->msgs_out, .run = run,
                  .user_run = run && run == c->runs ? c->user_run : 0};
    sim_backend_cross_wire(c->b, &w, &a);
    int64_t now = sim_backend_now_ms(c->b);
    int rc = OUT_GONE_ON;
    outmsg *m = NULL, *dup = NULL;
    switch (a.kind) {
    case SIM_ACT_PASS: m = outmsg_text(json); break;
    case SIM_ACT_DROP: break;
    case SIM_ACT_DELAY:
        m = outmsg_text(json);
        now += a.delay_ms;
        break;
    case SIM_ACT_DUPLICATE:
        m = outmsg_text(json);
        dup = outmsg_copy(m);
        break;
    case SIM_ACT_HOLD: {
        outmsg *h = outmsg_text(json);
        if (c->held_tail) c->held_tail->next = h;
        else c->held_head = h;
        c->held_tail = h;
        break;
    }
    case SIM_ACT_MALFORM: {
        char *bad = sim_ws_malform(json, a.mode, a.field);
        m = outmsg_text(bad);
        free(bad);
        break;
    }
    case SIM_ACT_REPLACE: {
        char *r = sim_backend_ws_replacement(c, &a, run_id);
        m = outmsg_text(r);
        free(r);
        break;
    }
    case SIM_ACT_MISROUTE:
        if (a.field) ws_misroute(c, a.field, json);
        break;
    case SIM_ACT_STALL:
        ws_stall(c);
        rc = OUT_STOPPED;
        break;
    case SIM_ACT_CLOSE:
        if (a.mode == SIM_CLOSE_AFTER_SEND) {
            /* The event, then the close, in the pipe's order. */
            pipe_push(c, outmsg_text(json), now);
            held_release(c, now);
        }
        ws_act(c, &a);
        rc = OUT_STOPPED;
        break;
    default:
        if (ws_act(c, &a)) rc = OUT_STOPPED;
        else m = outmsg_text(json);
        break;
    }
    free(json);
    if (m) {
        pipe_push(c, m, now);
        if (dup) pipe_push(c, dup, now);
        held_release(c, now);
    }
    return rc;
}

/* Stores both sides of a completed run in the thread history. */
static void run_store(conn *c) {
    sim_backend *b = c->b;
    if (!b->cfg.history) return;
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, sim_backend_now_ms(b));
    const char *roles[2] = {"user", "assistant"};
    const char *texts[2] = {c->run.prompt, c->run.answer};
    for (int i = 0; i < 2; i++) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "role", roles[i]);
        cJSON_AddStringToObject(j, "content", texts[i]);
        cJSON_AddStringToObject(j, "run_id", c->run.run_id);
        cJSON_AddStringToObject(j, "thread_id", c->run.thread_id);
        cJSON_AddStringToObject(j, "user_id", c->run.user_id);
        cJSON_AddStringToObject(j, "timestamp", iso);
        char *s = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        sim_history_append(b->cfg.history, c->run.thread_id, s);
        free(s);
    }
}

/* The run's next event is due. A DELAY does not move the run's schedule:
 * the delayed event waits in the pipe and the later ones queue behind it. */
void sim_backend_run_timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    conn *c = (conn *)((char *)t - offsetof(conn, run_timer));
    if (!c->run_active || c->hung || c->aborted || c->stalled) return;
    int i = c->run_next;
    char run_id[sizeof(c->run.run_id)];
    snprintf(run_id, sizeof(run_id), "%s", c->run.run_id);
    char *e = sim_run_event(&c->run, i, sim_backend_now_ms(c->b));
    if (ws_out(c, e, sim_run_event_type(i), c->runs, run_id) == OUT_STOPPED) return;
    c->run_next++;
    if (c->run_next >= SIM_RUN_EVENTS) {
        run_store(c);
        sim_run_free(&c->run);
        c->run_active = 0;
        /* A frame held back with nothing after it in the run goes now. */
        held_release(c, sim_backend_now_ms(c->b));
        run_start_next(c);
        return;
    }
    ev_timer_set(&c->run_timer, sim_backend_wait_s(c->b, c->run.gap_ms[c->run_next]), 0.0);
    ev_timer_start(loop, &c->run_timer);
}

static void run_start_next(conn *c) {
    sim_backend *b = c->b;
    if (c->run_active || c->stalled || !c->runs_head || b->shutting_down) return;
    pending_run *p = c->runs_head;
    c->runs_head = p->next;
    if (!c->runs_head) c->runs_tail = NULL;
    c->nruns_pending--;
    char tid[64];
    const char *thread_id = p->msg.thread_id;
    if (!thread_id) {
        /* No thread named: one per connection, made up from its ordinal. */
        char hex[17];
        sim_hex(hex, 16, sim_mix(b->cfg.seed, "ws_thread", c->ordinal, 0));
        snprintf(tid, sizeof(tid), "thread_%s", hex);
        thread_id = tid;
    }
    c->runs = p->ord;
    c->user_run = p->user_ord;
    sim_run_input in = {&b->cfg.sc->agent, b->cfg.sc->profile, b->cfg.seed, c->user_id,
                        c->ordinal, c->runs, p->msg.text, p->msg.run_id, thread_id};
    sim_run_plan(&c->run, &in);
    sim_ws_msg_free(&p->msg);
    free(p);
    c->run_active = 1;
    c->run_next = 0;
    ev_timer_set(&c->run_timer, sim_backend_wait_s(b, c->run.gap_ms[0]), 0.0);
    ev_timer_start(b->loop, &c->run_timer);
}

static void in_clear(conn *c);

/* A client queues more than a session may hold (WS_MAX_PENDING_RUNS runs or
 * WS_MAX_QUEUED_MSGS messages): everything it queued is dropped, frames not
 * yet handed to lws too, so that the close goes out at once; the session is
 * closed with 1013 and its later input ignored. Other sessions are not
 * touched. */
static void ws_flood(conn *c) {
    if (c->flooded) return;
    c->flooded = 1;
    sim_warn("ws %s: over %d pending runs or %d queued messages; closing with %d",
             c->conn_id, WS_MAX_PENDING_RUNS, WS_MAX_QUEUED_MSGS, WS_FLOOD_CODE);
    sim_backend_ws_stop_runs(c);
    in_clear(c);
    ev_timer_stop(c->b->loop, &c->pipe_timer);
    outlist_free(&c->phead, &c->ptail);
    outlist_free(&c->held_head, &c->held_tail);
    if (!c->close_queued) outlist_free(&c->qhead, &c->qtail);
    sim_backend_ws_close(c, WS_FLOOD_CODE, WS_FLOOD_REASON);
}

static int starts_run(const sim_ws_msg *m) {
    return (m->kind == SIM_WS_MSG_CHAT || m->kind == SIM_WS_MSG_START_AGENT) && m->text;
}

/* Handles a parsed client message (takes its contents). run_ord: the run
 * ordinal given to it on arrival. */
static void ws_dispatch(conn *c, sim_ws_msg *m, uint64_t run_ord, uint64_t user_ord) {
    if (c->flooded) {
        sim_ws_msg_free(m);
        return;
    }
    if (m->kind == SIM_WS_MSG_CHAT || m->kind == SIM_WS_MSG_START_AGENT) {
        if (m->text && !c->b->shutting_down && c->nruns_pending >= WS_MAX_PENDING_RUNS) {
            ws_flood(c);
        } else if (m->text && !c->b->shutting_down) {
            c->nruns_pending++;
            pending_run *p = sim_xcalloc(1, sizeof(*p));
            p->msg = *m;
            p->ord = run_ord;
            p->user_ord = user_ord;
            memset(m, 0, sizeof(*m));
            if (c->runs_tail) c->runs_tail->next = p;
            else c->runs_head = p;
            c->runs_tail = p;
            run_start_next(c);
        }
        sim_ws_msg_free(m);
        return;
    }
    char *reply = sim_ws_reply(m, c->user_id, sim_backend_now_ms(c->b));
    if (reply) {
        const char *type = m->kind == SIM_WS_MSG_PING        ? "pong"
                           : m->kind == SIM_WS_MSG_HEARTBEAT ? "heartbeat_ack"
                           : m->kind == SIM_WS_MSG_UNKNOWN   ? "ack"
                                                             : "error_message";
        ws_out(c, reply, type, c->runs_req, NULL);
    }
    sim_ws_msg_free(m);
}

/* Handles (or answers) one queued client message; frees the entry. */
static void inmsg_run(conn *c, inmsg *q) {
    if (!c->hung && !c->aborted) {
        if (q->reply) {
            ws_out(c, q->reply, q->reply_type, q->run_ord ? q->run_ord : c->runs_req, NULL);
            q->reply = NULL;
        } else {
            ws_dispatch(c, &q->m, q->run_ord, q->user_ord);
        }
    }
    free(q->reply);
    sim_ws_msg_free(&q->m);
    free(q);
}

/* Drops every client message still waiting. */
static void in_clear(conn *c) {
    ev_timer_stop(c->b->loop, &c->in_timer);
    while (c->ihead) {
        inmsg *q = c->ihead;
        c->ihead = q->next;
        free(q->reply);
        sim_ws_msg_free(&q->m);
        free(q);
    }
    c->itail = NULL;
    c->nin = 0;
}

static void in_arm(conn *c) {
    ev_timer_stop(c->b->loop, &c->in_timer);
    /* Behind the start-up gate nothing is handled: gate_cb re-arms. */
    if (!c->ihead || c->gate_until_ms) return;
    int64_t wait = c->ihead->due_ms - sim_backend_now_ms(c->b);
    ev_timer_set(&c->in_timer, sim_backend_wait_s(c->b, wait), 0.0);
    ev_timer_start(c->b->loop, &c->in_timer);
}

static void in_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    conn *c = (conn *)((char *)t - offsetof(conn, in_timer));
    int64_t now = sim_backend_now_ms(c->b);
    int first = 1;
    while (c->ihead && (first || c->ihead->due_ms <= now)) {
        inmsg *q = c->ihead;
        c->ihead = q->next;
        if (!c->ihead) c->itail = NULL;
        c->nin--;
        inmsg_run(c, q);
        first = 0;
    }
    in_arm(c);
}

/* Queues a client message (or its REPLACE answer) behind the earlier ones;
 * handled at once when nothing waits and it is not delayed. */
static void in_push(conn *c, sim_ws_msg *m, uint64_t run_ord, uint64_t user_ord, char *reply,
                    const char *reply_type, int64_t due) {
    if (c->flooded) {
        sim_ws_msg_free(m);
        free(reply);
        return;
    }
    if (c->nin >= WS_MAX_QUEUED_MSGS) {
        sim_ws_msg_free(m);
        free(reply);
        ws_flood(c);
        return;
    }
    inmsg *q = sim_xcalloc(1, sizeof(*q));
    q->m = *m;
    memset(m, 0, sizeof(*m));
    q->run_ord = run_ord;
    q->user_ord = user_ord;
    q->reply = reply;
    if (reply_type) snprintf(q->reply_type, sizeof(q->reply_type), "%s", reply_type);
    q->due_ms = c->gate_until_ms > due ? c->gate_until_ms : due;   /* behind the start-up gate */
    if (!c->ihead && q->due_ms <= sim_backend_now_ms(c->b)) {
        inmsg_run(c, q);
        return;
    }
    if (c->itail) c->itail->next = q;
    else c->ihead = q;
    c->itail = q;
    c->nin++;
    if (c->ihead == q) in_arm(c);
}

/* One complete client message: crosses ws.message (its type after aliases;
 * a chat message carries the ordinal of the run it starts, any other the
 * runs asked for so far), then handles it. */
static void ws_message(conn *c, const char *data, size_t len) {
    sim_ws_msg m;
    sim_ws_parse(data, len, &m);
    int run = starts_run(&m);
    uint64_t run_ord = run ? c->runs_req + 1 : c->runs_req;
    uint64_t user_ord = run ? sim_backend_user_run(c->b, c->user_id) : 0;
    sim_action a;
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_REQUEST, .proto = "ws",
                  .name = sim_ws_msg_name(&m), .user_id = c->user_id[0] ? c->user_id : NULL,
                  .conn = c->ordinal, .msg = ++c->msgs_in, .run = run_ord, .user_run = user_ord};
    sim_backend_cross_wire(c->b, &w, &a);
    int64_t now = sim_backend_now_ms(c->b);
    switch (a.kind) {
    case SIM_ACT_PASS:
    case SIM_ACT_DELAY:
        if (run) c->runs_req++;
        in_push(c, &m, run ? run_ord : 0, user_ord, NULL, NULL,
                now + (a.kind == SIM_ACT_DELAY ? a.delay_ms : 0));
        return;
    case SIM_ACT_REPLACE: {
        /* Answered with the rule's message instead of being handled. */
        char *r = sim_backend_ws_replacement(c, &a, m.run_id);
        const char *type = a.field ? a.field : "error_message";
        sim_ws_msg_free(&m);
        in_push(c, &m, 0, 0, r, type, now);
        return;
    }
    default:
        ws_act(c, &a);
        sim_ws_msg_free(&m);
        return;
    }
}

static void heartbeat_start(conn *c);
static void ws_greet(conn *c);

static int64_t startup_elapsed_ms(const conn *c) {
    return sim_clock_elapsed_ms(c->b->cfg.clock, sim_backend_now_ms(c->b));
}

/* The upgrade went through: decide what this connection is. */
void sim_backend_ws_established(conn *c) {
    sim_backend *b = c->b;
    c->kind = C_WS;
    c->upgrading = 0;
    b->nws++;
    char hex[17];
    sim_hex(hex, 12, sim_mix(b->cfg.seed, "conn", c->ordinal, 0));
    snprintf(c->conn_id, sizeof(c->conn_id), "%s_%s",
             b->cfg.sc->profile == SIM_PROFILE_LEGACY ? "ws" : "main", hex);
    if (b->shutting_down) {
        sim_backend_ws_close(c, 1001, "Server shutting down");
        return;
    }
    if (c->auth.unsupported) {
        sim_backend_ws_close(c, 1003, "No supported subprotocols");
        return;
    }
    if (c->auth.token && c->auth_status != SIM_AUTH_OK) {
        const char *why = c->auth_status == SIM_AUTH_EXPIRED   ? "Token has expired"
                          : c->auth_status == SIM_AUTH_REVOKED ? "Token has been revoked"
                                                               : "Invalid token";
        char text[160];
        snprintf(text, sizeof(text), "Authentication failed: %s", why);
        ws_out(c, sim_ws_error("AUTH_FAILED", text, sim_backend_now_ms(b)), "error_message", 0, NULL);
        sim_backend_ws_close(c, 1008, "Authentication failed");
        return;
    }
    if (c->accept_close) {
        sim_backend_ws_close(c, c->accept_code, c->accept_text);
        return;
    }
    sim_debug("ws %s: user %s (token from %s)", c->conn_id, c->user_id,
             sim_ws_token_source_name(c->auth.source));
    const sim_scenario *sc = b->cfg.sc;
    int64_t elapsed = startup_elapsed_ms(c);
    if (sim_startup_phase(sc, elapsed) < SIM_PHASE_SERVICES) {
        /* The startup race: wait for phase `services`, at most ws_wait_ms;
         * client messages queue behind the gate. */
        int64_t ready = sim_startup_phase_start_ms(sc, SIM_PHASE_SERVICES) - elapsed;
        int64_t wait = ready < sc->startup_ws_wait_ms ? ready : sc->startup_ws_wait_ms;
        c->gate_until_ms = sim_backend_now_ms(b) + wait;
        ev_timer_set(&c->gate_timer, sim_backend_wait_s(b, wait), 0.0);
        ev_timer_start(b->loop, &c->gate_timer);
        return;
    }
    ws_greet(c);
}

/* The first message of a session that may start: the welcome (or what a
 * ws.accept REPLACE rule sends instead). */
static void ws_greet(conn *c) {
    sim_backend *b = c->b;
    if (c->accept_msg) {
        /* REPLACE at ws.accept: this message instead of the welcome; the
         * session stays open. */
        char *m = c->accept_msg;
        c->accept_msg = NULL;
        ws_out(c, m, c->accept_type, 0, NULL);
        return;
    }
    ws_out(c, sim_ws_welcome(b->cfg.sc->profile, c->user_id, c->conn_id, sim_backend_now_ms(b)),
           "connection_established", 0, NULL);
    heartbeat_start(c);
}

static void gate_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    conn *c = (conn *)((char *)t - offsetof(conn, gate_timer));
    c->gate_until_ms = 0;
    if (c->hung || c->aborted || c->close_queued || c->close_started) return;
    const sim_scenario *sc = c->b->cfg.sc;
    /* +1 ms: the timer was set for the exact start of `services`. */
    sim_phase p = sim_startup_phase(sc, startup_elapsed_ms(c) + 1);
    if (p < SIM_PHASE_SERVICES) {
        char reason[120];
        snprintf(reason, sizeof(reason), "Service not ready: startup phase %s after %.1f s",
                 sim_phase_name(p), sc->startup_ws_wait_ms / 1000.0);
        in_clear(c);
        sim_backend_ws_close(c, 1011, reason);
        return;
    }
    ws_greet(c);
    in_arm(c);
}

/* ---- heartbeats ---------------------------------------------------------
 * As staging: after heartbeat_ms without client traffic the server sends
 * {"type":"heartbeat"}; after heartbeat_timeout_ms without any it gives up
 * with close 1011. Any client frame (a pong included) resets both. */

static void heartbeat_arm(conn *c) {
    const sim_scenario *sc = c->b->cfg.sc;
    int64_t at = 0;
    if (sc->heartbeat_ms && !c->heartbeat_sent) at = c->last_rx_ms + sc->heartbeat_ms;
    else if (sc->heartbeat_timeout_ms) at = c->last_rx_ms + sc->heartbeat_timeout_ms;
    ev_timer_stop(c->b->loop, &c->heartbeat_timer);
    if (!at) return;
    int64_t wait = at - sim_backend_now_ms(c->b);
    ev_timer_set(&c->heartbeat_timer, sim_backend_wait_s(c->b, wait), 0.0);
    ev_timer_start(c->b->loop, &c->heartbeat_timer);
}

static void heartbeat_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    conn *c = (conn *)((char *)t - offsetof(conn, heartbeat_timer));
    const sim_scenario *sc = c->b->cfg.sc;
    if (c->hung || c->aborted || c->close_queued || c->close_started) return;
    int64_t idle = sim_backend_now_ms(c->b) - c->last_rx_ms;
    if (sc->heartbeat_timeout_ms && idle >= sc->heartbeat_timeout_ms) {
        sim_backend_ws_stop_runs(c);
        sim_backend_ws_close(c, 1011, "Heartbeat timeout");
        return;
    }
    if (sc->heartbeat_ms && !c->heartbeat_sent && idle >= sc->heartbeat_ms) {
        c->heartbeat_sent = 1;
        ws_out(c, sim_ws_heartbeat(c->user_id, c->conn_id, sim_backend_now_ms(c->b)), "heartbeat",
               c->runs_req, NULL);
    }
    heartbeat_arm(c);
}

static void heartbeat_start(conn *c) {
    c->last_rx_ms = sim_backend_now_ms(c->b);
    c->heartbeat_sent = 0;
    heartbeat_arm(c);
}

void sim_backend_ws_init(conn *c) {
    ev_init(&c->heartbeat_timer, heartbeat_cb);
    ev_init(&c->gate_timer, gate_cb);
    ev_init(&c->run_timer, sim_backend_run_timer_cb);
    ev_init(&c->pipe_timer, pipe_cb);
    ev_init(&c->in_timer, in_cb);
}

int sim_backend_ws_writeable(conn *c) {
    if (c->close_started) return 0;   /* awaiting the close ack: not -1 */
    if (c->aborted || c->hung) return 0;
    outmsg *m = c->qhead;
    if (!m) return 0;
    c->qhead = m->next;
    if (!c->qhead) c->qtail = NULL;
    if (m->close) {
        lws_close_reason(c->wsi, (enum lws_close_status)m->code, (unsigned char *)m->reason,
                         strlen(m->reason));
        c->close_code = m->code;
        c->close_started = 1;
        outmsg_free(m);
        return -1;
    }
    int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    outmsg_free(m);
    if (n < 0) return -1;
    if (c->qhead) lws_callback_on_writable(c->wsi);
    return 0;
}

int sim_backend_ws_receive(conn *c, const void *in, size_t len) {
    if (c->hung || c->aborted || c->close_queued || c->close_started || c->flooded) return 0;
    if (c->rx.len + len > SIM_WS_MAX_MESSAGE || c->rx_too_big) {
        if (c->b->cfg.sc->profile != SIM_PROFILE_LEGACY) {
            static const char reason[] = "Message too big";
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                             (unsigned char *)reason, sizeof(reason) - 1);
            c->close_code = 1009;
            c->close_started = 1;
            return -1;
        }
        /* legacy: the oversized message is dropped, the connection stays. */
        c->rx_too_big = 1;
        c->rx.len = 0;
        if (lws_is_final_fragment(c->wsi)) c->rx_too_big = 0;
        return 0;
    }
    sim_buf_append(&c->rx, in, len);
    if (!lws_is_final_fragment(c->wsi)) return 0;
    if (ev_is_active(&c->heartbeat_timer)) heartbeat_start(c);
    size_t n = c->rx.len;
    c->rx.len = 0;
    ws_message(c, c->rx.data ? c->rx.data : "", n);
    return 0;
}


void sim_backend_ws_release(conn *c) {
    sim_backend_ws_stop_runs(c);
    ev_timer_stop(c->b->loop, &c->heartbeat_timer);
    ev_timer_stop(c->b->loop, &c->gate_timer);
    ev_timer_stop(c->b->loop, &c->pipe_timer);
    in_clear(c);
    outlist_free(&c->phead, &c->ptail);
    outlist_free(&c->held_head, &c->held_tail);
    outlist_free(&c->qhead, &c->qtail);
    free(c->accept_msg);
    c->accept_msg = NULL;
}
