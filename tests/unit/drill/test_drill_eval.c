/* test_drill_eval.c -- matchers, and every kind of check judged against
 * synthetic attempts and synthetic journal lines: step outcomes (counts,
 * all / any / ordinals), rule firings, journal counts with windows, breaker
 * sequences with time bounds, never, and checks that cannot be evaluated. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill_eval.h"
#include "drill_match.h"
#include "scenario.h"
#include "tap.h"

/* A scenario with rule r1, steps s1 and s2, and these checks. */
static sim_scenario *with_checks(const char *checks) {
    char json[8192], err[512] = "";
    snprintf(json, sizeof(json),
             "{\"faults\":[{\"id\":\"r1\",\"on\":\"ws.send\",\"action\":{\"kind\":\"drop\"}}],"
             "\"expect\":{\"steps\":[{\"id\":\"s1\",\"probe\":\"golden-path\"},"
             "{\"id\":\"s2\",\"probe\":\"golden-path\"}],\"checks\":%s}}", checks);
    sim_scenario *sc = sim_scenario_parse(json, "t.json", err, sizeof(err));
    if (!sc) printf("# %s\n", err);
    sim_assert(sc);
    return sc;
}

static sim_probe_result pass(int attempt, int64_t latency) {
    sim_probe_result r;
    sim_probe_result_init(&r, attempt);
    r.ok = 1;
    r.latency_ms = latency;
    return r;
}

static sim_probe_result closed(int attempt, int code, int ordinal) {
    sim_probe_result r;
    sim_probe_result_init(&r, attempt);
    sim_probe_fail(&r, "close", "closed", "close %d", code);
    r.close_code = code;
    SIM_PROBE_SET(r.close_reason, "Internal error");
    SIM_PROBE_SET(r.expected, "tool_executing");
    r.event_ordinal = ordinal;
    return r;
}

static void journal_of(sim_drill_journal *j, const char *text) {
    char err[128];
    memset(j, 0, sizeof(*j));
    sim_assert(sim_drill_journal_parse(j, text, err, sizeof(err)) == 0);
}

/* Evaluates sc's checks; returns the verdicts (caller frees). */
static sim_drill_verdicts judge(const sim_scenario *sc, sim_drill_step_outcome *steps,
                                const char *journal) {
    sim_drill_journal j;
    journal_of(&j, journal);
    sim_drill_verdicts v = {0};
    sim_drill_evaluate(sc->expect, steps, &j, &v);
    sim_drill_journal_free(&j);
    return v;
}

static void test_matchers(void) {
    sim_scenario *sc = with_checks(
        "[{\"id\":\"a\",\"journal\":{\"code\":{\"eq\":1011},\"name\":{\"in\":[\"x\",null]},"
        "\"t_ms\":{\"range\":[10,20]},\"user\":{\"regex\":\"^user-(alice|bob)$\"},"
        "\"rule\":{\"eq\":null}},\"count\":{\"eq\":1}}]");
    const sim_expect_fields *f = &sc->expect->checks[0].filter;
    sim_value n1011 = {.type = SIM_VAL_NUM, .num = 1011}, s1011 = {.type = SIM_VAL_STR, .str = "1011"};
    sim_value null = {.type = SIM_VAL_NULL}, x = {.type = SIM_VAL_STR, .str = "x"};
    sim_value alice = {.type = SIM_VAL_STR, .str = "user-alice"};
    sim_value eve = {.type = SIM_VAL_STR, .str = "user-eve"};
    ok(sim_drill_match(f->v[0].m, &n1011), "eq: the number");
    ok(!sim_drill_match(f->v[0].m, &s1011), "eq: not the same number as a string");
    ok(sim_drill_match(f->v[1].m, &x) && sim_drill_match(f->v[1].m, &null), "in: either value");
    ok(!sim_drill_match(f->v[1].m, &alice), "in: not another");
    sim_value t9 = {.type = SIM_VAL_NUM, .num = 9}, t10 = {.type = SIM_VAL_NUM, .num = 10};
    sim_value t20 = {.type = SIM_VAL_NUM, .num = 20}, t21 = {.type = SIM_VAL_NUM, .num = 20.5};
    ok(sim_drill_match(f->v[2].m, &t10) && sim_drill_match(f->v[2].m, &t20), "range: inclusive");
    ok(!sim_drill_match(f->v[2].m, &t9) && !sim_drill_match(f->v[2].m, &t21), "range: outside");
    ok(!sim_drill_match(f->v[2].m, &null), "range: null is not a number");
    ok(sim_drill_match(f->v[3].m, &alice) && !sim_drill_match(f->v[3].m, &eve), "regex: ERE");
    ok(!sim_drill_match(f->v[3].m, &null), "regex: null is not a string");
    ok(sim_drill_match(f->v[4].m, &null) && !sim_drill_match(f->v[4].m, &x), "eq null");
    sim_buf b = {0};
    for (size_t i = 0; i < f->n; i++) {
        sim_buf_puts(&b, i ? " | " : "");
        sim_drill_matcher_text(f->v[i].m, &b);
    }
    is_str(b.data, "1011 | one of [\"x\", null] | in [10, 20] | matching /^user-(alice|bob)$/ | null",
           "matcher texts");
    sim_buf_free(&b);
    sim_scenario_free(sc);
}

