/* mhd.c -- libmicrohttpd on the caller's libev loop (no MHD thread): collects
 * each request (body capped), asks the fault engine, hands it to a pure
 * sim_http handler and queues the reply. Shared by the auth service and the
 * control API, so nothing here knows about routes.
 *
 * Loop binding (docs/libraries.md §3): MHD_USE_EPOLL gives one epoll fd that we
 * watch with an ev_io; after EVERY MHD_run the ev_timer is re-armed from
 * MHD_get_timeout (0 = "run again now": edge-triggered sockets still have
 * work). DELAY and HANG suspend the connection; resuming needs an MHD_run,
 * which the ITC in the epoll set (or our zero timer) provides. */
#include "mhd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <microhttpd.h>

#include "caps.h"
#include "head_gate.h"
#include "listener.h"
#include "sock.h"
#include "util.h"

#define BODY_DRAIN_MAX (16u << 20)   /* as the backend's: bodies over the cap read and dropped */

typedef struct conn {
    struct conn *prev, *next;   /* in sim_mhd's list, for a crash to cut */
    int fd;
    uint64_t ordinal;     /* within the service, from 1 */
    uint64_t nreq;        /* requests seen on this connection */
    char *query;          /* raw query of the current request (URI log callback) */
    int abort;            /* the fault engine cut it at accept */
    int over_cap;         /* taken over max_conns: its request is read, then refused */
} conn;

typedef enum {
    R_COLLECT,            /* reading the body */
    R_DELAY_REQ,          /* suspended: request delayed before the handler */
    R_DELAY_SEND,         /* suspended: reply computed, held back */
    R_HUNG,               /* suspended until shutdown */
    R_SLOW,               /* suspended between two chunks of a SLOW body */
    R_POLL,               /* suspended: the handler asked to be called again */
    R_CLOSING,            /* resumed only to be closed */
    R_DONE,               /* a reply is queued */
} req_state;

typedef struct req {
    sim_mhd *m;
    struct MHD_Connection *c;
    conn *k;
    uint64_t msg;
    int64_t arrived_ms;       /* now_ms of the first access call */
    req_state state;
    int too_large;
    int suspended;
    int slow_rate;            /* SLOW: body bytes per second, 0 = normal */
    int slow_ready;           /* SLOW: the pause before the next chunk is over */
    int partial;              /* PARTIAL: half the body, then cut */
    sim_buf body;
    sim_http_response resp;   /* held while R_DELAY_SEND */
    char ctype[128];          /* a fault reply's content type */
    ev_timer timer;           /* DELAY */
    ev_io gone;               /* while suspended: notices the client leaving */
    struct req *prev, *next;  /* in m->suspended while suspended */
} req;

struct sim_mhd {
    struct ev_loop *loop;
    sim_mhd_config cfg;
    struct MHD_Daemon *d;
    ev_io io;
    ev_timer tick;
    sim_listener *listener;
    int port;
    int started;              /* MHD_start_daemon returned */
    uint64_t nconn;
    size_t open;              /* connections MHD holds now */
    conn *conns;              /* their list */
    sim_head_gate *gate;      /* clients whose first head we are still waiting for */
    size_t refusing;          /* of those and MHD's, over_cap */
    int adding_over_cap;      /* the connection MHD_add_connection is adding is over_cap */
    int adding_seen;          /* ... and MHD reported it */
    req *suspended;           /* list head */
    char lastlog[256];        /* last MHD message, for start-up errors */
};

static int64_t now_ms(const sim_mhd *m) {
    return sim_clock_now_ms(m->cfg.clock, ev_now(m->loop));
}

/* ---- driving MHD from the loop ------------------------------------------ */

static void rearm(sim_mhd *m) {
    MHD_UNSIGNED_LONG_LONG to = 0;
    ev_timer_stop(m->loop, &m->tick);
    if (MHD_get_timeout(m->d, &to) == MHD_YES) {
        ev_timer_set(&m->tick, (double)to / 1000.0, 0.);
        ev_timer_start(m->loop, &m->tick);
    }
}

