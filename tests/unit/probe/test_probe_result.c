/* test_probe_result.c -- the attempt line for humans, the JSON object
 * drills read (every field present, null when it does not apply), the
 * summary's percentiles, and a breaker's refusals and transitions. */
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

static void test_refused(void) {
    sim_probe_result r;
    sim_buf b = {0};
    sim_probe_result_init(&r, 7);
    sim_probe_refuse(&r, STAGESIM_BREAKER_OPEN);
    ok(r.refused && !r.ok, "a refused attempt failed");
    is_str(r.stage, "breaker", "stage breaker");
    is_str(r.failure, "not_permitted", "failure not_permitted");
    sim_probe_result_line(&r, &b);
    is_str(b.data, "attempt 7: REFUSED: not sent, the breaker is open", "the refused line");
    b.len = 0;
    sim_probe_result_init(&r, 8);
    sim_probe_refuse(&r, STAGESIM_BREAKER_HALF_OPEN);
    sim_probe_result_line(&r, &b);
    is_str(b.data, "attempt 8: REFUSED: not sent, the breaker is half_open with its trial calls "
                   "in flight", "refused in half-open");
    sim_buf_free(&b);
}

static void test_transition(void) {
    stagesim_breaker_config cfg;
    char err[128];
    ok(stagesim_breaker_config_parse("consecutiveFailures=3,waitDurationInOpenState=500ms", &cfg,
                                     err, sizeof(err)) == 0, "a spec");
    sim_probe_transition t = {.breaker = "health", .from = STAGESIM_BREAKER_CLOSED,
                              .to = STAGESIM_BREAKER_OPEN,
                              .reason = STAGESIM_BREAKER_REASON_CONSECUTIVE_FAILURES,
                              .t_ms = 312, .eligible_ms = 312, .cfg = &cfg};
    sim_buf b = {0};
    sim_probe_transition_line(&t, &b);
    is_str(b.data, "breaker closed -> open at 312 ms (3 consecutive failures)", "a trip's line");
    b.len = 0;
    t.from = STAGESIM_BREAKER_OPEN, t.to = STAGESIM_BREAKER_HALF_OPEN;
    t.reason = STAGESIM_BREAKER_REASON_WAIT_ELAPSED;
    t.eligible_ms = 812, t.t_ms = 900;
    sim_probe_transition_line(&t, &b);
    is_str(b.data, "breaker open -> half_open at 900 ms (waited 500 ms, due at 812 ms)",
           "a lazy half-open names both times");
    b.len = 0;
    sim_probe_transition_json(&t, "health", &b);
    is_str(b.data, "{\"type\":\"breaker\",\"probe\":\"health\",\"t_ms\":900,\"svc\":\"probe\","
                   "\"event\":\"breaker\",\"breaker\":\"health\",\"from\":\"open\","
                   "\"to\":\"half_open\",\"eligible_ms\":812,\"reason\":\"wait_elapsed\"}",
           "the JSON is the journal's breaker line with a type and a probe");
    b.len = 0;
    t.from = STAGESIM_BREAKER_HALF_OPEN, t.to = STAGESIM_BREAKER_CLOSED;
    t.reason = STAGESIM_BREAKER_REASON_SUCCESS_THRESHOLD;
    sim_probe_transition_line(&t, &b);
    is_str(b.data, "breaker half_open -> closed at 900 ms (a trial call passed)", "closing");
    sim_buf_free(&b);
}

static void test_summary_with_refusals(void) {
    sim_probe_result rs[4];
    for (int i = 0; i < 4; i++) {
        sim_probe_result_init(&rs[i], i + 1);
        rs[i].latency_ms = 100 + i;
    }
    rs[0].ok = 1;
    sim_probe_refuse(&rs[2], STAGESIM_BREAKER_OPEN);
    sim_probe_refuse(&rs[3], STAGESIM_BREAKER_OPEN);
    rs[2].latency_ms = rs[3].latency_ms = 0;
    sim_probe_summary s;
    sim_probe_summarize(rs, 4, 500, &s);
    is_int(s.failed, 3, "refused attempts count as failed");
    is_int(s.refused, 2, "and as refused");
    is_int(s.p50_ms, 100, "latency over the attempts sent only");
    sim_buf b = {0};
    sim_probe_summary_json(&s, "health", &b);
    ok(strstr(b.data, "\"breaker\":null") != NULL, "no breaker: null");
    b.len = 0;
    s.breaker = 1;
    s.breaker_state = STAGESIM_BREAKER_HALF_OPEN;
    s.transitions = 2;
    sim_probe_summary_json(&s, "health", &b);
    ok(strstr(b.data, "\"breaker\":{\"state\":\"half_open\",\"permitted\":2,\"refused\":2,"
                      "\"transitions\":2}") != NULL, "the breaker's summary");
    b.len = 0;
    sim_probe_summary_line(&s, "health", &b);
    ok(strstr(b.data, "\nbreaker: half_open at the end; 2 attempts sent, 2 refused; 2 transitions")
           != NULL, "the breaker's summary line");
    sim_buf_free(&b);
    for (int i = 0; i < 4; i++) sim_probe_refuse(&rs[i], STAGESIM_BREAKER_FORCED_OPEN);
    sim_probe_summarize(rs, 4, 0, &s);
    is_int(s.max_ms, 0, "nothing sent: latency zeros");
}

int main(void) {
    test_line();
    test_json();
    test_summary();
    test_refused();
    test_transition();
    test_summary_with_refusals();
    return tap_done();
}
