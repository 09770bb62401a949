/* control.c -- the control API's routes (docs/control-api.md). Pure: the
 * request in, the response out; everything it changes lives in the fault
 * engine. Errors are JSON {"detail": ...} with a 4xx status. */
#include "control.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define JOURNAL_PAGE_MAX 100000
#define WAIT_POLL_MS 5
#define WAIT_DEFAULT_MS 10000
#define WAIT_MAX_MS 600000

static int query_u64(const sim_http_request *req, const char *name, uint64_t dflt, uint64_t *out) {
    char v[32];
    if (sim_http_query_param(req->query, name, v, sizeof(v)) != 0) {
        *out = dflt;
        return 0;
    }
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || v[0] == '-') return -1;
    *out = n;
    return 0;
}

static void bad_query(sim_http_response *resp, const char *name) {
    char msg[96];
    snprintf(msg, sizeof(msg), "query parameter %s must be a non-negative integer", name);
    sim_http_detail(resp, 422, msg);
}

/* The backend's Redis client, or "not configured" when the app gave none. */
static void redis_info(const sim_control_env *env, sim_control_redis_info *out) {
    *out = (sim_control_redis_info){.up = 0, .status = "not configured", .failures = 0};
    if (env->redis_info) env->redis_info(env->redis_info_ctx, out);
}

static void route_status(sim_control_env *env, const sim_http_request *req, sim_http_response *resp) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "running");
    cJSON_AddStringToObject(j, "version", STAGESIM_VERSION);
    cJSON *sc = cJSON_AddObjectToObject(j, "scenario");
    cJSON_AddStringToObject(sc, "name", env->sc->name);
    cJSON_AddStringToObject(sc, "path", env->sc->path);
    cJSON_AddStringToObject(sc, "description", env->sc->description);
    cJSON_AddStringToObject(sc, "profile", env->sc->profile == SIM_PROFILE_LEGACY ? "legacy" : "current");
    cJSON_AddNumberToObject(sc, "seed", (double)env->sc->seed);
    cJSON *ports = cJSON_AddObjectToObject(j, "ports");
    static const char *names[] = {"backend", "auth", "redis", "control"};
    for (int i = 0; i < 4; i++) cJSON_AddNumberToObject(ports, names[i], env->ports[i]);
    cJSON_AddNumberToObject(j, "uptime_ms", floor((req->now - env->start_time) * 1000));
    cJSON_AddNumberToObject(j, "rules", (double)sim_faults_count(env->faults));
    cJSON_AddNumberToObject(j, "journal_lines", (double)sim_faults_journal_count(env->faults));
    sim_control_redis_info ri;
    redis_info(env, &ri);
    cJSON_AddStringToObject(j, "redis", ri.status);
    sim_http_json(resp, 200, j);
}

/* POST /faults: one rule object, or an array of them (all or nothing). */
static void route_add(sim_control_env *env, const sim_http_request *req, sim_http_response *resp) {
    cJSON *body = req->body_len ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    if (!body) {
        sim_http_detail(resp, 400, "body must be a JSON rule object or an array of rules");
        return;
    }
    char err[512];
    cJSON *added = cJSON_CreateArray();
    int arr = cJSON_IsArray(body);
    const cJSON *it = arr ? body->child : body;
    size_t i = 0;
    for (; it; it = arr ? it->next : NULL, i++) {
        char path[32];
        snprintf(path, sizeof(path), arr ? "rule[%zu]" : "rule", i);
        if (sim_faults_add(env->faults, it, path, 1, req->now, err, sizeof(err))) {
            /* Undo this request's earlier rules: all or nothing. */
            const cJSON *id;
            cJSON_ArrayForEach(id, added) sim_faults_remove(env->faults, id->valuestring);
            cJSON_Delete(added);
            cJSON_Delete(body);
            sim_http_detail(resp, 422, err);
            return;
        }
        cJSON_AddItemToArray(added, cJSON_CreateString(cJSON_GetObjectItem(it, "id")->valuestring));
    }
    cJSON_Delete(body);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "added", added);
    sim_http_json(resp, 201, j);
}