static void run(sim_mhd *m) {
    MHD_run(m->d);
    rearm(m);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop; (void)revents;
    run(w->data);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop; (void)revents;
    run(w->data);
}

/* Schedules an MHD_run on the next loop iteration (never re-enters MHD). */
static void kick(sim_mhd *m) {
    ev_timer_stop(m->loop, &m->tick);
    ev_timer_set(&m->tick, 0., 0.);
    ev_timer_start(m->loop, &m->tick);
}

static void on_log(void *cls, const char *fmt, va_list ap) {
    sim_mhd *m = cls;
    vsnprintf(m->lastlog, sizeof m->lastlog, fmt, ap);
    size_t n = strlen(m->lastlog);
    while (n && (m->lastlog[n - 1] == '\n' || m->lastlog[n - 1] == '\r'))
        m->lastlog[--n] = '\0';
    /* While starting, MHD speaks about our configuration (bind failures);
     * afterwards about clients (bad requests, connections we cut on a
     * fault's orders), which is not worth a warning. */
    if (m->started)
        sim_debug("mhd: %s", m->lastlog);
    else
        sim_warn("mhd: %s", m->lastlog);
}

/* ---- suspension ----------------------------------------------------------- */

static void unlink_suspended(req *r) {
    if (!r->suspended)
        return;
    ev_io_stop(r->m->loop, &r->gone);
    if (r->prev)
        r->prev->next = r->next;
    else
        r->m->suspended = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->suspended = 0;
}

static void on_delay_done(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop; (void)revents;
    req *r = w->data;
    sim_mhd *m = r->m;
    unlink_suspended(r);
    if (r->state == R_SLOW)
        r->slow_ready = 1;
    MHD_resume_connection(r->c);   /* MHD calls the handler again on its next run */
    kick(m);
}

/* A suspended request whose connection is to close: MHD closes it once
 * resumed (the access handler answers R_CLOSING with MHD_NO). */
static void close_suspended(req *r) {
    sim_mhd *m = r->m;
    ev_timer_stop(m->loop, &r->timer);
    ev_io_stop(m->loop, &r->gone);
    unlink_suspended(r);
    r->state = R_CLOSING;
    MHD_resume_connection(r->c);
    kick(m);
}

/* MHD does not watch a suspended connection, so a client that leaves a hung
 * or delayed request would hold its socket until shutdown: watch it here,
 * and close it once the peer has closed. */
static void on_gone(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    req *r = w->data;
    char c;
    ssize_t n = recv(w->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
        ev_io_stop(loop, w);   /* more request bytes: MHD reads them on resume */
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    close_suspended(r);
}

/* Suspends the connection; delay_ms < 0 means until shutdown (HANG). */
static enum MHD_Result suspend(req *r, req_state state, long delay_ms) {
    sim_mhd *m = r->m;
    r->state = state;
    r->suspended = 1;
    r->prev = NULL;
    r->next = m->suspended;
    if (m->suspended)
        m->suspended->prev = r;
    m->suspended = r;
    MHD_suspend_connection(r->c);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        ev_io_init(&r->gone, on_gone, ci->connect_fd, EV_READ);
        r->gone.data = r;
        ev_io_start(m->loop, &r->gone);
    }
    if (delay_ms >= 0) {
        ev_timer_init(&r->timer, on_delay_done, sim_clock_wait_s(m->cfg.clock, delay_ms), 0.);
        r->timer.data = r;
        ev_timer_start(m->loop, &r->timer);
    }
    return MHD_YES;
}

/* ---- replies ---------------------------------------------------------------- */

/* Body source for SLOW and PARTIAL replies. SLOW hands out one chunk per
 * pause, suspending the connection in between (allowed from a content
 * reader); PARTIAL gives half the body, then an error that cuts the
 * connection short of Content-Length. */
