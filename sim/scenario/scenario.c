/* scenario.c -- loads a scenario JSON file and validates it completely before
 * anything runs. Each object is walked with a table of allowed keys; unknown
 * keys are errors; every error names the file, the JSON path and the reason:
 *   scenarios/x.json: agent.gap_ms: must be >= 0 */
#include "scenario.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "fault.h"
#include "jcheck.h"
#include "util.h"

#define MAX_SCENARIO_BYTES (4u << 20)

/* The built-in default, identical to scenarios/golden-path.json. */
static const char default_scenario[] =
    "{\"name\":\"golden-path\","
    "\"description\":\"Healthy staging: login, WebSocket, five agent events, answer stored in Redis.\","
    "\"profile\":\"current\",\"seed\":1,"
    "\"users\":["
    "{\"id\":\"user-alice\",\"email\":\"alice@example.com\",\"password\":\"alice-password\",\"permissions\":[\"chat\"]},"
    "{\"id\":\"user-bob\",\"email\":\"bob@example.com\",\"password\":\"bob-password\",\"permissions\":[\"chat\"]}],"
    "\"agent\":{\"name\":\"supervisor\",\"tools\":[\"search_knowledge_base\",\"analyze_data\"],"
    "\"gap_ms\":50}}";

/* The loader is a sim_jcheck whose origin is the file name. */
typedef sim_jcheck loader;

/* An optional integer member in [min, max]. */
static int get_int(loader *ld, const cJSON *obj, const char *path, const char *key,
                   double min, double max, double *dst) {
    return sim_jcheck_number(ld, obj, path, key, min, max, 1, dst, NULL);
}

static int load_users(loader *ld, sim_scenario *sc, const cJSON *arr) {
    static const char *const keys[] = {"id", "email", "password", "permissions", NULL};
    if (!cJSON_IsArray(arr)) return sim_jcheck_fail(ld, "users", "must be an array, not %s", sim_jcheck_type(arr));
    size_t n = (size_t)cJSON_GetArraySize(arr);
    sc->users = sim_xcalloc(n ? n : 1, sizeof(sim_user));
    const cJSON *u;
    cJSON_ArrayForEach(u, arr) {
        char p[64];
        snprintf(p, sizeof(p), "users[%zu]", sc->nusers);
        sim_user *user = &sc->users[sc->nusers++];
        if (sim_jcheck_object(ld, u, p) || sim_jcheck_keys(ld, u, p, keys) ||
            sim_jcheck_string(ld, u, p, "id", &user->id, 1) ||
            sim_jcheck_string(ld, u, p, "email", &user->email, 1) ||
            sim_jcheck_string(ld, u, p, "password", &user->password, 1) ||
            sim_jcheck_strings(ld, u, p, "permissions", &user->permissions, &user->npermissions, 0))
            return -1;
        /* The limits the services hold them to at run time: a token's
         * claims (auth store), the login body (auth routes). */
        static const struct { const char *key; size_t max; } limits[] = {
            {"id", SIM_MAX_USER_ID}, {"email", SIM_MAX_EMAIL}, {"password", SIM_MAX_PASSWORD}};
        const char *values[] = {user->id, user->email, user->password};
        for (size_t k = 0; k < 3; k++)
            if (strlen(values[k]) > limits[k].max) {
                char kp[80];
                sim_jcheck_join(kp, sizeof(kp), p, limits[k].key);
                return sim_jcheck_fail(ld, kp, "longer than %zu bytes", limits[k].max);
            }
        for (size_t i = 0; i + 1 < sc->nusers; i++) {
            if (strcmp(sc->users[i].email, user->email) == 0)
                return sim_jcheck_fail(ld, p, "duplicate email \"%s\"", user->email);
            if (strcmp(sc->users[i].id, user->id) == 0)
                return sim_jcheck_fail(ld, p, "duplicate id \"%s\"", user->id);
        }
    }
    return 0;
}

