/* backend_conn.c -- the backend's shared glue: the clock, crossings, the
 * connection list and each connection's parts. Calls no other glue file
 * (see backend_conn.h). */
#include "backend_conn.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "auth_remote.h"
#include "util.h"

int64_t sim_backend_now_ms(const sim_backend *b) {
    return sim_clock_now_ms(b->cfg.clock, ev_now(b->loop));
}

/* ev_now is the time the loop woke up; a request or message read later in
 * the same iteration arrived after it, and a delay timed from it would end
 * early by the iteration's length (135 ms was seen under ASan). libev's
 * timers count from ev_now too, so refreshing it moves both. */
int64_t sim_backend_arrival_ms(const sim_backend *b) {
    ev_now_update(b->loop);
    return sim_backend_now_ms(b);
}

double sim_backend_phase_s(const sim_backend *b, int64_t now_ms) {
    double phase = ev_now(b->loop) - sim_clock_real_at(b->cfg.clock, now_ms);
    double ms = sim_clock_wait_s(b->cfg.clock, 1);
    /* Rounding between seconds and milliseconds can put it a hair outside. */
    return phase < 0 ? 0 : phase >= ms ? ms * 0.999 : phase;
}

double sim_backend_wait_s(const sim_backend *b, int64_t ms) {
    return sim_clock_wait_s(b->cfg.clock, ms);
}

/* ---- fine wakes ---------------------------------------------------------- */

/* The loop's clock is ev_now, CLOCK_REALTIME in seconds: the timerfd runs on
 * the same clock, set for an absolute time. */
static void fine_arm(sim_backend *b, double at) {
    struct itimerspec it = {0};
    double whole = floor(at);
    it.it_value.tv_sec = (time_t)whole;
    it.it_value.tv_nsec = (long)((at - whole) * 1e9);
    if (timerfd_settime(b->fine_fd, TFD_TIMER_ABSTIME, &it, NULL) == 0) b->fine_armed_at = at;
}

/* The first connection due at `now`: the earliest deadline, then the lowest
 * ordinal, so that connections due together go in the same order every run. */
static conn *fine_first_due(sim_backend *b, double now) {
    conn *first = NULL;
    for (conn *c = b->fine; c; c = c->u.ws.fine_next) {
        if (c->u.ws.timer_at > now) continue;
        if (!first || c->u.ws.timer_at < first->u.ws.timer_at ||
            (c->u.ws.timer_at == first->u.ws.timer_at && c->ordinal < first->ordinal))
            first = c;
    }
    return first;
}

static void fine_cb(struct ev_loop *loop, ev_io *io, int revents) {
    (void)revents;
    sim_backend *b = (sim_backend *)((char *)io - offsetof(sim_backend, fine_io));
    uint64_t expirations;
    while (read(b->fine_fd, &expirations, sizeof expirations) < 0 && errno == EINTR) {}
    b->fine_armed_at = INFINITY;
    ev_now_update(loop);
    double now = ev_now(loop);
    /* One at a time: due() can add, remove or free any connection. */
    for (conn *c; (c = fine_first_due(b, now));) {
        sim_backend_fine_remove(c);
        b->fine_due(c);
    }
    double next = INFINITY;
    for (conn *c = b->fine; c; c = c->u.ws.fine_next)
        if (c->u.ws.timer_at < next) next = c->u.ws.timer_at;
    if (next < b->fine_armed_at) fine_arm(b, next);
}

int sim_backend_fine_init(sim_backend *b, void (*due)(conn *c), char *err, size_t errlen) {
    b->fine_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (b->fine_fd < 0) {
        snprintf(err, errlen, "backend: timerfd_create: %s", strerror(errno));
        return -1;
    }
    b->fine_due = due;
    b->fine_armed_at = INFINITY;
    ev_io_init(&b->fine_io, fine_cb, b->fine_fd, EV_READ);
    ev_io_start(b->loop, &b->fine_io);
    return 0;
}

void sim_backend_fine_free(sim_backend *b) {
    if (b->fine_fd < 0) return;
    ev_io_stop(b->loop, &b->fine_io);
    close(b->fine_fd);
    b->fine_fd = -1;
}

void sim_backend_fine_add(conn *c) {
    sim_backend *b = c->b;
    ws_part *w = &c->u.ws;
    double at = w->timer_at;
    if (w->fine_linked) sim_backend_fine_remove(c);
    w->fine_prev = NULL;
    w->fine_next = b->fine;
    if (b->fine) b->fine->u.ws.fine_prev = c;
    b->fine = c;
    w->fine_linked = 1;
    if (at < b->fine_armed_at) fine_arm(b, at);
}

void sim_backend_fine_remove(conn *c) {
    ws_part *w = &c->u.ws;
    if (!w->fine_linked) return;
    if (w->fine_prev) w->fine_prev->u.ws.fine_next = w->fine_next;
    else c->b->fine = w->fine_next;
    if (w->fine_next) w->fine_next->u.ws.fine_prev = w->fine_prev;
    w->fine_prev = w->fine_next = NULL;
    w->fine_linked = 0;
    /* fine_fd stays set: waking for nothing once is cheaper than a syscall. */
}

void sim_backend_cross_wire(sim_backend *b, const sim_wire *w, int64_t now_ms, sim_action *act) {
    if (b->cfg.faults) {
        sim_faults_cross(b->cfg.faults, w, now_ms, act);
    } else {
        memset(act, 0, sizeof(*act));
        act->kind = SIM_ACT_PASS;
    }
}

