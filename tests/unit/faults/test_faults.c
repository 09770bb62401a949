/* test_faults.c -- the fault engine without sockets: rule validation
 * messages, matching, nth/every/first/after/times, probability within the
 * binomial interval, determinism across seeds and rule sets, jitter, ttl,
 * the journal and the metrics. `now` is driven by the test. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "tap.h"
#include "util.h"

static int add(sim_faults *f, const char *json, int64_t now_ms, char *err, size_t errlen) {
    cJSON *j = cJSON_Parse(json);
    if (!j) {
        snprintf(err, errlen, "test JSON does not parse");
        return -1;
    }
    int rc = sim_faults_add(f, j, "faults[0]", 1, now_ms, err, errlen);
    cJSON_Delete(j);
    return rc;
}

static sim_wire ws_send(uint64_t conn, uint64_t msg, const char *name) {
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_SEND, .proto = "ws",
                  .name = name, .conn = conn, .msg = msg, .run = 1, .user_id = "user-alice"};
    return w;
}

static const struct {
    const char *json;
    const char *msg;
} bad[] = {
    {"[]", "faults[0]: must be an object, not an array"},
    {"{\"on\":\"ws.send\",\"action\":{\"kind\":\"drop\"}}", "faults[0].id: is required"},
    {"{\"id\":\"a b\",\"on\":\"ws.send\",\"action\":{\"kind\":\"drop\"}}",
     "faults[0].id: must be 1-64 characters of A-Z a-z 0-9 - _ ."},
    {"{\"id\":\"a\",\"action\":{\"kind\":\"drop\"}}", "faults[0].on: is required"},
    {"{\"id\":\"a\",\"on\":\"ws.recv\",\"action\":{\"kind\":\"drop\"}}",
     "faults[0].on: unknown place \"ws.recv\" (http.request, ws.accept, ws.message, ws.send, "
     "auth.request, auth.token, redis.accept, redis.command, redis.message, dep.connect)"},
    {"{\"id\":\"a\",\"on\":\"ws.send\"}", "faults[0].action: is required"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{}}", "faults[0].action.kind: is required"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"explode\"}}",
     "faults[0].action.kind: unknown action \"explode\""},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"status\",\"status\":500}}",
     "faults[0].action.kind: \"status\" does not apply on ws.send"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"close\",\"code\":1006}}",
     "faults[0].action.code: 1006 is not sendable (reserved for reporting a missing or abnormal close)"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"close\",\"code\":1005}}",
     "faults[0].action.code: 1005 is not sendable (reserved for reporting a missing or abnormal close)"},
    {"{\"id\":\"a\",\"on\":\"ws.accept\",\"action\":{\"kind\":\"close\",\"send_first\":true}}",
     "faults[0].action.send_first: only applies on ws.send"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"close\",\"send_first\":1}}",
     "faults[0].action.send_first: must be a boolean, not a number"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"close\",\"code\":2000}}",
     "faults[0].action.code: 2000 is not a sendable close code (1000-1003, 1007-1014, 3000-4999)"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"after_ms\":-1,\"action\":{\"kind\":\"drop\"}}",
     "faults[0].after_ms: must be >= 0"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"p\":1.5,\"action\":{\"kind\":\"drop\"}}",
     "faults[0].p: must be <= 1"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"nth\":0,\"action\":{\"kind\":\"drop\"}}",
     "faults[0].nth: must be >= 1"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"every\":\"2\",\"action\":{\"kind\":\"drop\"}}",
     "faults[0].every: must be a number, not a string"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"after_ms\":50,\"until_ms\":10,\"action\":{\"kind\":\"drop\"}}",
     "faults[0].until_ms: must be greater than after_ms"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"whenever\":1,\"action\":{\"kind\":\"drop\"}}",
     "faults[0].whenever: unknown key"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"match\":{\"type\":\"x\"},\"action\":{\"kind\":\"drop\"}}",
     "faults[0].match.type: unknown key"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"delay\"}}", "faults[0].action.ms: is required"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"delay\",\"ms\":5,\"jiter_ms\":1}}",
     "faults[0].action.jiter_ms: unknown key"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"malform\",\"mode\":\"remove_field\"}}",
     "faults[0].action.field: is required for mode remove_field and wrong_type"},
    {"{\"id\":\"a\",\"on\":\"redis.command\",\"action\":{\"kind\":\"error\"}}",
     "faults[0].action.text: is required (e.g. \"LOADING Redis is loading the dataset in memory\")"},
    {"{\"id\":\"a\",\"on\":\"redis.accept\",\"action\":{\"kind\":\"refuse\"}}", "faults[0].action.ms: is required"},
    {"{\"id\":\"a\",\"on\":\"http.request\",\"action\":{\"kind\":\"status\",\"status\":999}}",
     "faults[0].action.status: must be <= 599"},
    {"{\"id\":\"a\",\"on\":\"ws.accept\",\"action\":{\"kind\":\"replace\",\"type\":\"error_message\","
     "\"details\":[1]}}", "faults[0].action.details: must be an object"},
    {"{\"id\":\"a\",\"on\":\"ws.accept\",\"action\":{\"kind\":\"replace\",\"type\":\"error_message\","
     "\"nested\":1}}", "faults[0].action.nested: must be true or false"},
    {"{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"replace\",\"type\":\"agent_error\","
     "\"nested\":true}}", "faults[0].action.nested: is only for type \"error_message\""},
};

static void test_validation(void) {
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[512] = "";
        cJSON *j = cJSON_Parse(bad[i].json);
        ok(j && sim_fault_rule_check(j, "faults[0]", err, sizeof(err)) == -1, "rejected: %s", bad[i].json);
        is_str(err, bad[i].msg, "message");
        cJSON_Delete(j);
    }
    sim_faults *f = sim_faults_new(1, NULL, 0);
    char err[256] = "";
    is_int(add(f, "{\"id\":\"x\",\"on\":\"ws.send\",\"action\":{\"kind\":\"drop\"}}", 0, err, sizeof(err)), 0, "added");
    is_int(add(f, "{\"id\":\"x\",\"on\":\"ws.send\",\"action\":{\"kind\":\"drop\"}}", 0, err, sizeof(err)), -1, "duplicate id");
    is_str(err, "faults[0].id: duplicate rule id \"x\"", "duplicate message");
    sim_faults_free(f);
}

static void test_match_and_counts(void) {
    sim_faults *f = sim_faults_new(1, NULL, 0);
    char err[256] = "";
    is_int(add(f, "{\"id\":\"close-2nd-thinking\",\"on\":\"ws.send\",\"match\":{\"name\":\"agent_thinking\"},"
                  "\"nth\":2,\"action\":{\"kind\":\"close\",\"code\":1011,\"reason\":\"Internal error\"}}",
               0, err, sizeof(err)), 0, "nth rule (%s)", err);
    sim_action a;
    int fired_at = 0;
    for (int i = 1; i <= 5; i++) {
        sim_wire w = ws_send(3, (uint64_t)i, "agent_thinking");
        sim_faults_cross(f, &w, 1, &a);
        if (a.kind == SIM_ACT_CLOSE) {
            fired_at = i;
            is_int(a.code, 1011, "close code");
            is_str(a.text, "Internal error", "close reason");
            is_str(a.rule_id, "close-2nd-thinking", "rule id");
        }
    }
    is_int(fired_at, 2, "fired on the 2nd agent_thinking of the connection");
    sim_wire other = ws_send(3, 9, "agent_started");
    sim_faults_cross(f, &other, 1, &a);
    is_int(a.kind, SIM_ACT_PASS, "other events pass");
    /* Another connection counts on its own. */
    sim_wire w1 = ws_send(4, 1, "agent_thinking"), w2 = ws_send(4, 2, "agent_thinking");
    sim_faults_cross(f, &w1, 1, &a);
    is_int(a.kind, SIM_ACT_PASS, "conn 4: 1st passes");
    sim_faults_cross(f, &w2, 1, &a);
    is_int(a.kind, SIM_ACT_CLOSE, "conn 4: 2nd closes");
    is_int(sim_faults_fired(f, "close-2nd-thinking"), 2, "fired twice");
    sim_faults_clear(f);

    add(f, "{\"id\":\"e\",\"on\":\"redis.command\",\"match\":{\"name\":\"get\",\"key\":\"session:*\"},"
           "\"every\":3,\"times\":2,\"action\":{\"kind\":\"error\",\"text\":\"LOADING Redis is loading\"}}",
        0, err, sizeof(err));
    int n = 0;
    for (int i = 1; i <= 12; i++) {
        sim_wire w = {.service = SIM_SVC_REDIS, .point = SIM_WIRE_REQUEST, .proto = "resp",
                      .name = "get", .key = i % 2 ? "session:1" : "other", .conn = 1, .msg = (uint64_t)i};
        sim_faults_cross(f, &w, 1, &a);
        if (a.kind == SIM_ACT_REPLY) n++;
    }
    is_int(n, 2, "every 3rd matching key, at most twice");
    is_int(sim_faults_fired(f, "e"), 2, "fired count");
    sim_faults_reset(f);
    is_int(sim_faults_count(f), 0, "reset removes run-time rules");
    sim_faults_free(f);
}

