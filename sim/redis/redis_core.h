/* redis_core.h -- the core of the Redis command layer: the server's and each
 * connection's state, dispatch (unknown command, arity, auth, subscribed
 * mode and MULTI checked once, against the command table), and what the
 * command families share: replies, argument parsing, keyspace access.
 * Pure: no sockets; the glue (redis_server.c) owns the connections and is
 * told through sim_redis_hooks when another client got output (pub/sub,
 * unblocked pops) or must be killed.
 *
 * Dependencies go one way: the command families use this file and the
 * keyspace (redis_db.h); the table (redis_table.c) uses the families and
 * this file, and hands the core its commands when it creates one. */
#ifndef SIM_REDIS_CORE_H
#define SIM_REDIS_CORE_H
#ifndef SIM_IN_REDIS
#error "redis_core.h is private to sim/redis/"
#endif

#include <stddef.h>
#include <stdint.h>

#include "redis_db.h"
#include "resp.h"
#include "util.h"

typedef struct sim_redis_core sim_redis_core;
typedef struct sim_redis_client sim_redis_client;

enum {
    SIM_RC_CLOSE_AFTER_REPLY = 1 << 0,  /* QUIT, protocol error, CLIENT KILL of self */
    SIM_RC_MULTI = 1 << 1,
    SIM_RC_DIRTY_CAS = 1 << 2,          /* a WATCHed key changed */
    SIM_RC_DIRTY_EXEC = 1 << 3,         /* a queued command was refused */
    SIM_RC_BLOCKED = 1 << 4,            /* in BLPOP/BRPOP: hold further input */
    SIM_RC_PUBSUB = 1 << 5,
};

typedef struct sim_redis_queued {
    int argc;
    char **argv;
    size_t *argvlen;
} sim_redis_queued;

/* What the command layer keeps per connection. The glue embeds it and
 * registers it with sim_redis_client_init / _fini. */
struct sim_redis_client {
    sim_redis_core *core;
    uint64_t id;
    int db;
    int authed;
    int flags;
    char *name, *lib_name, *lib_ver;
    char addr[80], laddr[80];
    int fd;
    int64_t ctime_ms, last_ms;
    const char *last_cmd;
    uint64_t rng_n;                     /* random choices made for this client */
    sim_buf out;                        /* replies not yet written */
    /* MULTI (redis_multi.c) */
    sim_redis_queued *mq;
    int mq_n, mq_cap;
    /* WATCH (redis_multi.c): the core's watch-dict entries c is on */
    void **watched;
    int nwatched, capwatched;
    /* pub/sub (redis_pubsub.c) */
    sim_rhash *channels;                /* set of channel names, NULL when none */
    sim_rhash *patterns;                /* set of patterns, NULL when none */
    /* blocking pops (redis_blocking.c) */
    int64_t block_deadline;             /* ms, 0 = forever */
    int block_left;                     /* BLPOP (1) or BRPOP (0) */
    char **bkeys;
    size_t *bklen;
    int nbkeys;
    sim_redis_client *bnext;            /* blocked list */
    sim_redis_client *prev, *next;      /* all clients */
};

typedef struct sim_redis_hooks {
    /* c got output outside its own command (publish, unblocked pop). */
    void (*wake)(sim_redis_client *c, void *ud);
    /* CLIENT KILL: close c after the current command. */
    void (*kill)(sim_redis_client *c, void *ud);
    /* Drop this published message to c? (fault hook) Non-zero drops. */
    int (*drop_message)(sim_redis_client *c, const char *channel, void *ud);
    void *ud;
} sim_redis_hooks;

/* Settings the glue reads (CONFIG SET may change them). */
typedef struct sim_redis_config {
    char *requirepass;                  /* NULL: no AUTH needed */
    long long maxclients;
    long long maxmemory;
    long long timeout;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    long long out_limit_normal;         /* hard limit bytes, 0 = none */
    long long out_limit_pubsub;         /* hard limit bytes */
    int port;
} sim_redis_config;

/* Counters the glue updates and INFO reports. */
typedef struct sim_redis_stats {
    uint64_t connections_received;
    uint64_t commands_processed;
    uint64_t rejected_connections;
    uint64_t net_input_bytes, net_output_bytes;
    int64_t start_ms;
    size_t peak_memory;         /* the most INFO has seen the heap hold */
} sim_redis_stats;

/* ---- commands ---- */

enum {
    CMD_WRITE = 1 << 0,
    CMD_PUBSUB_OK = 1 << 1,     /* allowed in subscribed mode */
    CMD_NOAUTH_OK = 1 << 2,     /* allowed before AUTH */
    CMD_NO_MULTI = 1 << 3,      /* runs at once even inside MULTI */
    CMD_BLOCKING = 1 << 4,
};

