/* backend_accept.c -- the backend's listening socket and the pre-read of
 * each connection's first request head, before libwebsockets gets it.
 *
 * Why (docs/libraries.md §2.7): lws 4.1.6 refuses an upgrade whose
 * Sec-WebSocket-Protocol list is longer than 127 bytes or has an entry over
 * 63 ("protocol list too long" / "pcol name too long"), and a JWT
 * subprotocol is ~400 bytes. So we read the head ourselves, take that header
 * out of an upgrade, and hand lws what we read (lws_adopt_socket_vhost_readbuf).
 * The head is read, not peeked: unread bytes would keep the socket readable,
 * and a client that sends half a head would have to be polled. Here is also
 * where the accept crossing happens, so faults can refuse, delay or hang a
 * connection or a handshake before lws answers anything. */
#include "backend_accept.h"

#include <ctype.h>
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

#include "auth_remote.h"
#include "backend_http.h"
#include "caps.h"
#include "listener.h"
#include "sock.h"
#include "util.h"

#define HEAD_MAX 16384            /* request head we pre-read; more → 431 */
#define PREREAD_TIMEOUT_MS 10000  /* a client that never finishes its head */
/* Roughly the size of our 101 answer: a `slow` upgrade takes as long as it
 * would take to trickle out at the rule's rate (lws writes the 101 itself). */
#define UPGRADE_REPLY_BYTES 160
#define TOO_MANY "{\"detail\":\"Too many connections\"}"

/* What the pre-read's timer does when a delay ends (pre_part.after_delay). */
enum {
    PRE_ADOPT,    /* hand the socket to lws (a delayed ws.accept; also the head's timeout) */
    PRE_ACCEPT,   /* cross ws.accept (a delayed or slow upgrade request) */
    PRE_REFUSE,   /* answer the refusal kept in the pre-read part */
};

static conn *of_io(ev_io *w) {
    return (conn *)((char *)w - offsetof(conn, u.pre.io));
}

void sim_backend_accept_close(conn *c) {
    sim_backend_unlink(c);
    sim_backend_conn_free(c);   /* closes the socket: lws never had it */
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
    (void)loop, (void)revents;
    conn *c = of_io(w);
    char tmp[4096];
    ssize_t n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) sim_backend_accept_close(c);
}

static void pre_hang(conn *c) {
    pre_part *p = &c->u.pre;
    ev_io_stop(c->b->loop, &p->io);
    ev_timer_stop(c->b->loop, &p->timer);
    c->hung = 1;
    ev_set_cb(&p->io, hung_read_cb);
    ev_io_start(c->b->loop, &p->io);
}

/* A raw HTTP/1.1 reply, then close (FIN). ctype NULL: guessed from body. */
static void pre_reply(conn *c, int status, const char *ctype, const char *body) {
    char buf[4096];
    size_t n = sim_backend_http_refusal(c, buf, sizeof(buf), status, ctype, body);
    pre_drain(c);
    ssize_t w = write(c->fd, buf, n);
    (void)w;
    shutdown(c->fd, SHUT_WR);
    sim_backend_accept_close(c);
}

/* Hands the socket and the (edited) head to lws. After this the connection
 * belongs to lws: it is freed in LWS_CALLBACK_WSI_DESTROY. */
static void adopt_now(conn *c) {
    sim_backend *b = c->b;
    /* The pre-read ends here; lws copies the head it is given. */
    sim_buf head = c->u.pre.head;
    memset(&c->u.pre.head, 0, sizeof(head));
    int edited = c->u.pre.edited;
    size_t wire_len = c->u.pre.wire_len;
    sim_backend_http_start(c);
    b->adopting = c;
    struct lws *wsi;
    if (edited) {
        /* lws reads the head we give it, not the socket's: take that out
         * (peeked, so it is all there). */
        char tmp[4096];
        while (wire_len) {
            ssize_t n = recv(c->fd, tmp, wire_len < sizeof(tmp) ? wire_len : sizeof(tmp), 0);
            if (n <= 0) break;
            wire_len -= (size_t)n;
        }
        wsi = lws_adopt_socket_vhost_readbuf(b->vh, c->fd, head.data, head.len);
    } else {
        wsi = lws_adopt_socket_vhost(b->vh, c->fd);
    }
    sim_buf_free(&head);
    /* Claimed by the callback: c is lws's now, and already destroyed when
     * wsi is NULL. */
    if (b->adopting != c) return;
    b->adopting = NULL;
    if (!wsi) {
        /* lws closed the fd. */
        sim_backend_unlink(c);
        sim_backend_conn_free(c);
        return;
    }
    c->wsi = wsi;
    lws_set_opaque_user_data(wsi, c);
}

