/* test_drill_html.c -- the drill report page: the live view's page with the
 * data where its mark was, every drill's report, scenario and journal in
 * it, and no text of theirs able to end the data's <script> element. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "drill_html.h"
#include "tap.h"
#include "ui_page.h"

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* The JSON between the data element's tags, parsed. */
static cJSON *data_of(const char *page) {
    const char *open = "<script id=\"stagesim-data\" type=\"application/json\">";
    const char *start = strstr(page, open);
    if (!start) return NULL;
    start += strlen(open);
    const char *end = strstr(start, "</script>");
    return end ? cJSON_ParseWithLength(start, (size_t)(end - start)) : NULL;
}

int main(void) {
    ok(strstr(sim_ui_html, SIM_UI_DATA_MARK) != NULL, "the page has the mark");
    is_int(count(sim_ui_html, SIM_UI_DATA_MARK), 1, "once");
    is_int(strlen(sim_ui_html), sim_ui_html_len, "the embedded length is the text's");

    char err[256];
    sim_scenario *sc = sim_scenario_parse(
        "{\"name\":\"evil\",\"description\":\"</script><script>alert(1)</script> & more\","
        "\"faults\":[{\"id\":\"r1\",\"on\":\"ws.send\",\"match\":{\"name\":\"a<b>\"},"
        "\"action\":{\"kind\":\"drop\"}}]}", "evil.json", err, sizeof(err));
    ok(sc != NULL, "scenario parses: %s", sc ? "" : err);
    sim_drill_journal j = {0};
    ok(sim_drill_journal_parse(&j, "{\"t_ms\":1,\"svc\":\"backend\",\"name\":\"</script>\"}\n"
                                   "{\"t_ms\":2,\"svc\":\"drill\",\"event\":\"breaker\"}\n",
                               err, sizeof(err)) == 0, "journal parses");
    cJSON *drills = cJSON_CreateArray();
    is_int(sim_drill_html_add(drills, "not json", &j, sc), -1, "a report that is not JSON");
    is_int(cJSON_GetArraySize(drills), 0, "adds nothing");
    is_int(sim_drill_html_add(drills, "{\"drill\":\"evil\",\"ok\":true,\"checks\":[]}", &j, sc), 0,
           "a drill added");

    sim_buf page = {0};
    sim_drill_html_page(drills, &page);
    ok(page.len > sim_ui_html_len, "the page with its data");
    is_int(count(page.data, SIM_UI_DATA_MARK), 0, "the mark replaced");
    is_int(count(page.data, "</script>"), count(sim_ui_html, "</script>") + 1,
           "only the page's own script ends and the data element's");
    ok(strstr(page.data, "\\u003c/script\\u003e") != NULL, "'<' and '>' in the data as \\u escapes");
    ok(strstr(page.data, "\\u0026 more") != NULL, "'&' too");
    ok(strncmp(page.data, "<!DOCTYPE html>", 15) == 0, "the page's head first");
    ok(strstr(page.data, "</html>") != NULL, "and its end after the data");

    cJSON *data = data_of(page.data);
    ok(data != NULL, "the data element holds JSON");
    const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(data, "drills"), 0);
    is_str(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "report"), "drill")),
           "evil", "the report");
    const cJSON *s = cJSON_GetObjectItem(d, "scenario");
    is_str(cJSON_GetStringValue(cJSON_GetObjectItem(s, "description")),
           "</script><script>alert(1)</script> & more", "the description, intact once parsed");
    is_str(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "faults"), 0), "id")),
           "r1", "the scenario's rules");
    const cJSON *lines = cJSON_GetObjectItem(d, "journal");
    is_int(cJSON_GetArraySize(lines), 2, "every journal line");
    is_str(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(lines, 0), "name")),
           "</script>", "a line's text intact once parsed");

    cJSON_Delete(data);
    sim_buf_free(&page);
    cJSON_Delete(drills);
    sim_drill_journal_free(&j);
    sim_scenario_free(sc);
    return tap_done();
}
