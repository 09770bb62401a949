/* backend_ws.c -- a WebSocket session (ws_session.c, pure) on libwebsockets
 * and libev. The session decides; this file owns the wsi, the one ev_timer
 * at the session's deadline (never an lws timer: the 4.1.6 libev glue fires
 * those late, docs/libraries.md §2.3), and writes everything the session
 * has framed in one lws_write, at once or at SERVER_WRITEABLE (§2.8),
 * closes with close_started handling (§2.9). After every call into the
 * session, ws_sync does what the session wants: write, cut TCP, re-arm the
 * timer. */
#include "backend_ws.h"

#include <stddef.h>
#include <stdlib.h>

#include "agent_run.h"
#include "history.h"
#include "threads.h"

/* ---- the session's environment: the service around it -------------------- */

static void env_cross(void *ctx, const sim_wire *w, int64_t now_ms, sim_action *act) {
    sim_backend_cross_wire(ctx, w, now_ms, act);
}

static uint64_t env_user_run(void *ctx, const char *user_id) {
    return sim_backend_user_run(ctx, user_id);
}

static void ws_sync(conn *c);
static void deadline_due(conn *c);

static void env_misroute(void *ctx, const char *user_id, const char *json, int64_t now_ms) {
    sim_backend *b = ctx;
    for (conn *d = b->conns; d; d = d->next) {
        if (d->kind != C_WS) continue;
        sim_ws_session_deliver(d->u.ws.session, user_id, json, now_ms);
        ws_sync(d);
    }
}

/* Stores both sides of a completed run in the thread history, in one
 * append. The buffer is the backend's, kept: about 1 KiB for every run. */
static void env_run_done(void *ctx, const sim_run *run, int64_t now_ms) {
    sim_backend *b = ctx;
    if (!b->cfg.history) return;
    sim_buf *s = &b->history_buf;
    s->len = 0;
    sim_run_history_entry_append(run, 0, now_ms, s);
    size_t answer_at = s->len + 1;
    sim_buf_append(s, "", 1);   /* the first record's NUL, kept */
    sim_run_history_entry_append(run, 1, now_ms, s);
    const char *records[2] = {s->data, s->data + answer_at};
    sim_history_append(b->cfg.history, run->thread_id, records, 2);
    if (s->cap > 65536) sim_buf_free(s);   /* an odd huge one is not kept */
}

static int env_claim_thread(void *ctx, const char *thread_id, const char *owner) {
    sim_backend *b = ctx;
    return sim_threads_claim(b->routes.threads, thread_id, owner);
}

int sim_backend_ws_setup(sim_backend *b, char *err, size_t errlen) {
    if (sim_backend_fine_init(b, deadline_due, err, errlen) < 0) return -1;
    b->ws_cfg = (sim_ws_session_config){.sc = b->cfg.sc, .seed = b->cfg.seed,
                                        .start_ms = b->cfg.clock->start_ms,
                                        .headroom = LWS_PRE};
    b->ws_env = (sim_ws_session_env){.ctx = b, .cross = env_cross, .user_run = env_user_run,
                                     .misroute = env_misroute, .run_done = env_run_done,
                                     .claim_thread = env_claim_thread};
    return 0;
}

void sim_backend_ws_teardown(sim_backend *b) {
    sim_buf_free(&b->history_buf);
    sim_backend_fine_free(b);
}

/* ---- the one timer -------------------------------------------------------- */

/* Arms the timer for the session's deadline; left alone when it is already
 * armed for it (most frames do not move it). The timer ends a millisecond
 * early, and the fine wake (backend_conn.h) waits the rest, to the
 * microsecond; a deadline closer than that goes to the fine wake at once.
 *
 * A deadline is a whole millisecond of the session's clock, and most come
 * from a client message (a run's events, a delayed frame, an idle timeout):
 * woken at the start of its millisecond, a run's events came up to a
 * millisecond before their target as the client counts it (from its send),
 * and the deadlines of every connection that wrote within one millisecond
 * met at one instant, served one after the other (p50 0.3 ms late at 1000
 * connections, bench/RESULTS.md §11). Kept at the message's phase, they come
 * when the client expects them and spread as the messages did. The session
 * never sees it: it is woken within the millisecond it asked for, and its
 * clock reads the same. */