static int load_agent(loader *ld, sim_scenario *sc, const cJSON *obj) {
    static const char *const keys[] = {"name", "tools", "thinking", "answer_template", "gap_ms", NULL};
    double gap = sc->agent.gap_ms;
    if (sim_jcheck_object(ld, obj, "agent") || sim_jcheck_keys(ld, obj, "agent", keys) ||
        sim_jcheck_string(ld, obj, "agent", "name", &sc->agent.agent_name, 0) ||
        sim_jcheck_strings(ld, obj, "agent", "tools", &sc->agent.tools, &sc->agent.ntools, 1) ||
        sim_jcheck_strings(ld, obj, "agent", "thinking", &sc->agent.thinking, &sc->agent.nthinking, 1) ||
        sim_jcheck_string(ld, obj, "agent", "answer_template", &sc->agent.answer_template, 0) ||
        get_int(ld, obj, "agent", "gap_ms", 0, 600000, &gap))
        return -1;
    if (!*sc->agent.agent_name) return sim_jcheck_fail(ld, "agent.name", "must not be empty");
    sc->agent.gap_ms = (uint32_t)gap;
    return 0;
}

static int load_auth(loader *ld, sim_scenario *sc, const cJSON *obj) {
    static const char *const keys[] = {"jwt_secret", "e2e_key", "access_ttl_s", "refresh_ttl_s",
                                       "leeway_s", "backend_jwt_secret", "backend_clock_skew_ms",
                                       NULL};
    double access = sc->access_ttl_s, refresh = sc->refresh_ttl_s, leeway = 0, skew = 0;
    if (sim_jcheck_object(ld, obj, "auth") || sim_jcheck_keys(ld, obj, "auth", keys) ||
        sim_jcheck_string(ld, obj, "auth", "jwt_secret", &sc->jwt_secret, 0) ||
        sim_jcheck_string(ld, obj, "auth", "e2e_key", &sc->e2e_key, 0) ||
        sim_jcheck_string(ld, obj, "auth", "backend_jwt_secret", &sc->backend_jwt_secret, 0) ||
        get_int(ld, obj, "auth", "access_ttl_s", 1, 365 * 86400.0, &access) ||
        get_int(ld, obj, "auth", "refresh_ttl_s", 1, 365 * 86400.0, &refresh) ||
        get_int(ld, obj, "auth", "leeway_s", 0, 86400, &leeway) ||
        get_int(ld, obj, "auth", "backend_clock_skew_ms", -86400000.0, 86400000.0, &skew))
        return -1;
    if (sc->jwt_secret && !*sc->jwt_secret) return sim_jcheck_fail(ld, "auth.jwt_secret", "must not be empty");
    if (sc->backend_jwt_secret && !*sc->backend_jwt_secret)
        return sim_jcheck_fail(ld, "auth.backend_jwt_secret", "must not be empty");
    sc->access_ttl_s = (uint32_t)access;
    sc->refresh_ttl_s = (uint32_t)refresh;
    sc->auth_leeway_s = (uint32_t)leeway;
    sc->backend_clock_skew_ms = (int64_t)skew;
    return 0;
}

