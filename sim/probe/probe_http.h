/* probe_http.h -- one HTTP/1.1 request over the probe's lws client context
 * (http or https), its answer handed to a callback. Private to sim/probe. */
#ifndef SIM_PROBE_HTTP_H
#define SIM_PROBE_HTTP_H
#ifndef SIM_IN_PROBE
#error "probe_http.h is private to sim/probe/"
#endif

#include <stddef.h>

#include "probe_net.h"

typedef struct probe_http probe_http;

typedef struct probe_http_reply {
    int status;          /* 0 when no response came */
    const char *body;    /* NUL-terminated, "" when empty; borrowed for the callback */
    size_t body_len;
    const char *error;   /* why no response came (refused, TLS, ...); NULL with one */
} probe_http_reply;

typedef void (*probe_http_done_fn)(void *ctx, const probe_http_reply *reply);

typedef struct probe_http_request {
    const sim_probe_url *url;
    const char *path;           /* with the query */
    const char *method;         /* "GET", "POST" */
    const char *body;           /* JSON; NULL: none */
    const char *bearer;         /* sent as Authorization: Bearer; NULL: none */
    const char *header_name;    /* one more header, lower case ("x-e2e-bypass-key"); NULL: none */
    const char *header_value;
} probe_http_request;

/* Sends rq (its strings are copied). done runs exactly once, always from
 * the loop and never before this returns, unless the request is cancelled
 * first; the request is gone after done returns. */
probe_http *probe_http_start(probe_net *n, const probe_http_request *rq, probe_http_done_fn done,
                             void *ctx);
/* No done callback after this; the connection is cut and the request
 * freed. Not from inside an lws callback. */
void probe_http_cancel(probe_http *h);

#endif