/* The auth service's verdict on an upgrade's token: the upgrade goes on
 * with it (a refused token gets AUTH_FAILED and 1008 after the accept, or
 * the 403 of invalid_token "reject"). */
static void on_verdict(void *ctx, sim_auth_status status, const sim_principal *who,
                       const char *why) {
    conn *c = ctx;
    c->check = NULL;
    sim_ws_handshake *hs = c->upgrade;
    hs->auth_status = status;
    hs->remote = 1;
    if (status == SIM_AUTH_OK) {
        snprintf(hs->user_id, sizeof(hs->user_id), "%s", who->user_id);
        snprintf(hs->jti, sizeof(hs->jti), "%s", who->jti);
        hs->exp = who->exp;
    } else if (why) {
        sim_warn("backend: token not validated: %s", why);
    }
    adopt_now(c);
}

/* An upgrade with a token, at a backend that validates remotely, waits
 * for the auth service first (auth_remote.h); everything else goes to lws
 * at once. */
static void adopt(conn *c) {
    sim_backend *b = c->b;
    sim_ws_handshake *hs = c->upgrade;
    if (!b->cfg.remote || !hs || !hs->auth.token || hs->remote) {
        adopt_now(c);
        return;
    }
    ev_io_stop(b->loop, &c->u.pre.io);
    ev_timer_stop(b->loop, &c->u.pre.timer);
    c->check = sim_auth_remote_validate(b->cfg.remote, hs->auth.token, on_verdict, c);
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
static void pre_wait(conn *c, int64_t ms, int after_delay) {
    pre_part *p = &c->u.pre;
    p->after_delay = after_delay;
    ev_io_stop(c->b->loop, &p->io);
    ev_timer_stop(c->b->loop, &p->timer);
    ev_timer_set(&p->timer, sim_backend_wait_s(c->b, ms), 0.0);
    ev_timer_start(c->b->loop, &p->timer);
}

/* The WebSocket is about to be accepted: crosses ws.accept, then hands the
 * socket to lws (which answers 101) or carries out the action. */
static void ws_accept_step(conn *c) {
    sim_backend *b = c->b;
    sim_ws_handshake *hs = c->upgrade;
    sim_action act;
    sim_backend_cross(b, SIM_WIRE_ACCEPT, "ws", hs->path, c->u.pre.method,
                      hs->user_id[0] ? hs->user_id : NULL, c->ordinal, 0, 0, 0, &act);
    switch (act.kind) {
    case SIM_ACT_PASS: adopt(c); return;
    case SIM_ACT_DELAY:
        /* Adopt later: a slow handshake. */
        pre_wait(c, act.delay_ms, PRE_ADOPT);
        return;
    case SIM_ACT_HANG:
        /* Keep the socket, never answer (the handshake times out). */
        pre_hang(c);
        return;
    case SIM_ACT_CLOSE:     /* accept the upgrade, then close with the rule's code */
    case SIM_ACT_REPLACE:   /* accept, then send the rule's message instead of the welcome */
        sim_ws_handshake_accept_action(hs, &act, b->cfg.sc->agent.agent_name,
                                       sim_backend_now_ms(b));
        adopt(c);
        return;
    case SIM_ACT_ABORT:
    default:
        sim_backend_abort_fd(c->fd);
        sim_backend_accept_close(c);
        return;
    }
}

/* The upgrade request is an http.request (name = its path): crosses it,
 * then goes on to ws.accept or answers as the action says. */
static void upgrade_request(conn *c) {
    sim_backend *b = c->b;
    pre_part *p = &c->u.pre;
    sim_action act;
    /* An upgrade: the network's band for a WebSocket connect applies. */
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_REQUEST, .proto = "http",
                  .name = c->upgrade->path, .method = p->method, .conn = c->ordinal, .msg = 1,
                  .upgrade = 1};
    sim_backend_cross_wire(b, &w, sim_backend_now_ms(b), &act);
    switch (act.kind) {
    case SIM_ACT_PASS: ws_accept_step(c); return;
    case SIM_ACT_DELAY: pre_wait(c, act.delay_ms, PRE_ACCEPT); return;
    case SIM_ACT_SLOW:
        pre_wait(c, (int64_t)UPGRADE_REPLY_BYTES * 1000 / (act.code > 0 ? act.code : 1),
                 PRE_ACCEPT);
        return;
    case SIM_ACT_REPLY: {
        /* A refusal python-websockets reports as "server rejected WebSocket
         * connection: HTTP <status>". delay_ms, when the rule has one,
         * comes first. */
        char body[2048];
        snprintf(body, sizeof(body), "%s", act.text ? act.text : "");
        if (act.delay_ms) {
            p->refuse_status = act.code ? act.code : 500;
            free(p->refuse_body);
            p->refuse_body = sim_xstrdup(body);
            snprintf(p->refuse_ctype, sizeof(p->refuse_ctype), "%s",
                     act.field ? act.field : sim_backend_http_ctype(body));
            pre_wait(c, act.delay_ms, PRE_REFUSE);
            return;
        }
        pre_reply(c, act.code ? act.code : 500, act.field, body);
        return;
    }
    case SIM_ACT_EMPTY:
        /* Closed without a reply: a plain FIN once the head is read. */
        pre_drain(c);
        shutdown(c->fd, SHUT_RDWR);
        sim_backend_accept_close(c);
        return;
    case SIM_ACT_HANG:
        pre_hang(c);
        return;
    case SIM_ACT_ABORT:   /* reset */
    default:
        sim_backend_abort_fd(c->fd);
        sim_backend_accept_close(c);
        return;
    }
}

