/* backend_ws.c -- the backend's WebSocket sessions: who the client is
 * (token, user), the outgoing frame queue with LWS_PRE headroom, client
 * messages, and agent runs driven by an ev_timer per connection (never an lws
 * timer: the 4.1.6 libev glue fires those late). Pure protocol lives in
 * ws_proto.c and agent_run.c; this file binds it to a connection. */
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
#include "util.h"

static void run_start_next(conn *c);

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
                                                             sim_backend_now(b), &c->who)
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

static void outmsg_free(outmsg *m) {
    if (!m) return;
    free(m->buf);
    free(m);
}

static void ws_enqueue(conn *c, outmsg *m) {
    if (c->close_queued || c->aborted || !c->wsi) {
        outmsg_free(m);
        return;
    }
    if (m->close) c->close_queued = 1;
    if (c->qtail) c->qtail->next = m;
    else c->qhead = m;
    c->qtail = m;
    lws_callback_on_writable(c->wsi);
}

void sim_backend_ws_close(conn *c, int code, const char *reason) {
    outmsg *m = sim_xcalloc(1, sizeof(*m));
    m->close = 1;
    m->code = code;
    snprintf(m->reason, sizeof(m->reason), "%s", reason ? reason : "");
    ws_enqueue(c, m);
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
}

static void delayed_cb(struct ev_loop *loop, ev_timer *t, int revents);

static void delay_add(conn *c, uint32_t ms, outmsg *out, sim_ws_msg *in) {
    delayed *d = sim_xcalloc(1, sizeof(*d));
    d->c = c;
    d->out = out;
    if (in) {
        d->in = *in;
        d->is_in = 1;
        memset(in, 0, sizeof(*in));
    }
    d->next = c->delays;
    c->delays = d;
    ev_timer_init(&d->t, delayed_cb, ms / 1000.0, 0.0);
    ev_timer_start(c->b->loop, &d->t);
}

/* Applies a non-PASS action of a WebSocket crossing. Returns 1 when the
 * caller must not go on with what it was doing. */
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
            ws_enqueue(c, outmsg_text(t));
        } else {
            char *e = sim_ws_error("CRITICAL_FAILURE", t, sim_backend_now(c->b));
            ws_enqueue(c, outmsg_text(e));
            free(e);
        }
        return 1;
    }
    default: return 0;   /* DELAY is the caller's */
    }
}

/* Sends one server message (takes ownership of json): crosses SEND, then
 * obeys the action. */
static void ws_send(conn *c, char *json, const char *type) {
    sim_action a;
    if (c->hung || c->aborted) {
        free(json);
        return;
    }
    sim_backend_cross(c->b, SIM_WIRE_SEND, "ws", type, NULL, c->user_id[0] ? c->user_id : NULL, c->ordinal,
          ++c->msgs_out, c->runs, 0, &a);
    if (a.kind == SIM_ACT_DELAY) {
        delay_add(c, a.delay_ms, outmsg_text(json), NULL);
    } else if (!ws_act(c, &a)) {
        ws_enqueue(c, outmsg_text(json));
    }
    free(json);
}

/* Stores both sides of a completed run in the thread history. */
static void run_store(conn *c) {
    sim_backend *b = c->b;
    if (!b->cfg.history) return;
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, sim_backend_now(b));
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

void sim_backend_run_timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    conn *c = (conn *)((char *)t - offsetof(conn, run_timer));
    if (!c->run_active || c->hung || c->aborted) return;
    int i = c->run_next;
    const char *type = sim_run_event_type(i);
    int send = 1;
    if (!c->run_delay_passed) {
        sim_action a;
        sim_backend_cross(c->b, SIM_WIRE_SEND, "ws", type, NULL, c->user_id, c->ordinal, ++c->msgs_out,
              c->runs, 0, &a);
        if (a.kind == SIM_ACT_DELAY) {
            /* Later events wait behind this one: the run's timer is the queue. */
            c->run_delay_passed = 1;
            ev_timer_set(&c->run_timer, a.delay_ms / 1000.0, 0.0);
            ev_timer_start(loop, &c->run_timer);
            return;
        }
        if (a.kind == SIM_ACT_DROP) {
            send = 0;
        } else if (a.kind == SIM_ACT_REPLY) {
            ws_act(c, &a);                  /* an error in place of the event */
            send = 0;
        } else if (ws_act(c, &a)) {
            return;                         /* the run was stopped */
        }
    }
    c->run_delay_passed = 0;
    if (send) {
        char *e = sim_run_event(&c->run, i, ev_now(loop));
        ws_enqueue(c, outmsg_text(e));
        free(e);
    }
    c->run_next++;
    if (c->run_next >= SIM_RUN_EVENTS) {
        run_store(c);
        sim_run_free(&c->run);
        c->run_active = 0;
        run_start_next(c);
        return;
    }
    ev_timer_set(&c->run_timer, c->run.gap_ms[c->run_next] / 1000.0, 0.0);
    ev_timer_start(loop, &c->run_timer);
}

