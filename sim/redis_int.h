/* redis_int.h -- internals shared by the command files (redis_cmd.c: table,
 * dispatch, keys, strings, server; redis_types.c: lists, hashes, sets, sorted
 * sets; redis_pubsub.c: pub/sub, transactions, blocking pops). Not a public
 * interface. */
#ifndef SIM_REDIS_INT_H
#define SIM_REDIS_INT_H

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
    uint64_t seed, rng_n;
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
int redis_double(redis_ctx *x, int i, double *v, const char *msg);
int redis_parse_ll(const char *s, size_t n, long long *v);
int redis_parse_double(const char *s, size_t n, double *v);
int redis_arg_is(redis_ctx *x, int i, const char *word);
uint64_t redis_rand(sim_redis_core *core);

/* keyspace access for the current db */
sim_rkey *redis_lookup(redis_ctx *x, int i);
/* Looks key argv[i] up expecting type; NULL with *wrong set (and the error
 * replied) when it holds another type. */
sim_rkey *redis_lookup_type(redis_ctx *x, int i, int type, int *wrong);
sim_rkey *redis_add(redis_ctx *x, int i, int type, void *val);
void redis_delete(redis_ctx *x, sim_rkey *e);
void redis_touch(sim_redis_core *core, int db, const char *k, size_t n);
void redis_touch_all(sim_redis_core *core, int db);   /* db -1: every db */
void redis_arity_error(redis_ctx *x, const char *name);

/* blocking pops: called after a push to key */
void redis_serve_blocked(sim_redis_core *core, int db, const char *k, size_t n, int64_t now);
void redis_unblock(sim_redis_client *c);

/* the command tables of the other files, NULL-name terminated */
extern const redis_command redis_type_commands[];
extern const redis_command redis_pubsub_commands[];

/* pub/sub and transactions */
void redis_pubsub_client_fini(sim_redis_client *c);
void redis_unwatch_all(sim_redis_client *c);
void redis_multi_discard(sim_redis_client *c);
int redis_pubsub_count(sim_redis_client *c);

#endif