static void test_first_after_window(void) {
    sim_faults *f = sim_faults_new(1, NULL, 100000);
    char err[256];
    add(f, "{\"id\":\"f\",\"on\":\"ws.message\",\"first\":2,\"action\":{\"kind\":\"drop\"}}", 100000, err, sizeof(err));
    add(f, "{\"id\":\"a\",\"on\":\"ws.send\",\"after\":3,\"after_ms\":1000,\"until_ms\":2000,"
           "\"action\":{\"kind\":\"drop\"}}", 100000, err, sizeof(err));
    sim_action a;
    int pattern = 0;
    for (int i = 1; i <= 4; i++) {
        sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_REQUEST, .proto = "ws",
                      .name = "user_message", .conn = 1, .msg = (uint64_t)i};
        sim_faults_cross(f, &w, 100000, &a);
        pattern = pattern * 10 + (a.kind == SIM_ACT_DROP);
    }
    is_int(pattern, 1100, "first 2 messages dropped");
    pattern = 0;
    int64_t times[] = {100500, 101000, 101200, 101500, 101900, 102000};
    for (int i = 0; i < 6; i++) {
        sim_wire w = ws_send(1, (uint64_t)i + 1, "agent_started");
        sim_faults_cross(f, &w, times[i], &a);
        pattern = pattern * 10 + (a.kind == SIM_ACT_DROP);
    }
    /* matches 1..3 never; 4 at 1.5 s and 5 at 1.9 s inside the window; 6 at 2.0 s out. */
    is_int(pattern, 110, "after 3 matches, inside [1000, 2000) ms");
    sim_faults_free(f);
}

