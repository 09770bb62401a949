/* backend_lws.c -- the backend service: libwebsockets on the libev loop.
 * One lws protocol serves HTTP and WebSocket (lws 4.1 does not route
 * upgrades by path); this file has the lws callback, the HTTP side (pure
 * routes in backend_routes.c, the thread history read asynchronously) and
 * the service's life cycle. backend_accept.c owns the listening socket,
 * backend_ws.c the WebSocket sessions and runs.
 *
 * lws 4.1.6 traps handled here (see LIBRARIES.md): every application timer
 * is an ev_timer, and a 1 s ev_timer calls lws_cancel_service so lws's own
 * timeouts fire; upgrade refusals are raw HTTP/1.1 responses; shutdown sends
 * 1001 to every session before lws_context_destroy, which sends no close
 * frames. */
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

#define BODY_DRAIN_MAX (16L * 1024 * 1024)  /* an oversized body we still read before 413 */

/* ---- small helpers -------------------------------------------------------- */

int64_t sim_backend_now_ms(const sim_backend *b) {
    return sim_clock_now_ms(b->cfg.clock, ev_now(b->loop));
}

double sim_backend_wait_s(const sim_backend *b, int64_t ms) {
    return sim_clock_wait_s(b->cfg.clock, ms);
}

void sim_backend_cross_wire(sim_backend *b, const sim_wire *w, sim_action *act) {
    if (b->cfg.faults) {
        sim_faults_cross(b->cfg.faults, w, sim_backend_now_ms(b), act);
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
    sim_backend_cross_wire(b, &w, act);
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

void sim_backend_link(sim_backend *b, conn *c) {
    c->next = b->conns;
    if (b->conns) b->conns->prev = c;
    b->conns = c;
}

void sim_backend_unlink(conn *c) {
    sim_backend *b = c->b;
    if (c->prev) c->prev->next = c->next;
    else if (b->conns == c) b->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Cuts the TCP connection with a RST and no close frame. connect() with
 * AF_UNSPEC makes Linux abort the connection at once (a RST, not the FIN a
 * shutdown() would send first); the socket stays open, so lws sees the end
 * on its next read and frees the wsi in its own time (never inside our
 * callback). The zero linger is the fallback: a RST at close. */
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
        c->close_now = 1;
        lws_callback_on_writable(c->wsi);
    }
}

/* Writes a complete raw HTTP/1.1 response on a socket lws does not own yet
 * (or inside CONFIRM_UPGRADE with lws_write). Best effort, small. */
size_t sim_backend_raw_response(char *out, size_t outlen, int status, const char *ctype,
                           const char *body) {
    int n = snprintf(out, outlen,
                     "HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n"
                     "connection: close\r\n\r\n%s",
                     status, sim_http_reason(status), ctype, strlen(body), body);
    return n < 0 ? 0 : ((size_t)n < outlen ? (size_t)n : outlen - 1);
}

const char *sim_backend_ctype(const char *text) {
    return text && (text[0] == '{' || text[0] == '[') ? "application/json" : "text/plain";
}

static int is_ws_path(const sim_backend *b, const char *path) {
    if (strcmp(path, "/ws") == 0) return 1;
    if (b->cfg.sc->profile == SIM_PROFILE_LEGACY) return strcmp(path, "/websocket") == 0;
    return strcmp(path, "/api/v1/websocket") == 0;
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
    c->slow_rate = c->slow_wait = 0;
    ev_timer_stop(c->b->loop, &c->http_timer);
}

/* A `status` action's answer in c->resp: the rule's status and body, its
 * content type or one guessed from the body. Everything is copied: the
 * action's strings belong to the rule, which may be deleted (control API,
 * ttl_ms, /reset) before a delayed reply is written. */
static void http_fault_reply(conn *c, const sim_action *a) {
    sim_http_response_free(&c->resp);
    sim_http_response_init(&c->resp);
    c->resp.status = a->code ? a->code : 500;
    snprintf(c->ctype, sizeof(c->ctype), "%s", a->field ? a->field : sim_backend_ctype(a->text));
    c->resp.content_type = c->ctype;
    sim_buf_puts(&c->resp.body, a->text ? a->text : "");
}

static void http_ready(conn *c) {
    c->resp_ready = 1;
    if (c->wsi && !c->hung && !c->aborted) lws_callback_on_writable(c->wsi);
}

/* The response is computed: sim_backend_cross SEND, then let the writeable callback
 * write it. */
static void http_respond(conn *c) {
    sim_action a;
    sim_backend_cross(c->b, SIM_WIRE_SEND, "http", c->path, c->method, NULL, c->ordinal, c->requests, 0,
          c->resp.status, &a);
    switch (a.kind) {
    case SIM_ACT_PASS: http_ready(c); return;
    case SIM_ACT_DELAY:
        c->http_timer_responds = 1;
        ev_timer_set(&c->http_timer, sim_backend_wait_s(c->b, a.delay_ms), 0.0);
        ev_timer_start(c->b->loop, &c->http_timer);
        return;
    case SIM_ACT_REPLY:
        http_fault_reply(c, &a);
        http_ready(c);
        return;
    case SIM_ACT_ABORT: sim_backend_conn_abort(c); return;
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
                            .now_ms = sim_backend_now_ms(c->b),
                            .header = req_header,
                            .impl = c,
                            .arrived_ms = sim_backend_now_ms(c->b)};
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

void sim_backend_http_timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    conn *c = (conn *)((char *)t - offsetof(conn, http_timer));
    if (c->slow_wait) {
        /* SLOW: the next chunk of the body may go. */
        c->slow_wait = 0;
        if (c->wsi && !c->hung && !c->aborted) lws_callback_on_writable(c->wsi);
    } else if (c->http_timer_responds) {
        http_ready(c);
    } else {
        http_route(c);
    }
}

/* A complete request (headers and body): sim_backend_cross REQUEST and act. Returns
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
    sim_backend_cross(c->b, SIM_WIRE_REQUEST, "http", c->path, c->method, NULL, c->ordinal, c->requests, 0, 0,
          &a);
    switch (a.kind) {
    case SIM_ACT_PASS: http_route(c); return 0;
    case SIM_ACT_DELAY:
        c->http_timer_responds = 0;
        ev_timer_set(&c->http_timer, sim_backend_wait_s(c->b, a.delay_ms), 0.0);
        ev_timer_start(c->b->loop, &c->http_timer);
        return 0;
    case SIM_ACT_REPLY:
        http_fault_reply(c, &a);
        if (a.delay_ms) {
            /* A status after a while (a slow 503 from the front end). */
            c->http_timer_responds = 1;
            ev_timer_set(&c->http_timer, sim_backend_wait_s(c->b, a.delay_ms), 0.0);
            ev_timer_start(c->b->loop, &c->http_timer);
            return 0;
        }
        http_ready(c);
        return 0;
    case SIM_ACT_SLOW:
        /* The route's answer, its body trickling out (http_writeable). */
        c->slow_rate = a.code > 0 ? a.code : 1;
        http_route(c);
        return 0;
    case SIM_ACT_ABORT: sim_backend_conn_abort(c); return -1;   /* reset */
    case SIM_ACT_EMPTY:                                         /* no reply, FIN */
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
    /* Too big: read and drop the body, then answer 413 and close. Answering
     * at once would close with unread input, and the client would see a
     * reset instead of the 413. Beyond BODY_DRAIN_MAX we do not wait. */
    if (clen > BODY_MAX) c->body_too_big = 1;
    if (clen > 0 && clen <= BODY_DRAIN_MAX) return 0;   /* wait for BODY_COMPLETION */
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
        if (c->slow_wait) return 0;
        unsigned char buf[LWS_PRE + CHUNK];
        size_t left = c->resp.body.len - c->body_off;
        size_t n = left > CHUNK ? CHUNK : left;
        size_t slow_chunk = 0;
        if (c->slow_rate) {
            /* SLOW: about 20 chunks a second, at least a byte each. */
            slow_chunk = (size_t)c->slow_rate / 20;
            if (slow_chunk < 1) slow_chunk = 1;
            if (n > slow_chunk) n = slow_chunk;
        }
        memcpy(buf + LWS_PRE, c->resp.body.data + c->body_off, n);
        int last = n == left;
        if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)n)
            return -1;
        c->body_off += n;
        if (!last && c->slow_rate) {
            c->slow_wait = 1;
            ev_timer_set(&c->http_timer,
                         sim_backend_wait_s(c->b, (int64_t)n * 1000 / c->slow_rate), 0.0);
            ev_timer_start(c->b->loop, &c->http_timer);
            return 0;
        }
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
static int upgrade_refuse_ct(struct lws *wsi, int status, const char *ctype, const char *body) {
    unsigned char buf[LWS_PRE + 4096];
    size_t n = sim_backend_raw_response((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE, status,
                                        ctype ? ctype : sim_backend_ctype(body), body);
    lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_HEADERS);
    return 1;
}

