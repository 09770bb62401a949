/* test_scenario.c -- the scenario loader: defaults, the golden-path file, and
 * bad input, each with its precise "origin: path: reason" message. */
#include <stdlib.h>
#include <string.h>

#include "scenario.h"
#include "tap.h"

static void test_builtin(void) {
    char err[512] = "";
    sim_scenario *sc = sim_scenario_load(NULL, err, sizeof(err));
    ok(sc != NULL, "built-in scenario loads (%s)", err);
    if (!sc) return;
    is_str(sc->name, "golden-path", "built-in name");
    is_int(sc->nusers, 2, "two users");
    is_str(sc->users[0].email, "alice@example.com", "alice");
    ok(sim_scenario_user_by_email(sc, "bob@example.com") != NULL, "bob by email");
    ok(sim_scenario_user_by_email(sc, "eve@example.com") == NULL, "no eve");
    is_int(sc->agent.gap_ms, 50, "gap 50 ms");
    is_int(sc->agent.ntools, 2, "two tools");
    ok(sc->agent.nthinking > 0 && sc->agent.answer_template, "agent defaults filled");
    is_int(sc->access_ttl_s, 1800, "access tokens live 30 min");
    is_int(sc->no_token, SIM_NO_TOKEN_DEMO, "no token: demo user");
    is_str(sc->demo_user_id, "demo-user-001", "demo user id");
    is_int(sc->heartbeat_ms, 35000, "heartbeat after 35 s of silence");
    is_int(sc->heartbeat_timeout_ms, 90000, "given up after 90 s");
    ok(sc->redis_host == NULL, "own Redis by default");
    sim_scenario_free(sc);
}

