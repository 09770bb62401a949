/* test_jcheck.c -- the typed JSON checks the scenario loader and the rule
 * parser share (sim/base/jcheck.c): one value and nothing after it, every
 * error naming origin, path and reason, the first error kept. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "jcheck.h"
#include "tap.h"

static cJSON *parse(const char *text, size_t *at) {
    return sim_jcheck_parse(text, strlen(text), at);
}

static void test_parse(void) {
    size_t at = 99;
    cJSON *v = parse(" {\"type\":\"ping\"} \n", &at);
    ok(v && cJSON_IsObject(v), "one object, whitespace around");
    cJSON_Delete(v);
    ok(parse("{\"type\":\"ping\"} garbage", &at) == NULL, "trailing bytes refused");
    is_int(at, 16, "the error is at the first trailing byte");
    ok(parse("{\"a\":", &at) == NULL, "truncated refused");
    ok(parse("", &at) == NULL, "empty refused");
    ok(parse("{} {}", NULL) == NULL, "two values refused, error_at may be NULL");
    /* A NUL inside the length is not the end of the text. */
    ok(sim_jcheck_parse("1\0 2", 4, &at) == NULL, "bytes after a NUL inside len count");
}

static void test_messages(void) {
    char err[160] = "";
    sim_jcheck c = {.origin = "scenarios/x.json", .err = err, .errlen = sizeof(err)};
    is_int(sim_jcheck_fail(&c, "agent.gap_ms", "must be >= %d", 0), -1, "fail returns -1");
    is_str(err, "scenarios/x.json: agent.gap_ms: must be >= 0", "origin: path: reason");
    sim_jcheck_fail(&c, "other", "second");
    is_str(err, "scenarios/x.json: agent.gap_ms: must be >= 0", "only the first error is kept");

    char e2[80] = "";
    sim_jcheck bare = {.err = e2, .errlen = sizeof(e2)};
    sim_jcheck_fail(&bare, "", "not JSON");
    is_str(e2, "not JSON", "no origin, no path: the reason alone");

    char path[32];
    sim_jcheck_join(path, sizeof(path), "", "auth");
    is_str(path, "auth", "join at the root");
    sim_jcheck_join(path, sizeof(path), "faults[2]", "on");
    is_str(path, "faults[2].on", "join below");

    cJSON *arr = cJSON_CreateArray();
    is_str(sim_jcheck_type(arr), "an array", "type names for messages");
    cJSON_Delete(arr);
}

static void test_members(void) {
    char err[160];
    sim_jcheck c = {.origin = NULL, .err = err, .errlen = sizeof(err)};
    cJSON *o = parse("{\"name\":\"x\",\"n\":2.5,\"k\":3,\"list\":[\"a\",\"b\"],\"empty\":\"\"}", NULL);

    static const char *const allowed[] = {"name", "n", "k", "list", "empty", NULL};
    is_int(sim_jcheck_keys(&c, o, "", allowed), 0, "every key allowed");
    static const char *const fewer[] = {"name", NULL};
    err[0] = 0;
    c.failed = 0;
    is_int(sim_jcheck_keys(&c, o, "scenario", fewer), -1, "an unknown key refused");
    is_str(err, "scenario.n: unknown key", "names the key by its path");

    char *s = NULL;
    sim_jcheck ok_c = {.err = err, .errlen = sizeof(err)};
    is_int(sim_jcheck_string(&ok_c, o, "", "name", &s, 1), 0, "a string");
    is_str(s, "x", "copied");
    free(s);
    s = NULL;
    is_int(sim_jcheck_string(&ok_c, o, "", "absent", &s, 0), 0, "absent optional: fine");
    ok(s == NULL, "and left alone");
    sim_jcheck c3 = {.err = err, .errlen = sizeof(err)};
    is_int(sim_jcheck_string(&c3, o, "", "empty", &s, 1), -1, "required and empty refused");
    sim_jcheck c4 = {.err = err, .errlen = sizeof(err)};
    is_int(sim_jcheck_string(&c4, o, "", "k", &s, 0), -1, "a number where a string goes");

    double d = 0;
    int present = 0;
    sim_jcheck c5 = {.err = err, .errlen = sizeof(err)};
    is_int(sim_jcheck_number(&c5, o, "", "k", 0, 10, 1, &d, &present), 0, "an integer in range");
    ok(d == 3 && present, "read and present");
    sim_jcheck c6 = {.err = err, .errlen = sizeof(err)};
    is_int(sim_jcheck_number(&c6, o, "agent", "n", 0, 10, 1, &d, NULL), -1, "2.5 is not an integer");
    ok(strstr(err, "agent.n") != NULL, "the path names the member: %s", err);
    sim_jcheck c7 = {.err = err, .errlen = sizeof(err)};
    is_int(sim_jcheck_number(&c7, o, "", "k", 4, 10, 1, &d, NULL), -1, "below min refused");
    present = 1;
    sim_jcheck c8 = {.err = err, .errlen = sizeof(err)};
    is_int(sim_jcheck_number(&c8, o, "", "absent", 0, 1, 0, &d, &present), 0, "absent number");
    ok(!present, "says absent");

    char **list = NULL;
    size_t n = 0;
    sim_jcheck c9 = {.err = err, .errlen = sizeof(err)};
    is_int(sim_jcheck_strings(&c9, o, "", "list", &list, &n, 1), 0, "an array of strings");
    is_int(n, 2, "two");
    is_str(list[1], "b", "in order");
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
    cJSON_Delete(o);
}

int main(void) {
    test_parse();
    test_messages();
    test_members();
    return tap_done();
}
