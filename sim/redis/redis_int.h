/* redis_int.h -- internals shared by the command files. Not a public
 * interface. */
#ifndef SIM_REDIS_INT_H
#define SIM_REDIS_INT_H
#ifndef SIM_IN_REDIS
#error "redis_int.h is private to sim/redis/"
#endif

#include "redis_core.h"

/* command handlers, one per table entry: redis_keys.c, redis_strings.c,
 * redis_conn.c, redis_types.c, redis_sets.c, redis_table.c */
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
void redis_cmd_ping(redis_ctx *x);
void redis_cmd_echo(redis_ctx *x);
void redis_cmd_auth(redis_ctx *x);
void redis_cmd_hello(redis_ctx *x);
void redis_cmd_client(redis_ctx *x);
void redis_cmd_info(redis_ctx *x);
void redis_cmd_config(redis_ctx *x);
void redis_cmd_command(redis_ctx *x);
void redis_cmd_time(redis_ctx *x);
void redis_cmd_quit(redis_ctx *x);
void redis_cmd_reset(redis_ctx *x);
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
