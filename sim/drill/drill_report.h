/* drill_report.h -- a drill's verdicts as reports: human lines, one JSON
 * object, a JUnit <testsuite> (docs/drills.md §6). Pure: verdicts in, text
 * out. */
#ifndef SIM_DRILL_REPORT_H
#define SIM_DRILL_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "drill_eval.h"
#include "util.h"

/* Everything a report says about one drill; borrowed. */
typedef struct sim_drill_report {
    const char *name;           /* the scenario's name: the suite and the classname */
    const char *file;
    uint64_t seed;
    double time_scale;
    int64_t elapsed_ms;         /* real time the drill took */
    const char *digest;         /* the journal digest, hex */
    size_t journal_lines;
    const sim_drill_verdicts *verdicts;
} sim_drill_report;

typedef struct sim_drill_tally {
    size_t tests, passed, failures, errors;
} sim_drill_tally;

void sim_drill_tally_of(const sim_drill_verdicts *v, sim_drill_tally *t);

/* "PASS id: expected E; actual A" per check, then the drill's summary line. */
void sim_drill_report_human(const sim_drill_report *r, sim_buf *out);
/* One JSON object and a newline. */
void sim_drill_report_json(const sim_drill_report *r, sim_buf *out);

/* A JUnit file: open, one suite per drill, close. */
void sim_drill_junit_open(sim_buf *out);
void sim_drill_junit_suite(const sim_drill_report *r, sim_buf *out);
void sim_drill_junit_close(sim_buf *out);
/* s as XML text or attribute value, on one line: the five entities escaped,
 * line breaks and tabs as blanks, other control bytes and bytes that are not
 * UTF-8 as '?', which XML 1.0 cannot carry. */
void sim_drill_xml_escape(sim_buf *out, const char *s);

#endif
