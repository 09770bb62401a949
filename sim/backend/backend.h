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

/* Starts a graceful shutdown: every WebSocket client gets close 1001 and
 * pending writes are flushed. done(ctx) is called from the loop once every
 * client has gone or grace_ms has passed (a second call skips the grace). */
void sim_backend_shutdown(sim_backend *b, uint32_t grace_ms, void (*done)(void *ctx), void *ctx);
/* Destroys the lws context and frees everything. Call from a loop callback,
 * after shutdown's done. */
void sim_backend_free(sim_backend *b);

#endif
