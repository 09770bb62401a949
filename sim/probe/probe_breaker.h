/* probe_breaker.h -- the breaker a probe run's attempts go through
 * (--breaker SPEC): a permit before each attempt, the attempt's outcome
 * after it, the transitions reported on the run's clock, and a timer for
 * the ones time alone makes due (automatic transition, the half-open max
 * wait). Private to sim/probe/. */
#ifndef SIM_PROBE_BREAKER_H
#define SIM_PROBE_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "probe.h"
#include "stagesim_breaker.h"

struct ev_loop;

typedef struct probe_breaker probe_breaker;

/* Checks a spec: 0, or -1 with "--breaker: KEY: reason" in err. */
int probe_breaker_check(const char *spec, char *err, size_t errlen);

/* A CLOSED breaker of a checked spec, named name (borrowed), on loop and
 * clock; transitions go to cb(ctx, ...) with times from start_ms. */
probe_breaker *probe_breaker_new(const char *spec, const char *name, struct ev_loop *loop,
                                 const sim_clock *clock, int64_t start_ms,
                                 sim_probe_breaker_fn cb, void *ctx);
void probe_breaker_free(probe_breaker *pb);

/* Asks to send an attempt now: 1 with *permit filled, or 0 (refused) with
 * the state that refused it in *state. */
int probe_breaker_acquire(probe_breaker *pb, stagesim_breaker_permit *permit,
                          stagesim_breaker_state *state);
/* The permitted attempt's outcome, at its end, now. */
void probe_breaker_record(probe_breaker *pb, stagesim_breaker_permit *permit, int ok,
                          int64_t latency_ms);
/* The last verdict is in: no more transitions by time. */
void probe_breaker_stop(probe_breaker *pb);
/* Fills the summary's breaker fields. */
void probe_breaker_summarize(const probe_breaker *pb, sim_probe_summary *s);

#endif
