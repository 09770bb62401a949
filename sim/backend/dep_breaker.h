/* dep_breaker.h -- a circuit breaker the backend puts in front of one of its
 * dependencies (its Redis; the auth service when it validates tokens
 * remotely), as the real backend had them (docs/contract.md §4): the pure
 * breaker of include/stagesim_breaker.h on the simulator's clock, its
 * transitions journaled as
 *   {"t_ms":..,"svc":"backend","event":"breaker","breaker":"redis","from":"closed","to":"open",
 *    "eligible_ms":..,"reason":"consecutive_failures"}
 * and its view for /health/circuit-breakers. */
#ifndef SIM_DEP_BREAKER_H
#define SIM_DEP_BREAKER_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "stagesim_breaker.h"

struct ev_loop;
typedef struct sim_faults sim_faults;
typedef struct sim_dep_breaker sim_dep_breaker;

/* Told of every transition after it happened, from the loop (never from
 * inside a call into the breaker), so it may call into it. */
typedef void (*sim_dep_breaker_cb)(void *ctx, stagesim_breaker_state to);

/* cfg must validate (the scenario checked it). faults may be NULL (no
 * journal); cb may be NULL. */
sim_dep_breaker *sim_dep_breaker_new(struct ev_loop *loop, const sim_clock *clock,
                                     sim_faults *faults, const char *name,
                                     const stagesim_breaker_config *cfg, sim_dep_breaker_cb cb,
                                     void *ctx);
void sim_dep_breaker_free(sim_dep_breaker *d);

/* 1 with *p filled when a call may go to the dependency now; 0: fail fast. */
int sim_dep_breaker_acquire(sim_dep_breaker *d, stagesim_breaker_permit *p);
/* The outcome of the call *p allowed, started at started_ms. */
void sim_dep_breaker_record(sim_dep_breaker *d, stagesim_breaker_permit *p, int ok,
                            int64_t started_ms);
stagesim_breaker_state sim_dep_breaker_state(sim_dep_breaker *d);
/* The /health/circuit-breakers entry: name, state ("closed", "open",
 * "half_open"), failure_count (consecutive failures, or failed calls in
 * the window in rate mode), and the configuration in the real backend's
 * words (failure_threshold, recovery_timeout in s, success_threshold,
 * half_open_max_calls), plus not_permitted_calls. */
cJSON *sim_dep_breaker_json(sim_dep_breaker *d);

#endif
