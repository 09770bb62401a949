/* breaker_line.h -- how a breaker's transition reads in the journal, shared
 * by the backend's breakers and a drill's: the members after "event",
 * each with its leading comma (as sim_json_member writes them):
 *   ,"breaker":"redis","from":"closed","to":"open","eligible_ms":N,"reason":"consecutive_failures"
 * States in lower case ("half_open", "forced_open"); eligible_ms relative
 * to the journal's start, like t_ms (docs/drills.md §4.4). */
#ifndef SIM_BREAKER_LINE_H
#define SIM_BREAKER_LINE_H

#include <stdint.h>

#include "stagesim_breaker.h"
#include "util.h"   /* sim_buf */

/* "closed", "open", "half_open", "forced_open", "disabled", "metrics_only". */
const char *sim_breaker_state_lower(stagesim_breaker_state s);

void sim_breaker_line_members(sim_buf *b, const char *name, stagesim_breaker_state from,
                              stagesim_breaker_state to, int64_t eligible_rel_ms,
                              stagesim_breaker_reason reason);

#endif
