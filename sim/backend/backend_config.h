/* backend_config.h -- what the backend is started with. Its own header so
 * that the glue's shared struct (backend_conn.h) can hold it without
 * depending on the life cycle above it (backend.h, backend.c). */
#ifndef SIM_BACKEND_CONFIG_H
#define SIM_BACKEND_CONFIG_H

#include <stdint.h>
#include "auth.h"
#include "clock.h"
#include "history.h"
#include "scenario.h"

typedef struct sim_faults sim_faults;

typedef struct sim_backend_config {
    const char *bind;
    int port;                   /* 0 picks a free port */
    int auth_port;              /* for the discovery route's URLs */
    const sim_scenario *sc;     /* borrowed, outlives the backend */
    sim_auth_store *auth;       /* borrowed: token checks, revocation */
    sim_history *history;       /* borrowed, may be NULL (no Redis at all) */
    sim_faults *faults;         /* borrowed */
    uint64_t seed;
    const sim_clock *clock;     /* borrowed: the simulated start-up counts from its start */
    /* Where clients reach it, for the discovery route: behind the TLS front
     * (tls_front.h) that is not the listener's own address. */
    const char *public_host;    /* NULL: bind */
    int public_port;            /* 0: the listener's port */
    int tls;                    /* https and wss (the auth service too) */
    /* Validate tokens at the auth service (scenario auth.validation
     * "remote"); borrowed, NULL: locally with the shared secret. */
    struct sim_auth_remote *remote;
    long max_conns;             /* HTTP and WebSocket connections at once (caps.h); over it
                                   a 503, or 1013 for an upgrade. 0: SIM_CAPS_MAX */
} sim_backend_config;

#endif