/* One running command, as its handler sees it. argv is borrowed. */
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

/* A row of the command table (redis_table.c). */
typedef struct redis_command {
    const char *name;           /* lowercase */
    redis_handler fn;
    int arity;                  /* >0 exact, <0 at least -arity */
    int flags;
    int firstkey, lastkey, step;
} redis_command;

/* A command of the table, opaque to the glue. */
typedef struct redis_command sim_redis_command;

/* What the core needs from the families that keep state across commands:
 * transactions (redis_multi.c), pub/sub (redis_pubsub.c) and blocking pops
 * (redis_blocking.c). Each sets its own in its init, which
 * sim_redis_core_new calls; the core and the other families reach them
 * only through here, so every family depends on the core alone and the
 * core on none. All are set in every core. */
typedef struct redis_family_hooks {
    /* transactions: queues a command sent inside MULTI (argv copied) */
    void (*queue)(sim_redis_client *c, int argc, char **argv, size_t *argvlen);
    /* transactions: a write named key k of db: its WATCHers' EXEC fails */
    void (*touch)(sim_redis_core *core, int db, const char *k, size_t n);
    /* transactions: the same for every watched key of db (-1: every db) */
    void (*touch_db)(sim_redis_core *core, int db);
    /* blocking pops: list k of db now exists; waiting clients get served
     * by serve_ready */
    void (*list_ready)(sim_redis_core *core, int db, const char *k, size_t n);
    /* blocking pops: serves the clients waiting on the lists made ready */
    void (*serve_ready)(sim_redis_core *core, int64_t now_ms);
    /* blocking pops: answers the waits whose timeout has passed */
    void (*timeouts)(sim_redis_core *core, int64_t now_ms);
    /* each family forgets what c holds in it (RESET, disconnect) */
    void (*unblock)(sim_redis_client *c);
    void (*multi_reset)(sim_redis_client *c);
    void (*pubsub_reset)(sim_redis_client *c);
} redis_family_hooks;

struct sim_redis_core {
    sim_keyspace ks;
    sim_redis_hooks hooks;
    sim_redis_config cfg;
    sim_redis_stats stats;
    redis_family_hooks fam;
    uint64_t seed;
    uint64_t next_id;
    sim_redis_client *clients;
    size_t nclients;
    /* the command table, borrowed (static in redis_table.c), and its lookup:
     * open addressing, built once per core */
    const redis_command *commands;
    size_t ncommands;
    const redis_command **cmdtab;
    size_t cmdmask;
    /* The families' state. The core creates and frees the containers; what
     * is in them belongs to the family named. */
    /* pub/sub (redis_pubsub.c): channel -> subscribers */
    sim_dict channels;          /* of redis_clist */
    /* pattern -> how many clients hold it; a pattern's subscribers are
     * found by scanning the clients */
    sim_rhash *patterns;
    size_t npattern_clients;
    /* transactions (redis_multi.c): "db\0key" -> watchers */
    sim_dict watched;           /* of redis_clist */
    /* blocking pops (redis_blocking.c): blocked clients, FIFO */
    sim_redis_client *blocked_head, *blocked_tail;
    size_t nblocked;
    /* lists made ready for blocked clients by the running command or EXEC */
    struct redis_ready {
        int db;
        char *k;
        size_t n;
    } *ready;
    int nready, capready;
};

/* ---- for the glue ---- */

/* Frees a core made by sim_redis_core_new (redis_table.c), after every
 * client was finished. */
void sim_redis_core_free(sim_redis_core *core);
sim_keyspace *sim_redis_core_keyspace(sim_redis_core *core);
sim_redis_config *sim_redis_core_config(sim_redis_core *core);
sim_redis_stats *sim_redis_core_stats(sim_redis_core *core);

void sim_redis_client_init(sim_redis_core *core, sim_redis_client *c, int64_t now_ms);
/* Unsubscribes, unwatches, unblocks and frees what c holds (not c). */
void sim_redis_client_fini(sim_redis_client *c);
size_t sim_redis_client_count(const sim_redis_core *core);
/* The most recently registered client still registered, or NULL. */
sim_redis_client *sim_redis_core_first_client(sim_redis_core *core);

/* Runs one command; the reply goes to c->out. argv is borrowed. */
void sim_redis_dispatch(sim_redis_client *c, int argc, char **argv, size_t *argvlen,
                        int64_t now_ms);
/* Looks argv[0] up once (case-insensitive); NULL when unknown. */
const sim_redis_command *sim_redis_lookup(sim_redis_core *core, const char *name, size_t n);
/* Runs a command looked up with sim_redis_lookup (NULL: unknown command
 * reply) -- the same as sim_redis_dispatch without a second lookup. */
