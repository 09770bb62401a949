/* backend_accept.c -- the backend's listening socket and the pre-read of
 * each connection's first request head, before libwebsockets gets it.
 *
 * Why: lws 4.1.6 refuses an upgrade whose Sec-WebSocket-Protocol list is
 * longer than 127 bytes or has an entry over 63 ("protocol list too long" /
 * "pcol name too long"), and a JWT subprotocol is ~400 bytes. So we peek at
 * the head (MSG_PEEK: lws reads the socket itself afterwards), and only for an
 * upgrade carrying that header consume the head, take the header out and hand
 * lws the edited copy (lws_adopt_socket_vhost_readbuf). Here is also where
 * the ACCEPT crossing happens, so faults can refuse, delay or hang a
 * connection or a handshake before lws answers anything. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend_int.h"
#include "util.h"

static void pre_retry_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* ---- pre-read: accept, read the head, edit it, adopt ------------------- */

static void pre_stop(conn *c) {
    ev_io_stop(c->b->loop, &c->io);
    ev_timer_stop(c->b->loop, &c->pre_timer);
    ev_timer_stop(c->b->loop, &c->retry);
}

void sim_backend_pre_close(conn *c) {
    pre_stop(c);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    sim_backend_unlink(c);
    sim_backend_conn_free(c);
}

/* Reads what the client sent and is still unread (the peeked head): a
 * close() with unread input sends a RST, and the client would lose the
 * reply written just before. */
static void pre_drain(conn *c) {
    char tmp[4096];
    for (int i = 0; i < 16; i++)
        if (recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT) <= 0) break;
}

/* A hung connection (HANG before lws): what the client sends is read and
 * ignored, and its end frees the socket. */
static void hung_read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    conn *c = (conn *)((char *)w - offsetof(conn, io));
    char tmp[4096];
    ssize_t n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) sim_backend_pre_close(c);
}

static void pre_hang(conn *c) {
    pre_stop(c);
    c->hung = 1;
    ev_set_cb(&c->io, hung_read_cb);
    ev_io_start(c->b->loop, &c->io);
}

/* A raw HTTP/1.1 reply, then close (FIN). ctype NULL: guessed from body. */
static void pre_reply_ct(conn *c, int status, const char *ctype, const char *body) {
    char buf[4096];
    size_t n = sim_backend_raw_response(buf, sizeof(buf), status,
                                        ctype ? ctype : sim_backend_ctype(body), body);
    pre_drain(c);
    ssize_t w = write(c->fd, buf, n);
    (void)w;
    shutdown(c->fd, SHUT_WR);
    sim_backend_pre_close(c);
}

static void pre_reply(conn *c, int status, const char *body) {
    pre_reply_ct(c, status, NULL, body);
}

/* Hands the socket and the (edited) head to lws. After this the connection
 * belongs to lws: it is freed in LWS_CALLBACK_WSI_DESTROY. */
static void adopt(conn *c) {
    sim_backend *b = c->b;
    pre_stop(c);
    c->kind = C_HTTP;
    b->adopting = c;
    struct lws *wsi = c->readbuf ? lws_adopt_socket_vhost_readbuf(b->vh, c->fd, c->head.data,
                                                                  c->head.len)
                                 : lws_adopt_socket_vhost(b->vh, c->fd);
    if (b->adopting == c) {
        /* No callback claimed it. */
        b->adopting = NULL;
        if (!wsi) {
            /* lws closed the fd. */
            c->fd = -1;
            sim_backend_unlink(c);
            sim_backend_conn_free(c);
            return;
        }
        c->wsi = wsi;
        lws_set_opaque_user_data(wsi, c);
    }
    /* When wsi is NULL here the connection was claimed and already destroyed. */
    if (wsi) sim_buf_free(&c->head);
}

/* Finds header `name` in the head up to end: the value span in v and vlen,
 * and the line's bounds in ls (the CRLF before it) and le (its own CRLF).
 * Returns 1 when found. */
static int head_find(char *head, char *end, const char *name, char **v, size_t *vlen, char **ls,
                     char **le) {
    size_t nl = strlen(name);
    char *p = strstr(head, "\r\n");
    while (p && p + 2 < end) {
        char *line = p + 2;
        char *eol = strstr(line, "\r\n");
        if (!eol || eol > end) break;
        if ((size_t)(eol - line) > nl && sim_strncaseeq(line, name, nl) && line[nl] == ':') {
            char *s = line + nl + 1;
            while (s < eol && (*s == ' ' || *s == '\t')) s++;
            char *e = eol;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
            *v = s;
            *vlen = (size_t)(e - s);
            if (ls) *ls = p;       /* the CRLF before the line */
            if (le) *le = eol;     /* the line's own CRLF */
            return 1;
        }
        p = eol;
    }
    return 0;
}

/* Where the upgrade continues after a delay, as the pre-read's timer. */
static void pre_wait(conn *c, int64_t ms) {
    ev_io_stop(c->b->loop, &c->io);
    ev_timer_stop(c->b->loop, &c->pre_timer);
    ev_timer_set(&c->pre_timer, sim_backend_wait_s(c->b, ms), 0.0);
    ev_timer_start(c->b->loop, &c->pre_timer);
}

