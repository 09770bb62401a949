/* ui_page.h -- the live view's page (ui.html, embedded at build time by
 * scripts/embed-text): served by the control API at GET /ui, and written by
 * `stagesim drill --html` with the drill's data in it. The page reads its
 * data from an element <script id="stagesim-data" type="application/json">
 * when there is one (a finished drill), else from the control API. */
#ifndef SIM_UI_PAGE_H
#define SIM_UI_PAGE_H

#include <stddef.h>

extern const char sim_ui_html[];
extern const size_t sim_ui_html_len;

/* Where a report's data goes: the page holds this comment once. */
#define SIM_UI_DATA_MARK "<!--stagesim-data-->"

#endif
