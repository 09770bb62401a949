/* backend_lws.c -- the backend service: libwebsockets on the libev loop,
 * binding the pure routes (backend_routes.c), WebSocket protocol (ws_proto.c)
 * and agent runs (agent_run.c) to sockets, timers and the fault engine.
 *
 * Why stagesim owns the listening socket: lws 4.1.6 refuses an upgrade whose
 * Sec-WebSocket-Protocol list is longer than 127 bytes or has an entry over
 * 63 ("protocol list too long" / "pcol name too long"), and a JWT subprotocol
 * is ~400 bytes. So we accept, read the request head ourselves, take the
 * subprotocol header out, and hand the socket plus the edited head to lws
 * (lws_adopt_socket_vhost_readbuf). lws then sees a plain upgrade; we echo
 * the chosen entry in LWS_CALLBACK_ADD_HEADERS. Only the first request of a
 * connection is pre-read; a keep-alive connection's later upgrade carrying
 * a long subprotocol is refused by lws (clients open a fresh connection).
 *
 * Other lws 4.1.6 traps handled here (see LIBRARIES.md): every application
 * timer is an ev_timer; a 1 s ev_timer calls lws_cancel_service so lws's own
 * timeouts fire; upgrade refusals are raw HTTP/1.1 responses; a close code is
 * lws_close_reason + return -1 from the writeable callback; the 8192-byte
 * limit is enforced while collecting fragments; and shutdown sends 1001
 * before lws_context_destroy (which sends no close frames). */
#include "backend.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_run.h"
#include "backend_routes.h"
#include "fault.h"
#include "util.h"
#include "ws_proto.h"

#define HEAD_MAX 16384          /* request head we pre-read; more → 431 */
#define PREREAD_TIMEOUT_S 10.0  /* a client that never finishes its head */
#define BODY_MAX (64 * 1024)    /* HTTP request bodies; more → 413 */
#define KICK_S 1.0              /* lws_cancel_service period (timer bug) */
#define CHUNK 16384             /* HTTP body bytes per write */

typedef struct sim_backend sim_backend;
typedef struct conn conn;

typedef enum { C_PRE, C_HTTP, C_WS } conn_kind;

/* One queued WebSocket frame: text with LWS_PRE headroom, or a close. */
typedef struct outmsg {
    struct outmsg *next;
    int close;
    int code;
    char reason[124];
    size_t len;
    unsigned char *buf;
} outmsg;

/* A chat message waiting for the run before it to finish. */
typedef struct pending_run {
    struct pending_run *next;
    sim_ws_msg msg;
} pending_run;

/* Something postponed by a DELAY action: an outgoing frame or an incoming
 * message. Owned by the connection's list; freed with it. */
typedef struct delayed {
    ev_timer t;
    struct delayed *next;
    conn *c;
    outmsg *out;        /* send this, or */
    sim_ws_msg in;      /* handle this */
    int is_in;
} delayed;

/* A thread history read in flight: outlives its connection, which clears
 * `c` when it goes, so the Redis callback then just drops the answer. */
typedef struct history_req {
    conn *c;
    char thread_id[129];
} history_req;

struct conn {
    sim_backend *b;
    conn *prev, *next;
    conn_kind kind;
    struct lws *wsi;
    int fd;
    uint64_t ordinal;            /* per service kind, from 1 */

    /* pre-read of the first request head */
    ev_io io;
    ev_timer pre_timer;
    ev_timer retry;
    sim_buf head;                /* peeked head; consumed and edited when readbuf */
    int readbuf;
    int hung;                    /* HANG: answer nothing more */
    int aborted;                 /* ABORT: TCP cut, nothing more */

    /* WebSocket upgrade facts, from the pre-read or from lws's headers */
    int ws_prepared;
    int upgrading;
    char path[256];
    sim_ws_auth auth;
    sim_auth_status auth_status;
    sim_principal who;
    int accept_close;            /* a CLOSE action at accept: close after upgrade */
    int accept_code;
    char accept_text[124];

    /* HTTP request in progress */
    char method[8];
    char *query;
    char hdr_auth[4096];
    char hdr_host[256];
    sim_buf body;
    int body_too_big;
    uint64_t requests;
    sim_http_response resp;
    int req_started, resp_ready, headers_sent, close_now, is_head;
    size_t body_off;
    history_req *hreq;
    ev_timer http_timer;         /* DELAY of a request or response */
    int http_timer_responds;

    /* WebSocket session */
    char user_id[128];
    char conn_id[40];
    outmsg *qhead, *qtail;
    int close_queued, close_started;
    int close_code;
    sim_buf rx;
    int rx_too_big;
    uint64_t msgs_in, msgs_out, runs;
    pending_run *runs_head, *runs_tail;
    sim_run run;
    int run_active, run_next, run_delay_passed;
    ev_timer run_timer;
    delayed *delays;
};

