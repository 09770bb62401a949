/* redis_int.h -- internals shared by the command files (redis_table.c: the
 * table; redis_cmd.c: dispatch; redis_keys.c, redis_strings.c, redis_conn.c,
 * redis_types.c (lists, hashes), redis_sets.c (sets, sorted sets),
 * redis_pubsub.c: pub/sub, transactions, blocking pops). Not a public
 * interface. */
#ifndef SIM_REDIS_INT_H
#define SIM_REDIS_INT_H
#ifndef SIM_IN_REDIS
#error "redis_int.h is private to sim/redis/"
#endif

#include "redis_cmd.h"
#include "resp.h"

enum {
    CMD_WRITE = 1 << 0,
    CMD_PUBSUB_OK = 1 << 1,     /* allowed in subscribed mode */
    CMD_NOAUTH_OK = 1 << 2,     /* allowed before AUTH */
    CMD_NO_MULTI = 1 << 3,      /* runs at once even inside MULTI */
    CMD_BLOCKING = 1 << 4,
};

typedef struct redis_ctx {
    sim_redis_client *c;
    sim_redis_core *core;
    sim_keyspace *ks;
    int argc;
    char **argv;
    size_t *argvlen;
    int64_t now;
    sim_buf *out;
    int in_exec;
} redis_ctx;

typedef void (*redis_handler)(redis_ctx *x);

typedef struct redis_command {
    const char *name;           /* lowercase */
    redis_handler fn;
    int arity;                  /* >0 exact, <0 at least -arity */
    int flags;
    int firstkey, lastkey, step;
} redis_command;

struct sim_redis_core {
    sim_keyspace ks;
    sim_redis_hooks hooks;
    sim_redis_config cfg;
    sim_redis_stats stats;
    uint64_t seed;
    uint64_t next_id;
    sim_redis_client *clients;
    size_t nclients;
    /* command lookup: open addressing over the static table */
    const redis_command **cmdtab;
    size_t cmdmask;
    /* pub/sub: channel -> subscribers */
    sim_dict channels;          /* of struct subs */
    sim_rhash *patterns;        /* pattern -> (ignored) ; subscribers found by scanning clients */
    size_t npattern_clients;
    /* WATCH: "db\0key" -> watchers */
    sim_dict watched;
    /* blocked clients, FIFO */
    sim_redis_client *blocked_head, *blocked_tail;
    size_t nblocked;
    /* keys made ready for blocked clients by the running command or EXEC */
    struct redis_ready {
        int db;
        char *k;
        size_t n;
    } *ready;
    int nready, capready;
    uint64_t lazy_expired_before;
};

/* reply helpers */
#define R_OK(x) sim_resp_ok((x)->out)
#define ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_NOTINT "ERR value is not an integer or out of range"
#define ERR_NOTFLOAT "ERR value is not a valid float"
#define ERR_SYNTAX "ERR syntax error"
void redis_err(redis_ctx *x, const char *msg);
int redis_ll(redis_ctx *x, int i, long long *v);           /* replies ERR_NOTINT on failure */
int redis_ll_msg(redis_ctx *x, int i, long long *v, const char *msg);
/* The optional count of LPOP/RPOP/SPOP at argv[i]: leaves *count at -1
 * when absent; 0 (error replied) when it is not a non-negative integer. */
int redis_pop_count(redis_ctx *x, int i, long long *count);
int redis_double(redis_ctx *x, int i, double *v, const char *msg);
int redis_parse_ll(const char *s, size_t n, long long *v);
int redis_parse_double(const char *s, size_t n, double *v);
int redis_arg_is(redis_ctx *x, int i, const char *word);
uint64_t redis_rand(redis_ctx *x);   /* SPOP, SRANDMEMBER, RANDOMKEY */

/* keyspace access for the current db */
sim_rkey *redis_lookup(redis_ctx *x, int i);
/* Looks key argv[i] up expecting type; NULL with *wrong set (and the error
 * replied) when it holds another type. */