/* Fires `rule` over n ws.send crossings on `conns` connections; returns the
 * bitmap of decisions as a string of 0/1. */
static char *decisions(uint64_t seed, const char *extra_rule, int conns, int per_conn) {
    sim_faults *f = sim_faults_new(seed, NULL, 0);
    char err[256];
    if (extra_rule) add(f, extra_rule, 0, err, sizeof(err));
    add(f, "{\"id\":\"p\",\"on\":\"ws.send\",\"match\":{\"name\":\"tool_completed\"},\"p\":0.3,"
           "\"action\":{\"kind\":\"delay\",\"ms\":10,\"jitter_ms\":90}}", 0, err, sizeof(err));
    char *out = sim_xmalloc((size_t)(conns * per_conn) * 4 + 1), *o = out;
    for (int c = 1; c <= conns; c++) {
        for (int k = 1; k <= per_conn; k++) {
            sim_wire w = ws_send((uint64_t)c, (uint64_t)k, "tool_completed");
            sim_action a;
            sim_faults_cross(f, &w, 0, &a);
            o += sprintf(o, "%c", a.kind == SIM_ACT_DELAY ? (char)('A' + a.delay_ms % 26) : '.');
        }
    }
    sim_faults_free(f);
    return out;
}

static void test_determinism(void) {
    char *a = decisions(42, NULL, 50, 20), *b = decisions(42, NULL, 50, 20);
    is_str(a, b, "same seed, same decisions and jitter");
    char *other = decisions(43, NULL, 50, 20);
    ok(strcmp(a, other) != 0, "another seed, other decisions");
    char *d = decisions(42, "{\"id\":\"unrelated\",\"on\":\"ws.send\",\"match\":{\"name\":\"agent_started\"},"
                            "\"p\":0.5,\"action\":{\"kind\":\"drop\"}}", 50, 20);
    is_str(a, d, "an unrelated rule leaves the decisions unchanged");
    char *e = decisions(42, "{\"id\":\"other-p\",\"on\":\"ws.send\",\"match\":{\"name\":\"agent_thinking\"},"
                            "\"p\":0.9,\"action\":{\"kind\":\"hang\"}}", 50, 20);
    is_str(a, e, "a rule on another event leaves them unchanged too");
    free(a), free(b), free(other), free(d), free(e);

    /* Arrival order across connections does not matter: the same crossings
     * in another interleaving give the same decisions per (conn, ordinal). */
    sim_faults *f1 = sim_faults_new(5, NULL, 0), *f2 = sim_faults_new(5, NULL, 0);
    char err[256];
    const char *rule = "{\"id\":\"q\",\"on\":\"ws.send\",\"p\":0.5,\"action\":{\"kind\":\"drop\"}}";
    add(f1, rule, 0, err, sizeof(err));
    add(f2, rule, 0, err, sizeof(err));
    int d1[10][10], d2[10][10];
    for (int c = 0; c < 10; c++)
        for (int k = 0; k < 10; k++) {
            sim_wire w = ws_send((uint64_t)c + 1, (uint64_t)k + 1, "x");
            sim_action act;
            sim_faults_cross(f1, &w, 0, &act);
            d1[c][k] = act.kind;
        }
    for (int k = 0; k < 10; k++)
        for (int c = 9; c >= 0; c--) {
            sim_wire w = ws_send((uint64_t)c + 1, (uint64_t)k + 1, "x");
            sim_action act;
            sim_faults_cross(f2, &w, 0, &act);
            d2[c][k] = act.kind;
        }
    ok(memcmp(d1, d2, sizeof(d1)) == 0, "interleaving across connections does not change decisions");
    sim_faults_free(f1);
    sim_faults_free(f2);
}