static int load_websocket(loader *ld, sim_scenario *sc, const cJSON *obj) {
    static const char *const keys[] = {"no_token", "invalid_token", "demo_user_id", "heartbeat_s",
                                       "heartbeat_timeout_s", NULL};
    char *mode = NULL, *invalid = NULL;
    int rc = 0;
    double hb = sc->heartbeat_ms / 1000, hb_timeout = sc->heartbeat_timeout_ms / 1000;
    if (sim_jcheck_object(ld, obj, "websocket") || sim_jcheck_keys(ld, obj, "websocket", keys) ||
        sim_jcheck_string(ld, obj, "websocket", "no_token", &mode, 0) ||
        sim_jcheck_string(ld, obj, "websocket", "invalid_token", &invalid, 0) ||
        sim_jcheck_string(ld, obj, "websocket", "demo_user_id", &sc->demo_user_id, 0) ||
        (sc->demo_user_id && strlen(sc->demo_user_id) > SIM_MAX_USER_ID &&
         sim_jcheck_fail(ld, "websocket.demo_user_id", "longer than %d bytes", SIM_MAX_USER_ID)) ||
        get_int(ld, obj, "websocket", "heartbeat_s", 0, 86400, &hb) ||
        get_int(ld, obj, "websocket", "heartbeat_timeout_s", 0, 86400, &hb_timeout))
        rc = -1;
    sc->heartbeat_ms = (uint32_t)hb * 1000;
    sc->heartbeat_timeout_ms = (uint32_t)hb_timeout * 1000;
    if (!rc && sc->heartbeat_ms && sc->heartbeat_timeout_ms &&
        sc->heartbeat_timeout_ms <= sc->heartbeat_ms)
        rc = sim_jcheck_fail(ld, "websocket.heartbeat_timeout_s", "must be greater than heartbeat_s");
    if (!rc && mode) {
        if (strcmp(mode, "demo") == 0)
            sc->no_token = SIM_NO_TOKEN_DEMO;
        else if (strcmp(mode, "reject") == 0)
            sc->no_token = SIM_NO_TOKEN_REJECT;
        else
            rc = sim_jcheck_fail(ld, "websocket.no_token", "must be \"demo\" or \"reject\", not \"%s\"", mode);
    }
    if (!rc && invalid) {
        if (strcmp(invalid, "close") == 0)
            sc->invalid_token = SIM_BAD_TOKEN_CLOSE;
        else if (strcmp(invalid, "reject") == 0)
            sc->invalid_token = SIM_BAD_TOKEN_REJECT;
        else
            rc = sim_jcheck_fail(ld, "websocket.invalid_token",
                                 "must be \"close\" or \"reject\", not \"%s\"", invalid);
    }
    free(mode);
    free(invalid);
    return rc;
}

/* A breaker spec (docs/breaker.md) at path, parsed into *cfg and kept in
 * *spec; an absent key keeps both. */
static int load_breaker(loader *ld, const cJSON *obj, const char *path, const char *key,
                        char **spec, stagesim_breaker_config *cfg) {
    char *s = NULL;
    if (sim_jcheck_string(ld, obj, path, key, &s, 0)) return -1;
    if (!s) return 0;
    char why[200], at[64];
    snprintf(at, sizeof(at), "%s.%s", path, key);
    if (stagesim_breaker_config_parse(s, cfg, why, sizeof(why))) {
        free(s);
        return sim_jcheck_fail(ld, at, "%s", why);
    }
    free(*spec);
    *spec = s;
    return 0;
}

static int load_redis(loader *ld, sim_scenario *sc, const cJSON *obj) {
    static const char *const keys[] = {"host", "port", "connect_timeout_ms", "command_timeout_ms",
                                       "breaker", NULL};
    double port = sc->redis_port, timeout = sc->redis_connect_timeout_ms;
    double cmd_timeout = sc->redis_command_timeout_ms;
    if (sim_jcheck_object(ld, obj, "redis") || sim_jcheck_keys(ld, obj, "redis", keys) ||
        sim_jcheck_string(ld, obj, "redis", "host", &sc->redis_host, 0) ||
        get_int(ld, obj, "redis", "port", 1, 65535, &port) ||
        get_int(ld, obj, "redis", "connect_timeout_ms", 1, 600000, &timeout) ||
        get_int(ld, obj, "redis", "command_timeout_ms", 1, 600000, &cmd_timeout) ||
        load_breaker(ld, obj, "redis", "breaker", &sc->redis_breaker_spec, &sc->redis_breaker))
        return -1;
    if (sc->redis_host && !*sc->redis_host) return sim_jcheck_fail(ld, "redis.host", "must not be empty");
    if (!sc->redis_host && cJSON_GetObjectItemCaseSensitive(obj, "port"))
        sc->redis_host = sim_xstrdup("127.0.0.1");
    sc->redis_port = (int)port;
    sc->redis_connect_timeout_ms = (uint32_t)timeout;
    sc->redis_command_timeout_ms = (uint32_t)cmd_timeout;
    return 0;
}