static void ws_arm(conn *c) {
    ws_part *w = &c->u.ws;
    sim_backend *b = c->b;
    int64_t due = sim_ws_session_deadline(w->session);
    double at = due == SIM_WS_NO_DEADLINE ? 0 : sim_clock_real_at(b->cfg.clock, due) + w->phase;
    if (due == w->timer_due_ms && at == w->timer_at && (ev_is_active(&w->timer) || w->fine_linked))
        return;
    ev_timer_stop(b->loop, &w->timer);
    sim_backend_fine_remove(c);
    w->timer_due_ms = due;
    w->timer_at = at;
    if (due == SIM_WS_NO_DEADLINE) return;
    double wait = at - ev_now(b->loop);
    if (wait > SIM_FINE_S) {
        ev_timer_set(&w->timer, wait - SIM_FINE_S, 0.0);
        ev_timer_start(b->loop, &w->timer);
    } else {
        sim_backend_fine_add(c);
    }
}

/* Writes what the session framed now, from whatever callback made it: one
 * send() and no EPOLLOUT round trip (two epoll_ctl and a loop iteration per
 * batch). lws allows it for a plain TCP wsi once nothing of it is buffered:
 * LWS_WRITE_RAW goes straight to lws_issue_raw, which keeps what the socket
 * does not take and drains it on POLLOUT before anything written after it
 * (docs/libraries.md §2.8). While lws holds bytes of this connection, or a
 * close is under way from either side, the output waits for WRITEABLE as
 * before, so a client that does not read is never sent more than it takes. */
static void ws_write_now(conn *c) {
    ws_part *w = &c->u.ws;
    if (w->write_asked || w->close_started || w->peer_closing || c->aborted ||
        lws_partial_buffered(c->wsi))
        return;
    size_t len;
    const unsigned char *out = sim_ws_session_out(w->session, &len);
    if (!out) return;
    int n = lws_write(c->wsi, (unsigned char *)out, len, LWS_WRITE_RAW);
    sim_ws_session_out_done(w->session);
    if (n < 0) {
        /* Outside a callback nothing can return -1 for lws: WRITEABLE will. */
        w->write_failed = 1;
        w->write_asked = 1;
        lws_callback_on_writable(c->wsi);
    }
}

/* Write interest changes only when the output goes from empty to not
 * empty (here) and back (lws drops POLLOUT before SERVER_WRITEABLE); most
 * output never needs it (ws_write_now). */
static void ws_sync(conn *c) {
    ws_part *w = &c->u.ws;
    unsigned wants = sim_ws_session_wants(w->session);
    if ((wants & SIM_WS_WANT_ABORT) && !c->aborted) sim_backend_conn_abort(c);
    if (wants & SIM_WS_WANT_WRITE) {
        ws_write_now(c);
        /* A close (lws frames it, from WRITEABLE) or output that waits. */
        wants = sim_ws_session_wants(w->session);
    }
    if ((wants & SIM_WS_WANT_WRITE) && !w->write_asked) {
        w->write_asked = 1;
        lws_callback_on_writable(c->wsi);
    }
    ws_arm(c);
}

/* Does what is due already (a run's first event at gap 0) now rather than
 * from a 0 s timer one loop iteration later. */
static void ws_settle(conn *c, int64_t now) {
    if (sim_ws_session_deadline(c->u.ws.session) <= now) sim_ws_session_tick(c->u.ws.session, now);
    ws_sync(c);
}

/* The deadline has come (the fine wake's due): the session does what is due. */
static void deadline_due(conn *c) {
    ws_part *w = &c->u.ws;
    /* Real seconds and simulated ms round differently: a wake a hair early
     * in ms must still find its deadline due. */
    int64_t now = sim_backend_now_ms(c->b);
    if (now < w->timer_due_ms) now = w->timer_due_ms;
    sim_ws_session_tick(w->session, now);
    ws_sync(c);
}

/* The deadline is at most a millisecond away (later, if the loop was busy). */
static void timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    conn *c = (conn *)((char *)t - offsetof(conn, u.ws.timer));
    ev_now_update(loop);
    if (ev_now(loop) >= c->u.ws.timer_at) deadline_due(c);
    else sim_backend_fine_add(c);
}

/* ---- client traffic lws does not report ------------------------------------ */

#define SEEN_REST_MS 1000   /* heartbeats count in seconds: once a second is enough */

static void seen_cb(struct ev_loop *loop, ev_io *io, int revents) {
    (void)revents;
    conn *c = (conn *)((char *)io - offsetof(conn, u.ws.seen));
    sim_ws_session_activity(c->u.ws.session, sim_backend_now_ms(c->b));
    ws_arm(c);
    ev_io_stop(loop, io);
    ev_timer_set(&c->u.ws.rest, sim_backend_wait_s(c->b, SEEN_REST_MS), 0.0);
    ev_timer_start(loop, &c->u.ws.rest);
}

static void rest_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    conn *c = (conn *)((char *)t - offsetof(conn, u.ws.rest));
    if (!c->u.ws.close_started) ev_io_start(loop, &c->u.ws.seen);
}