static void test_binomial(void) {
    sim_faults *f = sim_faults_new(2026, NULL, 0);
    char err[256];
    add(f, "{\"id\":\"p10\",\"on\":\"ws.send\",\"p\":0.1,\"action\":{\"kind\":\"drop\"}}", 0, err, sizeof(err));
    int n = 10000, fired = 0;
    for (int i = 0; i < n; i++) {
        sim_wire w = ws_send((uint64_t)(i / 100) + 1, (uint64_t)(i % 100) + 1, "tool_completed");
        sim_action a;
        sim_faults_cross(f, &w, 0, &a);
        fired += a.kind == SIM_ACT_DROP;
    }
    /* 99.9 % interval of Binomial(10000, 0.1): 1000 +- 3.29 * 30. */
    double sd = sqrt(n * 0.1 * 0.9);
    ok(fabs((double)fired - 1000) <= 3.2905 * sd, "fired %d of 10000 at p=0.1, inside [%.0f, %.0f]", fired,
       1000 - 3.2905 * sd, 1000 + 3.2905 * sd);
    sim_faults_free(f);
}

static void test_ttl_journal_metrics(void) {
    sim_faults *f = sim_faults_new(1, NULL, 10000);
    char err[256];
    is_int(add(f, "{\"id\":\"t\",\"on\":\"ws.accept\",\"ttl_ms\":500,\"action\":{\"kind\":\"close\",\"code\":1013,"
                  "\"reason\":\"Try again later\"}}", 10000, err, sizeof(err)), 0, "ttl rule");
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_ACCEPT, .proto = "ws", .name = "/ws",
                  .conn = 1, .user_id = "user-bob"};
    sim_action a;
    sim_faults_cross(f, &w, 10200, &a);
    is_int(a.kind, SIM_ACT_CLOSE, "fires inside its ttl");
    w.conn = 2;
    sim_faults_cross(f, &w, 10600, &a);
    is_int(a.kind, SIM_ACT_PASS, "reverts by itself after ttl_ms");
    is_int(sim_faults_count(f), 0, "expired rule removed");

    /* A rule whose place sees no traffic expires too, once asked. */
    is_int(add(f, "{\"id\":\"quiet\",\"on\":\"redis.accept\",\"ttl_ms\":100,\"action\":{\"kind\":\"hang\"}}",
               10600, err, sizeof(err)), 0, "ttl rule on a quiet place");
    sim_faults_expire(f, 10800);
    is_int(sim_faults_count(f), 0, "expired without traffic");
    is_int(add(f, "{\"id\":\"quiet\",\"on\":\"redis.accept\",\"action\":{\"kind\":\"hang\"}}",
               10800, err, sizeof(err)), 0, "its id can be used again");
    is_int(sim_faults_remove(f, "quiet"), 0, "removed");

    sim_buf b = {0};
    size_t n = sim_faults_journal_since(f, 0, 100, &b);
    is_int(n, 2, "two journal lines");
    ok(strstr(b.data, "{\"t_ms\":200,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"accept\",\"conn\":1,"
                      "\"name\":\"/ws\",\"user\":\"user-bob\",\"rule\":\"t\",\"action\":\"close\",\"code\":1013}\n") != NULL,
       "journal line of the firing");
    b.len = 0;
    is_int(sim_faults_journal_since(f, 1, 100, &b), 1, "since=1 gives the rest");
    sim_buf_free(&b);

    /* Redis commands are counted but not journaled unless a rule fires. */
    sim_wire r = {.service = SIM_SVC_REDIS, .point = SIM_WIRE_REQUEST, .proto = "resp", .name = "get", .conn = 1};
    sim_faults_cross(f, &r, 11000, &a);
    is_int(sim_faults_journal_count(f), 2, "redis command not journaled");
    sim_faults_metrics(f, &b);
    ok(strstr(b.data, "stagesim_crossings_total{service=\"redis\",point=\"request\"} 1\n") != NULL, "metrics count redis");
    ok(strstr(b.data, "stagesim_connections_total{service=\"backend\"} 2\n") != NULL, "metrics count accepts");
    sim_buf_free(&b);

    /* A mark journals its firings and changes nothing: the service gets
     * pass (docs/faults.md), on every place. */
    is_int(add(f, "{\"id\":\"watch\",\"on\":\"redis.command\",\"action\":{\"kind\":\"mark\"}}",
               11000, err, sizeof(err)), 0, "a mark on Redis commands");
    is_int(add(f, "{\"id\":\"tries\",\"on\":\"dep.connect\",\"action\":{\"kind\":\"mark\"}}",
               11000, err, sizeof(err)), 0, "a mark on the backend's connection attempts");
    sim_faults_cross(f, &r, 11100, &a);
    ok(a.kind == SIM_ACT_PASS && a.rule_id == NULL, "the command passes as if no rule fired");
    sim_wire c = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_CONNECT, .proto = "dep", .name = "redis",
                  .conn = 4};
    sim_faults_cross(f, &c, 11200, &a);
    is_int(a.kind, SIM_ACT_PASS, "the attempt passes");
    is_int(sim_faults_journal_count(f), 4, "both firings journaled");
    b.len = 0;
    sim_faults_journal_since(f, 2, 100, &b);
    ok(strstr(b.data, "\"name\":\"get\",\"rule\":\"watch\",\"action\":\"mark\"}\n") &&
       strstr(b.data, "\"conn\":4,\"name\":\"redis\",\"rule\":\"tries\",\"action\":\"mark\"}\n"),
       "as marks: %s", b.data);
    sim_buf_free(&b);
    sim_faults_free(f);
}