/* The timeline of life-cycle steps, in the order given; at_ms must not go
 * backwards, so the order is the order they happen in. */
static int load_lifecycle(loader *ld, sim_scenario *sc, const cJSON *arr) {
    if (!cJSON_IsArray(arr))
        return sim_jcheck_fail(ld, "lifecycle", "must be an array, not %s", sim_jcheck_type(arr));
    size_t n = (size_t)cJSON_GetArraySize(arr);
    sc->lifecycle = sim_xcalloc(n ? n : 1, sizeof(sim_lifecycle_step));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        char path[32];
        snprintf(path, sizeof(path), "lifecycle[%zu]", sc->nlifecycle);
        sim_lifecycle_step *st = &sc->lifecycle[sc->nlifecycle];
        if (sim_lifecycle_step_parse(ld, it, path, 1, st)) return -1;
        if (sc->nlifecycle && st->at_ms < st[-1].at_ms) {
            char at[48];
            snprintf(at, sizeof(at), "%s.at_ms", path);
            return sim_jcheck_fail(ld, at, "must not be before the previous step's (%lld)",
                                   (long long)st[-1].at_ms);
        }
        sc->nlifecycle++;
    }
    return 0;
}

/* Each rule is validated by the fault engine's own parser, so a scenario
 * that loads is one the engine accepts; ids must be unique. */
static int load_faults(loader *ld, const cJSON *arr) {
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        char path[32], msg[400];
        snprintf(path, sizeof(path), "faults[%zu]", i);
        if (sim_fault_rule_check(it, path, msg, sizeof(msg)))
            return sim_jcheck_fail(ld, NULL, "%s", msg);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *prev;
        size_t j = 0;
        cJSON_ArrayForEach(prev, arr) {
            if (j++ >= i) break;
            const cJSON *pid = cJSON_GetObjectItemCaseSensitive(prev, "id");
            if (strcmp(pid->valuestring, id->valuestring) == 0) {
                char idpath[48];
                snprintf(idpath, sizeof(idpath), "%s.id", path);
                return sim_jcheck_fail(ld, idpath, "duplicate rule id \"%s\"", id->valuestring);
            }
        }
        if (cJSON_GetObjectItemCaseSensitive(it, "ttl_ms")) {
            char tpath[48];
            snprintf(tpath, sizeof(tpath), "%s.ttl_ms", path);
            return sim_jcheck_fail(ld, tpath, "only for rules added at run time");
        }
        i++;
    }
    return 0;
}

static int load_startup(loader *ld, sim_scenario *sc, const cJSON *obj) {
    static const char *const keys[] = {"complete_ms", "app_state_ms", "ws_wait_ms", NULL};
    double complete = 0, app_state = 0, wait = sc->startup_ws_wait_ms;
    if (sim_jcheck_object(ld, obj, "startup") || sim_jcheck_keys(ld, obj, "startup", keys) ||
        get_int(ld, obj, "startup", "complete_ms", 1, 3600000, &complete) ||
        get_int(ld, obj, "startup", "app_state_ms", 0, 3600000, &app_state) ||
        get_int(ld, obj, "startup", "ws_wait_ms", 0, 3600000, &wait))
        return -1;
    if (!cJSON_GetObjectItemCaseSensitive(obj, "complete_ms"))
        return sim_jcheck_fail(ld, "startup.complete_ms", "is required");
    if (app_state >= complete)
        return sim_jcheck_fail(ld, "startup.app_state_ms", "must be less than complete_ms");
    sc->startup_complete_ms = (uint32_t)complete;
    sc->startup_app_state_ms = (uint32_t)app_state;
    sc->startup_ws_wait_ms = (uint32_t)wait;
    return 0;
}