static int upgrade_refuse(struct lws *wsi, int status, const char *body) {
    return upgrade_refuse_ct(wsi, status, NULL, body);
}

/* An upgrade that came as a later request of a keep-alive connection (the
 * pre-read only sees the first): its http.request and ws.accept crossings
 * happen here, inside CONFIRM_UPGRADE, where nothing can wait. So delay and
 * slow pass through (with a warning), hang refuses nothing and answers
 * nothing more. Returns what CONFIRM_UPGRADE returns, or 0 to go on. */
static int keepalive_upgrade_faults(conn *c, struct lws *wsi) {
    sim_action a;
    sim_backend_cross(c->b, SIM_WIRE_REQUEST, "http", c->path, "GET", NULL, c->ordinal, 1, 0, 0, &a);
    switch (a.kind) {
    case SIM_ACT_PASS: break;
    case SIM_ACT_REPLY: return upgrade_refuse_ct(wsi, a.code ? a.code : 500, a.field,
                                                 a.text ? a.text : "");
    case SIM_ACT_ABORT: sim_backend_conn_abort(c); return -1;
    case SIM_ACT_EMPTY: return -1;
    case SIM_ACT_HANG: c->hung = 1; return 1;
    default:
        sim_warn("backend: %s on a keep-alive WebSocket upgrade is not supported; passed",
                 sim_action_name(a.kind));
        break;
    }
    sim_backend_cross(c->b, SIM_WIRE_ACCEPT, "ws", c->path, "GET",
                      c->user_id[0] ? c->user_id : NULL, c->ordinal, 0, 0, 0, &a);
    switch (a.kind) {
    case SIM_ACT_PASS: return 0;
    case SIM_ACT_CLOSE:
        c->accept_close = 1;
        c->accept_code = a.code ? a.code : 1011;
        snprintf(c->accept_text, sizeof(c->accept_text), "%s", a.text ? a.text : "");
        return 0;
    case SIM_ACT_REPLACE:
        free(c->accept_msg);
        c->accept_msg = sim_backend_ws_replacement(c, &a, NULL);
        snprintf(c->accept_type, sizeof(c->accept_type), "%s", a.field ? a.field : "error_message");
        return 0;
    case SIM_ACT_HANG: c->hung = 1; return 1;
    case SIM_ACT_ABORT:
    default: sim_backend_conn_abort(c); return -1;
    }
}

