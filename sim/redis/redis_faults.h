/* redis_faults.h -- fault hooks of the Redis impersonation, as a small
 * internal API: the fault engine (or a test) arms them, the server applies
 * them. The rule set is pure (decisions only, unit-tested); the server
 * functions act on the listener and connections. */
#ifndef SIM_REDIS_FAULTS_H
#define SIM_REDIS_FAULTS_H
#ifndef SIM_IN_REDIS
#error "redis_faults.h is private to sim/redis/"
#endif

#include <stdint.h>

#include "fault.h"

typedef struct sim_redis_server sim_redis_server;

typedef enum {
    SIM_RF_ERROR,          /* answer with `error` ("LOADING ...", "READONLY ...", any) */
    SIM_RF_DELAY,          /* run the command, hold the reply delay_ms */
    SIM_RF_NOREPLY,        /* swallow the command: never answer it */
    SIM_RF_PARTIAL_CLOSE,  /* run it, send half of the reply, close */
    SIM_RF_HANG,           /* stop answering this connection at all */
} sim_redis_fault_kind;

typedef struct sim_redis_fault_rule {
    const char *command;   /* lowercase command name, NULL = any (copied) */
    sim_redis_fault_kind kind;
    const char *error;     /* SIM_RF_ERROR: full error text without '-' (copied) */
    uint32_t delay_ms;
    int count;             /* firings left; -1 = forever */
} sim_redis_fault_rule;

typedef struct sim_redis_fault_set sim_redis_fault_set;

sim_redis_fault_set *sim_redis_fault_set_new(void);
void sim_redis_fault_set_free(sim_redis_fault_set *s);
/* Adds a rule (first added, first matched). Returns 0, -1 on a bad rule. */
int sim_redis_fault_set_add(sim_redis_fault_set *s, const sim_redis_fault_rule *r);
/* Drops the next `count` (-1: all) pub/sub messages on channels matching glob. */
void sim_redis_fault_set_drop_messages(sim_redis_fault_set *s, const char *glob, int count);
void sim_redis_fault_set_clear(sim_redis_fault_set *s);
/* Non-zero when any rule is armed (the cheap check per command). */
int sim_redis_fault_set_active(const sim_redis_fault_set *s);
/* Decides for one command (lowercase name, NULL when unknown): fills out
 * with SIM_ACT_PASS, REPLY (text), DELAY (delay_ms), DROP, PARTIAL or HANG,
 * consuming one firing. out->text is valid until the set changes. */
void sim_redis_fault_set_decide(sim_redis_fault_set *s, const char *command, sim_action *out);
/* 1 when a message on channel must be dropped (consumes a firing). */
int sim_redis_fault_set_drop_message(sim_redis_fault_set *s, const char *channel);

/* ---- on a running server ---- */

/* The server's rule set (owned by the server). */
sim_redis_fault_set *sim_redis_server_faults(sim_redis_server *srv);
/* Stops listening (new connections are refused); resumes by itself after
 * ms when ms > 0. Existing connections stay. Returns 0 or -1. */
int sim_redis_server_pause_listening(sim_redis_server *srv, uint32_t ms);
/* Listens again on the same port. Returns 0, or -1 with err. */
int sim_redis_server_resume_listening(sim_redis_server *srv, char *err, size_t errlen);
/* While on, new connections are accepted and never answered. */
void sim_redis_server_set_accept_hang(sim_redis_server *srv, int on);

#endif