/* Symptom ids are those of docs/contract.md §6: S1, S2, ... */
static int check_symptoms(loader *ld, const sim_scenario *sc) {
    for (size_t i = 0; i < sc->nsymptoms; i++) {
        const char *s = sc->symptoms[i];
        size_t n = strlen(s);
        if (n < 2 || n > 4 || s[0] != 'S' || strspn(s + 1, "0123456789") != n - 1) {
            char p[40];
            snprintf(p, sizeof(p), "symptoms[%zu]", i);
            return sim_jcheck_fail(ld, p, "must be a symptom id like \"S3\", not \"%s\"", s);
        }
    }
    return 0;
}

/* A latency band {"min": ms, "max": ms}. */
static int load_band(loader *ld, const cJSON *obj, const char *key, sim_latency_band *band) {
    static const char *const keys[] = {"min", "max", NULL};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return 0;
    char path[64];
    snprintf(path, sizeof(path), "network.%s", key);
    double lo = 0, hi = 0;
    if (sim_jcheck_object(ld, v, path) || sim_jcheck_keys(ld, v, path, keys) ||
        get_int(ld, v, path, "min", 0, 600000, &lo) || get_int(ld, v, path, "max", 1, 600000, &hi))
        return -1;
    if (!cJSON_GetObjectItemCaseSensitive(v, "max")) {
        char mpath[80];
        snprintf(mpath, sizeof(mpath), "%s.max", path);
        return sim_jcheck_fail(ld, mpath, "is required");
    }
    if (lo > hi) {
        char mpath[80];
        snprintf(mpath, sizeof(mpath), "%s.min", path);
        return sim_jcheck_fail(ld, mpath, "must not be greater than max");
    }
    band->min_ms = (uint32_t)lo;
    band->max_ms = (uint32_t)hi;
    return 0;
}

static int load_network(loader *ld, sim_scenario *sc, const cJSON *obj) {
    static const char *const keys[] = {"tls", "http_latency_ms", "ws_connect_ms", "auth_latency_ms",
                                       "front_end", NULL};
    if (sim_jcheck_object(ld, obj, "network") || sim_jcheck_keys(ld, obj, "network", keys))
        return -1;
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(obj, "tls");
    if (tls && !cJSON_IsBool(tls))
        return sim_jcheck_fail(ld, "network.tls", "must be true or false, not %s", sim_jcheck_type(tls));
    sc->tls = cJSON_IsTrue(tls);
    if (load_band(ld, obj, "http_latency_ms", &sc->network.http) ||
        load_band(ld, obj, "ws_connect_ms", &sc->network.ws_connect) ||
        load_band(ld, obj, "auth_latency_ms", &sc->network.auth))
        return -1;
    char *fe = NULL;
    if (sim_jcheck_string(ld, obj, "network", "front_end", &fe, 0)) return -1;
    int rc = 0;
    if (fe && strcmp(fe, "google") == 0)
        sc->front_end = SIM_FRONT_END_GOOGLE;
    else if (fe && strcmp(fe, "none") != 0)
        rc = sim_jcheck_fail(ld, "network.front_end", "must be \"google\" or \"none\", not \"%s\"", fe);
    free(fe);
    return rc;
}

static void set_defaults(sim_scenario *sc) {
    sc->name = sim_xstrdup("unnamed");
    sc->description = sim_xstrdup("");
    sc->profile = SIM_PROFILE_CURRENT;
    sc->seed = 1;
    sc->access_ttl_s = 1800;
    sc->refresh_ttl_s = 14 * 86400;
    sc->no_token = SIM_NO_TOKEN_DEMO;
    sc->demo_user_id = sim_xstrdup("demo-user-001");
    sc->heartbeat_ms = 35000;
    sc->startup_ws_wait_ms = 3000;
    sc->heartbeat_timeout_ms = 90000;
    sc->agent.agent_name = sim_xstrdup("supervisor");
    sc->agent.gap_ms = 50;
    sc->redis_port = 0;
    sc->redis_connect_timeout_ms = 1000;
    sc->redis_breaker_spec = sim_xstrdup(SIM_REDIS_BREAKER);
    sim_assert(stagesim_breaker_config_parse(SIM_REDIS_BREAKER, &sc->redis_breaker, NULL, 0) == 0);
    sc->redis_command_timeout_ms = 2000;
}