static void test_index_and_precedence(void) {
    sim_faults *f = sim_faults_new(1, NULL, 0);
    char err[256], rule[256];
    /* 100 rules on names that never occur: they must not change anything. */
    for (int i = 0; i < 100; i++) {
        snprintf(rule, sizeof(rule), "{\"id\":\"never-%d\",\"on\":\"ws.send\",\"match\":{\"name\":\"nope_%d\"},"
                 "\"action\":{\"kind\":\"drop\"}}", i, i);
        add(f, rule, 0, err, sizeof(err));
    }
    add(f, "{\"id\":\"glob\",\"on\":\"ws.send\",\"match\":{\"name\":\"agent_*\"},\"every\":2,"
           "\"action\":{\"kind\":\"hang\"}}", 0, err, sizeof(err));
    add(f, "{\"id\":\"exact\",\"on\":\"ws.send\",\"match\":{\"name\":\"agent_thinking\"},"
           "\"action\":{\"kind\":\"drop\"}}", 0, err, sizeof(err));
    sim_action a;
    sim_wire w = ws_send(1, 1, "agent_thinking");
    sim_faults_cross(f, &w, 0, &a);
    is_str(a.rule_id, "exact", "1st: only the exact rule fires");
    w.msg = 2;
    sim_faults_cross(f, &w, 0, &a);
    is_str(a.rule_id, "glob", "2nd: both fire, the glob rule was added first");
    is_int(sim_faults_fired(f, "exact"), 1, "the shadowed firing is not counted as acting");
    w = ws_send(1, 3, "agent_started");
    sim_faults_cross(f, &w, 0, &a);
    is_int(a.kind, SIM_ACT_PASS, "glob's 3rd match passes (every 2)");
    w = ws_send(1, 4, "tool_executing");
    sim_faults_cross(f, &w, 0, &a);
    is_int(a.kind, SIM_ACT_PASS, "no rule for tool_executing");
    is_int(sim_faults_remove(f, "glob"), 0, "remove");
    w = ws_send(1, 5, "agent_thinking");
    sim_faults_cross(f, &w, 0, &a);
    is_str(a.rule_id, "exact", "after removal the exact rule acts");
    for (int i = 0; i < 100; i++) {
        snprintf(rule, sizeof(rule), "never-%d", i);
        if (sim_faults_fired(f, rule)) ok(0, "%s fired", rule);
    }
    sim_faults_free(f);
}