static void test_file(void) {
    char err[512] = "";
    const char *root = getenv("STAGESIM_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof(path), "%s/scenarios/golden-path.json", root ? root : ".");
    sim_scenario *sc = sim_scenario_load(path, err, sizeof(err));
    ok(sc != NULL, "golden-path.json loads (%s)", err);
    if (sc) {
        is_int(sc->nusers, 2, "file has two users");
        is_int(sc->seed, 1, "file seed");
    }
    sim_scenario_free(sc);
    sc = sim_scenario_load("/nonexistent/x.json", err, sizeof(err));
    ok(sc == NULL, "missing file fails");
    is_str(err, "/nonexistent/x.json: cannot open: No such file or directory", "missing file message");
}

static void test_full(void) {
    char err[512] = "";
    sim_scenario *sc = sim_scenario_parse(
        "{\"profile\":\"legacy\",\"seed\":99,\"auth\":{\"jwt_secret\":\"s3cret\",\"e2e_key\":\"k\","
        "\"access_ttl_s\":60},\"websocket\":{\"no_token\":\"reject\"},"
        "\"redis\":{\"host\":\"10.0.0.1\",\"port\":6379,\"connect_timeout_ms\":250,\"command_timeout_ms\":750},"
        "\"agent\":{\"thinking\":[\"hm\"],\"answer_template\":\"{prompt}!\",\"gap_ms\":0},"
        "\"faults\":[]}", "t.json", err, sizeof(err));
    ok(sc != NULL, "full scenario parses (%s)", err);
    if (!sc) return;
    is_int(sc->profile, SIM_PROFILE_LEGACY, "legacy profile");
    is_int(sc->seed, 99, "seed");
    is_str(sc->jwt_secret, "s3cret", "secret");
    is_str(sc->e2e_key, "k", "e2e key");
    is_int(sc->access_ttl_s, 60, "ttl");
    is_int(sc->no_token, SIM_NO_TOKEN_REJECT, "reject");
    is_str(sc->redis_host, "10.0.0.1", "redis host");
    is_int(sc->redis_port, 6379, "redis port");
    is_int(sc->redis_connect_timeout_ms, 250, "connect timeout");
    is_int(sc->redis_command_timeout_ms, 750, "command timeout");
    is_int(sc->agent.gap_ms, 0, "zero gap");
    is_str(sc->agent.answer_template, "{prompt}!", "template");
    sim_scenario_free(sc);
}

static const struct {
    const char *json;
    const char *msg;
} bad[] = {
    {"{", "t.json: invalid JSON at line 1, column 2"},
    {"{\"users\": [}\n", "t.json: invalid JSON at line 1, column 12"},
    {"[]", "t.json: must be an object, not an array"},
    {"{\"nmae\":\"x\"}", "t.json: nmae: unknown key"},
    {"{\"name\":3}", "t.json: name: must be a string, not a number"},
    {"{\"profile\":\"old\"}", "t.json: profile: must be \"current\" or \"legacy\", not \"old\""},
    {"{\"seed\":-1}", "t.json: seed: must be >= 0"},
    {"{\"seed\":1.5}", "t.json: seed: must be an integer"},
    {"{\"seed\":\"1\"}", "t.json: seed: must be a number, not a string"},
    {"{\"users\":{}}", "t.json: users: must be an array, not an object"},
    {"{\"users\":[{\"id\":\"a\",\"email\":\"a@x\"}]}", "t.json: users[0].password: is required"},
    {"{\"users\":[{\"id\":\"a\",\"email\":\"a@x\",\"password\":\"p\",\"role\":1}]}",
     "t.json: users[0].role: unknown key"},
    {"{\"users\":[{\"id\":\"a\",\"email\":\"a@x\",\"password\":\"p\"},"
     "{\"id\":\"b\",\"email\":\"a@x\",\"password\":\"p\"}]}",
     "t.json: users[1]: duplicate email \"a@x\""},
    {"{\"users\":[{\"id\":\"\",\"email\":\"a@x\",\"password\":\"p\"}]}", "t.json: users[0].id: must not be empty"},
    {"{\"agent\":{\"gap_ms\":-5}}", "t.json: agent.gap_ms: must be >= 0"},
    {"{\"agent\":{\"tools\":[]}}", "t.json: agent.tools: must not be empty"},
    {"{\"agent\":{\"tools\":[\"a\",2]}}", "t.json: agent.tools[1]: must be a non-empty string"},
    {"{\"agent\":[]}", "t.json: agent: must be an object, not an array"},
    {"{\"auth\":{\"access_ttl_s\":0}}", "t.json: auth.access_ttl_s: must be >= 1"},
    {"{\"auth\":{\"jwt_secret\":\"\"}}", "t.json: auth.jwt_secret: must not be empty"},
    {"{\"websocket\":{\"no_token\":\"allow\"}}",
     "t.json: websocket.no_token: must be \"demo\" or \"reject\", not \"allow\""},
    {"{\"redis\":{\"port\":70000}}", "t.json: redis.port: must be <= 65535"},
    {"{\"websocket\":{\"heartbeat_s\":30,\"heartbeat_timeout_s\":20}}",
     "t.json: websocket.heartbeat_timeout_s: must be greater than heartbeat_s"},
    {"{\"redis\":{\"host\":\"h\",\"db\":1}}", "t.json: redis.db: unknown key"},
    {"{\"faults\":{}}", "t.json: faults: must be an array, not an object"},
    {"{\"startup\":{\"app_state_ms\":10}}", "t.json: startup.complete_ms: is required"},
    {"{\"startup\":{\"app_state_ms\":10,\"complete_ms\":10}}",
     "t.json: startup.app_state_ms: must be less than complete_ms"},
    {"{\"faults\":[{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"drop\"}},"
     "{\"id\":\"b\",\"on\":\"ws.send\",\"after_ms\":-1,\"action\":{\"kind\":\"drop\"}}]}",
     "t.json: faults[1].after_ms: must be >= 0"},
    {"{\"faults\":[{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"close\",\"code\":1015}}]}",
     "t.json: faults[0].action.code: 1015 is not sendable (reserved for reporting a missing or abnormal close)"},
    {"{\"faults\":[{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"drop\"}},"
     "{\"id\":\"a\",\"on\":\"ws.send\",\"action\":{\"kind\":\"drop\"}}]}",
     "t.json: faults[1].id: duplicate rule id \"a\""},
    {"{\"faults\":[{\"id\":\"a\",\"on\":\"ws.send\",\"ttl_ms\":5,\"action\":{\"kind\":\"drop\"}}]}",
     "t.json: faults[0].ttl_ms: only for rules added at run time"},
};

static void test_bad(void) {
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[512] = "";
        sim_scenario *sc = sim_scenario_parse(bad[i].json, "t.json", err, sizeof(err));
        ok(sc == NULL, "rejected: %s", bad[i].json);
        is_str(err, bad[i].msg, "message for %s", bad[i].json);
        sim_scenario_free(sc);
    }
}

int main(void) {
    test_builtin();
    test_file();
    test_full();
    test_bad();
    return tap_done();
}