struct sim_backend {
    struct ev_loop *loop;
    sim_backend_config cfg;
    char *bind;
    void *foreign_loops[1];
    struct lws_context *ctx;
    struct lws_vhost *vh;
    int lfd;
    int port;
    ev_io lio;
    ev_timer kick;
    conn *conns;
    conn *adopting;
    uint64_t http_conns, ws_conns;
    size_t nws;
    sim_backend_routes routes;
    int shutting_down;
    void (*done)(void *ctx);
    void *done_ctx;
    ev_timer grace;
    ev_timer done_timer;
    int done_called;
};

static void conn_free(conn *c);
static void ws_queue_close(conn *c, int code, const char *reason);
static void run_start_next(conn *c);
static void http_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);
static void pre_retry_cb(struct ev_loop *loop, ev_timer *t, int revents);
static void run_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* ---- small helpers -------------------------------------------------------- */

static double now_of(const sim_backend *b) {
    return ev_now(b->loop);
}

static void cross(sim_backend *b, sim_wire_point point, const char *proto, const char *name,
                  const char *method, const char *user, uint64_t connord, uint64_t msg,
                  uint64_t run, int status, sim_action *act) {
    sim_wire w = {SIM_SVC_BACKEND, point, proto, name, method, NULL, user, connord, msg, run,
                  status};
    if (b->cfg.faults) {
        sim_faults_cross(b->cfg.faults, &w, now_of(b), act);
    } else {
        memset(act, 0, sizeof(*act));
        act->kind = SIM_ACT_PASS;
    }
}

static void conn_link(sim_backend *b, conn *c) {
    c->next = b->conns;
    if (b->conns) b->conns->prev = c;
    b->conns = c;
}

static void conn_unlink(conn *c) {
    sim_backend *b = c->b;
    if (c->prev) c->prev->next = c->next;
    else if (b->conns == c) b->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Cuts the TCP connection without a close frame: RST via a zero linger,
 * then shutdown so lws sees the end on its next read and frees the wsi in
 * its own time (never inside our callback). */
static void abort_fd(int fd) {
    if (fd < 0) return;
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    shutdown(fd, SHUT_RDWR);
}

static void conn_abort(conn *c) {
    c->aborted = 1;
    abort_fd(c->wsi ? lws_get_socket_fd(c->wsi) : c->fd);
}

/* Writes a complete raw HTTP/1.1 response on a socket lws does not own yet
 * (or inside CONFIRM_UPGRADE with lws_write). Best effort, small. */
static size_t raw_response(char *out, size_t outlen, int status, const char *ctype,
                           const char *body) {
    int n = snprintf(out, outlen,
                     "HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n"
                     "connection: close\r\n\r\n%s",
                     status, sim_http_reason(status), ctype, strlen(body), body);
    return n < 0 ? 0 : ((size_t)n < outlen ? (size_t)n : outlen - 1);
}

static const char *ctype_for(const char *text) {
    return text && (text[0] == '{' || text[0] == '[') ? "application/json" : "text/plain";
}

static int is_ws_path(const sim_backend *b, const char *path) {
    if (strcmp(path, "/ws") == 0) return 1;
    if (b->cfg.sc->profile == SIM_PROFILE_LEGACY) return strcmp(path, "/websocket") == 0;
    return strcmp(path, "/api/v1/websocket") == 0;
}

/* ---- WebSocket upgrade facts ------------------------------------------- */

/* Finds the token, checks it (revocation included: the store is shared with
 * the auth service) and decides the user. Called once per upgrade. */
static void ws_prepare(conn *c, const char *path, const char *subprotocols, const char *authz,
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
                                                             now_of(b), &c->who)
                                     : SIM_AUTH_INVALID;
        if (c->auth_status == SIM_AUTH_OK) snprintf(c->user_id, sizeof(c->user_id), "%s",
                                                    c->who.user_id);
    } else if (b->cfg.sc->no_token == SIM_NO_TOKEN_DEMO) {
        snprintf(c->user_id, sizeof(c->user_id), "%s",
                 b->cfg.sc->demo_user_id ? b->cfg.sc->demo_user_id : "demo-user-001");
    }
}

/* ---- pre-read: accept, read the head, edit it, adopt ------------------- */

static void pre_stop(conn *c) {
    ev_io_stop(c->b->loop, &c->io);
    ev_timer_stop(c->b->loop, &c->pre_timer);
    ev_timer_stop(c->b->loop, &c->retry);
}

static void pre_close(conn *c) {
    pre_stop(c);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    conn_unlink(c);
    conn_free(c);
}