sim_rkey *redis_lookup_type(redis_ctx *x, int i, int type, int *wrong);
sim_rkey *redis_add(redis_ctx *x, int i, int type, void *val);
/* The value of the key at argv[i] when it holds `type`: NULL when absent,
 * NULL with *wrong set (WRONGTYPE replied) when it holds another type.
 * With create, an absent key is added holding an empty value of `type`.
 * *ep (may be NULL) gets the key. */
static inline void *redis_value(redis_ctx *x, int i, int type, int *wrong, sim_rkey **ep,
                                int create) {
    sim_rkey *e = redis_lookup_type(x, i, type, wrong);
    if (!e && !*wrong && create) {
        void *val = type == SIM_RT_LIST   ? (void *)sim_rlist_new()
                    : type == SIM_RT_ZSET ? (void *)sim_rzset_new()
                                          : (void *)sim_rhash_new();   /* hash or set */
        e = redis_add(x, i, type, val);
    }
    if (ep)
        *ep = e;
    return e ? e->val : NULL;
}
void redis_delete(redis_ctx *x, sim_rkey *e);
void redis_touch(sim_redis_core *core, int db, const char *k, size_t n);
void redis_touch_all(sim_redis_core *core, int db);   /* db -1: every db */
void redis_arity_error(redis_ctx *x, const char *name);

/* blocking pops: a push (or RENAME) made list key k exist; the waiting
 * clients are served by redis_handle_ready once the command (or EXEC) ends */
void redis_signal_ready(sim_redis_core *core, int db, const char *k, size_t n);
void redis_handle_ready(sim_redis_core *core, int64_t now);
/* The last step of a handler that signalled: serves now outside EXEC (the
 * command is over), else leaves it to EXEC's end. Keeps dispatch free of
 * a per-command check. */
void redis_ready_done(redis_ctx *x);
void redis_unblock(sim_redis_client *c);

/* the table (redis_table.c) */
void redis_table_build(sim_redis_core *core);
const redis_command *redis_command_lookup(sim_redis_core *core, const char *name, size_t n);

/* shared by the command files */
int redis_scan_opts(redis_ctx *x, int first, int allow_type, const char **pat, size_t *plen,
                    long long *count, int *type);
int redis_scan_cursor(redis_ctx *x, int i, uint64_t *cur);
int redis_ld2str(char *buf, size_t len, long double v);
void redis_exec_queued(redis_ctx *x);
void redis_pubsub_core_init(sim_redis_core *core);
/* Normalises a LRANGE/ZRANGE-style [start, end] against len; 0 when empty. */
int redis_norm_range(long long *start, long long *end, long long len);
/* HSCAN / SSCAN on argv[1] holding `type`. */
void redis_coll_scan(redis_ctx *x, int type);
/* HDEL / SREM on argv[1] holding `type` (both are sim_rhash). */
void redis_coll_del(redis_ctx *x, int type);

/* command handlers, one per table entry: redis_keys.c, redis_strings.c,
 * redis_conn.c, redis_types.c, redis_sets.c, redis_pubsub.c, redis_table.c */
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
void redis_cmd_multi(redis_ctx *x);
void redis_cmd_exec(redis_ctx *x);
void redis_cmd_discard(redis_ctx *x);
void redis_cmd_watch(redis_ctx *x);
void redis_cmd_unwatch(redis_ctx *x);
void redis_cmd_subscribe(redis_ctx *x);
void redis_cmd_unsubscribe(redis_ctx *x);
void redis_cmd_psubscribe(redis_ctx *x);
void redis_cmd_punsubscribe(redis_ctx *x);
void redis_cmd_publish(redis_ctx *x);
void redis_cmd_pubsub(redis_ctx *x);
void redis_cmd_blpop(redis_ctx *x);
void redis_cmd_brpop(redis_ctx *x);

/* pub/sub and transactions */
void redis_pubsub_client_fini(sim_redis_client *c);
void redis_unwatch_all(sim_redis_client *c);
void redis_multi_discard(sim_redis_client *c);
int redis_pubsub_count(sim_redis_client *c);

#endif
