/* test_probe_result.c -- the attempt line for humans, the JSON object
 * drills read (every field present, null when it does not apply), and the
 * summary's percentiles. */
#include <cjson/cJSON.h>
#include <string.h>

#include "probe_result.h"
#include "tap.h"

static void test_line(void) {
    sim_probe_result r;
    sim_buf b = {0};
    sim_probe_result_init(&r, 2);
    r.ok = 1;
    r.latency_ms = 212;
    sim_probe_result_line(&r, &b);
    is_str(b.data, "attempt 2: ok (212 ms)", "an ok line");
    b.len = 0;
    sim_probe_result_init(&r, 4);
    sim_probe_fail(&r, "upgrade", "status", "HTTP %d", 503);
    SIM_PROBE_SET(r.expected, "101");
    SIM_PROBE_SET(r.got, "503");
    sim_probe_result_line(&r, &b);
    is_str(b.data, "attempt 4: FAIL at upgrade: HTTP 503 (expected 101, got 503)",
           "a failure without an ordinal names the stage");
    sim_buf_free(&b);
}

static void test_json(void) {
    sim_probe_result r;
    sim_probe_result_init(&r, 3);
    sim_probe_fail(&r, "close", "closed", "close 1011 \"Internal error\"");
    SIM_PROBE_SET(r.expected, "tool_executing");
    r.close_code = 1011;
    SIM_PROBE_SET(r.close_reason, "Internal error");
    r.event_ordinal = 3;
    r.latency_ms = 107;
    sim_buf b = {0};
    sim_probe_result_json(&r, "golden-path", &b);
    cJSON *j = cJSON_Parse(b.data);
    ok(j != NULL, "the attempt object is JSON");
    static const char *const keys[] = {"type", "probe", "attempt", "ok", "stage", "failure",
                                       "expected", "got", "field", "http_status", "close_code",
                                       "close_reason", "event_ordinal", "latency_ms", "detail"};
    int all = 1;
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
        all &= cJSON_GetObjectItemCaseSensitive(j, keys[i]) != NULL;
    ok(all, "every documented field is present");
    is_int(cJSON_GetObjectItemCaseSensitive(j, "close_code")->valuedouble, 1011, "close_code");
    is_int(cJSON_GetObjectItemCaseSensitive(j, "event_ordinal")->valuedouble, 3, "event_ordinal");
    ok(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "http_status")), "http_status null");
    ok(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "got")), "got null");
    ok(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "ok")), "ok false");
    is_str(cJSON_GetObjectItemCaseSensitive(j, "detail")->valuestring,
           "close 1011 \"Internal error\"", "detail, quotes escaped and back");
    cJSON_Delete(j);
    /* A close without a reason keeps "" as the reason. */
    b.len = 0;
    SIM_PROBE_SET(r.close_reason, "");
    sim_probe_result_json(&r, "golden-path", &b);
    ok(strstr(b.data, "\"close_reason\":\"\"") != NULL, "an empty close reason is \"\", not null");
    sim_buf_free(&b);
}

static void test_summary(void) {
    sim_probe_result rs[20];
    for (int i = 0; i < 20; i++) {
        sim_probe_result_init(&rs[i], i + 1);
        rs[i].ok = i != 7;
        rs[i].latency_ms = 20 - i;   /* 1..20, in reverse */
    }
    sim_probe_summary s;
    sim_probe_summarize(rs, 20, 3100, &s);
    is_int(s.passed, 19, "passed");
    is_int(s.failed, 1, "failed");
    is_int(s.p50_ms, 10, "p50, nearest rank");
    is_int(s.p95_ms, 19, "p95, nearest rank");
    is_int(s.max_ms, 20, "max");
    sim_buf b = {0};
    sim_probe_summary_line(&s, "golden-path", &b);
    is_str(b.data, "golden-path: 19 passed, 1 failed of 20; latency p50 10 ms, p95 19 ms, max 20 ms; 3.1 s",
           "the summary line");
    b.len = 0;
    sim_probe_summary_json(&s, "golden-path", &b);
    cJSON *j = cJSON_Parse(b.data);
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(j, "latency_ms");
    ok(lat && cJSON_GetObjectItemCaseSensitive(lat, "p95")->valuedouble == 19, "summary JSON");
    cJSON_Delete(j);
    sim_buf_free(&b);
    sim_probe_summarize(rs, 0, 0, &s);
    is_int(s.attempts, 0, "an empty run summarises to zeros");
}

int main(void) {
    test_line();
    test_json();
    test_summary();
    return tap_done();
}
