/* backend_http.c -- the backend's HTTP side on libwebsockets: one request at
 * a time per connection, its crossings and fault actions, the pure routes of
 * backend_routes.c, the thread history read from Redis (the reply is held
 * until it comes), and the write sequence of docs/libraries.md §2.11. */
#include "backend_http.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_remote.h"
#include "util.h"

#define BODY_MAX (64 * 1024)                /* request bodies; more → 413 */
#define BODY_DRAIN_MAX (16L * 1024 * 1024)  /* an oversized body we still read before 413 */
#define CHUNK 16384                         /* body bytes per write */

void sim_backend_http_decorate(const conn *c, uint64_t request, sim_http_response *r) {
    if (c && c->b->cfg.sc->front_end == SIM_FRONT_END_GOOGLE)
        sim_http_front_end_headers(r, c->b->cfg.seed, c->ordinal, request);
}

size_t sim_backend_http_refusal(const conn *c, char *out, size_t outlen, int status,
                                const char *ctype, const char *body) {
    sim_http_response r;
    sim_http_response_init(&r);
    sim_backend_http_decorate(c, 1, &r);
    size_t n = sim_http_raw(out, outlen, status, ctype ? ctype : sim_backend_http_ctype(body),
                            r.extra_headers, body);
    sim_http_response_free(&r);
    return n;
}

const char *sim_backend_http_ctype(const char *text) {
    return text && (text[0] == '{' || text[0] == '[') ? "application/json" : "text/plain";
}

static const char *req_header(const sim_http_request *req, const char *name) {
    const http_part *h = req->impl;
    if (sim_strcaseeq(name, "Authorization")) return h->hdr_auth[0] ? h->hdr_auth : NULL;
    if (sim_strcaseeq(name, "Host")) return h->hdr_host[0] ? h->hdr_host : NULL;
    return NULL;
}

static void http_reset(conn *c) {
    http_part *h = c->u.http;
    free(h->query);
    h->query = NULL;
    h->body.len = 0;
    h->body_too_big = 0;
    sim_http_response_free(&h->resp);
    h->resp_ready = h->headers_sent = h->is_head = 0;
    h->body_off = 0;
    h->slow_rate = h->slow_wait = 0;
    ev_timer_stop(c->b->loop, &h->timer);
}

static void timer_start(conn *c, int64_t ms) {
    ev_timer_set(&c->u.http->timer, sim_backend_wait_s(c->b, ms), 0.0);
    ev_timer_start(c->b->loop, &c->u.http->timer);
}

/* A `status` action's answer in the response: the rule's status and body,
 * its content type or one guessed from the body. Everything is copied: the
 * action's strings belong to the rule, which may be deleted (control API,
 * ttl_ms, /reset) before a delayed reply is written. */
static void http_fault_reply(conn *c, const sim_action *a) {
    http_part *h = c->u.http;
    sim_http_response_free(&h->resp);
    sim_http_response_init(&h->resp);
    h->resp.status = a->code ? a->code : 500;
    snprintf(h->ctype, sizeof(h->ctype), "%s",
             a->field ? a->field : sim_backend_http_ctype(a->text));
    h->resp.content_type = h->ctype;
    sim_buf_puts(&h->resp.body, a->text ? a->text : "");
}

static void http_ready(conn *c) {
    http_part *h = c->u.http;
    h->resp_ready = 1;
    if (!c->wsi || c->hung || c->aborted) return;
    /* Answered inside the callback that brought the request (lws's own
     * lws_return_http_status does so): no POLLOUT round trip. */
    if (h->in_request) h->write_now = 1;
    else lws_callback_on_writable(c->wsi);
}

/* The response is computed: crosses http send, then lets the writeable
 * callback write it. */