static void pre_timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    conn *c = (conn *)((char *)t - offsetof(conn, u.pre.timer));
    pre_part *p = &c->u.pre;
    if (c->hung) return;
    if (p->head.len && !strstr(p->head.data, "\r\n\r\n")) {
        sim_backend_accept_close(c);   /* the head never came whole */
        return;
    }
    if (p->after_delay == PRE_REFUSE) {
        char *body = p->refuse_body;
        p->refuse_body = NULL;
        pre_reply(c, p->refuse_status, p->refuse_ctype, body ? body : "");
        free(body);
    } else if (p->after_delay == PRE_ACCEPT) {
        ws_accept_step(c);
    } else if (p->head.len) {
        adopt(c);
    } else {
        sim_backend_accept_close(c);   /* nothing came */
    }
}

/* The methods lws 4.1.6 parses (any other is its 403). */
static int known_method(const char *m, size_t n) {
    static const char *const known[] = {"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE",
                                        "OPTIONS"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strlen(known[i]) == n && memcmp(known[i], m, n) == 0) return 1;
    return 0;
}

/* Every % is followed by two hex digits. */
static int escapes_ok(const char *s) {
    for (; (s = strchr(s, '%')) != NULL; s += 3)
        if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2])) return 0;
    return 1;
}

/* A Sec-WebSocket-Key is 16 bytes in base64: 22 characters and "==". */
static int ws_key_ok(const char *v, size_t n) {
    if (n != 24 || v[22] != '=' || v[23] != '=') return 0;
    for (size_t i = 0; i < 22; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '+' && v[i] != '/') return 0;
    return 1;
}

/* Whether s[0..n) holds word, case aside. */
static int memmem_case(const char *s, size_t n, const char *word) {
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (sim_strncaseeq(s + i, word, w)) return 1;
    return 0;
}