static void route_journal(sim_control_env *env, const sim_http_request *req, sim_http_response *resp) {
    uint64_t since, limit;
    if (query_u64(req, "since", 0, &since)) {
        bad_query(resp, "since");
        return;
    }
    if (query_u64(req, "limit", JOURNAL_PAGE_MAX, &limit)) {
        bad_query(resp, "limit");
        return;
    }
    if (limit > JOURNAL_PAGE_MAX) limit = JOURNAL_PAGE_MAX;
    resp->status = 200;
    resp->content_type = "application/x-ndjson";
    resp->body.len = 0;
    /* The ring keeps the last lines only: say which line came first, so a
     * reader sees a gap, and which came last, so it can page on with
     * since=X-Journal-Last. */
    uint64_t total = sim_faults_journal_count(env->faults);
    uint64_t oldest = sim_faults_journal_oldest(env->faults);
    uint64_t first = since + 1 > oldest ? since + 1 : oldest;
    size_t n = sim_faults_journal_since(env->faults, since, (size_t)limit, &resp->body);
    snprintf(resp->extra_headers, sizeof(resp->extra_headers),
             "X-Journal-First: %llu\r\nX-Journal-Last: %llu\r\nX-Journal-Total: %llu\r\n",
             (unsigned long long)(n ? first : since + 1), (unsigned long long)(n ? first + n - 1 : since),
             (unsigned long long)total);
}

/* GET /journal/wait?rule=ID&count=N&timeout_ms=T: a long poll that answers
 * 200 once the rule has fired N times, 408 when T passes first. */
static void route_wait(sim_control_env *env, const sim_http_request *req, sim_http_response *resp) {
    char rule[80];
    uint64_t count, timeout;
    if (sim_http_query_param(req->query, "rule", rule, sizeof(rule)) != 0 || !*rule) {
        char probe[2];
        int present = sim_http_query_param(req->query, "rule", probe, sizeof(probe)) == 0 ||
                      strstr(req->query, "rule=") != NULL;
        sim_http_detail(resp, 422, present ? "query parameter rule: a rule id is 1-64 characters"
                                           : "query parameter rule is required");
        return;
    }
    if (query_u64(req, "count", 1, &count)) {
        bad_query(resp, "count");
        return;
    }
    if (query_u64(req, "timeout_ms", WAIT_DEFAULT_MS, &timeout)) {
        bad_query(resp, "timeout_ms");
        return;
    }
    if (timeout > WAIT_MAX_MS) timeout = WAIT_MAX_MS;
    uint64_t fired = sim_faults_fired(env->faults, rule);
    double waited_ms = (req->now - req->arrived) * 1000;
    if (fired < count && waited_ms < (double)timeout) {
        resp->retry_ms = WAIT_POLL_MS;
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "rule", rule);
    cJSON_AddNumberToObject(j, "fired", (double)fired);
    cJSON_AddNumberToObject(j, "count", (double)count);
    cJSON_AddNumberToObject(j, "waited_ms", floor(waited_ms));
    if (fired < count) cJSON_AddStringToObject(j, "detail", "timeout before the rule fired often enough");
    sim_http_json(resp, fired >= count ? 200 : 408, j);
}

static void route_metrics(sim_control_env *env, sim_http_response *resp) {
    sim_control_redis_info ri;
    redis_info(env, &ri);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4";
    resp->body.len = 0;
    sim_faults_metrics(env->faults, &resp->body);
    sim_buf_printf(&resp->body,
                   "# HELP stagesim_redis_history_up 1 when the backend's Redis client is connected.\n"
                   "# TYPE stagesim_redis_history_up gauge\n"
                   "stagesim_redis_history_up %d\n"
                   "# HELP stagesim_redis_history_failures_total Redis failures seen by the backend.\n"
                   "# TYPE stagesim_redis_history_failures_total counter\n"
                   "stagesim_redis_history_failures_total %llu\n",
                   ri.up, (unsigned long long)ri.failures);
}

