/* http_client.h -- one HTTP/1.1 request from stagesim to a service of its
 * own (the backend validating a token at the auth service), on the loop:
 * connect to 127.0.0.1:port, TLS when a CA file is given (OpenSSL, the
 * server checked against it), send, read the reply to its end, call back
 * once. One connection per request (Connection: close): simple, and every
 * request is a crossing of its own at the server. Bounded by a timeout on
 * the simulator's clock. */
#ifndef SIM_HTTP_CLIENT_H
#define SIM_HTTP_CLIENT_H

#include <stddef.h>

#include "clock.h"

struct ev_loop;
typedef struct sim_http_call sim_http_call;

/* status > 0 with the body (borrowed for the call) when a reply came;
 * status 0 with the reason in `error` when none did (refused, reset,
 * timed out, not HTTP). */
typedef void (*sim_http_call_fn)(void *ctx, int status, const char *body, size_t len,
                                 const char *error);

typedef struct sim_http_call_config {
    int port;
    const char *cacert;          /* NULL: plain HTTP */
    const char *method, *path;
    const char *content_type;    /* NULL with no body */
    const char *body;
    size_t body_len;
    uint32_t timeout_ms;         /* the whole call */
    const sim_clock *clock;
} sim_http_call_config;

/* Starts the call; fn is called once, never before this returns. The
 * strings are copied. */
sim_http_call *sim_http_call_start(struct ev_loop *loop, const sim_http_call_config *cfg,
                                   sim_http_call_fn fn, void *ctx);
/* Abandons a call that has not called back (fn will not be called). */
void sim_http_call_cancel(sim_http_call *c);

/* The reply in buf[0..len): 1 with *status, *body, *body_len when it is
 * complete (Content-Length, or to the end at eof), 0 when more is needed,
 * -1 when it is not an HTTP/1.x reply. Pure. */
int sim_http_reply_parse(const char *buf, size_t len, int eof, int *status, size_t *body_off,
                         size_t *body_len);

#endif
