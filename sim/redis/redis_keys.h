/* redis_keys.h -- key-space commands: DEL, EXISTS, the EXPIRE family, TTL, TYPE,
 * RENAME, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB/ALL, SELECT. */
#ifndef SIM_REDIS_KEYS_H
#define SIM_REDIS_KEYS_H
#ifndef SIM_IN_REDIS
#error "redis_keys.h is private to sim/redis/"
#endif

#include "redis_core.h"

void redis_cmd_del(redis_ctx *x);
void redis_cmd_exists(redis_ctx *x);
void redis_cmd_expire(redis_ctx *x);
void redis_cmd_pexpire(redis_ctx *x);
void redis_cmd_expireat(redis_ctx *x);
void redis_cmd_pexpireat(redis_ctx *x);
void redis_cmd_ttl(redis_ctx *x);
void redis_cmd_pttl(redis_ctx *x);
void redis_cmd_persist(redis_ctx *x);
void redis_cmd_type(redis_ctx *x);
void redis_cmd_rename(redis_ctx *x);
void redis_cmd_renamenx(redis_ctx *x);
void redis_cmd_keys(redis_ctx *x);
void redis_cmd_scan(redis_ctx *x);
void redis_cmd_randomkey(redis_ctx *x);
void redis_cmd_dbsize(redis_ctx *x);
void redis_cmd_flushdb(redis_ctx *x);
void redis_cmd_flushall(redis_ctx *x);
void redis_cmd_select(redis_ctx *x);

#endif