static ssize_t body_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    req *r = cls;
    size_t len = r->resp.body.len;
    if (r->state == R_CLOSING)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (r->partial)
        len /= 2;
    if (pos >= len)
        return r->partial ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = len - (size_t)pos;
    if (r->slow_rate > 0) {
        size_t chunk = r->slow_rate >= 10 ? (size_t)r->slow_rate / 10 : 1;
        if (!r->slow_ready) {
            suspend(r, R_SLOW, (long)(1000.0 * (double)chunk / r->slow_rate));
            return 0;
        }
        r->slow_ready = 0;
        if (n > chunk)
            n = chunk;
    }
    if (n > max)
        n = max;
    memcpy(buf, r->resp.body.data + pos, n);
    return (ssize_t)n;
}

/* Queues r->resp (kept in r: SLOW and PARTIAL read it later). */
static enum MHD_Result queue(req *r) {
    if (r->m->cfg.front_end)
        sim_http_front_end_headers(&r->resp, r->m->cfg.seed, r->k ? r->k->ordinal : 0, r->msg);
    const sim_http_response *resp = &r->resp;
    const char *data = resp->body.data ? resp->body.data : "";
    struct MHD_Response *mr;
    if (r->slow_rate > 0 || r->partial)
        mr = MHD_create_response_from_callback(resp->body.len, 4096, body_reader, r, NULL);
    else
        mr = MHD_create_response_from_buffer(resp->body.len, (void *)data,
                                             MHD_RESPMEM_MUST_COPY);
    if (!mr)
        return MHD_NO;
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    /* extra_headers: "Name: value\r\n" lines. */
    const char *p = resp->extra_headers;
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        if (colon) {
            char name[128], value[256];
            size_t nl = (size_t)(colon - p), vl;
            const char *v = colon + 1;
            while (v < p + n && *v == ' ')
                v++;
            vl = (size_t)(p + n - v);
            if (nl < sizeof name && vl < sizeof value) {
                memcpy(name, p, nl);
                name[nl] = '\0';
                memcpy(value, v, vl);
                value[vl] = '\0';
                MHD_add_response_header(mr, name, value);
            }
        }
        p += n;
        if (eol)
            p += 2;
    }
    enum MHD_Result ret = MHD_queue_response(r->c, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    r->state = R_DONE;
    return ret;
}

/* A fault's REPLY ("status"): its code, body and content type replace the
 * route's answer; without a body, FastAPI's {"detail": reason}. The content
 * type, when not given, is guessed from the body's first byte. */
static void set_fault_reply(req *r, const sim_action *a) {
    sim_http_response_free(&r->resp);
    sim_http_response_init(&r->resp);
    int status = a->code >= 100 && a->code <= 599 ? a->code : 500;
    if (!a->text) {
        sim_http_detail(&r->resp, status, sim_http_reason(status));
    } else {
        r->resp.status = status;
        r->resp.content_type = (*a->text == '{' || *a->text == '[') ? "application/json"
                                                                    : "text/plain; charset=utf-8";
        sim_buf_puts(&r->resp.body, a->text);
    }
    if (a->field && *a->field) {
        /* Copied: a delayed reply may outlive the rule. */
        snprintf(r->ctype, sizeof r->ctype, "%s", a->field);
        r->resp.content_type = r->ctype;
    }
}

static enum MHD_Result queue_fault_reply(req *r, const sim_action *a) {
    set_fault_reply(r, a);
    return queue(r);
}

/* Ends the connection without a reply. For "reset" the client must see a
 * TCP RST, but MHD shuts the socket down (FIN) before closing it, which
 * SO_LINGER 0 cannot undo; connect(AF_UNSPEC) makes Linux abort the
 * connection with a RST at once, and MHD's shutdown/close then find a
 * disconnected socket, which is harmless. */
static enum MHD_Result cut(req *r, int rst) {
    if (rst) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct sockaddr sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_family = AF_UNSPEC;
        if (ci && connect(ci->connect_fd, &sa, sizeof sa) != 0) {
            struct linger lg = {1, 0};   /* fallback: RST right after MHD's FIN */
            setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
    }
    return MHD_NO;
}

