/* head_gate.c -- a client's first request head, before the library (see
 * head_gate.h).
 *
 * libmicrohttpd 0.9.75 answers a malformed head with an HTML page (400, 431,
 * 505), writes its 400 head twice for a bad Content-Length, and closes
 * without a word on a request line it cannot read. So a client's first head
 * is peeked at (MSG_PEEK: the library still reads it all) and checked as
 * uvicorn would (sim_http_head_check); a bad one gets a JSON answer instead.
 * Later requests on a keep-alive connection, and TLS, are the library's own
 * (docs/errors.md). */
#include "head_gate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "http.h"
#include "util.h"

#define HEAD_MAX 16384            /* as the backend's pre-read: more → 431 */
#define HEAD_TIMEOUT_S 60.0       /* MHD_OPTION_CONNECTION_TIMEOUT's */

typedef struct waiting {
    sim_head_gate *g;
    int fd;
    int over_cap;
    ev_io io;
    ev_timer timer;
    struct waiting *prev, *next;
} waiting;

struct sim_head_gate {
    struct ev_loop *loop;
    sim_head_gate_config cfg;
    waiting *list;
    size_t n;
};

sim_head_gate *sim_head_gate_new(struct ev_loop *loop, const sim_head_gate_config *cfg) {
    sim_head_gate *g = sim_xcalloc(1, sizeof *g);
    g->loop = loop;
    g->cfg = *cfg;
    return g;
}

size_t sim_head_gate_waiting(const sim_head_gate *g) { return g ? g->n : 0; }

static void forget(waiting *w, int close_fd) {
    sim_head_gate *g = w->g;
    ev_io_stop(g->loop, &w->io);
    ev_timer_stop(g->loop, &w->timer);
    if (w->prev) w->prev->next = w->next;
    else g->list = w->next;
    if (w->next) w->next->prev = w->prev;
    g->n--;
    if (close_fd) {
        close(w->fd);
        g->cfg.dropped(g->cfg.ctx, w->over_cap);
    }
    free(w);
}

void sim_head_gate_close_all(sim_head_gate *g) {
    while (g->list) forget(g->list, 1);
}

void sim_head_gate_free(sim_head_gate *g) {
    if (!g) return;
    sim_head_gate_close_all(g);
    free(g);
}

/* A bad head's answer; what the client sent is read first, so that the
 * close sends a FIN after the answer, not a reset before it. */
static void refuse(waiting *w, int status, const char *detail) {
    char buf[512], body[160], tmp[4096];
    snprintf(body, sizeof body, "{\"detail\":\"%s\"}", detail);
    size_t n = sim_http_raw(buf, sizeof buf, status, "application/json", NULL, body);
    for (int i = 0; i < 8 && recv(w->fd, tmp, sizeof tmp, MSG_DONTWAIT) > 0; i++) {}
    (void)!send(w->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(w->fd, SHUT_WR);
    forget(w, 1);
}

static void on_head(struct ev_loop *loop, ev_io *io, int revents) {
    (void)loop, (void)revents;
    waiting *w = io->data;
    static char buf[HEAD_MAX + 1];
    ssize_t n = recv(w->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
        forget(w, 1);   /* gone before a request */
        return;
    }
    /* RFC 9112 2.2: empty lines before a request line are ignored. */
    size_t skip = 0;
    while (skip + 1 < (size_t)n && buf[skip] == '\r' && buf[skip + 1] == '\n') skip += 2;
    char *end = memmem(buf + skip, (size_t)n - skip, "\r\n\r\n", 4);
    if (!end) {
        if ((size_t)n > HEAD_MAX) {
            refuse(w, 431, "Request Header Fields Too Large");
            return;
        }
        int lowat = (int)n + 1;
        setsockopt(w->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
        return;
    }
    const char *why;
    int status = sim_http_head_check(buf + skip, (size_t)(end + 4 - buf) - skip, &why);
    if (status) {
        refuse(w, status, why);
        return;
    }
    int lowat = 1, fd = w->fd, over_cap = w->over_cap;
    setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
    sim_head_gate *g = w->g;
    forget(w, 0);
    g->cfg.pass(g->cfg.ctx, fd, over_cap);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    forget(t->data, 1);
}

void sim_head_gate_add(sim_head_gate *g, int fd, int over_cap) {
    waiting *w = sim_xcalloc(1, sizeof *w);
    w->g = g;
    w->fd = fd;
    w->over_cap = over_cap;
    w->next = g->list;
    if (g->list) g->list->prev = w;
    g->list = w;
    g->n++;
    ev_io_init(&w->io, on_head, fd, EV_READ);
    w->io.data = w;
    ev_io_start(g->loop, &w->io);
    ev_timer_init(&w->timer, on_timeout, HEAD_TIMEOUT_S, 0.);
    w->timer.data = w;
    ev_timer_start(g->loop, &w->timer);
}
