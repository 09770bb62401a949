/* redis_sets.h -- set commands. */
#ifndef SIM_REDIS_SETS_H
#define SIM_REDIS_SETS_H
#ifndef SIM_IN_REDIS
#error "redis_sets.h is private to sim/redis/"
#endif

#include "redis_core.h"

void redis_cmd_sadd(redis_ctx *x);
void redis_cmd_srem(redis_ctx *x);
void redis_cmd_smembers(redis_ctx *x);
void redis_cmd_sismember(redis_ctx *x);
void redis_cmd_scard(redis_ctx *x);
void redis_cmd_spop(redis_ctx *x);
void redis_cmd_srandmember(redis_ctx *x);
void redis_cmd_sinter(redis_ctx *x);
void redis_cmd_sunion(redis_ctx *x);
void redis_cmd_sdiff(redis_ctx *x);
void redis_cmd_sscan(redis_ctx *x);

#endif