static void run_start_next(conn *c) {
    sim_backend *b = c->b;
    if (c->run_active || !c->runs_head || b->shutting_down) return;
    pending_run *p = c->runs_head;
    c->runs_head = p->next;
    if (!c->runs_head) c->runs_tail = NULL;
    char tid[64];
    const char *thread_id = p->msg.thread_id;
    if (!thread_id) {
        /* No thread named: one per connection, made up from its ordinal. */
        char hex[17];
        sim_hex(hex, 16, sim_mix(b->cfg.seed, "ws_thread", c->ordinal, 0));
        snprintf(tid, sizeof(tid), "thread_%s", hex);
        thread_id = tid;
    }
    c->runs++;
    sim_run_input in = {&b->cfg.sc->agent, b->cfg.sc->profile, b->cfg.seed, c->user_id,
                        c->ordinal, c->runs, p->msg.text, p->msg.run_id, thread_id};
    sim_run_plan(&c->run, &in);
    sim_ws_msg_free(&p->msg);
    free(p);
    c->run_active = 1;
    c->run_next = 0;
    c->run_delay_passed = 0;
    ev_timer_set(&c->run_timer, c->run.gap_ms[0] / 1000.0, 0.0);
    ev_timer_start(b->loop, &c->run_timer);
}

/* Handles a parsed client message (takes its contents). */
static void ws_dispatch(conn *c, sim_ws_msg *m) {
    if ((m->kind == SIM_WS_MSG_CHAT || m->kind == SIM_WS_MSG_START_AGENT)) {
        if (m->text && !c->b->shutting_down) {
            pending_run *p = sim_xcalloc(1, sizeof(*p));
            p->msg = *m;
            memset(m, 0, sizeof(*m));
            if (c->runs_tail) c->runs_tail->next = p;
            else c->runs_head = p;
            c->runs_tail = p;
            run_start_next(c);
        }
        sim_ws_msg_free(m);
        return;
    }
    char *reply = sim_ws_reply(m, c->user_id, sim_backend_now(c->b));
    if (reply) {
        const char *type = m->kind == SIM_WS_MSG_PING        ? "pong"
                           : m->kind == SIM_WS_MSG_HEARTBEAT ? "heartbeat_ack"
                           : m->kind == SIM_WS_MSG_UNKNOWN   ? "ack"
                                                             : "error_message";
        ws_send(c, reply, type);
    }
    sim_ws_msg_free(m);
}

static void delayed_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    delayed *d = (delayed *)t;
    conn *c = d->c;
    delayed **pp = &c->delays;
    while (*pp && *pp != d) pp = &(*pp)->next;
    if (*pp) *pp = d->next;
    if (d->is_in) {
        if (!c->hung && !c->aborted) ws_dispatch(c, &d->in);
        sim_ws_msg_free(&d->in);
    } else {
        ws_enqueue(c, d->out);
    }
    free(d);
}

/* One complete client message: sim_backend_cross REQUEST, then handle. */
static void ws_message(conn *c, const char *data, size_t len) {
    sim_ws_msg m;
    sim_ws_parse(data, len, &m);
    const char *name = m.type[0] ? m.type
                       : m.kind == SIM_WS_MSG_INVALID_JSON ? "invalid_json"
                                                           : "bad_format";
    sim_action a;
    sim_backend_cross(c->b, SIM_WIRE_REQUEST, "ws", name, NULL, c->user_id, c->ordinal, ++c->msgs_in,
          c->runs, 0, &a);
    if (a.kind == SIM_ACT_DELAY) {
        delay_add(c, a.delay_ms, NULL, &m);
        return;
    }
    if (ws_act(c, &a)) {
        sim_ws_msg_free(&m);
        return;
    }
    ws_dispatch(c, &m);
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
        ws_send(c, sim_ws_error("AUTH_FAILED", text, sim_backend_now(b)), "error_message");
        sim_backend_ws_close(c, 1008, "Authentication failed");
        return;
    }
    if (c->accept_close) {
        sim_backend_ws_close(c, c->accept_code, c->accept_text);
        return;
    }
    sim_debug("ws %s: user %s (token from %s)", c->conn_id, c->user_id,
             sim_ws_token_source_name(c->auth.source));
    ws_send(c, sim_ws_welcome(b->cfg.sc->profile, c->user_id, c->conn_id, sim_backend_now(b)),
            "connection_established");
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
    if (c->hung || c->aborted || c->close_queued || c->close_started) return 0;
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
    size_t n = c->rx.len;
    c->rx.len = 0;
    ws_message(c, c->rx.data ? c->rx.data : "", n);
    return 0;
}


void sim_backend_ws_release(conn *c) {
    sim_backend_ws_stop_runs(c);
    while (c->delays) {
        delayed *d = c->delays;
        c->delays = d->next;
        ev_timer_stop(c->b->loop, &d->t);
        outmsg_free(d->out);
        sim_ws_msg_free(&d->in);
        free(d);
    }
    while (c->qhead) {
        outmsg *m = c->qhead;
        c->qhead = m->next;
        outmsg_free(m);
    }
    c->qtail = NULL;
}
