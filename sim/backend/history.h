/* history.h -- the backend's Redis client (hiredis async on the loop): each
 * completed run appends the user's message and the answer to
 * thread:{thread_id}:messages; the thread history route reads it back.
 * Redis is optional, as in staging: when it is unreachable chat goes on
 * (degraded), the failure is logged, and the client reconnects with back-off. */
#ifndef SIM_HISTORY_H
#define SIM_HISTORY_H

#include <stdint.h>

#include "clock.h"
#include "dep_breaker.h"
#include "stagesim_breaker.h"

struct ev_loop;
typedef struct sim_faults sim_faults;
typedef struct sim_history sim_history;

typedef struct sim_history_config {
    const char *host;
    int port;
    uint32_t connect_timeout_ms;   /* 0: 1000 */
    /* A command whose reply has not come after this long counts as a
     * failure, and the connection is dropped and made again (a silent
     * Redis otherwise hangs every read); 0: 2000. */
    uint32_t command_timeout_ms;
    const stagesim_breaker_config *breaker;   /* copied; NULL: no breaker */
    sim_faults *faults;            /* dep.connect crossings, breaker journal lines; may be NULL */
} sim_history_config;

sim_history *sim_history_new(struct ev_loop *loop, const sim_clock *clock,
                             const sim_history_config *cfg);
void sim_history_free(sim_history *h);

/* 1 when connected to Redis and answering (not after a command timeout
 * until a reply comes). */
int sim_history_connected(const sim_history *h);
/* "connected", or the last error in redis-py's words ("Error 111
 * connecting to 127.0.0.1:6380. Connection refused.", "Timeout connecting
 * to server", "Timeout reading from socket", ...). */
const char *sim_history_status(const sim_history *h);
uint64_t sim_history_failures(const sim_history *h);
/* How long the last reply took, in ms. */
double sim_history_reply_ms(const sim_history *h);
/* The breaker in front of Redis, or NULL. */
sim_dep_breaker *sim_history_breaker(sim_history *h);

/* Appends n JSON messages (borrowed) to the thread's list, in one RPUSH: a
 * reader sees all of them or none. Fire and forget: when Redis is down the
 * append is counted as lost and logged. */
void sim_history_append(sim_history *h, const char *thread_id, const char *const *json,
                        size_t n);

/* Calls done(ctx) once every command handed to Redis so far has its
 * answer (at once when none is waiting), for a shutdown that must not lose
 * the history of runs that completed. The command timeout bounds the wait:
 * a silent Redis drops the connection, which answers the rest with
 * failures. A later call replaces an earlier one; done NULL cancels. */
void sim_history_drain(sim_history *h, void (*done)(void *ctx), void *ctx);
/* Reads the thread's list. cb gets a cJSON array (owned by the callee,
 * valid during cb) or NULL with an error text when Redis is unavailable.
 * cb is always called, possibly before sim_history_read returns. */
typedef void (*sim_history_cb)(void *ctx, void *json_array, const char *error);
void sim_history_read(sim_history *h, const char *thread_id, sim_history_cb cb, void *ctx);

#endif