/* RFC 6455 4.2.2: a version the server does not speak gets 426 and the
 * version it does (lws itself accepts any). */
static int version_unsupported(struct lws *wsi) {
    char ver[16] = "";
    lws_hdr_copy(wsi, ver, sizeof(ver), WSI_TOKEN_VERSION);
    if (strcmp(ver, "13") == 0) return 0;
    static const char body[] = "{\"detail\":\"Unsupported WebSocket version\"}";
    unsigned char buf[LWS_PRE + 512];
    int n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
                     "HTTP/1.1 426 Upgrade Required\r\nsec-websocket-version: 13\r\n"
                     "content-type: application/json\r\ncontent-length: %zu\r\n"
                     "connection: close\r\n\r\n%s", sizeof(body) - 1, body);
    lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS);
    return 1;
}

static int confirm_upgrade(conn *c, struct lws *wsi) {
    sim_backend *b = c->b;
    if (version_unsupported(wsi)) return 1;
    int keepalive = !c->ws_prepared;
    if (keepalive) {
        /* A later request on a keep-alive connection: read lws's headers. */
        char path[256] = "", authz[4096] = "", sub[1024] = "";
        lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
        lws_hdr_copy(wsi, authz, sizeof(authz), WSI_TOKEN_HTTP_AUTHORIZATION);
        lws_hdr_copy(wsi, sub, sizeof(sub), WSI_TOKEN_PROTOCOL);
        int qlen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
        char *query = sim_xcalloc(1, (size_t)qlen + 64);
        lws_hdr_copy(wsi, query, qlen + 64, WSI_TOKEN_HTTP_URI_ARGS);
        sim_backend_ws_prepare(c, path, sub, authz, query);
        free(query);
        c->ordinal = ++b->ws_conns;
    }
    c->ws_prepared = 0;   /* the next upgrade on this socket starts afresh */
    if (keepalive) {
        int r = keepalive_upgrade_faults(c, wsi);
        if (r) return r;
    }
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
        sim_backend_ws_established(c);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!c) return -1;
        return sim_backend_ws_receive(c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c) return 0;
        return sim_backend_ws_writeable(c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2) {
            const unsigned char *p = in;
            c->close_code = (p[0] << 8) | p[1];
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (c) {
            sim_action a;
            sim_backend_cross(b, SIM_WIRE_CLOSE, "ws", c->path, NULL, c->user_id[0] ? c->user_id : NULL,
                  c->ordinal, c->msgs_in, c->runs, c->close_code ? c->close_code : 1006, &a);
            sim_backend_ws_stop_runs(c);
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
            sim_backend_cross(b, SIM_WIRE_CLOSE, "http", c->path, c->method, NULL, c->ordinal, c->requests, 0,
                  0, &a);
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c) {
            lws_set_opaque_user_data(wsi, NULL);
            c->wsi = NULL;
            sim_backend_unlink(c);
            sim_backend_conn_free(c);
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
void sim_backend_conn_free(conn *c) {
    sim_backend *b = c->b;
    ev_io_stop(b->loop, &c->io);
    ev_timer_stop(b->loop, &c->pre_timer);
    ev_timer_stop(b->loop, &c->retry);
    ev_timer_stop(b->loop, &c->http_timer);
    if (c->kind == C_WS) b->nws--;
    sim_backend_ws_release(c);
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
    info.max_http_header_data = 16384;   /* uvicorn (h11) takes heads up to 16 KiB */
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
    b->routes.start_ms = cfg->clock->start_ms;

    ev_io_init(&b->lio, sim_backend_accept_cb, b->lfd, EV_READ);
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
        if (c->kind == C_PRE) sim_backend_pre_close(c);
    }
    for (conn *c = b->conns; c; c = c->next) {
        if (c->kind != C_WS) continue;
        sim_backend_ws_stop_runs(c);
        c->hung = 0;   /* a hung session still gets the goodbye */
        sim_backend_ws_close(c, 1001, "Server shutting down");
    }
    if (b->nws == 0) {
        ev_feed_event(b->loop, &b->done_timer, EV_TIMER);
        return;
    }
    ev_timer_set(&b->grace, sim_backend_wait_s(b, grace_ms), 0.0);
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
        if (c->kind == C_PRE) sim_backend_pre_close(c);
    }
    /* Destroys every wsi; WSI_DESTROY frees their connections. */
    lws_context_destroy(b->ctx);
    b->ctx = NULL;
    while (b->conns) {
        conn *c = b->conns;
        sim_backend_unlink(c);
        sim_backend_conn_free(c);
    }
    while (b->user_runs) {
        user_runs *u = b->user_runs;
        b->user_runs = u->next;
        free(u);
    }
    free(b->bind);
    free(b);
}

