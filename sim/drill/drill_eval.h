/* drill_eval.h -- a drill's checks against its evidence: the steps' attempts
 * and the journal in, one verdict per check out (docs/drills.md §4). Pure. */
#ifndef SIM_DRILL_EVAL_H
#define SIM_DRILL_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "drill_journal.h"
#include "expect.h"
#include "probe_result.h"

/* What one step left. Attempts carry their ordinal over the step in
 * `attempt` (1-based, in the order the step's runs started). */
typedef struct sim_drill_step_outcome {
    int started;              /* a run of it started */
    char error[256];          /* why it could not start, or "" */
    int64_t start_ms;         /* its first run's start, from the simulator's start */
    sim_probe_result *attempts;
    size_t n;
} sim_drill_step_outcome;

typedef enum { SIM_VERDICT_PASS, SIM_VERDICT_FAIL, SIM_VERDICT_ERROR } sim_verdict_status;

/* One check's verdict; the texts are owned (one line each). For an error,
 * `actual` says why it could not be evaluated. */
typedef struct sim_drill_verdict {
    char *id;
    sim_verdict_status status;
    char *expected;
    char *actual;
} sim_drill_verdict;

typedef struct sim_drill_verdicts {
    sim_drill_verdict *v;
    size_t n;
} sim_drill_verdicts;

/* Evaluates every check of e, in order, appending to out. steps has one
 * outcome per step of e. */
void sim_drill_evaluate(const sim_expect *e, const sim_drill_step_outcome *steps,
                        const sim_drill_journal *j, sim_drill_verdicts *out);
/* Appends one verdict (the texts are copied). */
void sim_drill_verdict_add(sim_drill_verdicts *out, const char *id, sim_verdict_status status,
                           const char *expected, const char *actual);
void sim_drill_verdicts_free(sim_drill_verdicts *out);

#endif
