/* drill_run.h -- runs one drill: the simulator in-process on a fresh loop,
 * the steps as scheduled, until every step has ended; then the evidence
 * checks are judged on (docs/drills.md §5). */
#ifndef SIM_DRILL_RUN_H
#define SIM_DRILL_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "drill_eval.h"
#include "drill_journal.h"
#include "expect.h"

typedef struct sim_drill_run_options {
    const char *path;           /* the scenario file */
    const sim_expect *expect;   /* its expect section, loaded by the caller */
    int seed_set;               /* seed overrides the scenario's */
    uint64_t seed;
    double time_scale;
} sim_drill_run_options;

/* What a run leaves; the caller frees it with sim_drill_evidence_free. */
typedef struct sim_drill_evidence {
    sim_drill_step_outcome *steps;  /* one per step of the expect section */
    size_t nsteps;
    sim_drill_journal journal;      /* the simulator's lines and the step breakers' */
    int64_t elapsed_ms;             /* real time, start to stop */
} sim_drill_evidence;

/* 0 with ev filled, or -1 with the reason in err and *exit_code: 2 when the
 * scenario does not load, 1 when the simulator or the journal failed. */
int sim_drill_run(const sim_drill_run_options *o, sim_drill_evidence *ev, char *err,
                  size_t errlen, int *exit_code);
void sim_drill_evidence_free(sim_drill_evidence *ev);

#endif
