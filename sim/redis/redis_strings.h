/* redis_strings.h -- string commands: GET, SET and their variants, MGET/MSET, APPEND,
 * STRLEN, the INCR family, GETRANGE, SETRANGE. */
#ifndef SIM_REDIS_STRINGS_H
#define SIM_REDIS_STRINGS_H
#ifndef SIM_IN_REDIS
#error "redis_strings.h is private to sim/redis/"
#endif

#include "redis_core.h"

void redis_cmd_get(redis_ctx *x);
void redis_cmd_set(redis_ctx *x);
void redis_cmd_setex(redis_ctx *x);
void redis_cmd_psetex(redis_ctx *x);
void redis_cmd_setnx(redis_ctx *x);
void redis_cmd_getset(redis_ctx *x);
void redis_cmd_getdel(redis_ctx *x);
void redis_cmd_getex(redis_ctx *x);
void redis_cmd_mget(redis_ctx *x);
void redis_cmd_mset(redis_ctx *x);
void redis_cmd_msetnx(redis_ctx *x);
void redis_cmd_append(redis_ctx *x);
void redis_cmd_strlen(redis_ctx *x);
void redis_cmd_incr(redis_ctx *x);
void redis_cmd_decr(redis_ctx *x);
void redis_cmd_incrby(redis_ctx *x);
void redis_cmd_decrby(redis_ctx *x);
void redis_cmd_incrbyfloat(redis_ctx *x);
void redis_cmd_getrange(redis_ctx *x);
void redis_cmd_setrange(redis_ctx *x);

#endif