static void pre_reply(conn *c, int status, const char *body) {
    char buf[2048];
    size_t n = raw_response(buf, sizeof(buf), status, ctype_for(body), body);
    ssize_t w = write(c->fd, buf, n);
    (void)w;
    pre_close(c);
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
            conn_unlink(c);
            conn_free(c);
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

static void pre_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    conn *c = (conn *)((char *)t - offsetof(conn, pre_timer));
    if (c->hung) return;
    if (c->head.len && !strstr(c->head.data, "\r\n\r\n")) {
        pre_close(c);
        return;
    }
    if (c->head.len) adopt(c);   /* the end of a DELAY action */
    else pre_close(c);
}

/* The head is complete: parse what we need, cross ACCEPT, act. */
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
                pre_close(c);
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
        ws_prepare(c, target, sub, authz, query);
        free(sub);
        free(authz);
        c->ordinal = ++b->ws_conns;
        cross(b, SIM_WIRE_ACCEPT, "ws", c->path, method, c->user_id[0] ? c->user_id : NULL,
              c->ordinal, 0, 0, 0, &act);
    } else {
        c->ordinal = ++b->http_conns;
        cross(b, SIM_WIRE_ACCEPT, "http", target, method, NULL, c->ordinal, 0, 0, 0, &act);
    }
    switch (act.kind) {
    case SIM_ACT_PASS:
        adopt(c);
        return;
    case SIM_ACT_DELAY:
        /* Adopt later: a slow handshake or a slow first byte. */
        ev_io_stop(b->loop, &c->io);
        ev_timer_stop(b->loop, &c->pre_timer);
        ev_timer_set(&c->pre_timer, act.delay_ms / 1000.0, 0.0);
        ev_timer_start(b->loop, &c->pre_timer);
        return;
    case SIM_ACT_HANG:
        /* Keep the socket, never answer (the handshake times out). */
        pre_stop(c);
        c->hung = 1;
        return;
    case SIM_ACT_REPLY: {
        char body[1024];
        snprintf(body, sizeof(body), "%s", act.text ? act.text : "");
        pre_reply(c, act.code ? act.code : 500, body);
        return;
    }
    case SIM_ACT_CLOSE:
        if (upgrade) {
            /* Accept the upgrade, then close with the rule's code. */
            c->accept_close = 1;
            c->accept_code = act.code ? act.code : 1011;
            snprintf(c->accept_text, sizeof(c->accept_text), "%s", act.text ? act.text : "");
            adopt(c);
            return;
        }
        pre_close(c);
        return;
    case SIM_ACT_ABORT:
    case SIM_ACT_DROP:
    default:
        abort_fd(c->fd);
        pre_close(c);
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
        pre_close(c);
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

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
    sim_backend *b = (sim_backend *)((char *)w - offsetof(sim_backend, lio));
    for (int i = 0; i < 64; i++) {
        int fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (b->shutting_down) {
            close(fd);
            continue;
        }
        conn *c = sim_xcalloc(1, sizeof(*c));
        c->b = b;
        c->fd = fd;
        c->kind = C_PRE;
        ev_io_init(&c->io, pre_read_cb, fd, EV_READ);
        ev_io_start(loop, &c->io);
        ev_timer_init(&c->pre_timer, pre_timeout_cb, PREREAD_TIMEOUT_S, 0.0);
        ev_timer_start(loop, &c->pre_timer);
        ev_timer_init(&c->retry, pre_retry_cb, 0.005, 0.0);
        ev_init(&c->http_timer, http_timer_cb);
        ev_init(&c->run_timer, run_timer_cb);
        conn_link(b, c);
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

static void ws_queue_close(conn *c, int code, const char *reason) {
    outmsg *m = sim_xcalloc(1, sizeof(*m));
    m->close = 1;
    m->code = code;
    snprintf(m->reason, sizeof(m->reason), "%s", reason ? reason : "");
    ws_enqueue(c, m);
}

static void run_stop(conn *c) {
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
        run_stop(c);
        ws_queue_close(c, a->code ? a->code : 1011, a->text ? a->text : "");
        return 1;
    case SIM_ACT_ABORT:
        run_stop(c);
        conn_abort(c);
        return 1;
    case SIM_ACT_HANG:
        run_stop(c);
        c->hung = 1;
        return 1;
    case SIM_ACT_REPLY: {
        const char *t = a->text ? a->text : "";
        if (t[0] == '{') {
            ws_enqueue(c, outmsg_text(t));
        } else {
            char *e = sim_ws_error("CRITICAL_FAILURE", t, now_of(c->b));
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
    cross(c->b, SIM_WIRE_SEND, "ws", type, NULL, c->user_id[0] ? c->user_id : NULL, c->ordinal,
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
    sim_iso_time(iso, now_of(b));
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

static void run_timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    conn *c = (conn *)((char *)t - offsetof(conn, run_timer));
    if (!c->run_active || c->hung || c->aborted) return;
    int i = c->run_next;
    const char *type = sim_run_event_type(i);
    int send = 1;
    if (!c->run_delay_passed) {
        sim_action a;
        cross(c->b, SIM_WIRE_SEND, "ws", type, NULL, c->user_id, c->ordinal, ++c->msgs_out,
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
    char *reply = sim_ws_reply(m, c->user_id, now_of(c->b));
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

/* One complete client message: cross REQUEST, then handle. */
static void ws_message(conn *c, const char *data, size_t len) {
    sim_ws_msg m;
    sim_ws_parse(data, len, &m);
    const char *name = m.type[0] ? m.type
                       : m.kind == SIM_WS_MSG_INVALID_JSON ? "invalid_json"
                                                           : "bad_format";
    sim_action a;
    cross(c->b, SIM_WIRE_REQUEST, "ws", name, NULL, c->user_id, c->ordinal, ++c->msgs_in,
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
static void ws_established(conn *c) {
    sim_backend *b = c->b;
    c->kind = C_WS;
    c->upgrading = 0;
    b->nws++;
    char hex[17];
    sim_hex(hex, 12, sim_mix(b->cfg.seed, "conn", c->ordinal, 0));
    snprintf(c->conn_id, sizeof(c->conn_id), "%s_%s",
             b->cfg.sc->profile == SIM_PROFILE_LEGACY ? "ws" : "main", hex);
    if (b->shutting_down) {
        ws_queue_close(c, 1001, "Server shutting down");
        return;
    }
    if (c->auth.unsupported) {
        ws_queue_close(c, 1003, "No supported subprotocols");
        return;
    }
    if (c->auth.token && c->auth_status != SIM_AUTH_OK) {
        const char *why = c->auth_status == SIM_AUTH_EXPIRED   ? "Token has expired"
                          : c->auth_status == SIM_AUTH_REVOKED ? "Token has been revoked"
                                                               : "Invalid token";
        char text[160];
        snprintf(text, sizeof(text), "Authentication failed: %s", why);
        ws_send(c, sim_ws_error("AUTH_FAILED", text, now_of(b)), "error_message");
        ws_queue_close(c, 1008, "Authentication failed");
        return;
    }
    if (c->accept_close) {
        ws_queue_close(c, c->accept_code, c->accept_text);
        return;
    }
    sim_debug("ws %s: user %s (token from %s)", c->conn_id, c->user_id,
             sim_ws_token_source_name(c->auth.source));
    ws_send(c, sim_ws_welcome(b->cfg.sc->profile, c->user_id, c->conn_id, now_of(b)),
            "connection_established");
}

static int ws_writeable(conn *c) {
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

static int ws_receive(conn *c, const void *in, size_t len) {
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

/* ---- HTTP ----------------------------------------------------------------- */

static const char *req_header(const sim_http_request *req, const char *name) {
    conn *c = req->impl;
    if (sim_strcaseeq(name, "Authorization")) return c->hdr_auth[0] ? c->hdr_auth : NULL;
    if (sim_strcaseeq(name, "Host")) return c->hdr_host[0] ? c->hdr_host : NULL;
    return NULL;
}

static void http_reset(conn *c) {
    free(c->query);
    c->query = NULL;
    c->body.len = 0;
    c->body_too_big = 0;
    sim_http_response_free(&c->resp);
    c->resp_ready = c->headers_sent = c->is_head = 0;
    c->body_off = 0;
    ev_timer_stop(c->b->loop, &c->http_timer);
}

static void http_ready(conn *c) {
    c->resp_ready = 1;
    if (c->wsi && !c->hung && !c->aborted) lws_callback_on_writable(c->wsi);
}

/* The response is computed: cross SEND, then let the writeable callback
 * write it. */
static void http_respond(conn *c) {
    sim_action a;
    cross(c->b, SIM_WIRE_SEND, "http", c->path, c->method, NULL, c->ordinal, c->requests, 0,
          c->resp.status, &a);
    switch (a.kind) {
    case SIM_ACT_PASS: http_ready(c); return;
    case SIM_ACT_DELAY:
        c->http_timer_responds = 1;
        ev_timer_set(&c->http_timer, a.delay_ms / 1000.0, 0.0);
        ev_timer_start(c->b->loop, &c->http_timer);
        return;
    case SIM_ACT_REPLY:
        c->resp.status = a.code ? a.code : 500;
        c->resp.content_type = ctype_for(a.text);
        c->resp.body.len = 0;
        sim_buf_puts(&c->resp.body, a.text ? a.text : "");
        c->resp.extra_headers[0] = '\0';
        http_ready(c);
        return;
    case SIM_ACT_ABORT: conn_abort(c); return;
    case SIM_ACT_CLOSE:
        c->close_now = 1;
        if (c->wsi) lws_callback_on_writable(c->wsi);
        return;
    case SIM_ACT_DROP:
    case SIM_ACT_HANG:
    default: c->hung = 1; return;
    }
}

static void history_cb(void *ctx, void *json_array, const char *error) {
    history_req *h = ctx;
    conn *c = h->c;
    if (c) {
        c->hreq = NULL;
        sim_backend_routes_history(&c->resp, h->thread_id, json_array, error);
        http_respond(c);
    }
    free(h);
}

/* Runs the route and starts the response. */
static void http_route(conn *c) {
    sim_http_request req = {.method = c->method,
                            .path = c->path,
                            .query = c->query ? c->query : "",
                            .body = c->body.data,
                            .body_len = c->body.len,
                            .now = now_of(c->b),
                            .header = req_header,
                            .impl = c,
                            .arrived = now_of(c->b)};
    char tid[129];
    sim_http_response_init(&c->resp);
    sim_route_result r = sim_backend_routes_handle(&c->b->routes, &req, &c->resp, tid, sizeof(tid));
    if (r == SIM_ROUTE_HISTORY) {
        if (!c->b->cfg.history) {
            sim_backend_routes_history(&c->resp, tid, NULL, "Redis not configured");
        } else {
            history_req *h = sim_xcalloc(1, sizeof(*h));
            h->c = c;
            snprintf(h->thread_id, sizeof(h->thread_id), "%s", tid);
            c->hreq = h;
            sim_history_read(c->b->cfg.history, tid, history_cb, h);
            return;   /* history_cb responds, possibly already done */
        }
    }
    http_respond(c);
}

static void http_timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    conn *c = (conn *)((char *)t - offsetof(conn, http_timer));
    if (c->http_timer_responds) http_ready(c);
    else http_route(c);
}

/* A complete request (headers and body): cross REQUEST and act. Returns
 * what the lws callback returns. */
static int http_request(conn *c) {
    sim_action a;
    /* lws also reports BODY_COMPLETION for "Content-Length: 0", after we
     * already answered from LWS_CALLBACK_HTTP. */
    if (c->req_started) return 0;
    c->req_started = 1;
    c->requests++;
    if (c->body_too_big) {
        sim_http_response_init(&c->resp);
        sim_http_detail(&c->resp, 413, "Request body too large");
        c->close_now = 0;
        http_ready(c);
        return 0;
    }
    cross(c->b, SIM_WIRE_REQUEST, "http", c->path, c->method, NULL, c->ordinal, c->requests, 0, 0,
          &a);
    switch (a.kind) {
    case SIM_ACT_PASS: http_route(c); return 0;
    case SIM_ACT_DELAY:
        c->http_timer_responds = 0;
        ev_timer_set(&c->http_timer, a.delay_ms / 1000.0, 0.0);
        ev_timer_start(c->b->loop, &c->http_timer);
        return 0;
    case SIM_ACT_REPLY:
        sim_http_response_init(&c->resp);
        c->resp.status = a.code ? a.code : 500;
        c->resp.content_type = ctype_for(a.text);
        sim_buf_puts(&c->resp.body, a.text ? a.text : "");
        http_ready(c);
        return 0;
    case SIM_ACT_ABORT: conn_abort(c); return 0;
    case SIM_ACT_CLOSE: return -1;
    default: c->hung = 1; return 0;
    }
}

static const struct { int token; const char *name; } methods[] = {
    {WSI_TOKEN_GET_URI, "GET"},     {WSI_TOKEN_POST_URI, "POST"},
    {WSI_TOKEN_HEAD_URI, "HEAD"},   {WSI_TOKEN_PUT_URI, "PUT"},
    {WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_DELETE_URI, "DELETE"},
    {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
};

static int http_begin(conn *c, struct lws *wsi, const char *path) {
    http_reset(c);
    c->req_started = 0;
    snprintf(c->path, sizeof(c->path), "%s", path ? path : "/");
    snprintf(c->method, sizeof(c->method), "GET");
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (lws_hdr_total_length(wsi, (enum lws_token_indexes)methods[i].token)) {
            snprintf(c->method, sizeof(c->method), "%s", methods[i].name);
            break;
        }
    c->is_head = strcmp(c->method, "HEAD") == 0;
    int qlen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    if (qlen > 0) {
        c->query = sim_xmalloc((size_t)qlen + 64);
        if (lws_hdr_copy(wsi, c->query, qlen + 64, WSI_TOKEN_HTTP_URI_ARGS) < 0) c->query[0] = '\0';
    }
    if (lws_hdr_copy(wsi, c->hdr_auth, sizeof(c->hdr_auth), WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        c->hdr_auth[0] = '\0';
    if (lws_hdr_copy(wsi, c->hdr_host, sizeof(c->hdr_host), WSI_TOKEN_HOST) < 0)
        c->hdr_host[0] = '\0';
    char cl[32] = "";
    long clen = 0;
    if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) clen = atol(cl);
    if (clen > BODY_MAX) {
        c->body_too_big = 1;
        /* The body would otherwise be read as the next request. */
        c->close_now = 0;
    }
    if (clen > 0 && !c->body_too_big) return 0;   /* wait for HTTP_BODY_COMPLETION */
    return http_request(c);
}

/* Writes the response: headers, then the body in chunks, then ends the
 * transaction (keep-alive). */
static int http_writeable(conn *c, struct lws *wsi) {
    if (c->close_now) return -1;
    if (!c->resp_ready || c->hung || c->aborted) return 0;
    if (!c->headers_sent) {
        unsigned char buf[LWS_PRE + 2048];
        unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
        if (lws_add_http_common_headers(wsi, (unsigned int)c->resp.status,
                                        c->resp.content_type ? c->resp.content_type
                                                             : "application/json",
                                        c->resp.body.len, &p, end))
            return -1;
        /* extra_headers: "Name: value\r\n" lines. */
        const char *h = c->resp.extra_headers;
        while (*h) {
            const char *colon = strchr(h, ':');
            const char *eol = strstr(h, "\r\n");
            if (!colon || !eol || colon > eol) break;
            char name[128];
            snprintf(name, sizeof(name), "%.*s:", (int)(colon - h), h);
            const char *v = colon + 1;
            while (*v == ' ') v++;
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                            (const unsigned char *)v, (int)(eol - v), &p, end))
                return -1;
            h = eol + 2;
        }
        static const char server[] = "uvicorn";
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_SERVER,
                                         (const unsigned char *)server, sizeof(server) - 1, &p,
                                         end))
            return -1;
        if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
        c->headers_sent = 1;
        if (!c->is_head && c->resp.body.len) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else {
        unsigned char buf[LWS_PRE + CHUNK];
        size_t left = c->resp.body.len - c->body_off;
        size_t n = left > CHUNK ? CHUNK : left;
        memcpy(buf + LWS_PRE, c->resp.body.data + c->body_off, n);
        int last = n == left;
        if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)n)
            return -1;
        c->body_off += n;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    int too_big = c->body_too_big;
    http_reset(c);
    if (too_big) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Refuses an upgrade inside CONFIRM_UPGRADE with a real HTTP/1.1 answer
 * (lws_return_http_status says HTTP/1.0, which python-websockets rejects). */
static int upgrade_refuse(struct lws *wsi, int status, const char *body) {
    unsigned char buf[LWS_PRE + 1024];
    size_t n = raw_response((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE, status,
                            ctype_for(body), body);
    lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_HEADERS);
    return 1;
}

static int confirm_upgrade(conn *c, struct lws *wsi) {
    sim_backend *b = c->b;
    if (!c->ws_prepared) {
        /* A later request on a keep-alive connection: read lws's headers. */
        char path[256] = "", authz[4096] = "", sub[1024] = "";
        lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
        lws_hdr_copy(wsi, authz, sizeof(authz), WSI_TOKEN_HTTP_AUTHORIZATION);
        lws_hdr_copy(wsi, sub, sizeof(sub), WSI_TOKEN_PROTOCOL);
        int qlen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
        char *query = sim_xcalloc(1, (size_t)qlen + 64);
        lws_hdr_copy(wsi, query, qlen + 64, WSI_TOKEN_HTTP_URI_ARGS);
        ws_prepare(c, path, sub, authz, query);
        free(query);
        c->ordinal = ++b->ws_conns;
    }
    c->ws_prepared = 0;   /* the next upgrade on this socket starts afresh */
    if (!is_ws_path(b, c->path)) return upgrade_refuse(wsi, 404, "{\"detail\":\"Not Found\"}");
    if (b->shutting_down)
        return upgrade_refuse(wsi, 503, "{\"detail\":\"Server shutting down\"}");
    if (!c->auth.token && !c->auth.unsupported && b->cfg.sc->no_token == SIM_NO_TOKEN_REJECT)
        return upgrade_refuse(wsi, 403, "{\"detail\":\"Authentication required\"}");
    c->upgrading = 1;
    return 0;
}

/* ---- the lws callback --------------------------------------------------- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    sim_backend *b = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
    conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    if (!c && b && b->adopting && reason == LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED) {
        /* The socket being adopted: claim it before lws reads the head. */
        c = b->adopting;
        b->adopting = NULL;
        c->wsi = wsi;
        lws_set_opaque_user_data(wsi, c);
    }
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (!c) return upgrade_refuse(wsi, 500, "{\"detail\":\"Internal Server Error\"}");
        return confirm_upgrade(c, wsi);
    case LWS_CALLBACK_ADD_HEADERS:
        if (c && c->upgrading && c->auth.subprotocol && !c->auth.unsupported) {
            struct lws_process_html_args *args = in;
            int n = snprintf(args->p, (size_t)args->max_len, "Sec-WebSocket-Protocol: %s\r\n",
                             c->auth.subprotocol);
            if (n < 0 || n >= args->max_len) return 1;
            args->p += n;
            args->max_len -= n;
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        if (!c) return -1;
        ws_established(c);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!c) return -1;
        return ws_receive(c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c) return 0;
        return ws_writeable(c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2) {
            const unsigned char *p = in;
            c->close_code = (p[0] << 8) | p[1];
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (c) {
            sim_action a;
            cross(b, SIM_WIRE_CLOSE, "ws", c->path, NULL, c->user_id[0] ? c->user_id : NULL,
                  c->ordinal, c->msgs_in, c->runs, c->close_code ? c->close_code : 1006, &a);
            run_stop(c);
        }
        return 0;
    case LWS_CALLBACK_HTTP:
        if (!c) return -1;
        return http_begin(c, wsi, in);
    case LWS_CALLBACK_HTTP_BODY:
        if (c && !c->body_too_big) {
            if (c->body.len + len > BODY_MAX) c->body_too_big = 1;
            else sim_buf_append(&c->body, in, len);
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!c) return -1;
        return http_request(c);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!c) return 0;
        return http_writeable(c, wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c && c->kind == C_HTTP && c->requests) {
            sim_action a;
            cross(b, SIM_WIRE_CLOSE, "http", c->path, c->method, NULL, c->ordinal, c->requests, 0,
                  0, &a);
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c) {
            lws_set_opaque_user_data(wsi, NULL);
            c->wsi = NULL;
            conn_unlink(c);
            conn_free(c);
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"stagesim", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- lifecycle ------------------------------------------------------------ */

/* Frees a connection that is already unlinked and whose wsi (if any) is gone
 * or going. Stops every timer that points at it. */
static void conn_free(conn *c) {
    sim_backend *b = c->b;
    ev_io_stop(b->loop, &c->io);
    ev_timer_stop(b->loop, &c->pre_timer);
    ev_timer_stop(b->loop, &c->retry);
    ev_timer_stop(b->loop, &c->http_timer);
    if (c->kind == C_WS) {
        b->nws--;
        run_stop(c);
    }
    while (c->delays) {
        delayed *d = c->delays;
        c->delays = d->next;
        ev_timer_stop(b->loop, &d->t);
        outmsg_free(d->out);
        sim_ws_msg_free(&d->in);
        free(d);
    }
    while (c->qhead) {
        outmsg *m = c->qhead;
        c->qhead = m->next;
        outmsg_free(m);
    }
    if (c->hreq) c->hreq->c = NULL;
    if (c->fd >= 0 && c->kind == C_PRE) close(c->fd);
    sim_ws_auth_free(&c->auth);
    sim_buf_free(&c->head);
    sim_buf_free(&c->body);
    sim_buf_free(&c->rx);
    free(c->query);
    sim_http_response_free(&c->resp);
    if (b->adopting == c) b->adopting = NULL;
    int was_ws = c->kind == C_WS;
    free(c);
    if (was_ws && b->shutting_down && b->nws == 0 && !b->done_called)
        ev_feed_event(b->loop, &b->done_timer, EV_TIMER);
}

static void kick_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    sim_backend *b = (sim_backend *)((char *)t - offsetof(sim_backend, kick));
    if (b->ctx) lws_cancel_service(b->ctx);
}

static void done_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    sim_backend *b = (sim_backend *)((char *)t - offsetof(sim_backend, done_timer));
    ev_timer_stop(loop, &b->grace);
    ev_timer_stop(loop, &b->done_timer);
    if (b->done_called || !b->shutting_down) return;
    b->done_called = 1;
    if (b->done) b->done(b->done_ctx);
}

static void grace_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    sim_backend *b = (sim_backend *)((char *)t - offsetof(sim_backend, grace));
    if (b->nws) sim_warn("backend: %zu WebSocket client(s) still open after the grace period",
                         b->nws);
    ev_feed_event(loop, &b->done_timer, EV_TIMER);
}

/* lws logs every adopted socket at ERR level in 4.1.6 ("adopt_socket_readbuf:
 * calling service"); drop that line, pass the rest to our log. */
static void lws_log_emit(int level, const char *line) {
    if (strstr(line, "calling service")) return;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    sim_warn("lws: %.*s", (int)n, line);
}

static int listen_on(const char *bind_addr, int port, char *err, size_t errlen, int *out_port) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(bind_addr, portstr, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "backend: cannot resolve %s: %s", bind_addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errlen, "backend: cannot listen on %s:%d: %s", bind_addr, port,
                 strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *out_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

sim_backend *sim_backend_start(struct ev_loop *loop, const sim_backend_config *cfg, char *err,
                               size_t errlen) {
    sim_backend *b = sim_xcalloc(1, sizeof(*b));
    b->loop = loop;
    b->cfg = *cfg;
    b->bind = sim_xstrdup(cfg->bind ? cfg->bind : "127.0.0.1");
    b->cfg.bind = b->bind;
    b->lfd = listen_on(b->bind, cfg->port, err, errlen, &b->port);
    if (b->lfd < 0) {
        free(b->bind);
        free(b);
        return NULL;
    }

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    b->foreign_loops[0] = loop;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = b->foreign_loops;
    info.user = b;
    info.vhost_name = "stagesim-backend";
    info.max_http_header_data = 8192;
    info.timeout_secs = 20;
    b->ctx = lws_create_context(&info);
    if (b->ctx) b->vh = lws_create_vhost(b->ctx, &info);
    if (!b->ctx || !b->vh) {
        snprintf(err, errlen, "backend: lws context creation failed "
                              "(is libwebsockets-evlib-ev installed?)");
        if (b->ctx) lws_context_destroy(b->ctx);
        close(b->lfd);
        free(b->bind);
        free(b);
        return NULL;
    }

    b->routes.sc = cfg->sc;
    b->routes.auth = cfg->auth;
    b->routes.history = cfg->history;
    b->routes.host = b->bind;
    b->routes.backend_port = b->port;
    b->routes.auth_port = cfg->auth_port;
    b->routes.seed = cfg->seed;

    ev_io_init(&b->lio, accept_cb, b->lfd, EV_READ);
    ev_io_start(loop, &b->lio);
    ev_timer_init(&b->kick, kick_cb, KICK_S, KICK_S);
    ev_timer_start(loop, &b->kick);
    ev_init(&b->grace, grace_cb);
    ev_init(&b->done_timer, done_cb);
    sim_info("backend listening on %s:%d", b->bind, b->port);
    return b;
}

int sim_backend_port(const sim_backend *b) {
    return b->port;
}

static void stop_listening(sim_backend *b) {
    if (b->lfd < 0) return;
    ev_io_stop(b->loop, &b->lio);
    close(b->lfd);
    b->lfd = -1;
}

void sim_backend_shutdown(sim_backend *b, uint32_t grace_ms, void (*done)(void *ctx), void *ctx) {
    b->done = done;
    b->done_ctx = ctx;
    if (b->shutting_down) {
        /* Second call: skip the grace. */
        ev_feed_event(b->loop, &b->done_timer, EV_TIMER);
        return;
    }
    b->shutting_down = 1;
    stop_listening(b);
    /* Sockets lws never saw. */
    for (conn *c = b->conns, *next; c; c = next) {
        next = c->next;
        if (c->kind == C_PRE) pre_close(c);
    }
    for (conn *c = b->conns; c; c = c->next) {
        if (c->kind != C_WS) continue;
        run_stop(c);
        c->hung = 0;   /* a hung session still gets the goodbye */
        ws_queue_close(c, 1001, "Server shutting down");
    }
    if (b->nws == 0) {
        ev_feed_event(b->loop, &b->done_timer, EV_TIMER);
        return;
    }
    ev_timer_set(&b->grace, grace_ms / 1000.0, 0.0);
    ev_timer_start(b->loop, &b->grace);
}

void sim_backend_free(sim_backend *b) {
    if (!b) return;
    b->done_called = 1;   /* no done() from the destroy below */
    stop_listening(b);
    ev_timer_stop(b->loop, &b->kick);
    ev_timer_stop(b->loop, &b->grace);
    ev_timer_stop(b->loop, &b->done_timer);
    for (conn *c = b->conns, *next; c; c = next) {
        next = c->next;
        if (c->kind == C_PRE) pre_close(c);
    }
    /* Destroys every wsi; WSI_DESTROY frees their connections. */
    lws_context_destroy(b->ctx);
    b->ctx = NULL;
    while (b->conns) {
        conn *c = b->conns;
        conn_unlink(c);
        conn_free(c);
    }
    free(b->bind);
    free(b);
}