static void test_step_checks(void) {
    sim_scenario *sc = with_checks(
        "[{\"id\":\"counts\",\"step\":\"s1\",\"passed\":{\"eq\":1},\"failed\":{\"eq\":2}},"
        "{\"id\":\"all\",\"step\":\"s1\",\"close_code\":{\"eq\":1011},\"event_ordinal\":{\"eq\":3}},"
        "{\"id\":\"any\",\"step\":\"s1\",\"attempts\":\"any\",\"close_code\":{\"eq\":1006}},"
        "{\"id\":\"listed\",\"step\":\"s1\",\"attempts\":[1,3],\"stage\":{\"eq\":\"close\"}},"
        "{\"id\":\"missing\",\"step\":\"s1\",\"attempts\":[4],\"ok\":{\"eq\":true}},"
        "{\"id\":\"latency\",\"step\":\"s1\",\"attempts\":[2],\"latency_ms\":{\"range\":[100,200]}},"
        "{\"id\":\"unstarted\",\"step\":\"s2\",\"passed\":{\"eq\":1}}]");
    sim_probe_result r[3] = {closed(1, 1011, 3), pass(2, 150), closed(3, 1006, 3)};
    sim_drill_step_outcome steps[2] = {{.started = 1, .attempts = r, .n = 3},
                                       {.error = "--backend: bad"}};
    sim_drill_verdicts v = judge(sc, steps, "");
    is_int(v.n, 7, "seven verdicts");
    is_int(v.v[0].status, SIM_VERDICT_PASS, "counts: one passed, two failed");
    is_str(v.v[0].actual, "passed 1, failed 2", "counts: actual");
    is_str(v.v[0].expected, "passed 1, failed 2", "counts: expected");
    is_int(v.v[1].status, SIM_VERDICT_FAIL, "all: attempt 2 passed, so its close_code is null");
    is_str(v.v[1].actual, "attempt 2: close_code null, event_ordinal null", "all: the first that differs");
    is_str(v.v[1].expected, "every attempt: close_code 1011, event_ordinal 3", "all: expected");
    is_int(v.v[2].status, SIM_VERDICT_PASS, "any: attempt 3");
    is_str(v.v[2].actual, "attempt 3: close_code 1006 (close 1006)", "any: the one that matched");
    is_int(v.v[3].status, SIM_VERDICT_PASS, "listed: attempts 1 and 3 closed");
    is_int(v.v[4].status, SIM_VERDICT_FAIL, "listed: no attempt 4");
    is_str(v.v[4].actual, "attempt 4 missing (3 attempts)", "missing attempt named");
    is_int(v.v[5].status, SIM_VERDICT_PASS, "latency in range");
    is_int(v.v[6].status, SIM_VERDICT_ERROR, "a step that did not start: error");
    is_str(v.v[6].actual, "step s2 did not start: --backend: bad", "error: why");
    sim_drill_verdicts_free(&v);
    sim_scenario_free(sc);
}