/* Applies an action at a request or reply crossing. PASS is handled by
 * the caller; `state` is where a DELAY resumes. */
static enum MHD_Result act(req *r, const sim_action *a, req_state delay_state) {
    switch (a->kind) {
    case SIM_ACT_REPLY:
        if (a->delay_ms) {
            /* A status after a delay: the reply waits, then goes as is. */
            set_fault_reply(r, a);
            return suspend(r, R_DELAY_SEND, (long)a->delay_ms);
        }
        return queue_fault_reply(r, a);
    case SIM_ACT_DELAY:
        return suspend(r, delay_state, (long)a->delay_ms);
    case SIM_ACT_DROP:
    case SIM_ACT_HANG:
    case SIM_ACT_STALL:
        return suspend(r, R_HUNG, -1);
    case SIM_ACT_ABORT:
        return cut(r, 1);
    case SIM_ACT_EMPTY:
    case SIM_ACT_CLOSE:
    default:
        return cut(r, 0);
    }
}

static void wire(req *r, sim_wire *w, sim_wire_point point, const char *url, const char *method,
                 int status) {
    memset(w, 0, sizeof *w);
    w->service = r->m->cfg.service;
    w->point = point;
    w->proto = "http";
    w->name = url;
    w->method = method;
    w->conn = r->k ? r->k->ordinal : 0;
    w->msg = r->msg;
    w->status = status;
}

/* Sends the computed reply in r->resp through the SEND crossing. */
static enum MHD_Result send_reply(req *r, const char *url, const char *method) {
    sim_wire w;
    sim_action a;
    wire(r, &w, SIM_WIRE_SEND, url, method, r->resp.status);
    sim_faults_cross(r->m->cfg.faults, &w, now_ms(r->m), &a);
    if (a.kind == SIM_ACT_SLOW)
        r->slow_rate = a.code > 0 ? a.code : 1;
    else if (a.kind == SIM_ACT_PARTIAL)
        r->partial = 1;
    else if (a.kind != SIM_ACT_PASS)
        return act(r, &a, R_DELAY_SEND);
    return queue(r);
}

static const char *header_fn(const sim_http_request *req_, const char *name) {
    return MHD_lookup_connection_value(req_->impl, MHD_HEADER_KIND, name);
}

static enum MHD_Result handle(req *r, const char *url, const char *method) {
    sim_mhd *m = r->m;
    sim_http_request hr;
    memset(&hr, 0, sizeof hr);
    hr.method = method;
    hr.path = url;
    hr.query = r->k && r->k->query ? r->k->query : "";
    hr.body = r->body.data;
    hr.body_len = r->body.len;
    /* Fresh, not the loop's wake-up time: a delay the route asks for is
     * timed from now (as in the backend, sim_backend_arrival_ms). */
    ev_now_update(m->loop);
    hr.now_ms = now_ms(m);
    hr.header = header_fn;
    hr.impl = r->c;
    hr.arrived_ms = r->arrived_ms;
    sim_http_response_init(&r->resp);
    if (r->too_large)
        sim_http_detail(&r->resp, MHD_HTTP_CONTENT_TOO_LARGE, "Request body too large");
    else
        m->cfg.handler(m->cfg.ctx, &hr, &r->resp);
    if (r->resp.retry_ms) {
        /* A long poll: hold the connection, ask again after retry_ms. */
        unsigned ms = r->resp.retry_ms;
        sim_http_response_free(&r->resp);
        sim_http_response_init(&r->resp);
        return suspend(r, R_POLL, (long)ms);
    }
    return send_reply(r, url, method);
}

/* A request on a connection over the cap: read whole (a client that is
 * still writing when the socket closes sees a broken pipe, not the
 * answer), then the 503 without crossing anything, and the connection
 * closes. */
static enum MHD_Result refuse_request(req *r) {
    sim_http_response_free(&r->resp);
    sim_http_response_init(&r->resp);
    sim_http_detail(&r->resp, MHD_HTTP_SERVICE_UNAVAILABLE, "Too many connections");
    snprintf(r->resp.extra_headers, sizeof r->resp.extra_headers, "Connection: close\r\n");
    return queue(r);
}