/* Tools and thinking texts when the file gives none. */
static void fill_agent_defaults(sim_scenario *sc) {
    static const char *tools[] = {"search_knowledge_base", "analyze_data"};
    static const char *thinking[] = {
        "Understanding the request and planning the steps",
        "Breaking the question down before choosing a tool",
        "Checking which data sources can answer this",
    };
    if (!sc->agent.ntools) {
        sc->agent.tools = sim_xcalloc(2, sizeof(char *));
        for (size_t i = 0; i < 2; i++) sc->agent.tools[i] = sim_xstrdup(tools[i]);
        sc->agent.ntools = 2;
    }
    if (!sc->agent.nthinking) {
        sc->agent.thinking = sim_xcalloc(3, sizeof(char *));
        for (size_t i = 0; i < 3; i++) sc->agent.thinking[i] = sim_xstrdup(thinking[i]);
        sc->agent.nthinking = 3;
    }
    if (!sc->agent.answer_template)
        sc->agent.answer_template = sim_xstrdup(
            "{agent} looked into \"{prompt}\" with {tool}. Finding {digest}: the request was "
            "analysed and the answer is ready.");
}

sim_scenario *sim_scenario_parse(const char *json, const char *origin, char *err, size_t errlen) {
    static const char *const keys[] = {"name", "description", "summary", "symptoms", "sources",
                                       "profile", "seed", "auth", "websocket", "users", "agent",
                                       "redis", "startup", "network", "faults", "lifecycle",
                                       "expect", NULL};
    loader ld = {.origin = origin, .err = err, .errlen = errlen};
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &parse_end, 1);
    if (!root) {
        size_t off = parse_end ? (size_t)(parse_end - json) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off && json[i]; i++) {
            if (json[i] == '\n') line++, col = 1;
            else col++;
        }
        sim_jcheck_fail(&ld, NULL, "invalid JSON at line %zu, column %zu", line, col);
        return NULL;
    }
    sim_scenario *sc = sim_xcalloc(1, sizeof(*sc));
    sc->path = sim_xstrdup(origin);
    set_defaults(sc);

    const cJSON *v;
    char *profile = NULL;
    double seed = (double)sc->seed;
    if (sim_jcheck_object(&ld, root, "") || sim_jcheck_keys(&ld, root, "", keys) ||
        sim_jcheck_string(&ld, root, "", "name", &sc->name, 0) ||
        sim_jcheck_string(&ld, root, "", "description", &sc->description, 0) ||
        sim_jcheck_string(&ld, root, "", "summary", &sc->summary, 0) ||
        sim_jcheck_strings(&ld, root, "", "symptoms", &sc->symptoms, &sc->nsymptoms, 0) ||
        sim_jcheck_strings(&ld, root, "", "sources", &sc->sources, &sc->nsources, 0) ||
        check_symptoms(&ld, sc) ||
        sim_jcheck_string(&ld, root, "", "profile", &profile, 0) ||
        get_int(&ld, root, "", "seed", 0, 9007199254740991.0, &seed))
        goto bad;
    sc->seed = (uint64_t)seed;
    if (profile) {
        if (strcmp(profile, "current") == 0)
            sc->profile = SIM_PROFILE_CURRENT;
        else if (strcmp(profile, "legacy") == 0) {
            /* The legacy build refused a WebSocket without a valid token
             * before the accept (S1); the websocket keys may say otherwise. */
            sc->profile = SIM_PROFILE_LEGACY;
            sc->no_token = SIM_NO_TOKEN_REJECT;
            sc->invalid_token = SIM_BAD_TOKEN_REJECT;
        }
        else {
            sim_jcheck_fail(&ld, "profile", "must be \"current\" or \"legacy\", not \"%s\"", profile);
            goto bad;
        }
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "auth")) && load_auth(&ld, sc, v)) goto bad;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "websocket")) && load_websocket(&ld, sc, v)) goto bad;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "users")) && load_users(&ld, sc, v)) goto bad;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "agent")) && load_agent(&ld, sc, v)) goto bad;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "redis")) && load_redis(&ld, sc, v)) goto bad;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "startup")) && load_startup(&ld, sc, v)) goto bad;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "network")) && load_network(&ld, sc, v)) goto bad;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "faults"))) {
        if (!cJSON_IsArray(v)) {
            sim_jcheck_fail(&ld, "faults", "must be an array, not %s", sim_jcheck_type(v));
            goto bad;
        }
        if (load_faults(&ld, v)) goto bad;
        sc->faults = cJSON_Duplicate(v, 1);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "lifecycle")) && load_lifecycle(&ld, sc, v))
        goto bad;
    /* After the faults: its checks may name their rules. */
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "expect")) &&
        !(sc->expect = sim_expect_parse(&ld, v, sc->faults)))
        goto bad;
    fill_agent_defaults(sc);
    free(profile);
    cJSON_Delete(root);
    return sc;
