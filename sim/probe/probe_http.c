/* probe_http.c -- an HTTP/1.1 client request on lws (see probe_http.h).
 * The body goes out in one write after the headers; the answer is read
 * whole, up to BODY_MAX bytes (the rest is dropped: probes read small JSON
 * documents). */
#include "probe_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BODY_MAX (1024 * 1024)
#define READ_CHUNK 4096

struct probe_http {
    probe_link link;            /* first: the net's view of this request */
    probe_http_done_fn done;    /* NULL once delivered or cancelled */
    void *ctx;
    char *body, *header_name, *header_value;
    int status;
    sim_buf answer;
    const char *error;          /* set when the connection ended without an answer */
};

static void http_free(probe_link *l) {
    probe_http *h = (probe_http *)l;
    free(h->body);
    free(h->header_name);
    free(h->header_value);
    sim_buf_free(&h->answer);
    free(h);
}

/* Hands the outcome to the owner once. lws closes the connection itself
 * after this (the callback returns -1, or the wsi is already going). */
static void deliver(probe_http *h) {
    if (!h->done) return;
    probe_http_done_fn done = h->done;
    h->done = NULL;
    probe_http_reply reply = {
        .status = h->status,
        .body = h->answer.data ? h->answer.data : "",
        .body_len = h->answer.len,
        .error = h->status ? NULL : h->error,
    };
    done(h->ctx, &reply);
    probe_link_release_later(&h->link);
}

static int add_headers(probe_http *h, struct lws *wsi, unsigned char **p, unsigned char *end) {
    if (h->header_name) {
        char name[64];
        snprintf(name, sizeof(name), "%s:", h->header_name);
        if (lws_add_http_header_by_name(wsi, (unsigned char *)name,
                                        (unsigned char *)h->header_value,
                                        (int)strlen(h->header_value), p, end))
            return -1;
    }
    if (!h->body) return 0;
    char len[24];
    int n = snprintf(len, sizeof(len), "%zu", strlen(h->body));
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (unsigned char *)"application/json", 16, p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, (unsigned char *)len, n,
                                     p, end))
        return -1;
    lws_client_http_body_pending(wsi, 1);
    lws_callback_on_writable(wsi);
    return 0;
}

static int write_body(probe_http *h, struct lws *wsi) {
    size_t n = strlen(h->body);
    unsigned char *buf = sim_xmalloc(LWS_PRE + n + 1);
    memcpy(buf + LWS_PRE, h->body, n);
    int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL);
    free(buf);
    lws_client_http_body_pending(wsi, 0);
    return w < (int)n ? -1 : 0;
}

static int on_event(probe_link *l, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                    size_t len) {
    probe_http *h = (probe_http *)l;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return add_headers(h, wsi, in, *(unsigned char **)in + len);
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
        return h->body ? write_body(h, wsi) : 0;
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        h->status = (int)lws_http_client_http_response(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buf[LWS_PRE + READ_CHUNK];
        char *p = buf + LWS_PRE;
        int n = READ_CHUNK;
        return lws_http_client_read(wsi, &p, &n) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        if (h->answer.len + len <= BODY_MAX) sim_buf_append(&h->answer, in, len);
        return 0;
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        deliver(h);
        return -1;   /* one request per connection: close it */
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        h->error = in;   /* the link's text, valid while the link is */
        deliver(h);
        return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
    case LWS_CALLBACK_WSI_DESTROY:
        /* A close before the answer was whole (a reset, a close-delimited
         * body): what came counts when a status line did. */
        h->error = "connection closed before a response";
        deliver(h);
        return 0;
    default:
        return 0;
    }
}

probe_http *probe_http_start(probe_net *n, const probe_http_request *rq, probe_http_done_fn done,
                             void *ctx) {
    probe_http *h = sim_xmalloc(sizeof(*h));
    *h = (probe_http){.link = {.on_event = on_event, .free_fn = http_free}, .done = done, .ctx = ctx};
    h->body = rq->body ? sim_xstrdup(rq->body) : NULL;
    if (rq->header_name) {
        h->header_name = sim_xstrdup(rq->header_name);
        h->header_value = sim_xstrdup(rq->header_value ? rq->header_value : "");
    }
    probe_connect c = {.url = rq->url, .path = rq->path, .method = rq->method,
                       .bearer = rq->bearer};
    probe_net_connect(n, &c, &h->link);
    return h;
}

void probe_http_cancel(probe_http *h) {
    h->done = NULL;
    probe_link_release_now(&h->link);
}