static void http_respond(conn *c) {
    http_part *h = c->u.http;
    sim_action a;
    sim_backend_cross(c->b, SIM_WIRE_SEND, "http", h->path, h->method, NULL, c->ordinal,
                      h->requests, 0, h->resp.status, &a);
    switch (a.kind) {
    case SIM_ACT_PASS: http_ready(c); return;
    case SIM_ACT_DELAY:
        h->timer_responds = 1;
        timer_start(c, a.delay_ms);
        return;
    case SIM_ACT_REPLY:
        http_fault_reply(c, &a);
        http_ready(c);
        return;
    case SIM_ACT_ABORT: sim_backend_conn_abort(c); return;
    case SIM_ACT_CLOSE:
        h->close_now = 1;
        if (c->wsi) lws_callback_on_writable(c->wsi);
        return;
    case SIM_ACT_DROP:
    case SIM_ACT_HANG:
    default: c->hung = 1; return;
    }
}

static void history_cb(void *ctx, void *json_array, const char *error) {
    history_req *hr = ctx;
    conn *c = hr->c;
    if (c) {
        c->u.http->hreq = NULL;
        sim_backend_routes_history(&c->u.http->resp, hr->thread_id, json_array, error);
        http_respond(c);
    }
    free(hr);
}

static void http_route(conn *c);

static void on_verdict(void *ctx, sim_auth_status status, const sim_principal *who,
                       const char *why) {
    conn *c = ctx;
    http_part *h = c->u.http;
    c->check = NULL;
    h->verdict_set = 1;
    h->verdict.status = status;
    if (who) h->verdict.who = *who;
    snprintf(h->verdict.why, sizeof(h->verdict.why), "%s", why ? why : "");
    http_route(c);
}

/* Runs the route and starts the response. */
static void http_route(conn *c) {
    http_part *h = c->u.http;
    sim_backend *b = c->b;
    int64_t now = sim_backend_arrival_ms(b);
    sim_http_request req = {.method = h->method,
                            .path = h->path,
                            .query = h->query ? h->query : "",
                            .body = h->body.data,
                            .body_len = h->body.len,
                            .now_ms = now,
                            .header = req_header,
                            .impl = h,
                            .arrived_ms = now};
    const char *token = b->cfg.remote && !h->verdict_set ? sim_backend_routes_token(&req) : NULL;
    if (token) {
        /* Judged by the auth service first; the route runs on its verdict. */
        c->check = sim_auth_remote_validate(b->cfg.remote, token, on_verdict, c);
        return;
    }
    char tid[129];
    sim_http_response_init(&h->resp);
    sim_route_result r = sim_backend_routes_handle_checked(
        &b->routes, &req, h->verdict_set ? &h->verdict : NULL, &h->resp, tid, sizeof(tid));
    if (r == SIM_ROUTE_HISTORY) {
        if (!b->cfg.history) {
            sim_backend_routes_history(&h->resp, tid, NULL, "Redis not configured");
        } else {
            history_req *hr = sim_xcalloc(1, sizeof(*hr));
            hr->c = c;
            snprintf(hr->thread_id, sizeof(hr->thread_id), "%s", tid);
            h->hreq = hr;
            sim_history_read(b->cfg.history, tid, history_cb, hr);
            return;   /* history_cb responds, possibly already done */
        }
    }
    http_respond(c);
}

static void timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    http_part *h = (http_part *)((char *)t - offsetof(http_part, timer));
    conn *c = h->c;
    if (h->slow_wait) {
        /* SLOW: the next chunk of the body may go. */
        h->slow_wait = 0;
        if (c->wsi && !c->hung && !c->aborted) lws_callback_on_writable(c->wsi);
    } else if (h->timer_responds) {
        http_ready(c);
    } else {
        http_route(c);
    }
}

/* The keep-alive idle timeout is lws's (PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE,
 * its default 5 s, uvicorn's timeout_keep_alive too), kept here. lws 4.1.6
 * keeps every connection's timeout in one list sorted by time and inserts
 * by walking it from the front, so setting a keep-alive timeout, always the
 * latest, walks past every other connection's: 10 % of the backend's time
 * under wrk -c50, more with more connections (docs/libraries.md §10.4).
 * lws's is cancelled (a removal, at once) and a libev timer, a heap, waits
 * instead; when it fires, lws closes the connection as its own timeout
 * would. It counts from the end of the last response to the next request
 * head read whole. Real seconds, as lws's transport timeouts all are (not
 * the scenario's clock: a drill at time_scale 1000 would make it 5 ms). */
#define KEEPALIVE_IDLE_S 5.0