/* The head is complete: parse what we need, cross accept, act. */
static void pre_head_done(conn *c, char *hend) {
    sim_backend *b = c->b;
    pre_part *p = &c->u.pre;
    char *head = p->head.data;
    /* Request line: METHOD SP target SP version */
    char *sp1 = memchr(head, ' ', (size_t)(hend - head));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(hend - sp1 - 1)) : NULL;
    if (!sp1 || !sp2) {
        pre_reply(c, 400, NULL, "{\"detail\":\"Bad Request\"}");
        return;
    }
    char method[16], target[4096];
    snprintf(method, sizeof(method), "%.*s", (int)(sp1 - head), head);
    snprintf(target, sizeof(target), "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
    /* lws answers a method it does not know, or a broken %-escape, with
     * an HTML 403; FastAPI with 405 and 404. */
    if (!known_method(head, (size_t)(sp1 - head))) {
        pre_reply(c, 405, "application/json", "{\"detail\":\"Method Not Allowed\"}");
        return;
    }
    if (!escapes_ok(target)) {
        pre_reply(c, 404, "application/json", "{\"detail\":\"Not Found\"}");
        return;
    }
    char *q = strchr(target, '?');
    const char *query = "";
    if (q) {
        *q = '\0';
        query = q + 1;
    }

    char *v, *ls, *le;
    size_t vlen;
    int upgrade = 0;
    if (head_find(head, hend + 2, "Upgrade", &v, &vlen, &ls, &le)) {
        upgrade = strcmp(method, "GET") == 0 && vlen >= 9 && strcasestr(v, "websocket") &&
                  strcasestr(v, "websocket") < v + vlen;
        if (!upgrade) {
            /* Another protocol, or not a GET: uvicorn serves it as the
             * plain request it also is; lws would answer its HTML 403. */
            size_t tail = p->head.len - (size_t)(le - head);
            memmove(ls, le, tail + 1);
            p->head.len -= (size_t)(le - ls);
            hend -= (le - ls);
            p->edited = 1;
        }
    }
    if (upgrade) {
        /* What a WebSocket server checks first (RFC 6455 4.2.1), where
         * lws would close without a word or accept a key that is none. */
        const char *bad = NULL;
        if (!head_find(head, hend + 2, "Connection", &v, &vlen, NULL, NULL) ||
            !memmem_case(v, vlen, "upgrade"))
            bad = "{\"detail\":\"Missing Connection: Upgrade header\"}";
        else if (!head_find(head, hend + 2, "Sec-WebSocket-Key", &v, &vlen, NULL, NULL) ||
                 !ws_key_ok(v, vlen))
            bad = "{\"detail\":\"Missing or invalid Sec-WebSocket-Key header\"}";
        if (bad) {
            pre_reply(c, 400, "application/json", bad);
            return;
        }
    }
    sim_action act;
    if (upgrade) {
        char *sub = NULL, *authz = NULL;
        if (head_find(head, hend + 2, "Sec-WebSocket-Protocol", &v, &vlen, &ls, &le)) {
            sub = sim_xstrndup(v, vlen);
            /* Take the line out: lws must not see it (see the top comment). */
            size_t tail = p->head.len - (size_t)(le - head);
            memmove(ls, le, tail + 1);
            p->head.len -= (size_t)(le - ls);
            hend -= (le - ls);
            p->edited = 1;
        }
        if (head_find(head, hend + 2, "Authorization", &v, &vlen, NULL, NULL))
            authz = sim_xstrndup(v, vlen);
        /* Validating remotely, the token is judged before the adoption. */
        c->upgrade = sim_ws_handshake_new(b->cfg.sc, b->cfg.remote ? NULL : b->cfg.auth, target,
                                          sub, authz, query, sim_backend_now_ms(b));
        free(sub);
        free(authz);
        if (c->over_cap) {
            /* Refused as a WebSocket: the 101, then 1013 (ws_session.c);
             * no fault crossing and no ordinal, it is no connection of the
             * service's. */
            c->upgrade->over_cap = 1;
            adopt(c);
            return;
        }
        c->ordinal = ++b->ws_conns;
        snprintf(p->method, sizeof(p->method), "%.7s", method);
        upgrade_request(c);
        return;
    }
    if (c->over_cap) {
        pre_reply(c, 503, "application/json", TOO_MANY);
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
        sim_backend_accept_close(c);
        return;
    }
}

/* Peeks at the request head until it is whole; the bytes stay in the
 * socket. lws 4.1.6 counts a body wrong when it gets part of it in an
 * adopted buffer and the rest from the socket (more body bytes than the
 * Content-Length, the head's among them; then no BODY_COMPLETION, so no
 * answer, or the body's tail read as the next request): so lws reads the
 * request from the socket itself, and gets a buffer only for an edited head,
 * an upgrade's, which has no body. While the head is incomplete,
 * SO_RCVLOWAT makes the socket readable only when more than what was
 * peeked has come: no polling (docs/libraries.md §2.7). */
