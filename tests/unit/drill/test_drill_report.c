/* test_drill_report.c -- the reports: XML escaping, the JUnit suite (counts,
 * properties, one testcase per check, failure and error messages), the
 * human lines and the JSON object. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "drill_report.h"
#include "tap.h"

static void test_escape(void) {
    sim_buf b = {0};
    sim_drill_xml_escape(&b, "a<b>&\"c\"'d'\n\te\x01\xff\xc3\xa9");
    is_str(b.data, "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;  e??\xc3\xa9",
           "entities, blanks for breaks, ? for what XML cannot carry, UTF-8 kept");
    sim_buf_free(&b);
}

static sim_drill_report report(sim_drill_verdicts *v) {
    sim_drill_verdict_add(v, "ok-check", SIM_VERDICT_PASS, "passed 1", "passed 1");
    sim_drill_verdict_add(v, "close<code>", SIM_VERDICT_FAIL, "close_code 1011", "close_code \"1006\"");
    sim_drill_verdict_add(v, "anchor", SIM_VERDICT_ERROR, "a rule r1 firing", "rule r1 never fired");
    return (sim_drill_report){.name = "ws-1011", .file = "scenarios/ws-1011.json", .seed = 42,
                              .time_scale = 20, .elapsed_ms = 1234, .digest = "abc",
                              .journal_lines = 7, .verdicts = v};
}

static void test_junit(void) {
    sim_drill_verdicts v = {0};
    sim_drill_report r = report(&v);
    sim_buf b = {0};
    sim_drill_junit_open(&b);
    sim_drill_junit_suite(&r, &b);
    sim_drill_junit_close(&b);
    ok(strstr(b.data, "<testsuite name=\"ws-1011\" tests=\"3\" failures=\"1\" errors=\"1\" "
                      "skipped=\"0\" time=\"1.234\"") != NULL, "the suite's counts and time");
    ok(strstr(b.data, "<property name=\"seed\" value=\"42\"/>") != NULL, "seed property");
    ok(strstr(b.data, "<property name=\"time_scale\" value=\"20\"/>") != NULL, "time_scale property");
    ok(strstr(b.data, "<testcase name=\"ok-check\" classname=\"ws-1011\" time=\"0\"/>") != NULL,
       "a passing testcase");
    ok(strstr(b.data, "<testcase name=\"close&lt;code&gt;\" classname=\"ws-1011\" time=\"0\">\n"
                      "      <failure message=\"expected close_code 1011, actual close_code "
                      "&quot;1006&quot;\" type=\"expectation\"/>") != NULL,
       "a failure: escaped name, one-line message");
    ok(strstr(b.data, "<error message=\"expected a rule r1 firing, actual rule r1 never fired\"") != NULL,
       "an error");
    ok(strncmp(b.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", 52) == 0, "header");
    sim_buf_free(&b);
    sim_drill_verdicts_free(&v);
}

static void test_human_and_json(void) {
    sim_drill_verdicts v = {0};
    sim_drill_report r = report(&v);
    sim_buf b = {0};
    sim_drill_report_human(&r, &b);
    is_str(b.data,
           "PASS ok-check: expected passed 1; actual passed 1\n"
           "FAIL close<code>: expected close_code 1011; actual close_code \"1006\"\n"
           "ERROR anchor: expected a rule r1 firing; actual rule r1 never fired\n"
           "drill ws-1011 (scenarios/ws-1011.json): 3 checks, 1 passed, 1 failed, 1 errors; seed 42, "
           "time scale 20 (the time scale does not apply to external clients); 1.2 s; journal 7 "
           "lines, digest abc\n", "human lines and summary");
    b.len = 0;
    sim_drill_report_json(&r, &b);
    cJSON *j = cJSON_Parse(b.data);
    ok(j != NULL, "JSON parses");
    ok(cJSON_IsFalse(cJSON_GetObjectItem(j, "ok")), "not ok");
    is_int(cJSON_GetObjectItem(j, "failures")->valueint, 1, "failures");
    is_int(cJSON_GetObjectItem(j, "errors")->valueint, 1, "errors");
    is_str(cJSON_GetObjectItem(j, "time_scale_note")->valuestring,
           "the time scale does not apply to external clients", "the scale's note");
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "checks"), 1);
    is_str(cJSON_GetObjectItem(c, "status")->valuestring, "fail", "check status");
    is_str(cJSON_GetObjectItem(c, "actual")->valuestring, "close_code \"1006\"", "check actual");
    cJSON_Delete(j);
    sim_buf_free(&b);
    sim_drill_verdicts_free(&v);
}

int main(void) {
    test_escape();
    test_junit();
    test_human_and_json();
    return tap_done();
}