static void idle_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    http_part *h = (http_part *)((char *)t - offsetof(http_part, idle));
    if (h->c->wsi) lws_set_timeout(h->c->wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
}

static void idle_start(conn *c, struct lws *wsi) {
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    ev_timer_set(&c->u.http->idle, KEEPALIVE_IDLE_S, 0.0);
    ev_timer_start(c->b->loop, &c->u.http->idle);
}

void sim_backend_http_busy(conn *c) {
    ev_timer_stop(c->b->loop, &c->u.http->idle);
}

void sim_backend_http_start(conn *c) {
    sim_backend_conn_become(c, C_HTTP);
    ev_init(&c->u.http->timer, timer_cb);
    ev_init(&c->u.http->idle, idle_cb);
}

/* A complete request (headers and body): crosses http request and acts.
 * Returns what the lws callback returns. */
static int http_decide(conn *c);

/* The request and, when its answer is ready at once, the answer. */
static int http_request(conn *c) {
    http_part *h = c->u.http;
    h->in_request = 1;
    h->write_now = 0;
    int rc = http_decide(c);
    h->in_request = 0;
    if (rc || !h->write_now || !c->wsi) return rc;
    h->write_now = 0;
    return sim_backend_http_writeable(c, c->wsi);
}

static int http_decide(conn *c) {
    http_part *h = c->u.http;
    sim_action a;
    /* lws also reports BODY_COMPLETION for "Content-Length: 0", after we
     * already answered from LWS_CALLBACK_HTTP. More than once is lws 4.1.6
     * looping on a body framing it lost count of (a completion for ever,
     * the loop never returns): cut the connection. */
    if (h->req_started) return ++h->late_completions > 1 ? -1 : 0;
    h->req_started = 1;
    h->verdict_set = 0;
    h->requests++;
    if (h->body_too_big) {
        sim_http_response_init(&h->resp);
        sim_http_detail(&h->resp, 413, "Request body too large");
        /* The connection ends after it: say so, or a keep-alive client
         * sends its next request into the close. */
        snprintf(h->resp.extra_headers, sizeof(h->resp.extra_headers), "Connection: close\r\n");
        h->close_now = 0;
        http_ready(c);
        return 0;
    }
    sim_backend_cross(c->b, SIM_WIRE_REQUEST, "http", h->path, h->method, NULL, c->ordinal,
                      h->requests, 0, 0, &a);
    switch (a.kind) {
    case SIM_ACT_PASS: http_route(c); return 0;
    case SIM_ACT_DELAY:
        h->timer_responds = 0;
        timer_start(c, a.delay_ms);
        return 0;
    case SIM_ACT_REPLY:
        http_fault_reply(c, &a);
        if (a.delay_ms) {
            /* A status after a while (a slow 503 from the front end). */
            h->timer_responds = 1;
            timer_start(c, a.delay_ms);
            return 0;
        }
        http_ready(c);
        return 0;
    case SIM_ACT_SLOW:
        /* The route's answer, its body trickling out (http_writeable). */
        h->slow_rate = a.code > 0 ? a.code : 1;
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

/* snprintf(out, n, "%s", s) without printf: every request copies two. */
static void copy_str(char *out, size_t n, const char *s) {
    size_t len = strnlen(s, n - 1);
    memcpy(out, s, len);
    out[len] = '\0';
}

/* A later request of a keep-alive connection (the pre-read checked the
 * first, sim_http_head_check): a body framed two ways, or a length that is
 * not one number, sends lws 4.1.6 round its body parser for ever. Refused
 * with a raw 400 before lws reads the body; 1 when it was. */
static int bad_framing(const conn *c, struct lws *wsi) {
    int bad = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 &&
              lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
    char first[32] = "", v[32];
    for (int i = 0; !bad && lws_hdr_copy_fragment(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                                  i) >= 0; i++) {
        bad = !*v || strspn(v, "0123456789") != strlen(v) || (i && strcmp(v, first) != 0);
        if (!i) snprintf(first, sizeof(first), "%s", v);
    }
    if (!bad) return 0;
    unsigned char buf[LWS_PRE + 1024];
    size_t n = sim_backend_http_refusal(c, (char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE, 400,
                                        "application/json", "{\"detail\":\"Bad Request\"}");
    lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_HEADERS);
    return 1;
}

int sim_backend_http_begin(conn *c, struct lws *wsi, const char *path) {
    http_part *h = c->u.http;
    sim_backend_http_busy(c);
    http_reset(c);
    h->req_started = 0;
    h->late_completions = 0;
    if (bad_framing(c, wsi)) return -1;
    copy_str(h->path, sizeof(h->path), path ? path : "/");
    copy_str(h->method, sizeof(h->method), "GET");
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (lws_hdr_total_length(wsi, (enum lws_token_indexes)methods[i].token)) {
            copy_str(h->method, sizeof(h->method), methods[i].name);
            break;
        }
    h->is_head = strcmp(h->method, "HEAD") == 0;
    int qlen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    if (qlen > 0) {
        h->query = sim_xmalloc((size_t)qlen + 64);
        if (lws_hdr_copy(wsi, h->query, qlen + 64, WSI_TOKEN_HTTP_URI_ARGS) < 0)
            h->query[0] = '\0';
    }
    if (lws_hdr_copy(wsi, h->hdr_auth, sizeof(h->hdr_auth), WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        h->hdr_auth[0] = '\0';
    if (lws_hdr_copy(wsi, h->hdr_host, sizeof(h->hdr_host), WSI_TOKEN_HOST) < 0)
        h->hdr_host[0] = '\0';
    char cl[32] = "";
    long clen = 0;
    if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) clen = atol(cl);
    /* Too big: read and drop the body, then answer 413 and close. Answering
     * at once would close with unread input, and the client would see a
     * reset instead of the 413. Beyond BODY_DRAIN_MAX we do not wait. */
    if (clen > BODY_MAX) h->body_too_big = 1;
    if (clen > 0 && clen <= BODY_DRAIN_MAX) return 0;   /* wait for BODY_COMPLETION */
    return http_request(c);
}

void sim_backend_http_body(conn *c, const void *in, size_t len) {
    http_part *h = c->u.http;
    if (h->body_too_big) return;
    if (h->body.len + len > BODY_MAX) h->body_too_big = 1;
    else sim_buf_append(&h->body, in, len);
}

int sim_backend_http_body_done(conn *c) {
    return http_request(c);
}

/* Adds the route's extra headers ("Name: value\r\n" lines) and, unless a
 * front end said who it is, Server: uvicorn. */
static int add_headers(const http_part *h, struct lws *wsi, unsigned char **p,
                       unsigned char *end) {
    int has_server = 0;
    const char *x = h->resp.extra_headers;
    while (*x) {
        const char *colon = strchr(x, ':');
        const char *eol = strstr(x, "\r\n");
        if (!colon || !eol || colon > eol) break;
        char name[128];
        snprintf(name, sizeof(name), "%.*s:", (int)(colon - x), x);
        const char *v = colon + 1;
        while (*v == ' ') v++;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                        (const unsigned char *)v, (int)(eol - v), p, end))
            return -1;
        has_server |= sim_strcaseeq(name, "Server:");
        x = eol + 2;
    }
    if (has_server) return 0;
    static const char server[] = "uvicorn";
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_SERVER, (const unsigned char *)server,
                                        sizeof(server) - 1, p, end);
}