static const char journal[] =
    "{\"t_ms\":5,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"accept\",\"conn\":1}\n"
    "{\"t_ms\":9,\"svc\":\"redis\",\"proto\":\"resp\",\"point\":\"request\",\"conn\":1,\"name\":\"get\"}\n"
    "{\"t_ms\":10,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"send\",\"conn\":1,\"name\":\"tool_executing\","
    "\"rule\":\"r1\",\"action\":\"drop\"}\n"
    "{\"t_ms\":1000,\"svc\":\"backend\",\"event\":\"breaker\",\"breaker\":\"redis\",\"from\":\"closed\","
    "\"to\":\"open\",\"eligible_ms\":1000,\"reason\":\"consecutive_failures\"}\n"
    "{\"t_ms\":1500,\"svc\":\"redis\",\"proto\":\"resp\",\"point\":\"request\",\"conn\":2,\"name\":\"set\"}\n"
    "{\"t_ms\":61020,\"svc\":\"backend\",\"event\":\"breaker\",\"breaker\":\"redis\",\"from\":\"open\","
    "\"to\":\"half_open\",\"eligible_ms\":61000,\"reason\":\"wait_elapsed\"}\n"
    "{\"t_ms\":61030,\"svc\":\"redis\",\"proto\":\"resp\",\"point\":\"request\",\"conn\":2,\"name\":\"set\"}\n"
    "{\"t_ms\":61040,\"svc\":\"backend\",\"event\":\"breaker\",\"breaker\":\"redis\",\"from\":\"half_open\","
    "\"to\":\"closed\",\"eligible_ms\":61040,\"reason\":\"success_threshold\"}\n"
    "{\"t_ms\":61050,\"svc\":\"drill\",\"event\":\"breaker\",\"breaker\":\"redis\",\"from\":\"closed\","
    "\"to\":\"forced_open\",\"eligible_ms\":61050,\"reason\":\"manual\"}\n";

static void test_journal_checks(void) {
    sim_scenario *sc = with_checks(
        "[{\"id\":\"fired\",\"rule\":\"r1\",\"fired\":{\"eq\":1}},"
        "{\"id\":\"fired-twice\",\"rule\":\"r1\",\"fired\":{\"eq\":2}},"
        "{\"id\":\"redis-commands\",\"journal\":{\"svc\":{\"eq\":\"redis\"},\"point\":{\"eq\":\"request\"}},"
        " \"count\":{\"eq\":3}},"
        "{\"id\":\"none-while-open\",\"journal\":{\"svc\":{\"eq\":\"redis\"},\"point\":{\"eq\":\"request\"}},"
        " \"count\":{\"eq\":0},\"from\":{\"event\":{\"eq\":\"breaker\"},\"to\":{\"eq\":\"open\"}},"
        " \"until\":{\"event\":{\"eq\":\"breaker\"},\"to\":{\"eq\":\"half_open\"}}},"
        "{\"id\":\"in-window\",\"journal\":{\"svc\":{\"eq\":\"redis\"},\"t_ms\":{\"range\":[0,100]}},"
        " \"count\":{\"eq\":1}},"
        "{\"id\":\"no-anchor\",\"journal\":{\"svc\":{\"eq\":\"auth\"}},\"count\":{\"eq\":0},"
        " \"from\":{\"event\":{\"eq\":\"nothing\"}}}]");
    sim_drill_step_outcome steps[2] = {{0}, {0}};
    sim_drill_verdicts v = judge(sc, steps, journal);
    is_int(v.v[0].status, SIM_VERDICT_PASS, "rule fired once");
    is_int(v.v[1].status, SIM_VERDICT_FAIL, "not twice");
    is_str(v.v[1].expected, "rule r1 fired 2", "fired: expected");
    is_str(v.v[1].actual, "rule r1 fired 1", "fired: actual");
    is_int(v.v[2].status, SIM_VERDICT_PASS, "three Redis commands");
    is_int(v.v[3].status, SIM_VERDICT_FAIL, "one Redis command while the breaker was open");
    ok(strstr(v.v[3].actual, "count 1, the first line 5: {\"t_ms\":1500,") == v.v[3].actual,
       "the offending line is quoted: %s", v.v[3].actual);
    is_int(v.v[4].status, SIM_VERDICT_PASS, "a time window through t_ms");
    is_int(v.v[5].status, SIM_VERDICT_ERROR, "a from that never occurs: error");
    sim_drill_verdicts_free(&v);
    sim_scenario_free(sc);
}

