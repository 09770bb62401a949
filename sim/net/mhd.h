/* mhd.h -- libmicrohttpd bound to the libev loop: one thin glue used by the
 * auth service and the control API. Requests are collected (body capped),
 * then handed to a pure sim_http handler. */
#ifndef SIM_MHD_H
#define SIM_MHD_H

#include "clock.h"
#include "fault.h"
#include "http.h"
#include "tls_cert.h"

struct ev_loop;
typedef struct sim_mhd sim_mhd;

typedef void (*sim_mhd_handler)(void *ctx, const sim_http_request *req, sim_http_response *resp);

typedef struct sim_mhd_config {
    const char *who;            /* "auth", "control": in messages */
    const char *bind;           /* borrowed, for the start only */
    int port;                   /* 0 picks a free port */
    size_t max_body;            /* larger bodies get 413 with a JSON detail */
    long max_conns;             /* clients held at once (caps.h); one more gets a 503.
                                   0: SIM_CAPS_MAX */
    sim_mhd_handler handler;
    void *ctx;                  /* handler's, borrowed */
    sim_faults *faults;         /* borrowed: every request and reply crosses it */
    sim_service service;        /* as which service they cross */
    const sim_clock *clock;     /* borrowed */
    const sim_tls_cert *tls;    /* borrowed: serve https with it; NULL for http */
    int front_end;              /* add Google's front-end headers (http.h) to every reply */
    uint64_t seed;              /* for their trace ids */
} sim_mhd_config;

/* Starts a server on bind:port. Returns NULL with err filled on failure. */
sim_mhd *sim_mhd_start(struct ev_loop *loop, const sim_mhd_config *cfg, char *err, size_t errlen);
int sim_mhd_port(const sim_mhd *m);
/* The process dies (docs/lifecycle.md): the port stops listening, every
 * connection is shut (a request in progress gets no answer). */
void sim_mhd_crash(sim_mhd *m);
/* Listens again on the same port. 0, or -1 with err. */
int sim_mhd_restart(sim_mhd *m, char *err, size_t errlen);
/* Stops watchers first, then the daemon (MHD closes its epoll fd). */
void sim_mhd_stop(sim_mhd *m);

#endif