void sim_redis_dispatch_cmd(sim_redis_client *c, const sim_redis_command *cmd, int argc,
                            char **argv, size_t *argvlen, int64_t now_ms);
/* Info for faults: canonical lowercase name and first key (or NULL) of a
 * looked-up command, without running anything. NULL for NULL (unknown). */
const char *sim_redis_command_info(const sim_redis_command *cmd, int argc, char **argv,
                                   const char **key);

/* Periodic work (~every 100 ms): active expiry, blocked-pop timeouts. */
void sim_redis_core_cron(sim_redis_core *core, int64_t now_ms);

/* ---- for the table ---- */

/* A core with an empty keyspace serving commands[0..n) (borrowed, must
 * outlive the core). `seed` drives every random choice (SPOP,
 * RANDOMKEY...). */
sim_redis_core *redis_core_create(uint64_t seed, const sim_redis_hooks *hooks, int64_t now_ms,
                                  const redis_command *commands, size_t n);

/* ---- for the command families ---- */

/* Runs a looked-up command whose arity was checked (dispatch, EXEC). */
void redis_call(redis_ctx *x, const redis_command *cmd);
/* The table's row for name (any case), NULL when unknown. */
const redis_command *redis_command_lookup(sim_redis_core *core, const char *name, size_t n);
/* Forgets c's transaction, subscriptions and wait (RESET, disconnect). */
void redis_client_reset(sim_redis_client *c);

/* Signals: one family's change that another watches, passed on through
 * the hooks (Redis's signalModifiedKey, signalFlushedDb, signalKeyAsReady).
 * Cheap when nobody watches or waits. */
static inline void redis_signal_modified_key(sim_redis_core *core, int db, const char *k,
                                             size_t n) {
    if (core->watched.count)
        core->fam.touch(core, db, k, n);
}
static inline void redis_signal_flushed_db(sim_redis_core *core, int db) {
    if (core->watched.count)
        core->fam.touch_db(core, db);
}
/* A push or RENAME made list k of db exist: clients blocked on it are
 * served once the command, or the whole EXEC, is over (dispatch). */
static inline void redis_signal_list_ready(sim_redis_core *core, int db, const char *k,
                                           size_t n) {
    if (core->nblocked)
        core->fam.list_ready(core, db, k, n);
}

/* Clients under a name: a channel's subscribers (pub/sub), a key's
 * WATCHers (transactions). An entry of a core dict, created on first use,
 * freed when its last client leaves. */
typedef struct redis_clist {
    sim_dent h;
    sim_redis_client **v;
    int n, cap;
    char key[];
} redis_clist;
/* The list named k in d; with create, an empty one added when absent. */
redis_clist *redis_clist_get(sim_dict *d, const char *k, size_t n, int create);
void redis_clist_add(redis_clist *l, sim_redis_client *c);
/* Removes c (order kept); unlinks and frees l when it gets empty. */
void redis_clist_remove(sim_dict *d, redis_clist *l, sim_redis_client *c);

/* replies and argument parsing */
#define ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_NOTINT "ERR value is not an integer or out of range"
#define ERR_NOTFLOAT "ERR value is not a valid float"
#define ERR_SYNTAX "ERR syntax error"
static inline void redis_ok(redis_ctx *x) { sim_resp_ok(x->out); }
void redis_err(redis_ctx *x, const char *msg);
void redis_arity_error(redis_ctx *x, const char *name);
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

/* shared by several families */
const char *redis_type_name(int type);     /* SIM_RT_* -> "string", "list"... */
/* SCAN's options "MATCH p COUNT n [TYPE t]" from argv[first] (TYPE only
 * when allow_type; *type -1 when absent); 0 with the error replied. */
int redis_scan_opts(redis_ctx *x, int first, int allow_type, const char **pat, size_t *plen,
                    long long *count, int *type);
/* A SCAN cursor at argv[i]; 0 with the error replied. */
int redis_scan_cursor(redis_ctx *x, int i, uint64_t *cur);
/* Formats a long double as INCRBYFLOAT and HINCRBYFLOAT reply it. */
int redis_ld2str(char *buf, size_t len, long double v);
/* Normalises a LRANGE/ZRANGE-style [start, end] against len; 0 when empty. */
int redis_norm_range(long long *start, long long *end, long long len);
/* HSCAN / SSCAN on argv[1] holding `type`. */
void redis_coll_scan(redis_ctx *x, int type);
/* HDEL / SREM on argv[1] holding `type` (both are sim_rhash). */
void redis_coll_del(redis_ctx *x, int type);

#endif
