/* test_lifecycle_step.c -- parsing a life-cycle step (lifecycle_step.h). */
#include <cjson/cJSON.h>
#include <string.h>

#include "lifecycle_step.h"
#include "tap.h"

static int parse(const char *json, int timeline, sim_lifecycle_step *st, char *err, size_t n) {
    cJSON *j = cJSON_Parse(json);
    sim_jcheck jc = {.origin = "x.json", .err = err, .errlen = n};
    int rc = sim_lifecycle_step_parse(&jc, j, "lifecycle[0]", timeline, st);
    cJSON_Delete(j);
    return rc;
}

int main(void) {
    sim_lifecycle_step st;
    char err[256] = "";
    is_int(parse("{\"service\":\"backend\",\"action\":\"crash\",\"ms\":2000,\"keep_state\":false,"
                 "\"at_ms\":500}", 1, &st, err, sizeof(err)), 0, "a timeline step");
    ok(st.service == SIM_SVC_BACKEND && st.action == SIM_LC_CRASH && st.ms == 2000 &&
       !st.keep_state && st.at_ms == 500, "its fields");
    is_int(parse("{\"service\":\"backend\",\"action\":\"redeploy\"}", 0, &st, err, sizeof(err)), 0,
           "an API step");
    is_int(st.ms, SIM_LC_REDEPLOY_MS, "a redeploy lasts 10 s unless told");
    ok(st.keep_state, "state kept by default");
    static const struct {
        const char *json;
        int timeline;
        const char *error;
    } bad[] = {
        {"{\"service\":\"db\",\"action\":\"crash\"}", 0,
         "x.json: lifecycle[0].service: must be \"backend\", \"auth\" or \"redis\", not \"db\""},
        {"{\"service\":\"redis\",\"action\":\"drain\"}", 0,
         "x.json: lifecycle[0].action: \"drain\" does not apply to redis"},
        {"{\"service\":\"auth\",\"action\":\"redeploy\"}", 0,
         "x.json: lifecycle[0].action: \"redeploy\" does not apply to auth"},
        {"{\"service\":\"backend\",\"action\":\"explode\"}", 0,
         "x.json: lifecycle[0].action: unknown action \"explode\" (crash, restart, drain, redeploy, "
         "cannot_start, start)"},
        {"{\"service\":\"backend\",\"action\":\"crash\"}", 1, "x.json: lifecycle[0].at_ms: is required"},
        {"{\"service\":\"backend\",\"action\":\"crash\",\"at_ms\":1}", 0,
         "x.json: lifecycle[0].at_ms: is only for the scenario's timeline"},
        {"{\"service\":\"backend\",\"action\":\"drain\",\"keep_state\":true}", 0,
         "x.json: lifecycle[0].keep_state: applies to crash and restart only"},
        {"{\"service\":\"backend\",\"action\":\"crash\",\"keep_state\":1}", 0,
         "x.json: lifecycle[0].keep_state: must be a boolean, not a number"},
        {"{\"service\":\"backend\",\"action\":\"crash\",\"ms\":-1}", 0,
         "x.json: lifecycle[0].ms: must be >= 0"},
        {"{\"service\":\"backend\",\"action\":\"crash\",\"when\":1}", 0,
         "x.json: lifecycle[0].when: unknown key"},
        {"[]", 0, "x.json: lifecycle[0]: must be an object, not an array"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        is_int(parse(bad[i].json, bad[i].timeline, &st, err, sizeof(err)), -1, "rejected: %s",
               bad[i].json);
        is_str(err, bad[i].error, "message of case %zu", i);
    }
    return tap_done();
}