/* ---- lws callbacks --------------------------------------------------------- */

int sim_backend_ws_established(conn *c) {
    sim_backend *b = c->b;
    sim_ws_handshake *hs = c->upgrade;
    if (!hs) return -1;
    c->upgrade = NULL;
    sim_backend_conn_become(c, C_WS);
    b->nws++;
    ws_part *w = &c->u.ws;
    ev_init(&w->timer, timer_cb);
    w->timer_due_ms = SIM_WS_NO_DEADLINE;
    ev_io_init(&w->seen, seen_cb, lws_get_socket_fd(c->wsi), EV_READ);
    ev_init(&w->rest, rest_cb);
    ev_io_start(b->loop, &w->seen);
    w->session = sim_ws_session_new(&b->ws_cfg, &b->ws_env, hs, c->ordinal);
    int64_t now = sim_backend_arrival_ms(b);
    if (b->shutting_down) sim_ws_session_shutdown(w->session, now);
    else sim_ws_session_open(w->session, now);
    /* The first frames (the welcome) wait for WRITEABLE: written here they
     * would follow the 101 at once, and lws 4.1.6's own client (the probes)
     * loses frames that come in one read with the 101 (docs/libraries.md
     * §2.8). */
    if (sim_ws_session_wants(w->session) & SIM_WS_WANT_WRITE) {
        w->write_asked = 1;
        lws_callback_on_writable(c->wsi);
    }
    ws_sync(c);
    return 0;
}

int sim_backend_ws_receive(conn *c, const void *in, size_t len) {
    ws_part *w = &c->u.ws;
    if (w->close_started) return 0;
    int64_t now = sim_backend_arrival_ms(c->b);
    w->phase = sim_backend_phase_s(c->b, now);
    sim_ws_session_receive(w->session, in, len, lws_is_final_fragment(c->wsi), now);
    ws_settle(c, now);
    return 0;
}

/* Everything the session framed goes in one lws_write: LWS_WRITE_RAW is
 * passed through by lws's ws role as it is, and lws keeps what the socket
 * does not take and sends it before the next SERVER_WRITEABLE (§2.8). A
 * close is lws's to frame (lws_close_reason, then -1), in a callback of its
 * own once the frames before it are out. */
int sim_backend_ws_writeable(conn *c) {
    ws_part *w = &c->u.ws;
    w->write_asked = 0;
    if (w->write_failed) return -1;
    /* Awaiting the close ack: not -1, which would cut TCP (§2.9). */
    if (w->close_started) return 0;
    size_t len;
    const unsigned char *out = sim_ws_session_out(w->session, &len);
    if (out) {
        int n = lws_write(c->wsi, (unsigned char *)out, len, LWS_WRITE_RAW);
        sim_ws_session_out_done(w->session);
        if (n < 0) return -1;
        ws_sync(c);   /* a close behind them: another callback */
        return 0;
    }
    sim_ws_frame *f = sim_ws_session_close_next(w->session);
    if (!f) return 0;
    lws_close_reason(c->wsi, (enum lws_close_status)f->close_code, f->text, f->len);
    w->close_code = f->close_code;
    w->close_started = 1;
    sim_ws_frame_free(f);
    return -1;
}

void sim_backend_ws_peer_close(conn *c, const void *in, size_t len) {
    const unsigned char *p = in;
    /* lws echoes the close itself; a frame after it would break RFC 6455. */
    c->u.ws.peer_closing = 1;
    if (len >= 2) c->u.ws.close_code = (p[0] << 8) | p[1];
}

void sim_backend_ws_closed(conn *c) {
    ws_part *w = &c->u.ws;
    sim_ws_session_closed(w->session, w->close_code ? w->close_code : 1006,
                          sim_backend_now_ms(c->b));
    ws_arm(c);
}

void sim_backend_ws_revoked(conn *c, const char *user_id, const char *jti) {
    sim_backend *b = c->b;
    int64_t now = sim_backend_now_ms(b);
    if (!sim_ws_session_revoked(c->u.ws.session, user_id, jti, now)) return;
    if (!jti && b->cfg.auth) {
        /* A user's revocation takes the token this session holds too, even
         * one issued in the current second. */
        double exp;
        const char *held = sim_ws_session_jti(c->u.ws.session, &exp);
        sim_auth_store_revoke_token(b->cfg.auth, held, exp, now);
    }
    ws_sync(c);
}

void sim_backend_ws_goodbye(conn *c) {
    sim_ws_session_shutdown(c->u.ws.session, sim_backend_now_ms(c->b));
    ws_sync(c);
}