/* Crossings are kept as values and formatted when read (journal.h): the line
 * read back does not depend on the crossing's strings staying alive, nor on
 * the rule that fired still existing, and the file gets the same bytes. */
static void test_journal_kept_as_values(void) {
    char path[] = "/tmp/stagesim-test-journal-XXXXXX";
    int fd = mkstemp(path);
    ok(fd >= 0, "temporary journal file");
    close(fd);
    sim_faults *f = sim_faults_new(1, path, 1000);
    char err[256];
    is_int(add(f, "{\"id\":\"late\",\"on\":\"http.request\",\"match\":{\"name\":\"/api/*\"},"
                  "\"action\":{\"kind\":\"delay\",\"ms\":25}}", 1000, err, sizeof(err)), 0, "a delay");
    char name[32], user[32], proto[8];
    strcpy(name, "/api/q\"1");
    strcpy(user, "user-\xc3\xa9ve");
    strcpy(proto, "http");
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_REQUEST, .proto = proto, .name = name,
                  .method = "POST", .user_id = user, .conn = 3, .msg = 2, .status = 201};
    sim_action a;
    sim_faults_cross(f, &w, 1250, &a);
    is_int(a.kind, SIM_ACT_DELAY, "the delay fires");
    memset(name, 'x', sizeof(name) - 1);   /* the service reuses its buffers */
    memset(user, 'y', sizeof(user) - 1);
    strcpy(proto, "ws");
    is_int(sim_faults_remove(f, "late"), 0, "the rule is gone before the line is read");
    sim_faults_journal_event(f, 1300, SIM_SVC_BACKEND, "breaker", "\"state\":\"open\"");
    const char *want =
        "{\"t_ms\":250,\"svc\":\"backend\",\"proto\":\"http\",\"point\":\"request\",\"conn\":3,\"msg\":2,"
        "\"method\":\"POST\",\"name\":\"/api/q\\\"1\",\"user\":\"user-\xc3\xa9ve\",\"status\":201,"
        "\"rule\":\"late\",\"action\":\"delay\",\"delay_ms\":25}\n"
        "{\"t_ms\":300,\"svc\":\"backend\",\"event\":\"breaker\",\"state\":\"open\"}\n";
    sim_buf b = {0};
    is_int(sim_faults_journal_since(f, 0, 10, &b), 2, "two lines");
    is_str(b.data, want, "the lines as they were when crossed");
    sim_faults_free(f);   /* flushes and closes the file */
    sim_buf file = {0};
    char chunk[256];
    FILE *in = fopen(path, "r");
    for (size_t n; in && (n = fread(chunk, 1, sizeof(chunk), in)) > 0;) sim_buf_append(&file, chunk, n);
    if (in) fclose(in);
    unlink(path);
    is_str(file.data ? file.data : "", want, "the file has the same bytes");
    sim_buf_free(&file);
    sim_buf_free(&b);
}

