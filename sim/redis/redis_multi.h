/* redis_multi.h -- transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. */
#ifndef SIM_REDIS_MULTI_H
#define SIM_REDIS_MULTI_H
#ifndef SIM_IN_REDIS
#error "redis_multi.h is private to sim/redis/"
#endif

#include "redis_core.h"

/* Sets the core's transaction hooks (queue, touch, touch_db, multi_reset). */
void redis_multi_init(sim_redis_core *core);

void redis_cmd_multi(redis_ctx *x);
void redis_cmd_exec(redis_ctx *x);
void redis_cmd_discard(redis_ctx *x);
void redis_cmd_watch(redis_ctx *x);
void redis_cmd_unwatch(redis_ctx *x);

#endif
