/* drill_breaker.h -- a step's breaker (docs/drills.md §2.1, §4.4): every
 * attempt's outcome goes to a breaker of the step's configuration, and its
 * transitions become journal lines, so that a drill shows when a client
 * behind such a breaker would open and recover. Pure: now_ms passed in. */
#ifndef SIM_DRILL_BREAKER_H
#define SIM_DRILL_BREAKER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sim_drill_breaker sim_drill_breaker;

/* spec is a breaker spec already validated by the expect parser; name the
 * step's id; start_ms the simulator's now_ms at start (t_ms counts from it). */
sim_drill_breaker *sim_drill_breaker_new(const char *spec, const char *name, int64_t start_ms);
void sim_drill_breaker_free(sim_drill_breaker *b);

/* One attempt's outcome at now_ms: it asks for a permit and, when given one,
 * records success or failure; a refused outcome counts as not permitted. */
void sim_drill_breaker_outcome(sim_drill_breaker *b, int64_t now_ms, int ok, int64_t latency_ms);

/* The journal lines of its transitions so far, oldest first; borrowed until
 * the breaker is freed:
 * {"t_ms":N,"svc":"drill","event":"breaker","breaker":NAME,"from":"closed",
 *  "to":"open","eligible_ms":N,"reason":"consecutive_failures"} */
size_t sim_drill_breaker_lines(const sim_drill_breaker *b, char *const **lines);

#endif
