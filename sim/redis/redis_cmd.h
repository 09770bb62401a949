/* redis_cmd.h -- the Redis command layer: one static command table, arity
 * checked in one place, handlers writing RESP2 replies into the client's
 * output buffer. Pure: no sockets; the glue (redis_server.c) owns the
 * connections and is told through callbacks when another client got output
 * (pub/sub, unblocked pops) or must be killed. */
#ifndef SIM_REDIS_CMD_H
#define SIM_REDIS_CMD_H
#ifndef SIM_IN_REDIS
#error "redis_cmd.h is private to sim/redis/"
#endif

#include <stddef.h>
#include <stdint.h>

#include "redis_db.h"
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
    /* MULTI */
    sim_redis_queued *mq;
    int mq_n, mq_cap;
    /* WATCH: keys as "db:key" entries of the core's watch dict */
    void **watched;
    int nwatched, capwatched;
    /* pub/sub */
    sim_rhash *channels;                /* set of channel names, NULL when none */
    sim_rhash *patterns;                /* set of patterns, NULL when none */
    /* blocking pops */
    int64_t block_deadline;             /* ms, 0 = forever */
    int block_left;                     /* BLPOP (1) or BRPOP (0) */
    char **bkeys;
    size_t *bklen;
    int nbkeys;
    sim_redis_client *prev, *next;      /* all clients */
    sim_redis_client *bnext;            /* blocked list */
    void *glue;
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

/* Creates the command layer with an empty keyspace. `seed` drives every
 * random choice (SPOP, RANDOMKEY...). Free with sim_redis_core_free after
 * every client was finished. */
sim_redis_core *sim_redis_core_new(uint64_t seed, const sim_redis_hooks *hooks, int64_t now_ms);
void sim_redis_core_free(sim_redis_core *core);
sim_keyspace *sim_redis_core_keyspace(sim_redis_core *core);

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
sim_redis_config *sim_redis_core_config(sim_redis_core *core);

/* Counters the glue updates and INFO reports. */
typedef struct sim_redis_stats {
    uint64_t connections_received;
    uint64_t commands_processed;
    uint64_t rejected_connections;
    uint64_t net_input_bytes, net_output_bytes;
    int64_t start_ms;
} sim_redis_stats;
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

/* A command of the table, opaque to the glue. */
typedef struct redis_command sim_redis_command;
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

#endif
