/* redis_lists.h -- list commands (the blocking pops: redis_blocking.h). */
#ifndef SIM_REDIS_LISTS_H
#define SIM_REDIS_LISTS_H
#ifndef SIM_IN_REDIS
#error "redis_lists.h is private to sim/redis/"
#endif

#include "redis_core.h"

void redis_cmd_lpush(redis_ctx *x);
void redis_cmd_rpush(redis_ctx *x);
void redis_cmd_lpushx(redis_ctx *x);
void redis_cmd_rpushx(redis_ctx *x);
void redis_cmd_lpop(redis_ctx *x);
void redis_cmd_rpop(redis_ctx *x);
void redis_cmd_llen(redis_ctx *x);
void redis_cmd_lrange(redis_ctx *x);
void redis_cmd_lindex(redis_ctx *x);
void redis_cmd_lset(redis_ctx *x);
void redis_cmd_lrem(redis_ctx *x);
void redis_cmd_ltrim(redis_ctx *x);

#endif