/* The access handler: first call allocates the request, upload calls
 * append (up to max_body, the rest is discarded and answered 413), the last
 * call crosses the fault engine and answers. After a resume (DELAY) MHD
 * calls it again with no upload data: the state says where to continue. */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
    (void)version;
    sim_mhd *m = cls;
    req *r = *con_cls;
    if (!r) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r = sim_xcalloc(1, sizeof *r);
        r->m = m;
        r->c = c;
        r->k = ci ? ci->socket_context : NULL;
        r->msg = r->k ? ++r->k->nreq : 0;
        r->arrived_ms = now_ms(m);
        sim_http_response_init(&r->resp);
        *con_cls = r;
        if (r->k && r->k->abort)
            return MHD_NO;
        /* A declared length over the cap: the body is read and dropped,
         * then answered 413 (answered at once, a client still writing
         * would see a broken pipe, not the 413). Past BODY_DRAIN_MAX it is
         * answered at once; MHD then closes instead of reading. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long clen = cl ? strtoull(cl, NULL, 10) : 0;
        if (clen > m->cfg.max_body) {
            if (r->k && r->k->over_cap)
                return refuse_request(r);
            r->too_large = 1;
            if (clen > BODY_DRAIN_MAX)
                return handle(r, url, method);
        }
        return MHD_YES;
    }
    if (r->state == R_DONE || r->state == R_SLOW) {   /* a reply is already queued */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->state == R_CLOSING || r->state == R_HUNG)
        return MHD_NO;
    if (*upload_data_size) {
        if (!r->too_large) {
            if (r->body.len + *upload_data_size > m->cfg.max_body) {
                r->too_large = 1;
                sim_buf_free(&r->body);
            } else {
                sim_buf_append(&r->body, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (r->state == R_DELAY_REQ || r->state == R_POLL)
        return handle(r, url, method);
    if (r->state == R_DELAY_SEND)
        return queue(r);
    if (r->k && r->k->over_cap)
        return refuse_request(r);

    sim_wire w;
    sim_action a;
    wire(r, &w, SIM_WIRE_REQUEST, url, method, 0);
    sim_faults_cross(m->cfg.faults, &w, now_ms(m), &a);
    if (a.kind == SIM_ACT_SLOW)
        r->slow_rate = a.code > 0 ? a.code : 1;
    else if (a.kind == SIM_ACT_PARTIAL)
        r->partial = 1;
    else if (a.kind != SIM_ACT_PASS)
        return act(r, &a, R_DELAY_REQ);
    return handle(r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c; (void)toe;
    req *r = *con_cls;
    if (!r)
        return;
    unlink_suspended(r);
    ev_timer_stop(((sim_mhd *)cls)->loop, &r->timer);
    ev_io_stop(((sim_mhd *)cls)->loop, &r->gone);
    sim_buf_free(&r->body);
    sim_http_response_free(&r->resp);
    free(r);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    sim_mhd *m = cls;
    sim_wire w;
    sim_action a;
    memset(&w, 0, sizeof w);
    w.service = m->cfg.service;
    w.proto = "http";
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn *k = sim_xcalloc(1, sizeof *k);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k->fd = ci ? ci->connect_fd : -1;
        k->next = m->conns;
        if (m->conns) m->conns->prev = k;
        m->conns = k;
        m->open++;
        *socket_context = k;
        m->adding_seen = 1;
        if (m->adding_over_cap) {
            /* Not one of the service's connections: no ordinal, no crossing
             * (counted in m->refusing since on_client). */
            k->over_cap = 1;
            return;
        }
        k->ordinal = ++m->nconn;
        w.point = SIM_WIRE_ACCEPT;
        w.conn = k->ordinal;
        sim_faults_cross(m->cfg.faults, &w, now_ms(m), &a);
        /* Only cutting makes sense before any request: the first access
         * call refuses, which closes the socket. */
        if (a.kind == SIM_ACT_ABORT || a.kind == SIM_ACT_CLOSE || a.kind == SIM_ACT_DROP
            || a.kind == SIM_ACT_EMPTY)
            k->abort = 1;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn *k = *socket_context;
        if (!k)
            return;
        m->open--;
        if (k->prev) k->prev->next = k->next;
        else m->conns = k->next;
        if (k->next) k->next->prev = k->prev;
        if (k->over_cap) {
            m->refusing--;
            free(k->query);
            free(k);
            *socket_context = NULL;
            return;
        }
        w.point = SIM_WIRE_CLOSE;
        w.conn = k->ordinal;
        w.msg = k->nreq;
        sim_faults_cross(m->cfg.faults, &w, now_ms(m), &a);
        free(k->query);
        free(k);
        *socket_context = NULL;
    }
}

/* Keeps the raw query string: MHD hands the access handler only the path. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn *k = ci ? ci->socket_context : NULL;
    if (k) {
        const char *q = strchr(uri, '?');
        free(k->query);
        k->query = sim_xstrdup(q ? q + 1 : "");
    }
    return NULL;
}

/* ---- life cycle (docs/lifecycle.md) --------------------------------------- */

void sim_mhd_crash(sim_mhd *m) {
    sim_listener_close(m->listener);
    sim_head_gate_close_all(m->gate);   /* clients MHD has not seen yet */
    /* Every connection ends as the process's death would end it: MHD sees
     * the socket shut and closes it; a suspended request is resumed to be
     * closed. */
    for (conn *k = m->conns; k; k = k->next)
        if (k->fd >= 0) shutdown(k->fd, SHUT_RDWR);
    while (m->suspended) close_suspended(m->suspended);
    kick(m);
}

int sim_mhd_restart(sim_mhd *m, char *err, size_t errlen) {
    return sim_listener_reopen(m->listener, err, errlen);
}

/* ---- start / stop -------------------------------------------------------- */

/* A client taken while descriptors ran out, or over the connection cap
 * while SIM_CAPS_REFUSING others are being refused: the service's 503 with
 * a JSON body, unread, as far as the socket takes it. */
static void refuse(void *ctx, int fd) {
    (void)ctx;
    char buf[512];
    size_t n = sim_http_raw(buf, sizeof buf, 503, "application/json", NULL,
                            "{\"detail\":\"Too many connections\"}");
    (void)!send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* MHD takes the client over (MHD_add_connection closes it itself when it
 * cannot). */
static void hand_over(sim_mhd *m, int fd, int over_cap) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
        close(fd);
        if (over_cap) m->refusing--;
        return;
    }
    /* MHD reports the new connection (on_connection) from inside this call. */
    m->adding_over_cap = over_cap;
    m->adding_seen = 0;
    MHD_add_connection(m->d, fd, (struct sockaddr *)&ss, sl);
    if (over_cap && !m->adding_seen) m->refusing--;
    m->adding_over_cap = 0;
    run(m);
}

/* A client whose first head checked out (head_gate.h). */
static void on_head_passed(void *ctx, int fd, int over_cap) {
    hand_over(ctx, fd, over_cap);
}

static void on_head_dropped(void *ctx, int over_cap) {
    sim_mhd *m = ctx;
    if (over_cap) m->refusing--;
}

/* Our listener accepted a client. */
static void on_client(void *ctx, int fd) {
    sim_mhd *m = ctx;
    /* Over the cap (caps.h) a client's request is read and answered 503,
     * a few at a time; past those, the 503 at once. */
    int over_cap =
        (long)(m->open + sim_head_gate_waiting(m->gate) - m->refusing) >= m->cfg.max_conns;
    if (over_cap && m->refusing >= SIM_CAPS_REFUSING) {
        refuse(m, fd);
        close(fd);
        return;
    }
    if (over_cap) m->refusing++;
    sim_sock_nodelay(fd);
    if (m->cfg.tls) {
        hand_over(m, fd, over_cap);   /* the head is inside TLS: MHD's */
        return;
    }
    sim_head_gate_add(m->gate, fd, over_cap);
}

sim_mhd *sim_mhd_start(struct ev_loop *loop, const sim_mhd_config *cfg, char *err, size_t errlen) {
    sim_mhd *m = sim_xcalloc(1, sizeof *m);
    m->loop = loop;
    m->cfg = *cfg;
    m->cfg.bind = NULL;   /* borrowed: not kept */
    if (m->cfg.max_conns <= 0) m->cfg.max_conns = SIM_CAPS_MAX;
    /* We accept, through the shared listener (listener.h), and hand each
     * client to MHD: running out of descriptors is then handled as for
     * every other service, and MHD never stops accepting for good. */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_NO_LISTEN_SOCKET;
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, m},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, m},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, m},
        {MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL},
        /* Never reached: on_client refuses first, in words. */
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)m->cfg.max_conns + SIM_CAPS_REFUSING + 16, NULL},
        {MHD_OPTION_END, 0, NULL},   /* the TLS pair goes here */
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (cfg->tls) {
        /* GnuTLS, in libmicrohttpd itself: PEM texts in memory. */
        flags |= MHD_USE_TLS;
        size_t n = sizeof(ops) / sizeof(ops[0]) - 3;
        ops[n] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, cfg->tls->key_pem};
        ops[n + 1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cfg->tls->cert_pem};
    }
    /* EXTERNAL_LOGGER must come first, or earlier options log to stderr. */
    m->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, m,
                            MHD_OPTION_EXTERNAL_LOGGER, on_log, m,
                            MHD_OPTION_ARRAY, ops,
                            MHD_OPTION_END);
    const union MHD_DaemonInfo *ei = m->d ? MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD)
                                          : NULL;
    if (!ei) {
        snprintf(err, errlen, "%s: libmicrohttpd did not start%s%s", cfg->who,
                 m->lastlog[0] ? ": " : "", m->lastlog);
        if (m->d) MHD_stop_daemon(m->d);
        free(m);
        return NULL;
    }
    sim_head_gate_config gc = {.pass = on_head_passed, .dropped = on_head_dropped, .ctx = m};
    m->gate = sim_head_gate_new(loop, &gc);
    sim_listener_config lc = {.who = cfg->who, .bind = cfg->bind, .port = cfg->port,
                              .on_accept = on_client, .on_refuse = refuse, .ctx = m};
    m->listener = sim_listener_start(loop, &lc, err, errlen);
    if (!m->listener) {
        sim_head_gate_free(m->gate);
        MHD_stop_daemon(m->d);
        free(m);
        return NULL;
    }
    m->port = sim_listener_port(m->listener);
    m->started = 1;
    ev_io_init(&m->io, on_io, ei->epoll_fd, EV_READ);
    m->io.data = m;
    ev_io_start(loop, &m->io);
    ev_timer_init(&m->tick, on_tick, 0., 0.);
    m->tick.data = m;
    rearm(m);
    return m;
}

int sim_mhd_port(const sim_mhd *m) { return m->port; }

/* MHD forbids stopping with suspended connections: resume every one as
 * "closing" (its handler call refuses, closing it), run MHD once, then stop
 * our watchers before MHD_stop_daemon closes the epoll fd under them. */
void sim_mhd_stop(sim_mhd *m) {
    if (!m)
        return;
    int resumed = 0;
    while (m->suspended) {
        req *r = m->suspended;
        ev_timer_stop(m->loop, &r->timer);
        unlink_suspended(r);
        r->state = R_CLOSING;
        MHD_resume_connection(r->c);
        resumed = 1;
    }
    if (resumed)
        MHD_run(m->d);
    sim_head_gate_free(m->gate);
    sim_listener_free(m->listener);
    ev_io_stop(m->loop, &m->io);
    ev_timer_stop(m->loop, &m->tick);
    MHD_stop_daemon(m->d);
    free(m);
}
