/* fault.h -- the one decision point. Every place where something crosses a
 * wire (a connection accepted, a request or command read, a reply or event
 * about to be sent, a close) describes the crossing as a sim_wire and asks
 * sim_faults_cross() what to do. The engine journals the crossing and answers
 * with an action; services implement actions, never rules. */
#ifndef SIM_FAULT_H
#define SIM_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"


typedef struct sim_faults sim_faults;

/* Creates the engine. journal_path may be NULL (journal kept in memory only).
 * start_ms is the simulator's now_ms at start; t_ms in the journal, and the
 * rules' after_ms and until_ms, count from it. */
sim_faults *sim_faults_new(uint64_t seed, const char *journal_path, int64_t start_ms);
void sim_faults_free(sim_faults *f);
/* The now_ms t_ms counts from: the simulator's start. */
int64_t sim_faults_start_ms(const sim_faults *f);

/* The decision point, at now_ms (clock.h). Always fills out;
 * out->kind == SIM_ACT_PASS when nothing fires. Cheap when no rule is loaded
 * and no journal is kept: services may call it on every command. */
void sim_faults_cross(sim_faults *f, const sim_wire *w, int64_t now_ms, sim_action *out);

/* ---- life cycle ---------------------------------------------------------
 * A service that is not simply running answers its HTTP requests (and
 * WebSocket upgrades) by its state, decided here before any rule, and
 * journaled with "rule":"lifecycle.<state>" (docs/lifecycle.md). A service
 * that is down is not asked: nothing reaches it. */
typedef enum {
    SIM_MODE_RUNNING,       /* the rules decide */
    SIM_MODE_DRAINING,      /* 503 "Service Unavailable" (the front end has no instance) */
    SIM_MODE_REDEPLOYING,   /* S16: paths under /api/ 500, the rest 503; upgrades 500, 503, 500,
                             * then hang */
    SIM_MODE_CANNOT_START,  /* S25: 503 "The request failed because the instance could not
                             * start successfully." */
} sim_service_mode;
void sim_faults_set_mode(sim_faults *f, sim_service service, sim_service_mode mode);
sim_service_mode sim_faults_mode(const sim_faults *f, sim_service service);

/* ---- rules ------------------------------------------------------------
 * A rule is JSON (docs/faults.md): {"id", "on", "match", when-fields,
 * "action"}. Validation errors name the JSON path: "faults[2].after_ms:
 * must be >= 0" (path is the prefix to use, e.g. "faults[2]"). */

/* Checks one rule without adding it. rule is a cJSON *. 0 or -1 with err. */
int sim_fault_rule_check(const void *rule, const char *path, char *err, size_t errlen);

/* Validates and adds a rule (cJSON *, borrowed). `runtime` rules honour
 * ttl_ms and are removed by sim_faults_reset. Returns 0, or -1 with err
 * (also for a duplicate id). */
int sim_faults_add(sim_faults *f, const void *rule, const char *path, int runtime, int64_t now_ms,
                   char *err, size_t errlen);
/* Adds every rule of a cJSON array (the scenario's). Stops at the first error. */
int sim_faults_add_all(sim_faults *f, const void *rules, int64_t now_ms, char *err, size_t errlen);
/* Removes the run-time rules whose ttl_ms has run out. Crossings do it for
 * their own place; the control API calls it before it looks at the rules,
 * so a rule is gone everywhere at once. */
void sim_faults_expire(sim_faults *f, int64_t now_ms);
/* Removes a rule by id: 0, or -1 when there is none. */
int sim_faults_remove(sim_faults *f, const char *id);
/* Removes every rule. */
void sim_faults_clear(sim_faults *f);
/* Removes run-time rules and zeroes the counters of the others. */
void sim_faults_reset(sim_faults *f);
/* The rules with their counters, as a cJSON array the caller frees. */
void *sim_faults_list(const sim_faults *f, int64_t now_ms);
/* One rule as a cJSON object the caller frees, or NULL. */
void *sim_faults_get(const sim_faults *f, const char *id, int64_t now_ms);
/* How often a rule has fired (0 for an unknown id). */
uint64_t sim_faults_fired(const sim_faults *f, const char *id);
size_t sim_faults_count(const sim_faults *f);

/* ---- the network --------------------------------------------------------
 * What lies between the clients and the services (staging: Google's front
 * end): a latency band per kind of request. Each HTTP request's latency is
 * drawn from the seed and the request's own ordinals (service, connection,
 * request), never from arrival order, and added at the decision point to
 * what the rules decided: a request that passes is delayed by it, a delay
 * or a status reply waits it on top. Other actions (a reset, a hang) are
 * not slowed down. */

typedef struct sim_latency_band {
    uint32_t min_ms, max_ms;   /* max_ms 0: no latency */
} sim_latency_band;

typedef struct sim_network {
    sim_latency_band http;        /* backend HTTP requests */
    sim_latency_band ws_connect;  /* backend WebSocket upgrades */
    sim_latency_band auth;        /* auth service requests */
} sim_network;

/* Copies the profile in; a zeroed one turns the network off. */
void sim_faults_set_network(sim_faults *f, const sim_network *net);

/* Called after every firing (the control API's /journal/wait). */
typedef void (*sim_fault_listener)(void *ctx, const char *rule_id, uint64_t fired);
void sim_faults_set_listener(sim_faults *f, sim_fault_listener fn, void *ctx);

/* ---- journal ----------------------------------------------------------- */

/* A journal line for something that happened rather than crossed a wire: a
 * breaker's transition, a service's life-cycle step. {"t_ms":..,"svc":..,
 * "event":kind,<members>} where members is ready JSON ("\"from\":\"closed\"")
 * or NULL. Like every line, only t_ms depends on timing. */
void sim_faults_journal_event(sim_faults *f, int64_t now_ms, sim_service service,
                              const char *kind, const char *members);

/* Number of journal lines written so far (the last line's sequence number). */
uint64_t sim_faults_journal_count(const sim_faults *f);
/* The oldest line still in memory (the ring keeps the last 65536). */
uint64_t sim_faults_journal_oldest(const sim_faults *f);
/* Lines with sequence number > since, oldest first, as one text of JSON
 * lines appended to out (a sim_buf *); at most `limit` lines. Lines older
 * than the in-memory window are gone (the file keeps them). Returns the
 * number of lines appended. */
size_t sim_faults_journal_since(const sim_faults *f, uint64_t since, size_t limit, void *out);
/* Flushes the journal file (shutdown). */
void sim_faults_flush(sim_faults *f);

/* ---- metrics ----------------------------------------------------------- */

/* Appends the Prometheus text exposition to out (a sim_buf *). */
void sim_faults_metrics(const sim_faults *f, void *out);

#endif