static void test_breaker_checks(void) {
    sim_scenario *sc = with_checks(
        "[{\"id\":\"cycle\",\"breaker\":\"redis\",\"svc\":\"backend\",\"since\":{\"rule\":\"r1\"},"
        " \"sequence\":[{\"state\":\"closed\"},{\"state\":\"open\",\"at_ms\":{\"range\":[0,2000]}},"
        "  {\"state\":\"half_open\",\"time\":\"eligible\",\"after_prev_ms\":{\"eq\":60000}},"
        "  {\"state\":\"closed\"}],\"never\":[\"forced_open\"]},"
        "{\"id\":\"observed-late\",\"breaker\":\"redis\",\"svc\":\"backend\","
        " \"sequence\":[{\"state\":\"closed\"},{\"state\":\"open\"},"
        "  {\"state\":\"half_open\",\"after_prev_ms\":{\"eq\":60000}},{\"state\":\"closed\"}]},"
        "{\"id\":\"too-late\",\"breaker\":\"redis\",\"svc\":\"backend\",\"since\":{\"step\":\"s1\"},"
        " \"sequence\":[{\"state\":\"closed\"},{\"state\":\"open\",\"at_ms\":{\"range\":[0,500]}},"
        "  {\"state\":\"half_open\"},{\"state\":\"closed\"}]},"
        "{\"id\":\"short\",\"breaker\":\"redis\",\"svc\":\"backend\","
        " \"sequence\":[{\"state\":\"closed\"},{\"state\":\"open\"}]},"
        "{\"id\":\"wrong-state\",\"breaker\":\"redis\",\"svc\":\"backend\","
        " \"sequence\":[{\"state\":\"closed\"},{\"state\":\"half_open\"},{\"state\":\"open\"},"
        "  {\"state\":\"closed\"}]},"
        "{\"id\":\"any-svc-never\",\"breaker\":\"redis\",\"never\":[\"forced_open\"]},"
        "{\"id\":\"untouched\",\"breaker\":\"auth\",\"sequence\":[{\"state\":\"closed\"}],"
        " \"never\":[\"open\"]},"
        "{\"id\":\"unstarted\",\"breaker\":\"auth\",\"never\":[\"open\"],\"since\":{\"step\":\"s2\"}}]");
    sim_probe_result r[1] = {pass(1, 10)};
    sim_drill_step_outcome steps[2] = {{.started = 1, .start_ms = 200, .attempts = r, .n = 1}, {0}};
    sim_drill_verdicts v = judge(sc, steps, journal);
    is_int(v.v[0].status, SIM_VERDICT_PASS, "closed -> open within 2 s of the rule -> half_open at "
           "open + 60 s -> closed, never forced open (%s)", v.v[0].actual);
    is_str(v.v[0].actual, "breaker redis: closed@0 -> open@990 -> half_open@61010 (eligible 60990) "
           "-> closed@61030", "the states as seen, from the rule's first firing");
    /* Each failing check names the first thing that broke. */
    static const struct {
        size_t check;
        const char *why, *what;
    } broken[] = {
        {1, "; half_open after_prev_ms 60020", "observed 20 ms after it was due"},
        {2, "; open at_ms 800", "opened 800 ms after the step's start"},
        {3, "; 4 states, expected 2", "a sequence is the whole life"},
        {4, "; state 2 is open, expected half_open", "states in order"},
        {5, "; forced_open occurred", "without svc, the drill's forced_open line counts"},
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        const sim_drill_verdict *b = &v.v[broken[i].check];
        ok(b->status == SIM_VERDICT_FAIL && strstr(b->actual, broken[i].why), "%s: %s",
           broken[i].what, b->actual);
    }
    is_int(v.v[6].status, SIM_VERDICT_PASS, "a breaker with no line is closed alone");
    is_int(v.v[7].status, SIM_VERDICT_ERROR, "since a step that never started: error");
    is_str(v.v[7].actual, "step s2 never started", "error: why");
    sim_drill_verdicts_free(&v);
    sim_scenario_free(sc);
}

int main(void) {
    test_matchers();
    test_step_checks();
    test_journal_checks();
    test_breaker_checks();
    return tap_done();
}
