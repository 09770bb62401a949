/* probe_ws.c -- a WebSocket client connection on lws (see probe_ws.h).
 * Messages are collected across fragments up to MSG_MAX bytes (the rest of
 * a larger one is dropped, so the owner sees a cut message, not a crash);
 * the close code and reason come from the server's close frame. */
#include "probe_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MSG_MAX (1024 * 1024)

typedef struct out_msg {
    struct out_msg *next;
    size_t len;
    unsigned char data[];   /* LWS_PRE bytes of headroom, then the text */
} out_msg;

typedef enum { WS_CONNECTING, WS_OPEN, WS_CLOSING, WS_ENDED } ws_state;

struct probe_ws {
    probe_link link;               /* first: the net's view of this connection */
    const probe_ws_events *ev;     /* NULL once released */
    void *ctx;
    ws_state state;
    out_msg *out_head, *out_tail;
    sim_buf in;                    /* the message being collected */
    int close_code;                /* from the server's close frame; 0 none */
    char close_reason[124];
};

static void ws_free(probe_link *l) {
    probe_ws *w = (probe_ws *)l;
    while (w->out_head) {
        out_msg *m = w->out_head;
        w->out_head = m->next;
        free(m);
    }
    sim_buf_free(&w->in);
    free(w);
}

/* The connection is over: one refused or closed, depending on whether it
 * ever opened. wsi is NULL for a failure from the start. */
static void ended(probe_ws *w, struct lws *wsi, const char *why) {
    ws_state was = w->state;
    w->state = WS_ENDED;
    if (!w->ev || was == WS_ENDED) return;   /* released (closing) or reported */
    if (was == WS_CONNECTING)
        w->ev->refused(w->ctx, wsi ? (int)lws_http_client_http_response(wsi) : 0,
                       why ? why : "connection closed during the upgrade");
    else
        w->ev->closed(w->ctx, w->close_code ? w->close_code : 1006, w->close_reason);
}

static void peer_close(probe_ws *w, const unsigned char *in, size_t len) {
    if (len < 2) return;
    w->close_code = in[0] << 8 | in[1];
    size_t n = len - 2 < sizeof(w->close_reason) - 1 ? len - 2 : sizeof(w->close_reason) - 1;
    memcpy(w->close_reason, in + 2, n);
    w->close_reason[n] = '\0';
}

static void receive(probe_ws *w, struct lws *wsi, const char *in, size_t len) {
    if (w->in.len + len <= MSG_MAX) sim_buf_append(&w->in, in, len);
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return;
    if (w->ev && w->state == WS_OPEN) w->ev->frame(w->ctx, w->in.data ? w->in.data : "", w->in.len);
    w->in.len = 0;
}

/* One queued message per writeable callback; or the close we owe. */
static int writeable(probe_ws *w, struct lws *wsi) {
    if (w->state == WS_CLOSING) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    out_msg *m = w->out_head;
    if (!m) return 0;
    w->out_head = m->next;
    if (!w->out_head) w->out_tail = NULL;
    int n = lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
    int short_write = n < (int)m->len;
    free(m);
    if (short_write) return -1;
    if (w->out_head) lws_callback_on_writable(wsi);
    return 0;
}

static int on_event(probe_link *l, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                    size_t len) {
    probe_ws *w = (probe_ws *)l;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (w->state != WS_CONNECTING) return 0;
        w->state = WS_OPEN;
        if (w->out_head) lws_callback_on_writable(wsi);
        if (w->ev) w->ev->opened(w->ctx);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        receive(w, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return writeable(w, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        peer_close(w, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        ended(w, wsi, in);   /* the link's text */
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        ended(w, wsi, NULL);
        return 0;
    default:
        return 0;
    }
}

probe_ws *probe_ws_start(probe_net *n, const probe_ws_request *rq, const probe_ws_events *ev,
                         void *ctx) {
    probe_ws *w = sim_xmalloc(sizeof(*w));
    *w = (probe_ws){.link = {.on_event = on_event, .free_fn = ws_free}, .ev = ev, .ctx = ctx};
    probe_connect c = {.url = rq->url, .path = rq->path, .subprotocol = rq->subprotocol,
                       .bearer = rq->bearer};
    probe_net_connect(n, &c, &w->link);
    return w;
}

void probe_ws_send(probe_ws *w, const char *text) {
    size_t n = strlen(text);
    out_msg *m = sim_xmalloc(sizeof(*m) + LWS_PRE + n);
    m->next = NULL;
    m->len = n;
    memcpy(m->data + LWS_PRE, text, n);
    if (w->out_tail) w->out_tail->next = m;
    else w->out_head = m;
    w->out_tail = m;
    if (w->state == WS_OPEN && w->link.wsi) lws_callback_on_writable(w->link.wsi);
}

void probe_ws_release(probe_ws *w) {
    w->ev = NULL;
    if (w->state == WS_OPEN && w->link.wsi) {
        /* A clean goodbye: the close frame goes out from the writeable
         * callback, and lws frees the wsi once the server answers it. */
        w->state = WS_CLOSING;
        lws_callback_on_writable(w->link.wsi);
        probe_link_release_later(&w->link);
        return;
    }
    probe_link_release_now(&w->link);
}
