/* drill_html.c -- the drill report page: the live view's page with the
 * drills' data where its SIM_UI_DATA_MARK is. */
#include "drill_html.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "ui_page.h"

int sim_drill_html_add(cJSON *drills, const char *report_json, const sim_drill_journal *j,
                       const sim_scenario *sc) {
    cJSON *report = cJSON_Parse(report_json);
    if (!report) return -1;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, "report", report);
    cJSON *s = cJSON_AddObjectToObject(d, "scenario");
    cJSON_AddStringToObject(s, "name", sc->name);
    cJSON_AddStringToObject(s, "description", sc->description ? sc->description : "");
    cJSON_AddItemToObject(s, "faults", sc->faults ? cJSON_Duplicate(sc->faults, 1)
                                                  : cJSON_CreateArray());
    cJSON *lines = cJSON_AddArrayToObject(d, "journal");
    for (size_t i = 0; i < j->n; i++) cJSON_AddItemToArray(lines, cJSON_Duplicate(j->lines[i], 1));
    cJSON_AddItemToArray(drills, d);
    return 0;
}

/* JSON text safe inside <script>: these three only occur in strings. */
static void put_script_json(sim_buf *out, const char *text) {
    for (const char *p = text; *p; p++) {
        if (*p == '<') sim_buf_puts(out, "\\u003c");
        else if (*p == '>') sim_buf_puts(out, "\\u003e");
        else if (*p == '&') sim_buf_puts(out, "\\u0026");
        else sim_buf_append(out, p, 1);
    }
}

void sim_drill_html_page(const cJSON *drills, sim_buf *out) {
    const char *page = sim_ui_html;
    const char *mark = strstr(page, SIM_UI_DATA_MARK);
    size_t head = mark ? (size_t)(mark - page) : sim_ui_html_len;
    sim_buf_append(out, page, head);
    cJSON *data = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(data, "drills", (cJSON *)drills);
    char *text = cJSON_PrintUnformatted(data);
    cJSON_Delete(data);
    sim_buf_puts(out, "<script id=\"stagesim-data\" type=\"application/json\">");
    put_script_json(out, text ? text : "{}");
    sim_buf_puts(out, "</script>");
    cJSON_free(text);
    if (mark) sim_buf_puts(out, mark + strlen(SIM_UI_DATA_MARK));
}
