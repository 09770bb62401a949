/* drill_match.h -- a drill's matchers (expect.h) against values, and the
 * words reports use for both. Pure. */
#ifndef SIM_DRILL_MATCH_H
#define SIM_DRILL_MATCH_H

#include "expect.h"
#include "util.h"

typedef struct cJSON cJSON;

/* 1 when v satisfies m (docs/drills.md §3), else 0. */
int sim_drill_match(const sim_matcher *m, const sim_value *v);

/* A JSON member as a value, borrowing its string; NULL (absent) is null. */
sim_value sim_drill_json_value(const cJSON *v);

/* 3 | "close" | true | null */
void sim_drill_value_text(const sim_value *v, sim_buf *out);
/* What the matcher wants, in words: 3 | one of [1011, 1006] | in [2200, 2800] |
 * matching /^ws/ */
void sim_drill_matcher_text(const sim_matcher *m, sim_buf *out);

#endif
