/* backend.h -- the impersonated backend: HTTP routes and the WebSocket agent
 * stream on one port (libwebsockets on the libev loop). */
#ifndef SIM_BACKEND_H
#define SIM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "backend_config.h"

struct ev_loop;
typedef struct sim_backend sim_backend;

sim_backend *sim_backend_start(struct ev_loop *loop, const sim_backend_config *cfg,
                               char *err, size_t errlen);
int sim_backend_port(const sim_backend *b);

/* The backend as the live view shows it (a cJSON object, the caller's):
 * "state" ("starting" until the simulated start-up is complete, then
 * "running", "stopping" once shutdown began), "phase", "websockets" (open
 * now) and "breakers" as /health/circuit-breakers has them. */
struct cJSON *sim_backend_describe(const sim_backend *b, int64_t now_ms);

/* Starts a graceful shutdown: every WebSocket client gets close 1001 and
 * pending writes are flushed. done(ctx) is called from the loop once every
 * client has gone or grace_ms has passed (a second call skips the grace). */
void sim_backend_shutdown(sim_backend *b, uint32_t grace_ms, void (*done)(void *ctx), void *ctx);
/* Life cycle (docs/lifecycle.md). crash: the port stops listening and every
 * connection is cut without a word (WebSocket clients see 1006). restart:
 * it listens again and goes through the scenario's start-up phases anew;
 * keep_state 0 forgets thread ownership. drain: every WebSocket gets 1001
 * "Server shutting down" (new requests are refused by the decision point,
 * sim_faults_set_mode). */
void sim_backend_crash(sim_backend *b);
int sim_backend_restart(sim_backend *b, int keep_state, char *err, size_t errlen);
void sim_backend_drain(sim_backend *b);
/* A token was revoked (auth.h's listener): jti's, or every token of
 * user_id. The WebSockets that rode on it get AUTH_FAILED and close 1008. */
void sim_backend_revoked(sim_backend *b, const char *user_id, const char *jti);
/* Destroys the lws context and frees everything. Call from a loop callback,
 * after shutdown's done. */
void sim_backend_free(sim_backend *b);

#endif
