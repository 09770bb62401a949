/* lifecycle_step.c -- a life-cycle step from JSON (lifecycle_step.h). */
#include "lifecycle_step.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    sim_lc_action action;
    unsigned services;    /* bits of sim_service it applies to */
} actions[] = {
    {"crash", SIM_LC_CRASH, 1u << SIM_SVC_BACKEND | 1u << SIM_SVC_AUTH | 1u << SIM_SVC_REDIS},
    {"restart", SIM_LC_RESTART, 1u << SIM_SVC_BACKEND | 1u << SIM_SVC_AUTH | 1u << SIM_SVC_REDIS},
    {"drain", SIM_LC_DRAIN, 1u << SIM_SVC_BACKEND},
    {"redeploy", SIM_LC_REDEPLOY, 1u << SIM_SVC_BACKEND},
    {"cannot_start", SIM_LC_CANNOT_START, 1u << SIM_SVC_BACKEND | 1u << SIM_SVC_AUTH},
    {"start", SIM_LC_START, 1u << SIM_SVC_BACKEND | 1u << SIM_SVC_AUTH | 1u << SIM_SVC_REDIS},
};

const char *sim_lc_action_name(sim_lc_action a) {
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (actions[i].action == a) return actions[i].name;
    return "unknown";
}

int sim_lifecycle_step_parse(sim_jcheck *c, const cJSON *obj, const char *path, int timeline,
                             sim_lifecycle_step *out) {
    static const char *const keys[] = {"service", "action", "ms", "keep_state", "at_ms", NULL};
    char at[96];
    if (sim_jcheck_object(c, obj, path) || sim_jcheck_keys(c, obj, path, keys)) return -1;
    memset(out, 0, sizeof(*out));
    out->keep_state = 1;
    char *svc = NULL, *act = NULL;
    int rc = -1;
    if (sim_jcheck_string(c, obj, path, "service", &svc, 1) ||
        sim_jcheck_string(c, obj, path, "action", &act, 1))
        goto done;
    if (strcmp(svc, "backend") == 0) out->service = SIM_SVC_BACKEND;
    else if (strcmp(svc, "auth") == 0) out->service = SIM_SVC_AUTH;
    else if (strcmp(svc, "redis") == 0) out->service = SIM_SVC_REDIS;
    else {
        sim_jcheck_join(at, sizeof(at), path, "service");
        sim_jcheck_fail(c, at, "must be \"backend\", \"auth\" or \"redis\", not \"%s\"", svc);
        goto done;
    }
    size_t i = 0;
    while (i < sizeof(actions) / sizeof(actions[0]) && strcmp(actions[i].name, act) != 0) i++;
    sim_jcheck_join(at, sizeof(at), path, "action");
    if (i == sizeof(actions) / sizeof(actions[0])) {
        sim_jcheck_fail(c, at, "unknown action \"%s\" (crash, restart, drain, redeploy, "
                        "cannot_start, start)", act);
        goto done;
    }
    if (!(actions[i].services & 1u << out->service)) {
        sim_jcheck_fail(c, at, "\"%s\" does not apply to %s", act, svc);
        goto done;
    }
    out->action = actions[i].action;
    double ms = 0, at_ms = 0;
    int has_at;
    if (sim_jcheck_number(c, obj, path, "ms", 0, 86400000, 1, &ms, NULL) ||
        sim_jcheck_number(c, obj, path, "at_ms", 0, 1e12, 1, &at_ms, &has_at))
        goto done;
    sim_jcheck_join(at, sizeof(at), path, "at_ms");
    if (timeline && !has_at) {
        sim_jcheck_fail(c, at, "is required");
        goto done;
    }
    if (!timeline && has_at) {
        sim_jcheck_fail(c, at, "is only for the scenario's timeline");
        goto done;
    }
    out->ms = (uint32_t)ms;
    out->at_ms = (int64_t)at_ms;
    if (out->action == SIM_LC_REDEPLOY && !out->ms) out->ms = SIM_LC_REDEPLOY_MS;
    const cJSON *keep = cJSON_GetObjectItemCaseSensitive(obj, "keep_state");
    if (keep) {
        sim_jcheck_join(at, sizeof(at), path, "keep_state");
        if (!cJSON_IsBool(keep)) {
            sim_jcheck_fail(c, at, "must be a boolean, not %s", sim_jcheck_type(keep));
            goto done;
        }
        if (out->action != SIM_LC_CRASH && out->action != SIM_LC_RESTART) {
            sim_jcheck_fail(c, at, "applies to crash and restart only");
            goto done;
        }
        out->keep_state = cJSON_IsTrue(keep);
    }
    rc = 0;
done:
    free(svc);
    free(act);
    return rc;
}
