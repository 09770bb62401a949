/* redis_hashes.h -- hash commands. */
#ifndef SIM_REDIS_HASHES_H
#define SIM_REDIS_HASHES_H
#ifndef SIM_IN_REDIS
#error "redis_hashes.h is private to sim/redis/"
#endif

#include "redis_core.h"

void redis_cmd_hset(redis_ctx *x);
void redis_cmd_hmset(redis_ctx *x);
void redis_cmd_hsetnx(redis_ctx *x);
void redis_cmd_hget(redis_ctx *x);
void redis_cmd_hmget(redis_ctx *x);
void redis_cmd_hgetall(redis_ctx *x);
void redis_cmd_hkeys(redis_ctx *x);
void redis_cmd_hvals(redis_ctx *x);
void redis_cmd_hdel(redis_ctx *x);
void redis_cmd_hexists(redis_ctx *x);
void redis_cmd_hlen(redis_ctx *x);
void redis_cmd_hincrby(redis_ctx *x);
void redis_cmd_hincrbyfloat(redis_ctx *x);
void redis_cmd_hscan(redis_ctx *x);

#endif
