/* probe_ws.h -- one WebSocket client connection over the probe's lws
 * context (ws or wss): whole text messages in, text messages out, and how
 * it ended. Private to sim/probe. */
#ifndef SIM_PROBE_WS_H
#define SIM_PROBE_WS_H
#ifndef SIM_IN_PROBE
#error "probe_ws.h is private to sim/probe/"
#endif

#include <stddef.h>

#include "probe_net.h"

typedef struct probe_ws probe_ws;

/* What the owner hears, always from the loop and never before
 * probe_ws_start returns: opened, then frames, then closed; or refused
 * alone. Nothing after probe_ws_release. */
typedef struct probe_ws_events {
    void (*opened)(void *ctx);
    /* One whole message (text, or binary taken as text), len bytes. */
    void (*frame)(void *ctx, const char *text, size_t len);
    /* The upgrade failed: http_status is the refusing answer's status, 0
     * when none came (refused connection, TLS, timeout of lws's own). */
    void (*refused)(void *ctx, int http_status, const char *error);
    /* The server closed, or the connection dropped (code 1006, reason ""). */
    void (*closed)(void *ctx, int code, const char *reason);
} probe_ws_events;

typedef struct probe_ws_request {
    const sim_probe_url *url;
    const char *path;           /* with the query */
    const char *subprotocol;    /* offered as Sec-WebSocket-Protocol; NULL: none */
    const char *bearer;         /* sent as Authorization: Bearer; NULL: none */
} probe_ws_request;

/* Opens the connection; rq's strings are copied, ev is borrowed for the
 * connection's life. */
probe_ws *probe_ws_start(probe_net *n, const probe_ws_request *rq, const probe_ws_events *ev,
                         void *ctx);
/* Queues one text message; sent once the connection is open. */
void probe_ws_send(probe_ws *w, const char *text);
/* The owner is done: no more events. An open connection is closed with
 * 1000 and freed when lws is done with it; one that is not open yet is cut.
 * Not from inside an lws callback. */
void probe_ws_release(probe_ws *w);

#endif