static void pre_read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    conn *c = of_io(w);
    pre_part *p = &c->u.pre;
    sim_buf_reserve(&p->head, HEAD_MAX + 2);
    ssize_t n = recv(c->fd, p->head.data, HEAD_MAX + 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
        sim_backend_accept_close(c);
        return;
    }
    char *hend = memmem(p->head.data, (size_t)n, "\r\n\r\n", 4);
    if (!hend || (size_t)(hend - p->head.data) > HEAD_MAX) {
        if (n > HEAD_MAX) {
            pre_reply(c, 431, NULL, "{\"detail\":\"Request Header Fields Too Large\"}");
            return;
        }
        int lowat = (int)n + 1;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
        return;
    }
    int lowat = 1;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
    p->head.len = p->wire_len = (size_t)(hend + 4 - p->head.data);
    p->head.data[p->head.len] = '\0';
    /* A head uvicorn would refuse is refused here, in JSON, before lws
     * answers it its own way: HTML, silence, or a loop that never returns
     * (docs/errors.md). */
    const char *why;
    int status = sim_http_head_check(p->head.data, p->head.len, &why);
    if (status) {
        char body[128];
        snprintf(body, sizeof(body), "{\"detail\":\"%s\"}", why);
        pre_reply(c, status, "application/json", body);
        return;
    }
    ev_io_stop(c->b->loop, &p->io);
    pre_head_done(c, hend);
}

static void refuse(void *ctx, int fd);

static void on_client(void *ctx, int fd) {
    sim_backend *b = ctx;
    if (b->shutting_down) {
        close(fd);
        return;
    }
    /* Over the cap (caps.h) a client is refused as what it asks for: its
     * head is read to tell an upgrade (1013) from a request (503). A few
     * at a time: past those, the 503 at once. */
    int over_cap = (long)(b->nconns - b->nrefusing) >= b->cfg.max_conns;
    if (over_cap && b->nrefusing >= SIM_CAPS_REFUSING) {
        refuse(b, fd);
        close(fd);
        return;
    }
    /* lws writes HTTP headers and body separately: without this, Nagle
     * and the client's delayed ACK add ~40 ms to every keep-alive reply. */
    sim_sock_nodelay(fd);
    conn *c = sim_backend_conn_new(b, fd);
    if (over_cap) {
        c->over_cap = 1;
        b->nrefusing++;
    }
    pre_part *p = &c->u.pre;
    ev_io_init(&p->io, pre_read_cb, fd, EV_READ);
    ev_io_start(b->loop, &p->io);
    ev_timer_init(&p->timer, pre_timer_cb, sim_backend_wait_s(b, PREREAD_TIMEOUT_MS), 0.0);
    ev_timer_start(b->loop, &p->timer);
}

/* A client taken while descriptors ran out, or over the cap while others
 * are being refused: the backend's 503, unread. */
static void refuse(void *ctx, int fd) {
    (void)ctx;
    char buf[512];
    size_t n = sim_http_raw(buf, sizeof(buf), 503, "application/json", NULL, TOO_MANY);
    (void)!send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* ---- the listening socket ------------------------------------------------- */

int sim_backend_accept_listen(sim_backend *b, char *err, size_t errlen) {
    if (b->cfg.max_conns <= 0) b->cfg.max_conns = SIM_CAPS_MAX;
    sim_listener_config lc = {.who = "backend", .bind = b->bind, .port = b->cfg.port,
                              .backlog = 1024, .on_accept = on_client, .on_refuse = refuse,
                              .ctx = b};
    b->listener = sim_listener_start(b->loop, &lc, err, errlen);
    if (!b->listener) return -1;
    sim_listener_pause(b->listener);   /* until _start: lws must exist first */
    b->port = sim_listener_port(b->listener);
    return 0;
}

void sim_backend_accept_start(sim_backend *b) {
    sim_listener_resume(b->listener);
}

void sim_backend_accept_stop(sim_backend *b) {
    sim_listener_free(b->listener);
    b->listener = NULL;
}