static void test_journal_utf8_and_forgetting(void) {
    sim_faults *f = sim_faults_new(1, NULL, 0);
    char err[256];
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_REQUEST, .proto = "http",
                  .name = "/x\xff\"y\x01\xc3\xa9", .method = "GET", .conn = 1};
    sim_action a;
    sim_faults_cross(f, &w, 0, &a);
    sim_buf b = {0};
    sim_faults_journal_since(f, 0, 10, &b);
    ok(strstr(b.data, "\"name\":\"/x\\u00ff\\\"y\\u0001\xc3\xa9\"") != NULL,
       "bad UTF-8 escaped, good UTF-8 kept: %s", b.data);
    cJSON *j = cJSON_Parse(b.data);
    ok(j != NULL, "the line is JSON");
    cJSON_Delete(j);
    sim_buf_free(&b);

    /* Connection-scoped counts are dropped when the connection closes. */
    add(f, "{\"id\":\"second\",\"on\":\"ws.send\",\"nth\":2,\"action\":{\"kind\":\"drop\"}}", 0, err,
        sizeof(err));
    /* A sliding window of 97 open connections: each sends its first event,
     * 97 steps later its second, then closes; deletions in the count table
     * must never disturb the counts of connections still open. */
    int fired = 0, wrong = 0;
    enum { WINDOW = 97, CONNS = 5000 };
    for (uint64_t step = 1; step <= CONNS + WINDOW; step++) {
        /* Scattered ordinals, so entries collide and deletions must shift. */
        if (step <= CONNS) {
            sim_wire e = ws_send(sim_mix(9, "c", step, 0) >> 24, 1, "agent_started");
            sim_faults_cross(f, &e, 0, &a);
            wrong += a.kind == SIM_ACT_DROP;
        }
        if (step > WINDOW) {
            uint64_t conn = sim_mix(9, "c", step - WINDOW, 0) >> 24;
            sim_wire e = ws_send(conn, 2, "agent_started");
            sim_faults_cross(f, &e, 0, &a);
            fired += a.kind == SIM_ACT_DROP;
            sim_wire c = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_CLOSE, .proto = "ws", .conn = conn};
            sim_faults_cross(f, &c, 0, &a);
            /* An HTTP connection with a neighbouring ordinal closing must not touch it. */
            sim_wire h = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_CLOSE, .proto = "http", .conn = conn + 1};
            sim_faults_cross(f, &h, 0, &a);
        }
    }
    is_int(fired, CONNS, "every connection's 2nd event fires, 5000 connections, 97 open at once");
    is_int(wrong, 0, "no 1st event fires");
    sim_faults_free(f);
}

static void test_user_run(void) {
    sim_faults *f = sim_faults_new(1, NULL, 0);
    char err[256];
    is_int(add(f, "{\"id\":\"u2\",\"on\":\"ws.send\",\"match\":{\"user\":\"user-bob\",\"user_run\":2,"
                  "\"name\":\"agent_started\"},\"action\":{\"kind\":\"drop\"}}", 0, err, sizeof(err)), 0,
           "user_run rule (%s)", err);
    int pattern = 0;
    for (uint64_t ur = 1; ur <= 3; ur++) {
        sim_wire w = ws_send(ur, 1, "agent_started");   /* each run on its own connection */
        w.user_id = "user-bob";
        w.run = 1;
        w.user_run = ur;
        sim_action a;
        sim_faults_cross(f, &w, 0, &a);
        pattern = pattern * 10 + (a.kind == SIM_ACT_DROP);
    }
    is_int(pattern, 10, "bob's 2nd run, whichever connection it is on");
    sim_faults_free(f);
}