void sim_backend_cross(sim_backend *b, sim_wire_point point, const char *proto, const char *name,
                       const char *method, const char *user, uint64_t connord, uint64_t msg,
                       uint64_t run, int status, sim_action *act) {
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = point, .proto = proto, .name = name,
                  .method = method, .user_id = user, .conn = connord, .msg = msg, .run = run,
                  .status = status};
    sim_backend_cross_wire(b, &w, sim_backend_now_ms(b), act);
}

/* A user's runs are counted across all their connections; users are few
 * (the scenario's, the registered ones, the demo user), so a list does. */
typedef struct user_runs {
    struct user_runs *next;
    uint64_t n;
    char user[];
} user_runs;

uint64_t sim_backend_user_run(sim_backend *b, const char *user) {
    user_runs *u = b->user_runs;
    while (u && strcmp(u->user, user) != 0) u = u->next;
    if (!u) {
        size_t len = strlen(user);
        u = sim_xcalloc(1, sizeof(*u) + len + 1);
        memcpy(u->user, user, len + 1);
        u->next = b->user_runs;
        b->user_runs = u;
    }
    return ++u->n;
}

void sim_backend_user_runs_free(sim_backend *b) {
    while (b->user_runs) {
        user_runs *u = b->user_runs;
        b->user_runs = u->next;
        free(u);
    }
}

/* ---- connections ------------------------------------------------------------ */

conn *sim_backend_conn_new(sim_backend *b, int fd) {
    conn *c = sim_xcalloc(1, sizeof(*c));
    c->b = b;
    c->fd = fd;
    c->kind = C_PRE;
    b->nconns++;
    c->next = b->conns;
    if (b->conns) b->conns->prev = c;
    b->conns = c;
    return c;
}

void sim_backend_unlink(conn *c) {
    sim_backend *b = c->b;
    if (c->prev) c->prev->next = c->next;
    else if (b->conns == c) b->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Stops every watcher of the current part and frees what it owns. */
static void part_release(conn *c) {
    struct ev_loop *loop = c->b->loop;
    sim_auth_remote_cancel(c->check);
    c->check = NULL;
    switch (c->kind) {
    case C_PRE:
        ev_io_stop(loop, &c->u.pre.io);
        ev_timer_stop(loop, &c->u.pre.timer);
        sim_buf_free(&c->u.pre.head);
        free(c->u.pre.refuse_body);
        break;
    case C_HTTP:
        ev_timer_stop(loop, &c->u.http->timer);
        ev_timer_stop(loop, &c->u.http->idle);
        for (http_part **p = &c->b->settling; c->u.http->settling && *p; p = &(*p)->settle_next)
            if (*p == c->u.http) {
                *p = c->u.http->settle_next;
                break;
            }
        if (c->u.http->hreq) c->u.http->hreq->c = NULL;
        free(c->u.http->query);
        sim_buf_free(&c->u.http->body);
        sim_http_response_free(&c->u.http->resp);
        free(c->u.http);
        break;
    case C_WS:
        ev_timer_stop(loop, &c->u.ws.timer);
        sim_backend_fine_remove(c);
        ev_io_stop(loop, &c->u.ws.seen);
        ev_timer_stop(loop, &c->u.ws.rest);
        sim_ws_session_free(c->u.ws.session);
        c->b->nws--;
        break;
    }
}

void sim_backend_conn_become(conn *c, conn_kind kind) {
    part_release(c);
    memset(&c->u, 0, sizeof(c->u));
    c->kind = kind;
    if (kind == C_HTTP) {
        /* Apart: a WebSocket, the most numerous connection, does not carry
         * an HTTP request's 6 KB of headers and reply. */
        c->u.http = sim_xcalloc(1, sizeof(http_part));
        c->u.http->c = c;
    }
}

void sim_backend_conn_free(conn *c) {
    sim_backend *b = c->b;
    int was_ws = c->kind == C_WS;
    part_release(c);
    if (c->fd >= 0 && c->kind == C_PRE) close(c->fd);
    sim_ws_handshake_free(c->upgrade);
    if (b->adopting == c) b->adopting = NULL;
    b->nconns--;
    if (c->over_cap) b->nrefusing--;
    free(c);
    if (was_ws && b->shutting_down && b->nws == 0 && !b->done_called)
        ev_feed_event(b->loop, &b->done_timer, EV_TIMER);
}

/* connect() with AF_UNSPEC makes Linux abort the connection at once (a RST,
 * not the FIN a shutdown() would send first); the socket stays open, so lws
 * sees the end on its next read and frees the wsi in its own time (never
 * inside our callback). The zero linger is the fallback: a RST at close. */
void sim_backend_abort_fd(int fd) {
    if (fd < 0) return;
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    struct sockaddr sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_UNSPEC;
    if (connect(fd, &sa, sizeof(sa)) != 0) shutdown(fd, SHUT_RDWR);
}

void sim_backend_conn_abort(conn *c) {
    c->aborted = 1;
    sim_backend_abort_fd(c->wsi ? lws_get_socket_fd(c->wsi) : c->fd);
    /* An HTTP wsi waiting for nothing would never notice the dead socket
     * (an fd leak per reset): have its writeable callback close it. */
    if (c->wsi && c->kind == C_HTTP) {
        c->u.http->close_now = 1;
        lws_callback_on_writable(c->wsi);
    }
}