static int is(const sim_http_request *req, const char *method, const char *path) {
    return strcmp(req->method, method) == 0 && strcmp(req->path, path) == 0;
}

void sim_control_handle(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control_env *env = ctx;
    if (env->token) {
        const char *t = sim_http_bearer(req);
        if (!t || strcmp(t, env->token) != 0) {
            sim_http_detail(resp, 401, "control API token required");
            return;
        }
    }
    sim_faults_expire(env->faults, req->now);
    const char *p = req->path;
    if (is(req, "GET", "/status")) {
        route_status(env, req, resp);
        return;
    }
    if (is(req, "GET", "/faults")) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "faults", sim_faults_list(env->faults, req->now));
        sim_http_json(resp, 200, j);
        return;
    }
    if (is(req, "POST", "/faults")) {
        route_add(env, req, resp);
        return;
    }
    if (is(req, "DELETE", "/faults")) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "removed", (double)sim_faults_count(env->faults));
        sim_faults_clear(env->faults);
        sim_http_json(resp, 200, j);
        return;
    }
    if (strncmp(p, "/faults/", 8) == 0 && p[8] && !strchr(p + 8, '/')) {
        const char *id = p + 8;
        if (strcmp(req->method, "GET") == 0) {
            cJSON *j = sim_faults_get(env->faults, id, req->now);
            if (!j) {
                sim_http_detail(resp, 404, "no such rule");
                return;
            }
            sim_http_json(resp, 200, j);
            return;
        }
        if (strcmp(req->method, "DELETE") == 0) {
            if (sim_faults_remove(env->faults, id)) {
                sim_http_detail(resp, 404, "no such rule");
                return;
            }
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "removed", id);
            sim_http_json(resp, 200, j);
            return;
        }
        sim_http_detail(resp, 405, "Method Not Allowed");
        return;
    }
    if (is(req, "POST", "/reset")) {
        sim_faults_reset(env->faults);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "status", "reset");
        cJSON_AddNumberToObject(j, "rules", (double)sim_faults_count(env->faults));
        sim_http_json(resp, 200, j);
        return;
    }
    if (is(req, "POST", "/scenario")) {
        /* Validates a scenario and swaps the fault rules for its own; the
         * rest of a scenario (users, agent, ports) needs a restart. */
        char err[512];
        sim_buf text = {0};
        sim_buf_append(&text, req->body ? req->body : "", req->body_len);
        sim_scenario *sc = sim_scenario_parse(text.data, "scenario", err, sizeof(err));
        sim_buf_free(&text);
        if (!sc) {
            sim_http_detail(resp, 422, err);
            return;
        }
        sim_faults_clear(env->faults);
        if (sc->faults && sim_faults_add_all(env->faults, sc->faults, req->now, err, sizeof(err))) {
            sim_scenario_free(sc);
            sim_http_detail(resp, 422, err);
            return;
        }
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "status", "applied");
        cJSON_AddStringToObject(j, "name", sc->name);
        cJSON_AddNumberToObject(j, "rules", (double)sim_faults_count(env->faults));
        cJSON_AddStringToObject(j, "note", "fault rules replaced; users, agent and auth settings need a restart");
        sim_scenario_free(sc);
        sim_http_json(resp, 200, j);
        return;
    }
    if (is(req, "GET", "/journal")) {
        route_journal(env, req, resp);
        return;
    }
    if (is(req, "GET", "/journal/wait")) {
        route_wait(env, req, resp);
        return;
    }
    if (is(req, "GET", "/metrics")) {
        route_metrics(env, resp);
        return;
    }
    static const char *known[] = {"/status", "/faults", "/reset", "/scenario", "/journal",
                                  "/journal/wait", "/metrics", NULL};
    for (const char **k = known; *k; k++)
        if (strcmp(p, *k) == 0) {
            sim_http_detail(resp, 405, "Method Not Allowed");
            return;
        }
    sim_http_detail(resp, 404, "Not Found");
}
