/* test_health_check.c -- the health probe's verdict: status, body fields
 * (nested, indexed, non-string), a body that is not JSON, the latency
 * bound, and the key=value argument. */
#include <string.h>

#include "health_check.h"
#include "tap.h"

static const char body[] =
    "{\"status\":\"degraded\",\"version\":\"1.0.0\",\"checks\":{\"redis\":{\"status\":\"failed\","
    "\"connected\":false},\"postgresql\":{\"response_time_ms\":5083.41}},\"services\":[{\"name\":\"a\"}],"
    "\"count\":900}";

static int check(const sim_health_field *fields, size_t n, int status, const char *text,
                 int64_t max_ms, int64_t ms, sim_probe_result *r) {
    sim_health_expect e = {200, fields, n, max_ms};
    sim_probe_result_init(r, 1);
    return sim_health_check(&e, status, text, strlen(text), ms, r);
}

static void test_pass(void) {
    sim_health_field f[] = {{"status", "degraded"},
                            {"checks.redis.status", "failed"},
                            {"checks.redis.connected", "false"},
                            {"checks.postgresql.response_time_ms", "5083.41"},
                            {"services.0.name", "a"},
                            {"count", "900"}};
    sim_probe_result r;
    ok(check(f, 6, 200, body, 500, 120, &r), "every field holds");
    ok(r.ok, "the result is ok");
    is_int(r.http_status, 200, "the status seen is kept");
}

static void test_status(void) {
    sim_probe_result r;
    ok(!check(NULL, 0, 503, "Service Unavailable", -1, 10, &r), "503 where 200 is wanted fails");
    is_str(r.stage, "status", "stage status");
    is_str(r.expected, "200", "expected 200");
    is_str(r.got, "503", "got 503");
    is_int(r.http_status, 503, "http_status");
    ok(check(NULL, 0, 200, "not json", -1, 10, &r), "without fields the body is not read");
}

static void test_fields(void) {
    sim_probe_result r;
    sim_health_field missing[] = {{"checks.clickhouse.status", "healthy"}};
    ok(!check(missing, 1, 200, body, -1, 10, &r), "a missing field fails");
    is_str(r.stage, "field", "stage field");
    is_str(r.field, "checks.clickhouse.status", "names the field");
    is_str(r.expected, "healthy", "expected its value");
    is_str(r.got, "", "got nothing");
    is_str(r.detail, "checks.clickhouse.status missing", "detail");
    sim_health_field wrong[] = {{"status", "ok"}};
    ok(!check(wrong, 1, 200, body, -1, 10, &r), "another value fails");
    is_str(r.got, "degraded", "got the value found");
    sim_health_field beyond[] = {{"services.1.name", "b"}, {"status.x", "y"}};
    ok(!check(beyond, 1, 200, body, -1, 10, &r), "an index past the end is missing");
    ok(!check(beyond + 1, 1, 200, body, -1, 10, &r), "a key inside a string is missing");
    ok(!check(wrong, 1, 200, "<html>", -1, 10, &r), "a body that is not JSON fails");
    is_str(r.stage, "body", "stage body");
}

static void test_latency(void) {
    sim_probe_result r;
    ok(check(NULL, 0, 200, "{}", 500, 500, &r), "at the bound passes");
    ok(!check(NULL, 0, 200, "{}", 500, 501, &r), "over the bound fails");
    is_str(r.stage, "latency", "stage latency");
    is_str(r.expected, "<= 500 ms", "expected the bound");
    is_str(r.got, "501 ms", "got the latency");
}

static void test_field_arg(void) {
    char a[] = "checks.redis.status=failed", b[] = "=x", c[] = "novalue", d[] = "empty=";
    sim_health_field f;
    ok(sim_health_field_parse(a, &f) == 0 && strcmp(f.path, "checks.redis.status") == 0 &&
           strcmp(f.value, "failed") == 0,
       "path=value splits at the first =");
    ok(sim_health_field_parse(b, &f) < 0, "an empty path is refused");
    ok(sim_health_field_parse(c, &f) < 0, "no = is refused");
    ok(sim_health_field_parse(d, &f) == 0 && strcmp(f.value, "") == 0, "an empty value is a value");
}

int main(void) {
    test_pass();
    test_status();
    test_fields();
    test_latency();
    test_field_arg();
    return tap_done();
}