bad:
    free(profile);
    cJSON_Delete(root);
    sim_scenario_free(sc);
    return NULL;
}

sim_scenario *sim_scenario_load(const char *path, char *err, size_t errlen) {
    if (!path) return sim_scenario_parse(default_scenario, "<built-in>", err, errlen);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    sim_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > MAX_SCENARIO_BYTES) {
            fclose(f);
            sim_buf_free(&b);
            snprintf(err, errlen, "%s: file is larger than %u bytes", path, MAX_SCENARIO_BYTES);
            return NULL;
        }
        sim_buf_append(&b, chunk, n);
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr || !b.data) {
        sim_buf_free(&b);
        snprintf(err, errlen, "%s: %s", path, rerr ? "read error" : "file is empty");
        return NULL;
    }
    if (strlen(b.data) != b.len) {
        sim_buf_free(&b);
        snprintf(err, errlen, "%s: file contains a NUL byte", path);
        return NULL;
    }
    sim_scenario *sc = sim_scenario_parse(b.data, path, err, errlen);
    sim_buf_free(&b);
    return sc;
}

static void free_strings(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void sim_scenario_free(sim_scenario *sc) {
    if (!sc) return;
    free(sc->path);
    free(sc->name);
    free(sc->description);
    free(sc->summary);
    for (size_t i = 0; i < sc->nsymptoms; i++) free(sc->symptoms[i]);
    free(sc->symptoms);
    for (size_t i = 0; i < sc->nsources; i++) free(sc->sources[i]);
    free(sc->sources);
    free(sc->jwt_secret);
    free(sc->e2e_key);
    free(sc->backend_jwt_secret);
    free(sc->demo_user_id);
    for (size_t i = 0; i < sc->nusers; i++) {
        free(sc->users[i].id);
        free(sc->users[i].email);
        free(sc->users[i].password);
        free_strings(sc->users[i].permissions, sc->users[i].npermissions);
    }
    free(sc->users);
    free(sc->agent.agent_name);
    free_strings(sc->agent.tools, sc->agent.ntools);
    free_strings(sc->agent.thinking, sc->agent.nthinking);
    free(sc->agent.answer_template);
    free(sc->redis_host);
    free(sc->redis_breaker_spec);
    free(sc->lifecycle);
    cJSON_Delete(sc->faults);
    sim_expect_free(sc->expect);
    free(sc);
}

const sim_user *sim_scenario_user_by_email(const sim_scenario *sc, const char *email) {
    for (size_t i = 0; i < sc->nusers; i++)
        if (strcmp(sc->users[i].email, email) == 0) return &sc->users[i];
    return NULL;
}