/* The index follows every add and remove: after thousands of random
 * changes, each crossing gets the action of the earliest added rule that
 * matches it, as a plain scan over the live rules says. Rules name one of a
 * few event types, a glob, or nothing; each fires always, with its own
 * delay as its signature. */
static void test_index_follows_changes(void) {
    sim_faults *f = sim_faults_new(1, NULL, 0);
    enum { N = 3000, NAMES = 5 };
    static const char *const names[NAMES] = {"agent_started", "agent_thinking", "tool_*", NULL,
                                             "agent_*"};
    static const char *const probe[] = {"agent_started", "agent_thinking", "tool_executing",
                                        "agent_completed", "pong"};
    int live[N] = {0}, kind[N];
    uint64_t order[N], next = 0, x = 88172645463325252ULL;
    char err[256], json[256], id[16];
    int mismatches = 0, checks = 0;
    for (int step = 0; step < 4 * N; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int i = (int)(x % N);
        snprintf(id, sizeof(id), "r%d", i);
        if (live[i]) {
            live[i] = sim_faults_remove(f, id) != 0;
        } else {
            kind[i] = (int)((x >> 20) % NAMES);
            if (names[kind[i]])
                snprintf(json, sizeof(json), "{\"id\":\"%s\",\"on\":\"ws.send\",\"match\":{\"name\":\"%s\"},"
                         "\"action\":{\"kind\":\"delay\",\"ms\":%d}}", id, names[kind[i]], i + 1);
            else
                snprintf(json, sizeof(json), "{\"id\":\"%s\",\"on\":\"ws.send\","
                         "\"action\":{\"kind\":\"delay\",\"ms\":%d}}", id, i + 1);
            live[i] = add(f, json, 0, err, sizeof(err)) == 0;
            order[i] = ++next;
        }
        if (step % 97) continue;
        for (size_t p = 0; p < sizeof(probe) / sizeof(probe[0]); p++) {
            int want = -1;
            for (int r = 0; r < N; r++) {
                if (!live[r]) continue;
                const char *pat = names[kind[r]];
                int hit = !pat || strcmp(pat, probe[p]) == 0 ||
                          (pat[strlen(pat) - 1] == '*' && strncmp(pat, probe[p], strlen(pat) - 1) == 0);
                if (hit && (want < 0 || order[r] < order[want])) want = r;
            }
            sim_wire w = ws_send(1, 1, probe[p]);
            sim_action a;
            sim_faults_cross(f, &w, 0, &a);
            checks++;
            if (want < 0 ? a.kind != SIM_ACT_PASS : a.delay_ms != (uint32_t)want + 1) mismatches++;
        }
    }
    ok(checks > 500, "%d checks", checks);
    is_int(mismatches, 0, "every crossing gets the earliest live matching rule");
    size_t n = 0;
    for (int i = 0; i < N; i++) n += (size_t)live[i];
    is_int(sim_faults_count(f), n, "count follows");
    sim_faults_clear(f);
    is_int(sim_faults_count(f), 0, "clear");
    sim_wire w = ws_send(1, 1, "agent_started");
    sim_action a;
    sim_faults_cross(f, &w, 0, &a);
    is_int(a.kind, SIM_ACT_PASS, "nothing fires after clear");
    sim_faults_free(f);
}

int main(void) {
    test_user_run();
    test_index_follows_changes();
    test_journal_utf8_and_forgetting();
    test_journal_kept_as_values();
    test_index_and_precedence();
    test_validation();
    test_match_and_counts();
    test_first_after_window();
    test_determinism();
    test_binomial();
    test_ttl_journal_metrics();
    return tap_done();
}
