/* test_expect.c -- the expect section's parser: a full section parsed into
 * its structure, and every kind of bad input with its "file: path: reason"
 * message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "scenario.h"
#include "tap.h"

/* A scenario with one rule, r1, and the given expect section. */
static sim_scenario *parse(const char *expect, char *err, size_t errlen) {
    char json[8192];
    snprintf(json, sizeof(json),
             "{\"faults\":[{\"id\":\"r1\",\"on\":\"ws.send\",\"action\":{\"kind\":\"drop\"}}],"
             "\"expect\":%s}", expect);
    return sim_scenario_parse(json, "x.json", err, errlen);
}

static void test_full(void) {
    char err[512] = "";
    sim_scenario *sc = parse(
        "{\"time_scale\":20,\"steps\":["
        "{\"id\":\"a\",\"probe\":\"golden-path\",\"count\":3,\"token_source\":\"header\"},"
        "{\"id\":\"b\",\"probe\":\"health\",\"after\":\"a\",\"delay_ms\":5,"
        " \"fields\":{\"status\":\"ok\"},\"service\":\"auth\"},"
        "{\"id\":\"c\",\"probe\":\"redis\",\"every_ms\":100,\"until_ms\":900,\"start_ms\":50,"
        " \"breaker\":\"consecutiveFailures=2\"}],"
        "\"checks\":["
        "{\"id\":\"k1\",\"step\":\"a\",\"passed\":{\"eq\":3},\"attempts\":[1,3],"
        " \"close_code\":{\"in\":[1011,1006]}},"
        "{\"id\":\"k2\",\"rule\":\"r1\",\"fired\":{\"range\":[1,2]}},"
        "{\"id\":\"k3\",\"journal\":{\"name\":{\"regex\":\"^tool_\"}},\"count\":{\"eq\":0},"
        " \"from\":{\"event\":{\"eq\":\"breaker\"}}},"
        "{\"id\":\"k4\",\"breaker\":\"c\",\"since\":{\"rule\":\"r1\"},"
        " \"sequence\":[{\"state\":\"CLOSED\"},{\"state\":\"open\",\"time\":\"eligible\","
        "  \"after_prev_ms\":{\"eq\":5}}],\"never\":[\"half_open\"]}]}",
        err, sizeof(err));
    ok(sc && sc->expect, "a full section parses (%s)", err);
    if (!sc || !sc->expect) return;
    const sim_expect *e = sc->expect;
    ok(e->time_scale == 20, "time_scale");
    is_int(e->nsteps, 3, "three steps");
    is_int(e->steps[0].count, 3, "count");
    is_str(e->steps[0].token_source, "header", "token source");
    is_int(e->steps[1].when, SIM_STEP_AFTER, "after");
    is_int(e->steps[1].after, 0, "after step a");
    is_int(e->steps[1].delay_ms, 5, "delay");
    ok(e->steps[1].health_auth, "health of the auth service");
    is_int(e->steps[1].nfields, 1, "one body field");
    is_int(e->steps[2].when, SIM_STEP_EVERY, "every");
    is_int(e->steps[2].until_ms, 900, "until");
    is_str(e->steps[2].breaker, "consecutiveFailures=2", "breaker spec");
    is_int(e->nchecks, 4, "four checks");
    is_int(e->checks[0].kind, SIM_CHECK_STEP, "a step check");
    is_int(e->checks[0].attempts, SIM_ATTEMPTS_LIST, "attempt ordinals");
    is_int(e->checks[0].nordinals, 2, "two ordinals");
    is_int(e->checks[0].result.n, 1, "one result field");
    is_int(e->checks[0].result.v[0].m->kind, SIM_MATCH_IN, "in");
    is_int(e->checks[1].fired->kind, SIM_MATCH_RANGE, "range");
    ok(e->checks[2].has_from && !e->checks[2].has_until, "from without until");
    is_int(e->checks[2].filter.v[0].m->kind, SIM_MATCH_REGEX, "regex");
    is_str(e->checks[3].seq[0].state, "closed", "states are lower case");
    ok(e->checks[3].seq[1].eligible, "eligible time");
    is_str(e->checks[3].since_rule, "r1", "since a rule");
    is_int(e->checks[3].nnever, 1, "never");
    sim_scenario_free(sc);
}

