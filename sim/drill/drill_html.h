/* drill_html.h -- `stagesim drill --html FILE`: the finished drills as one
 * self-contained page, the live view's (sim/control/ui.html) with the data
 * in it: each drill's JSON report, its scenario's description and rules,
 * and its journal. Pure: data in, text out. */
#ifndef SIM_DRILL_HTML_H
#define SIM_DRILL_HTML_H

#include "drill_journal.h"
#include "scenario.h"
#include "util.h"

/* Adds one drill to `drills` (a cJSON array): report_json is the line
 * sim_drill_report_json wrote. Returns -1 when report_json is not JSON. */
int sim_drill_html_add(cJSON *drills, const char *report_json, const sim_drill_journal *j,
                       const sim_scenario *sc);

/* The page with `drills` in it. The data goes inside a <script> element,
 * so every '<', '>' and '&' in it is written as a JSON \u escape: no text
 * a journal quotes can end the element. */
void sim_drill_html_page(const cJSON *drills, sim_buf *out);

#endif
