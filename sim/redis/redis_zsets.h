/* redis_zsets.h -- sorted-set commands. */
#ifndef SIM_REDIS_ZSETS_H
#define SIM_REDIS_ZSETS_H
#ifndef SIM_IN_REDIS
#error "redis_zsets.h is private to sim/redis/"
#endif

#include "redis_core.h"

void redis_cmd_zadd(redis_ctx *x);
void redis_cmd_zincrby(redis_ctx *x);
void redis_cmd_zrem(redis_ctx *x);
void redis_cmd_zscore(redis_ctx *x);
void redis_cmd_zcard(redis_ctx *x);
void redis_cmd_zrank(redis_ctx *x);
void redis_cmd_zcount(redis_ctx *x);
void redis_cmd_zrange(redis_ctx *x);
void redis_cmd_zrangebyscore(redis_ctx *x);
void redis_cmd_zremrangebyscore(redis_ctx *x);

#endif
