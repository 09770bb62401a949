/* redis_table.c -- the one command table (name, handler, arity, flags, key
 * positions). The only file that names the handlers and the families, so
 * creating a core -- handing it the table, letting the stateful families
 * set their hooks -- happens here. */
#include "redis_table.h"

#include "redis_blocking.h"
#include "redis_conn.h"
#include "redis_hashes.h"
#include "redis_keys.h"
#include "redis_lists.h"
#include "redis_multi.h"
#include "redis_pubsub.h"
#include "redis_sets.h"
#include "redis_strings.h"
#include "redis_zsets.h"

/* Order is COMMAND's reply order. */
static const redis_command redis_commands[] = {
    {"get", redis_cmd_get, 2, 0, 1, 1, 1},
    {"set", redis_cmd_set, -3, CMD_WRITE, 1, 1, 1},
    {"setex", redis_cmd_setex, 4, CMD_WRITE, 1, 1, 1},
    {"psetex", redis_cmd_psetex, 4, CMD_WRITE, 1, 1, 1},
    {"setnx", redis_cmd_setnx, 3, CMD_WRITE, 1, 1, 1},
    {"getset", redis_cmd_getset, 3, CMD_WRITE, 1, 1, 1},
    {"getdel", redis_cmd_getdel, 2, CMD_WRITE, 1, 1, 1},
    {"getex", redis_cmd_getex, -2, CMD_WRITE, 1, 1, 1},
    {"mget", redis_cmd_mget, -2, 0, 1, -1, 1},
    {"mset", redis_cmd_mset, -3, CMD_WRITE, 1, -1, 2},
    {"msetnx", redis_cmd_msetnx, -3, CMD_WRITE, 1, -1, 2},
    {"append", redis_cmd_append, 3, CMD_WRITE, 1, 1, 1},
    {"strlen", redis_cmd_strlen, 2, 0, 1, 1, 1},
    {"incr", redis_cmd_incr, 2, CMD_WRITE, 1, 1, 1},
    {"decr", redis_cmd_decr, 2, CMD_WRITE, 1, 1, 1},
    {"incrby", redis_cmd_incrby, 3, CMD_WRITE, 1, 1, 1},
    {"decrby", redis_cmd_decrby, 3, CMD_WRITE, 1, 1, 1},
    {"incrbyfloat", redis_cmd_incrbyfloat, 3, CMD_WRITE, 1, 1, 1},
    {"getrange", redis_cmd_getrange, 4, 0, 1, 1, 1},
    {"substr", redis_cmd_getrange, 4, 0, 1, 1, 1},
    {"setrange", redis_cmd_setrange, 4, CMD_WRITE, 1, 1, 1},
    {"del", redis_cmd_del, -2, CMD_WRITE, 1, -1, 1},
    {"unlink", redis_cmd_del, -2, CMD_WRITE, 1, -1, 1},
    {"exists", redis_cmd_exists, -2, 0, 1, -1, 1},
    {"expire", redis_cmd_expire, -3, CMD_WRITE, 1, 1, 1},
    {"pexpire", redis_cmd_pexpire, -3, CMD_WRITE, 1, 1, 1},
    {"expireat", redis_cmd_expireat, -3, CMD_WRITE, 1, 1, 1},
    {"pexpireat", redis_cmd_pexpireat, -3, CMD_WRITE, 1, 1, 1},
    {"ttl", redis_cmd_ttl, 2, 0, 1, 1, 1},
    {"pttl", redis_cmd_pttl, 2, 0, 1, 1, 1},
    {"persist", redis_cmd_persist, 2, CMD_WRITE, 1, 1, 1},
    {"type", redis_cmd_type, 2, 0, 1, 1, 1},
    {"rename", redis_cmd_rename, 3, CMD_WRITE, 1, 2, 1},
    {"renamenx", redis_cmd_renamenx, 3, CMD_WRITE, 1, 2, 1},
    {"keys", redis_cmd_keys, 2, 0, 0, 0, 0},
    {"scan", redis_cmd_scan, -2, 0, 0, 0, 0},
    {"randomkey", redis_cmd_randomkey, 1, 0, 0, 0, 0},
    {"dbsize", redis_cmd_dbsize, 1, 0, 0, 0, 0},
    {"flushdb", redis_cmd_flushdb, -1, CMD_WRITE, 0, 0, 0},
    {"flushall", redis_cmd_flushall, -1, CMD_WRITE, 0, 0, 0},
    {"select", redis_cmd_select, 2, 0, 0, 0, 0},
    {"ping", redis_cmd_ping, -1, CMD_PUBSUB_OK, 0, 0, 0},
    {"echo", redis_cmd_echo, 2, 0, 0, 0, 0},
    {"auth", redis_cmd_auth, -2, CMD_NOAUTH_OK | CMD_NO_MULTI, 0, 0, 0},
    {"hello", redis_cmd_hello, -1, CMD_NOAUTH_OK | CMD_NO_MULTI, 0, 0, 0},
    {"client", redis_cmd_client, -2, 0, 0, 0, 0},
    {"info", redis_cmd_info, -1, 0, 0, 0, 0},
    {"config", redis_cmd_config, -2, 0, 0, 0, 0},
    {"command", redis_cmd_command, -1, 0, 0, 0, 0},
    {"time", redis_cmd_time, 1, 0, 0, 0, 0},
    {"quit", redis_cmd_quit, -1, CMD_NOAUTH_OK | CMD_PUBSUB_OK | CMD_NO_MULTI, 0, 0, 0},
    {"reset", redis_cmd_reset, 1, CMD_NOAUTH_OK | CMD_PUBSUB_OK | CMD_NO_MULTI, 0, 0, 0},
    {"lpush", redis_cmd_lpush, -3, CMD_WRITE, 1, 1, 1},
    {"rpush", redis_cmd_rpush, -3, CMD_WRITE, 1, 1, 1},
    {"lpushx", redis_cmd_lpushx, -3, CMD_WRITE, 1, 1, 1},
    {"rpushx", redis_cmd_rpushx, -3, CMD_WRITE, 1, 1, 1},
    {"lpop", redis_cmd_lpop, -2, CMD_WRITE, 1, 1, 1},
    {"rpop", redis_cmd_rpop, -2, CMD_WRITE, 1, 1, 1},
    {"llen", redis_cmd_llen, 2, 0, 1, 1, 1},
    {"lrange", redis_cmd_lrange, 4, 0, 1, 1, 1},
    {"lindex", redis_cmd_lindex, 3, 0, 1, 1, 1},
    {"lset", redis_cmd_lset, 4, CMD_WRITE, 1, 1, 1},
    {"lrem", redis_cmd_lrem, 4, CMD_WRITE, 1, 1, 1},
    {"ltrim", redis_cmd_ltrim, 4, CMD_WRITE, 1, 1, 1},
    {"hset", redis_cmd_hset, -4, CMD_WRITE, 1, 1, 1},
    {"hmset", redis_cmd_hmset, -4, CMD_WRITE, 1, 1, 1},
    {"hsetnx", redis_cmd_hsetnx, 4, CMD_WRITE, 1, 1, 1},
    {"hget", redis_cmd_hget, 3, 0, 1, 1, 1},
    {"hmget", redis_cmd_hmget, -3, 0, 1, 1, 1},
    {"hgetall", redis_cmd_hgetall, 2, 0, 1, 1, 1},
    {"hkeys", redis_cmd_hkeys, 2, 0, 1, 1, 1},
    {"hvals", redis_cmd_hvals, 2, 0, 1, 1, 1},
    {"hdel", redis_cmd_hdel, -3, CMD_WRITE, 1, 1, 1},
    {"hexists", redis_cmd_hexists, 3, 0, 1, 1, 1},
    {"hlen", redis_cmd_hlen, 2, 0, 1, 1, 1},
    {"hincrby", redis_cmd_hincrby, 4, CMD_WRITE, 1, 1, 1},
    {"hincrbyfloat", redis_cmd_hincrbyfloat, 4, CMD_WRITE, 1, 1, 1},
    {"hscan", redis_cmd_hscan, -3, 0, 1, 1, 1},
    {"sadd", redis_cmd_sadd, -3, CMD_WRITE, 1, 1, 1},
    {"srem", redis_cmd_srem, -3, CMD_WRITE, 1, 1, 1},
    {"smembers", redis_cmd_smembers, 2, 0, 1, 1, 1},
    {"sismember", redis_cmd_sismember, 3, 0, 1, 1, 1},
    {"scard", redis_cmd_scard, 2, 0, 1, 1, 1},
    {"spop", redis_cmd_spop, -2, CMD_WRITE, 1, 1, 1},
    {"srandmember", redis_cmd_srandmember, -2, 0, 1, 1, 1},
    {"sinter", redis_cmd_sinter, -2, 0, 1, -1, 1},
    {"sunion", redis_cmd_sunion, -2, 0, 1, -1, 1},
    {"sdiff", redis_cmd_sdiff, -2, 0, 1, -1, 1},
    {"sscan", redis_cmd_sscan, -3, 0, 1, 1, 1},
    {"zadd", redis_cmd_zadd, -4, CMD_WRITE, 1, 1, 1},
    {"zincrby", redis_cmd_zincrby, 4, CMD_WRITE, 1, 1, 1},
    {"zrem", redis_cmd_zrem, -3, CMD_WRITE, 1, 1, 1},
    {"zscore", redis_cmd_zscore, 3, 0, 1, 1, 1},
    {"zcard", redis_cmd_zcard, 2, 0, 1, 1, 1},
    {"zrank", redis_cmd_zrank, 3, 0, 1, 1, 1},
    {"zcount", redis_cmd_zcount, 4, 0, 1, 1, 1},
    {"zrange", redis_cmd_zrange, -4, 0, 1, 1, 1},
    {"zrangebyscore", redis_cmd_zrangebyscore, -4, 0, 1, 1, 1},
    {"zremrangebyscore", redis_cmd_zremrangebyscore, 4, CMD_WRITE, 1, 1, 1},
    {"multi", redis_cmd_multi, 1, CMD_NO_MULTI, 0, 0, 0},
    {"exec", redis_cmd_exec, 1, CMD_NO_MULTI, 0, 0, 0},
    {"discard", redis_cmd_discard, 1, CMD_NO_MULTI, 0, 0, 0},
    {"watch", redis_cmd_watch, -2, CMD_NO_MULTI, 1, -1, 1},
    {"unwatch", redis_cmd_unwatch, 1, 0, 0, 0, 0},
    {"subscribe", redis_cmd_subscribe, -2, CMD_PUBSUB_OK, 0, 0, 0},
    {"unsubscribe", redis_cmd_unsubscribe, -1, CMD_PUBSUB_OK, 0, 0, 0},
    {"psubscribe", redis_cmd_psubscribe, -2, CMD_PUBSUB_OK, 0, 0, 0},
    {"punsubscribe", redis_cmd_punsubscribe, -1, CMD_PUBSUB_OK, 0, 0, 0},
    {"publish", redis_cmd_publish, 3, 0, 0, 0, 0},
    {"pubsub", redis_cmd_pubsub, -2, 0, 0, 0, 0},
    {"blpop", redis_cmd_blpop, -3, CMD_WRITE | CMD_BLOCKING, 1, -2, 1},
    {"brpop", redis_cmd_brpop, -3, CMD_WRITE | CMD_BLOCKING, 1, -2, 1},
};
#define NCOMMANDS (sizeof(redis_commands) / sizeof(redis_commands[0]))

sim_redis_core *sim_redis_core_new(uint64_t seed, const sim_redis_hooks *hooks, int64_t now_ms) {
    sim_redis_core *core = redis_core_create(seed, hooks, now_ms, redis_commands, NCOMMANDS);
    redis_multi_init(core);
    redis_pubsub_init(core);
    redis_blocking_init(core);
    return core;
}