static const struct {
    const char *expect, *error;
} bad[] = {
    {"[]", "x.json: expect: must be an object, not an array"},
    {"{\"checks\":[]}", "x.json: expect.checks: must be a non-empty array"},
    {"{\"steps\":[]}", "x.json: expect.checks: is required"},
    {"{\"foo\":1,\"checks\":[]}", "x.json: expect.foo: unknown key"},
    {"{\"time_scale\":0,\"checks\":[{}]}", "x.json: expect.time_scale: must be >= 0.001"},
    {"{\"checks\":[{\"id\":\"k\",\"step\":\"a\",\"close_code\":{\"equals\":1011}}],"
     "\"steps\":[{\"id\":\"a\",\"probe\":\"golden-path\"}]}",
     "x.json: expect.checks[0].close_code: unknown matcher \"equals\" (eq, in, range, regex)"},
    {"{\"checks\":[{\"id\":\"k\",\"rule\":\"r1\",\"fired\":{\"eq\":1,\"in\":[1]}}]}",
     "x.json: expect.checks[0].fired: must be a matcher: an object with one of eq, in, range, regex"},
    {"{\"checks\":[{\"id\":\"k\",\"rule\":\"r1\",\"fired\":{\"range\":[3,1]}}]}",
     "x.json: expect.checks[0].fired.range: lo must not be greater than hi"},
    {"{\"checks\":[{\"id\":\"k\",\"rule\":\"r1\",\"fired\":{\"range\":[1]}}]}",
     "x.json: expect.checks[0].fired.range: must be [lo, hi], two numbers"},
    {"{\"checks\":[{\"id\":\"k\",\"rule\":\"r1\",\"fired\":{\"in\":[]}}]}",
     "x.json: expect.checks[0].fired.in: must be a non-empty array"},
    {"{\"checks\":[{\"id\":\"k\",\"journal\":{\"name\":{\"regex\":\"(\"}},\"count\":{\"eq\":0}}]}",
     "x.json: expect.checks[0].journal.name.regex: invalid regex \"(\": "},
    {"{\"checks\":[{\"id\":\"k\",\"journal\":{\"nam\":{\"eq\":\"x\"}},\"count\":{\"eq\":0}}]}",
     "x.json: expect.checks[0].journal.nam: unknown key"},
    {"{\"checks\":[{\"id\":\"k\",\"journal\":{}}]}", "x.json: expect.checks[0].count: is required"},
    {"{\"checks\":[{\"id\":\"k\",\"rule\":\"r2\",\"fired\":{\"eq\":1}}]}",
     "x.json: expect.checks[0].rule: no fault rule \"r2\" in this scenario"},
    {"{\"checks\":[{\"id\":\"k\",\"rule\":\"r1\"}]}", "x.json: expect.checks[0].fired: is required"},
    {"{\"checks\":[{\"id\":\"k\",\"rule\":\"r1\",\"step\":\"a\"}]}",
     "x.json: expect.checks[0]: needs exactly one of step, rule, journal, breaker"},
    {"{\"checks\":[{\"id\":\"k\"}]}",
     "x.json: expect.checks[0]: needs exactly one of step, rule, journal, breaker"},
    {"{\"checks\":[{\"rule\":\"r1\",\"fired\":{\"eq\":1}}]}", "x.json: expect.checks[0].id: is required"},
    {"{\"checks\":[{\"id\":\"k\",\"rule\":\"r1\",\"fired\":{\"eq\":1}},"
     "{\"id\":\"k\",\"rule\":\"r1\",\"fired\":{\"eq\":1}}]}",
     "x.json: expect.checks[1].id: duplicate check id \"k\""},
    {"{\"checks\":[{\"id\":\"expect-digest\",\"rule\":\"r1\",\"fired\":{\"eq\":1}}]}",
     "x.json: expect.checks[0].id: \"expect-digest\" is the digest comparison's own id"},
    {"{\"checks\":[{\"id\":\"k\",\"step\":\"zz\",\"passed\":{\"eq\":1}}]}",
     "x.json: expect.checks[0].step: no step \"zz\""},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"golden-path\"}],\"checks\":[{\"id\":\"k\",\"step\":\"a\"}]}",
     "x.json: expect.checks[0]: needs passed, failed or a result field (stage, failure, close_code, ...)"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"golden-path\"}],"
     "\"checks\":[{\"id\":\"k\",\"step\":\"a\",\"attempts\":\"some\",\"ok\":{\"eq\":true}}]}",
     "x.json: expect.checks[0].attempts: must be \"all\", \"any\" or a non-empty array of attempt ordinals"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"golden-path\"}],"
     "\"checks\":[{\"id\":\"k\",\"step\":\"a\",\"attempts\":[0],\"ok\":{\"eq\":true}}]}",
     "x.json: expect.checks[0].attempts[0]: must be an attempt ordinal (an integer >= 1)"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"golden-path\"}],"
     "\"checks\":[{\"id\":\"k\",\"step\":\"a\",\"attempts\":\"any\",\"passed\":{\"eq\":1}}]}",
     "x.json: expect.checks[0]: attempts needs a result field to match"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"golden-path\"}],"
     "\"checks\":[{\"id\":\"k\",\"step\":\"a\",\"detail\":{\"eq\":\"x\"}}]}",
     "x.json: expect.checks[0].detail: unknown key"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"ftp\"}],\"checks\":[{}]}",
     "x.json: expect.steps[0].probe: unknown probe \"ftp\" (golden-path, health, auth, redis)"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"health\",\"ws_path\":\"/ws\"}],\"checks\":[{}]}",
     "x.json: expect.steps[0].ws_path: not an option of the health probe"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"health\",\"url\":\"x\"}],\"checks\":[{}]}",
     "x.json: expect.steps[0].url: unknown key"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"redis\"},{\"id\":\"a\",\"probe\":\"redis\"}],\"checks\":[{}]}",
     "x.json: expect.steps[1].id: duplicate step id \"a\""},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"redis\",\"after\":\"b\"},{\"id\":\"b\",\"probe\":\"redis\"}],"
     "\"checks\":[{}]}",
     "x.json: expect.steps[0].after: \"b\" is not a step listed before this one"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"redis\"},{\"id\":\"b\",\"probe\":\"redis\",\"after\":\"a\","
     "\"start_ms\":1}],\"checks\":[{}]}",
     "x.json: expect.steps[1].after: not with start_ms or every_ms"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"redis\",\"every_ms\":10}],\"checks\":[{}]}",
     "x.json: expect.steps[0].until_ms: is required with every_ms"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"redis\",\"delay_ms\":10}],\"checks\":[{}]}",
     "x.json: expect.steps[0]: delay_ms goes with after"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"redis\",\"count\":0}],\"checks\":[{}]}",
     "x.json: expect.steps[0].count: must be >= 1"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"golden-path\",\"token_source\":\"cookie\"}],\"checks\":[{}]}",
     "x.json: expect.steps[0].token_source: must be query, header or subprotocol, not \"cookie\""},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"golden-path\",\"password\":\"p\",\"e2e_key\":\"k\"}],"
     "\"checks\":[{}]}", "x.json: expect.steps[0]: password or e2e_key, not both"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"health\",\"path\":\"health\"}],\"checks\":[{}]}",
     "x.json: expect.steps[0].path: must start with /"},
    {"{\"steps\":[{\"id\":\"a\",\"probe\":\"redis\",\"breaker\":\"fooBar=1\"}],\"checks\":[{}]}",
     "x.json: expect.steps[0].breaker: fooBar: unknown key"},
    {"{\"checks\":[{\"id\":\"k\",\"breaker\":\"b\"}]}", "x.json: expect.checks[0]: needs sequence or never"},
    {"{\"checks\":[{\"id\":\"k\",\"breaker\":\"b\",\"never\":[\"ajar\"]}]}",
     "x.json: expect.checks[0].never[0]: unknown breaker state \"ajar\" (closed, open, half_open, "
     "forced_open, disabled, metrics_only)"},
    {"{\"checks\":[{\"id\":\"k\",\"breaker\":\"b\",\"sequence\":[{\"at_ms\":{\"eq\":1}}]}]}",
     "x.json: expect.checks[0].sequence[0].state: is required"},
    {"{\"checks\":[{\"id\":\"k\",\"breaker\":\"b\",\"sequence\":[{\"state\":\"open\",\"time\":\"now\"}]}]}",
     "x.json: expect.checks[0].sequence[0].time: must be observed or eligible, not \"now\""},
    {"{\"checks\":[{\"id\":\"k\",\"breaker\":\"b\",\"never\":[\"open\"],\"since\":{\"rule\":\"r1\","
     "\"step\":\"a\"}}]}", "x.json: expect.checks[0].since: must have one of step, rule"},
    {"{\"checks\":[{\"id\":\"k\",\"breaker\":\"b\",\"never\":[\"open\"],\"since\":{\"rule\":\"zz\"}}]}",
     "x.json: expect.checks[0].since.rule: no fault rule \"zz\" in this scenario"},
};

static void test_bad(void) {
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[512] = "";
        const char *want = bad[i].error;
        sim_scenario *sc = parse(bad[i].expect, err, sizeof(err));
        ok(!sc, "rejected: %s", bad[i].expect);
        /* A regex's reason is the C library's: compare up to it. (The
         * description names the case by number: gcc 12 with UBSan warns,
         * wrongly, that want may be NULL in a %s.) */
        if (!ok(strncmp(err, want, strlen(want)) == 0, "message of case %zu", i))
            printf("#   got \"%s\"\n#  want \"%s...\"\n", err, bad[i].error);
        sim_scenario_free(sc);
    }
}

int main(void) {
    test_full();
    test_bad();
    return tap_done();
}