/* Roughly the size of our 101 answer: a `slow` upgrade takes as long as it
 * would take to trickle out at the rule's rate (lws writes the 101 itself). */
#define UPGRADE_REPLY_BYTES 160

/* The WebSocket is about to be accepted: crosses ws.accept, then hands the
 * socket to lws (which answers 101) or carries out the action. */
static void ws_accept_step(conn *c) {
    sim_backend *b = c->b;
    sim_action act;
    c->pre_stage = 0;
    sim_backend_cross(b, SIM_WIRE_ACCEPT, "ws", c->path, c->method,
                      c->user_id[0] ? c->user_id : NULL, c->ordinal, 0, 0, 0, &act);
    switch (act.kind) {
    case SIM_ACT_PASS: adopt(c); return;
    case SIM_ACT_DELAY:
        /* Adopt later: a slow handshake. */
        pre_wait(c, act.delay_ms);
        return;
    case SIM_ACT_HANG:
        /* Keep the socket, never answer (the handshake times out). */
        pre_hang(c);
        return;
    case SIM_ACT_CLOSE:
        /* Accept the upgrade, then close with the rule's code. */
        c->accept_close = 1;
        c->accept_code = act.code ? act.code : 1011;
        snprintf(c->accept_text, sizeof(c->accept_text), "%s", act.text ? act.text : "");
        adopt(c);
        return;
    case SIM_ACT_REPLACE:
        /* Accept, then send the rule's message instead of the welcome. */
        free(c->accept_msg);
        c->accept_msg = sim_backend_ws_replacement(c, &act, NULL);
        snprintf(c->accept_type, sizeof(c->accept_type), "%s",
                 act.field ? act.field : "error_message");
        adopt(c);
        return;
    case SIM_ACT_ABORT:
    default:
        sim_backend_abort_fd(c->fd);
        sim_backend_pre_close(c);
        return;
    }
}

/* The upgrade request is an http.request (name = its path): crosses it,
 * then goes on to ws.accept or answers as the action says. */
static void upgrade_request(conn *c) {
    sim_backend *b = c->b;
    sim_action act;
    sim_backend_cross(b, SIM_WIRE_REQUEST, "http", c->path, c->method, NULL, c->ordinal, 1, 0, 0,
                      &act);
    switch (act.kind) {
    case SIM_ACT_PASS: ws_accept_step(c); return;
    case SIM_ACT_DELAY:
        c->pre_stage = 1;
        pre_wait(c, act.delay_ms);
        return;
    case SIM_ACT_SLOW:
        c->pre_stage = 1;
        pre_wait(c, (int64_t)UPGRADE_REPLY_BYTES * 1000 / (act.code > 0 ? act.code : 1));
        return;
    case SIM_ACT_REPLY: {
        /* A refusal python-websockets reports as "server rejected WebSocket
         * connection: HTTP <status>". delay_ms, when the rule has one,
         * comes first. */
        char body[2048];
        snprintf(body, sizeof(body), "%s", act.text ? act.text : "");
        if (act.delay_ms) {
            c->pre_stage = 2;
            c->accept_code = act.code ? act.code : 500;
            free(c->accept_msg);
            c->accept_msg = sim_xstrdup(body);
            snprintf(c->accept_type, sizeof(c->accept_type), "%s",
                     act.field ? act.field : sim_backend_ctype(body));
            pre_wait(c, act.delay_ms);
            return;
        }
        pre_reply_ct(c, act.code ? act.code : 500, act.field, body);
        return;
    }
    case SIM_ACT_EMPTY:
        /* Closed without a reply: a plain FIN once the head is read. */
        pre_drain(c);
        shutdown(c->fd, SHUT_RDWR);
        sim_backend_pre_close(c);
        return;
    case SIM_ACT_HANG:
        pre_hang(c);
        return;
    case SIM_ACT_ABORT:   /* reset */
    default:
        sim_backend_abort_fd(c->fd);
        sim_backend_pre_close(c);
        return;
    }
}

static void pre_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    conn *c = (conn *)((char *)t - offsetof(conn, pre_timer));
    if (c->hung) return;
    if (c->head.len && !strstr(c->head.data, "\r\n\r\n")) {
        sim_backend_pre_close(c);
        return;
    }
    /* The end of a delay of the upgrade. */
    if (c->pre_stage == 2) {
        char *body = c->accept_msg;
        c->accept_msg = NULL;
        pre_reply_ct(c, c->accept_code, c->accept_type, body ? body : "");
        free(body);
    } else if (c->pre_stage == 1) {
        ws_accept_step(c);
    } else if (c->head.len) {
        adopt(c);
    } else {
        sim_backend_pre_close(c);
    }
}