/* The response head's room, and the largest body sent with it. */
#define HEAD_MAX 2048
#define ONE_WRITE_BODY 4096

/* Writes the response: headers, then the body in chunks, then ends the
 * transaction (keep-alive). */
int sim_backend_http_writeable(conn *c, struct lws *wsi) {
    http_part *h = c->u.http;
    if (h->close_now) return -1;
    if (!h->resp_ready || c->hung || c->aborted) return 0;
    if (!h->headers_sent) {
        sim_backend_http_decorate(c, h->requests, &h->resp);
        unsigned char buf[LWS_PRE + HEAD_MAX + ONE_WRITE_BODY];
        unsigned char *start = buf + LWS_PRE, *p = start, *end = start + HEAD_MAX - 1;
        if (lws_add_http_common_headers(wsi, (unsigned int)h->resp.status,
                                        h->resp.content_type ? h->resp.content_type
                                                             : "application/json",
                                        h->resp.body.len, &p, end))
            return -1;
        if (add_headers(h, wsi, &p, end)) return -1;
        if (lws_finalize_http_header(wsi, &p, end)) return -1;
        h->headers_sent = 1;
        size_t body = h->is_head ? 0 : h->resp.body.len;
        /* A small body at full speed goes with the head, in one send (and
         * one writeable callback, not two): for HTTP/1.1 lws writes the
         * bytes of LWS_WRITE_HTTP_HEADERS as they are. */
        int together = body <= ONE_WRITE_BODY && !h->slow_rate;
        if (together && body) {
            memcpy(p, h->resp.body.data, body);
            p += body;
        }
        if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != (int)(p - start))
            return -1;
        if (body && !together) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else {
        if (h->slow_wait) return 0;
        unsigned char buf[LWS_PRE + CHUNK];
        size_t left = h->resp.body.len - h->body_off;
        size_t n = left > CHUNK ? CHUNK : left;
        if (h->slow_rate) {
            /* SLOW: about 20 chunks a second, at least a byte each. */
            size_t slow_chunk = (size_t)h->slow_rate / 20;
            if (slow_chunk < 1) slow_chunk = 1;
            if (n > slow_chunk) n = slow_chunk;
        }
        memcpy(buf + LWS_PRE, h->resp.body.data + h->body_off, n);
        int last = n == left;
        if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)n)
            return -1;
        h->body_off += n;
        if (!last && h->slow_rate) {
            h->slow_wait = 1;
            timer_start(c, (int64_t)n * 1000 / h->slow_rate);
            return 0;
        }
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    int too_big = h->body_too_big;
    http_reset(c);
    if (too_big) return -1;
    if (lws_http_transaction_completed(wsi)) return -1;
    idle_start(c, wsi);
    if (!h->settling) {
        h->settling = 1;
        h->settle_next = c->b->settling;
        c->b->settling = h;
        ev_prepare_start(c->b->loop, &c->b->settle);
    }
    return 0;
}

