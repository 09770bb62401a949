/* redis_blocking.h -- blocking pops: BLPOP, BRPOP. */
#ifndef SIM_REDIS_BLOCKING_H
#define SIM_REDIS_BLOCKING_H
#ifndef SIM_IN_REDIS
#error "redis_blocking.h is private to sim/redis/"
#endif

#include "redis_core.h"

/* Sets the core's blocking hooks (list_ready, serve_ready, timeouts,
 * unblock). */
void redis_blocking_init(sim_redis_core *core);

void redis_cmd_blpop(redis_ctx *x);
void redis_cmd_brpop(redis_ctx *x);

#endif