/* The head is complete: parse what we need, sim_backend_cross ACCEPT, act. */
static void pre_head_done(conn *c, char *hend) {
    sim_backend *b = c->b;
    char *head = c->head.data;
    /* Request line: METHOD SP target SP version */
    char *sp1 = memchr(head, ' ', (size_t)(hend - head));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(hend - sp1 - 1)) : NULL;
    if (!sp1 || !sp2) {
        pre_reply(c, 400, "{\"detail\":\"Bad Request\"}");
        return;
    }
    char method[16], target[4096];
    snprintf(method, sizeof(method), "%.*s", (int)(sp1 - head), head);
    snprintf(target, sizeof(target), "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
    char *q = strchr(target, '?');
    const char *query = "";
    if (q) {
        *q = '\0';
        query = q + 1;
    }

    char *v, *ls, *le;
    size_t vlen;
    int upgrade = head_find(head, hend + 2, "Upgrade", &v, &vlen, NULL, NULL) &&
                  vlen >= 9 && strcasestr(v, "websocket") && strcasestr(v, "websocket") < v + vlen;
    sim_action act;
    if (upgrade) {
        char *sub = NULL, *authz = NULL;
        if (head_find(head, hend + 2, "Sec-WebSocket-Protocol", &v, &vlen, &ls, &le)) {
            /* Consume the head for real: lws gets the edited copy. */
            size_t headlen = (size_t)(hend + 4 - head);
            char *tmp = sim_xmalloc(headlen);
            ssize_t got = recv(c->fd, tmp, headlen, 0);
            free(tmp);
            if (got != (ssize_t)headlen) {
                sim_backend_pre_close(c);
                return;
            }
            c->head.len = headlen;
            head[headlen] = '\0';
            c->readbuf = 1;
            sub = sim_xstrndup(v, vlen);
            /* Take the line out: lws must not see it (see the top comment). */
            size_t tail = c->head.len - (size_t)(le - head);
            memmove(ls, le, tail + 1);
            c->head.len -= (size_t)(le - ls);
            hend -= (le - ls);
        }
        if (head_find(head, hend + 2, "Authorization", &v, &vlen, NULL, NULL))
            authz = sim_xstrndup(v, vlen);
        sim_backend_ws_prepare(c, target, sub, authz, query);
        free(sub);
        free(authz);
        c->ordinal = ++b->ws_conns;
        snprintf(c->method, sizeof(c->method), "%.7s", method);
        upgrade_request(c);
        return;
    }
    c->ordinal = ++b->http_conns;
    sim_backend_cross(b, SIM_WIRE_ACCEPT, "http", target, method, NULL, c->ordinal, 0, 0, 0, &act);
    switch (act.kind) {
    case SIM_ACT_PASS: adopt(c); return;
    case SIM_ACT_HANG:
        pre_hang(c);
        return;
    default:
        sim_backend_abort_fd(c->fd);
        sim_backend_pre_close(c);
        return;
    }
}

/* Peeks at the request head without consuming it: lws reads the socket
 * itself unless the head must be edited (see the top comment). A head that
 * is still incomplete is peeked again a little later, since the unread
 * bytes keep the socket readable. */
static void pre_read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    conn *c = (conn *)((char *)w - offsetof(conn, io));
    sim_buf_reserve(&c->head, HEAD_MAX + 2);
    ssize_t n = recv(c->fd, c->head.data, HEAD_MAX + 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        sim_backend_pre_close(c);
        return;
    }
    c->head.len = (size_t)n;
    c->head.data[n] = '\0';
    char *hend = memmem(c->head.data, (size_t)n, "\r\n\r\n", 4);
    if (!hend || (size_t)(hend - c->head.data) > HEAD_MAX) {
        if ((size_t)n > HEAD_MAX) {
            pre_reply(c, 431, "{\"detail\":\"Request Header Fields Too Large\"}");
            return;
        }
        ev_io_stop(loop, &c->io);
        ev_timer_start(loop, &c->retry);
        return;
    }
    if (memchr(c->head.data, '\0', (size_t)(hend - c->head.data))) {
        pre_reply(c, 400, "{\"detail\":\"Bad Request\"}");
        return;
    }
    pre_head_done(c, hend);
}

static void pre_retry_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    conn *c = (conn *)((char *)t - offsetof(conn, retry));
    ev_io_start(loop, &c->io);
}

void sim_backend_accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
    sim_backend *b = (sim_backend *)((char *)w - offsetof(sim_backend, lio));
    for (int i = 0; i < 64; i++) {
        int fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (b->shutting_down) {
            close(fd);
            continue;
        }
        /* lws writes HTTP headers and body separately: without this, Nagle
         * and the client's delayed ACK add ~40 ms to every keep-alive reply. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn *c = sim_xcalloc(1, sizeof(*c));
        c->b = b;
        c->fd = fd;
        c->kind = C_PRE;
        ev_io_init(&c->io, pre_read_cb, fd, EV_READ);
        ev_io_start(loop, &c->io);
        ev_timer_init(&c->pre_timer, pre_timeout_cb, sim_backend_wait_s(b, PREREAD_TIMEOUT_MS), 0.0);
        ev_timer_start(loop, &c->pre_timer);
        ev_timer_init(&c->retry, pre_retry_cb, 0.005, 0.0);
        ev_init(&c->http_timer, sim_backend_http_timer_cb);
        sim_backend_ws_init(c);
        sim_backend_link(b, c);
    }
}