/* lws 4.1.6 ends every keep-alive transaction by asking for POLLOUT
 * (LRS_DEFERRING_ACTION: it reads the next request once it has seen the
 * socket writable), which costs an epoll_ctl to set EPOLLOUT and another to
 * clear it on the next iteration. The answer went out whole, so the socket
 * is writable: an ev_prepare runs before libev commits watcher changes to
 * epoll (fd_reify), and telling lws there that POLLOUT came, as its libev
 * glue would, makes it clear the interest again before epoll sees it
 * (docs/libraries.md §10.3). A connection still holding unsent bytes waits
 * for the real POLLOUT. */
void sim_backend_http_settle(struct ev_loop *loop, ev_prepare *w, int revents) {
    (void)revents;
    sim_backend *b = (sim_backend *)((char *)w - offsetof(sim_backend, settle));
    ev_prepare_stop(loop, w);
    int served = 0;
    while (b->settling) {
        http_part *h = b->settling;
        b->settling = h->settle_next;
        h->settle_next = NULL;
        h->settling = 0;
        struct lws *wsi = h->c->wsi;
        if (!wsi || lws_partial_buffered(wsi)) continue;
        struct lws_pollfd pfd = {.fd = lws_get_socket_fd(wsi), .events = LWS_POLLOUT,
                                 .revents = LWS_POLLOUT};
        lws_service_fd(b->ctx, &pfd);   /* may free h's connection: h is out of the list */
        served = 1;
    }
    /* A pipelined request that lws read with the last one waits in its
     * buffer for "forced service", which its libev glue only runs after a
     * real event: wake lws (through its event pipe) when anyone has one. */
    if (served && lws_service_adjust_timeout(b->ctx, 1, 0) == 0) lws_cancel_service(b->ctx);
}

void sim_backend_http_closed(conn *c) {
    http_part *h = c->u.http;
    if (!h->requests) return;
    sim_action a;
    sim_backend_cross(c->b, SIM_WIRE_CLOSE, "http", h->path, h->method, NULL, c->ordinal,
                      h->requests, 0, 0, &a);
}
