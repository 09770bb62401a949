/* control.c -- the control API (docs/control-api.md): a route table over
 * the pure request/response pair, served by net's libmicrohttpd glue on its
 * own port. Everything it changes lives in the fault engine. Errors are
 * JSON {"detail": ...} with a 4xx status. */
#include "control.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jcheck.h"
#include "mhd.h"
#include "ui_page.h"
#include "util.h"

#define JOURNAL_PAGE_MAX 100000
#define WAIT_POLL_MS 5
#define WAIT_DEFAULT_MS 10000
#define WAIT_MAX_MS 600000
#define JOURNAL_WAIT_MAX_MS 60000
#define CONTROL_MAX_BODY (1u << 20)

struct sim_control {
    sim_control_config cfg;     /* token owned; the rest borrowed */
    sim_mhd *mhd;
};

static int query_u64(const sim_http_request *req, const char *name, uint64_t dflt, uint64_t *out) {
    char v[32];
    if (sim_http_query_param(req->query, name, v, sizeof(v)) != 0) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || v[0] == '-' || errno == ERANGE) return -1;
    *out = n;
    return 0;
}

static void bad_query(sim_http_response *resp, const char *name) {
    char msg[96];
    snprintf(msg, sizeof(msg), "query parameter %s must be a non-negative integer", name);
    sim_http_detail(resp, 422, msg);
}

/* The backend's Redis client, or "not configured" when the app gave none. */
static void redis_info(const sim_control *env, sim_control_redis_info *out) {
    *out = (sim_control_redis_info){.up = 0, .status = "not configured", .failures = 0};
    if (env->cfg.redis_info) env->cfg.redis_info(env->cfg.redis_info_ctx, out);
}

static void route_status(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "running");
    cJSON_AddStringToObject(j, "version", STAGESIM_VERSION);
    cJSON *sc = cJSON_AddObjectToObject(j, "scenario");
    cJSON_AddStringToObject(sc, "name", env->cfg.sc->name);
    cJSON_AddStringToObject(sc, "path", env->cfg.sc->path);
    cJSON_AddStringToObject(sc, "description", env->cfg.sc->description);
    cJSON_AddStringToObject(sc, "profile", env->cfg.sc->profile == SIM_PROFILE_LEGACY ? "legacy" : "current");
    cJSON_AddNumberToObject(sc, "seed", (double)env->cfg.sc->seed);
    cJSON *ports = cJSON_AddObjectToObject(j, "ports");
    static const char *names[] = {"backend", "auth", "redis", "control"};
    for (int i = 0; i < 4; i++) cJSON_AddNumberToObject(ports, names[i], env->cfg.ports[i]);
    cJSON_AddNumberToObject(j, "uptime_ms", (double)(req->now_ms - env->cfg.clock->start_ms));
    cJSON_AddNumberToObject(j, "rules", (double)sim_faults_count(env->cfg.faults));
    cJSON_AddNumberToObject(j, "journal_lines", (double)sim_faults_journal_count(env->cfg.faults));
    sim_control_redis_info ri;
    redis_info(env, &ri);
    cJSON_AddStringToObject(j, "redis", ri.status);
    if (env->cfg.describe) env->cfg.describe(env->cfg.describe_ctx, j, req->now_ms);
    sim_http_json(resp, 200, j);
}

/* POST /faults: one rule object, or an array of them (all or nothing). */
static void route_add(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    cJSON *body = req->body_len ? sim_jcheck_parse(req->body, req->body_len, NULL) : NULL;
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
        if (sim_faults_add(env->cfg.faults, it, path, 1, req->now_ms, err, sizeof(err))) {
            /* Undo this request's earlier rules: all or nothing. */
            const cJSON *id;
            cJSON_ArrayForEach(id, added) sim_faults_remove(env->cfg.faults, id->valuestring);
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

static void route_journal(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
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
    uint64_t wait_ms;
    if (query_u64(req, "wait_ms", 0, &wait_ms)) {
        bad_query(resp, "wait_ms");
        return;
    }
    if (wait_ms > JOURNAL_WAIT_MAX_MS) wait_ms = JOURNAL_WAIT_MAX_MS;
    /* A live view follows the journal with this long poll: nothing newer
     * than since yet, so hold the request until a line comes or wait_ms
     * passes (then an empty page). */
    if (sim_faults_journal_count(env->cfg.faults) <= since &&
        req->now_ms - req->arrived_ms < (int64_t)wait_ms) {
        resp->retry_ms = WAIT_POLL_MS;
        return;
    }
    resp->status = 200;
    resp->content_type = "application/x-ndjson";
    resp->body.len = 0;
    /* The ring keeps the last lines only: say which line came first, so a
     * reader sees a gap, and which came last, so it can page on with
     * since=X-Journal-Last. */
    uint64_t total = sim_faults_journal_count(env->cfg.faults);
    if (since > total) since = total;   /* nothing newer; and since + 1 cannot wrap */
    uint64_t oldest = sim_faults_journal_oldest(env->cfg.faults);
    uint64_t first = since + 1 > oldest ? since + 1 : oldest;
    size_t n = sim_faults_journal_since(env->cfg.faults, since, (size_t)limit, &resp->body);
    snprintf(resp->extra_headers, sizeof(resp->extra_headers),
             "X-Journal-First: %llu\r\nX-Journal-Last: %llu\r\nX-Journal-Total: %llu\r\n",
             (unsigned long long)(n ? first : since + 1), (unsigned long long)(n ? first + n - 1 : since),
             (unsigned long long)total);
}

/* GET /journal/wait?rule=ID&count=N&timeout_ms=T: a long poll that answers
 * 200 once the rule has fired N times, 408 when T passes first. */
static void route_wait(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
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
    uint64_t fired = sim_faults_fired(env->cfg.faults, rule);
    int64_t waited_ms = req->now_ms - req->arrived_ms;
    if (fired < count && waited_ms < (int64_t)timeout) {
        resp->retry_ms = WAIT_POLL_MS;
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "rule", rule);
    cJSON_AddNumberToObject(j, "fired", (double)fired);
    cJSON_AddNumberToObject(j, "count", (double)count);
    cJSON_AddNumberToObject(j, "waited_ms", (double)waited_ms);
    if (fired < count) cJSON_AddStringToObject(j, "detail", "timeout before the rule fired often enough");
    sim_http_json(resp, fired >= count ? 200 : 408, j);
}

static void route_metrics(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    sim_control_redis_info ri;
    redis_info(env, &ri);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4";
    resp->body.len = 0;
    sim_faults_metrics(env->cfg.faults, &resp->body);
    sim_buf_printf(&resp->body,
                   "# HELP stagesim_redis_history_up 1 when the backend's Redis client is connected.\n"
                   "# TYPE stagesim_redis_history_up gauge\n"
                   "stagesim_redis_history_up %d\n"
                   "# HELP stagesim_redis_history_failures_total Redis failures seen by the backend.\n"
                   "# TYPE stagesim_redis_history_failures_total counter\n"
                   "stagesim_redis_history_failures_total %llu\n",
                   ri.up, (unsigned long long)ri.failures);
}

static void route_faults_list(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "faults", sim_faults_list(env->cfg.faults, req->now_ms));
    sim_http_json(resp, 200, j);
}

static void route_faults_clear(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "removed", (double)sim_faults_count(env->cfg.faults));
    sim_faults_clear(env->cfg.faults);
    sim_http_json(resp, 200, j);
}

/* The {id} of /faults/{id}: a path segment, so it holds no '/'. */
static const char *rule_id(const sim_http_request *req) {
    return req->path + strlen("/faults/");
}

static void route_fault_get(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    cJSON *j = sim_faults_get(env->cfg.faults, rule_id(req), req->now_ms);
    if (!j) {
        sim_http_detail(resp, 404, "no such rule");
        return;
    }
    sim_http_json(resp, 200, j);
}

static void route_fault_remove(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    if (sim_faults_remove(env->cfg.faults, rule_id(req))) {
        sim_http_detail(resp, 404, "no such rule");
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "removed", rule_id(req));
    sim_http_json(resp, 200, j);
}

static void route_reset(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    sim_faults_reset(env->cfg.faults);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "reset");
    cJSON_AddNumberToObject(j, "rules", (double)sim_faults_count(env->cfg.faults));
    sim_http_json(resp, 200, j);
}

/* POST /scenario: validates a scenario and swaps the fault rules for its
 * own; the rest of a scenario (users, agent, ports) needs a restart. */
static void route_scenario(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    char err[512];
    sim_buf text = {0};
    sim_buf_append(&text, req->body ? req->body : "", req->body_len);
    sim_scenario *sc = sim_scenario_parse(text.data, "scenario", err, sizeof(err));
    sim_buf_free(&text);
    if (!sc) {
        sim_http_detail(resp, 422, err);
        return;
    }
    sim_faults_clear(env->cfg.faults);
    if (sc->faults && sim_faults_add_all(env->cfg.faults, sc->faults, req->now_ms, err, sizeof(err))) {
        sim_scenario_free(sc);
        sim_http_detail(resp, 422, err);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "applied");
    cJSON_AddStringToObject(j, "name", sc->name);
    cJSON_AddNumberToObject(j, "rules", (double)sim_faults_count(env->cfg.faults));
    cJSON_AddStringToObject(j, "note", "fault rules replaced; users, agent and auth settings need a restart");
    sim_scenario_free(sc);
    sim_http_json(resp, 200, j);
}

/* POST /lifecycle: one step of a service's life cycle (docs/lifecycle.md). */
static void route_lifecycle(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    if (!env->cfg.lifecycle) {
        sim_http_detail(resp, 404, "no life cycle here");
        return;
    }
    cJSON *body = req->body_len ? sim_jcheck_parse(req->body, req->body_len, NULL) : NULL;
    if (!body) {
        sim_http_detail(resp, 400, "body must be a JSON object: {\"service\", \"action\", ...}");
        return;
    }
    char err[512] = "";
    sim_jcheck jc = {.origin = NULL, .err = err, .errlen = sizeof(err)};
    sim_lifecycle_step st;
    int rc = sim_lifecycle_step_parse(&jc, body, "", 0, &st);
    cJSON_Delete(body);
    if (rc) {
        sim_http_detail(resp, 422, err);
        return;
    }
    int status = env->cfg.lifecycle(env->cfg.lifecycle_ctx, &st, err, sizeof(err));
    if (status) {
        sim_http_detail(resp, status, err);
        return;
    }
    sim_http_json(resp, 200, env->cfg.lifecycle_state(env->cfg.lifecycle_ctx));
}

static void route_lifecycle_state(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    (void)req;
    sim_control *env = ctx;
    if (!env->cfg.lifecycle_state) {
        sim_http_detail(resp, 404, "no life cycle here");
        return;
    }
    sim_http_json(resp, 200, env->cfg.lifecycle_state(env->cfg.lifecycle_ctx));
}

/* POST /revoke: a user's tokens revoked mid-session (their WebSockets
 * close 1008). */
static void route_revoke(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control *env = ctx;
    if (!env->cfg.revoke_user) {
        sim_http_detail(resp, 404, "no auth service here");
        return;
    }
    cJSON *body = req->body_len ? sim_jcheck_parse(req->body, req->body_len, NULL) : NULL;
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(body, "user_id");
    if (!cJSON_IsString(user) || !*user->valuestring || strlen(user->valuestring) > SIM_MAX_USER_ID) {
        cJSON_Delete(body);
        sim_http_detail(resp, 400, "body must be {\"user_id\": \"<id>\"}");
        return;
    }
    env->cfg.revoke_user(env->cfg.lifecycle_ctx, user->valuestring);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "revoked", user->valuestring);
    cJSON_Delete(body);
    sim_http_json(resp, 200, j);
}

/* GET /ui: the live view of this simulator (sim/control/ui.html), which
 * reads /status, /faults and follows /journal. */
static void route_ui(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    (void)ctx, (void)req;
    resp->status = 200;
    resp->content_type = "text/html; charset=utf-8";
    resp->body.len = 0;
    sim_buf_append(&resp->body, sim_ui_html, sim_ui_html_len);
}

static const sim_route routes[] = {
    {"GET", "/ui", route_ui, 0},
    {"GET", "/status", route_status, 0},
    {"POST", "/revoke", route_revoke, 0},
    {"GET", "/lifecycle", route_lifecycle_state, 0},
    {"POST", "/lifecycle", route_lifecycle, 0},
    {"GET", "/faults", route_faults_list, 0},
    {"POST", "/faults", route_add, 0},
    {"DELETE", "/faults", route_faults_clear, 0},
    {"GET", "/faults/{}", route_fault_get, 0},
    {"DELETE", "/faults/{}", route_fault_remove, 0},
    {"POST", "/reset", route_reset, 0},
    {"POST", "/scenario", route_scenario, 0},
    {"GET", "/journal", route_journal, 0},
    {"GET", "/journal/wait", route_wait, 0},
    {"GET", "/metrics", route_metrics, 0},
    {NULL, NULL, NULL, 0},
};

void sim_control_handle(sim_control *env, const sim_http_request *req, sim_http_response *resp) {
    if (env->cfg.token) {
        const char *t = sim_http_bearer(req);
        if (!t || !sim_secret_eq(t, strlen(t), env->cfg.token, strlen(env->cfg.token))) {
            sim_http_detail(resp, 401, "control API token required");
            return;
        }
    }
    sim_faults_expire(env->cfg.faults, req->now_ms);
    sim_route_miss miss;
    const sim_route *r = sim_route_find(routes, req, 0, &miss);
    if (r)
        r->fn(env, req, resp);
    else
        sim_http_detail(resp, miss.status, sim_http_reason(miss.status));
}

/* ---- the service on the loop ------------------------------------------- */

static void service_handler(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_control_handle(ctx, req, resp);
}

sim_control *sim_control_new(const sim_control_config *cfg) {
    sim_control *ctl = sim_xcalloc(1, sizeof(*ctl));
    ctl->cfg = *cfg;
    ctl->cfg.token = cfg->token ? sim_xstrdup(cfg->token) : NULL;
    return ctl;
}

void sim_control_free(sim_control *ctl) {
    if (!ctl) return;
    sim_mhd_stop(ctl->mhd);
    free((char *)ctl->cfg.token);
    free(ctl);
}

sim_control *sim_control_start(struct ev_loop *loop, const sim_control_config *cfg, char *err,
                               size_t errlen) {
    sim_control *ctl = sim_control_new(cfg);
    /* The control API changes what every service does: loopback only,
     * unless a bearer token guards it. */
    sim_mhd_config mc = {.who = "control", .bind = cfg->token ? cfg->bind : "127.0.0.1",
                         .port = cfg->port, .max_body = CONTROL_MAX_BODY,
                         .handler = service_handler, .ctx = ctl, .faults = cfg->faults,
                         .service = SIM_SVC_CONTROL, .clock = cfg->clock,
                         .max_conns = cfg->max_conns};
    ctl->mhd = sim_mhd_start(loop, &mc, err, errlen);
    if (!ctl->mhd) {
        sim_control_free(ctl);
        return NULL;
    }
    ctl->cfg.ports[3] = sim_mhd_port(ctl->mhd);
    return ctl;
}

int sim_control_port(const sim_control *ctl) {
    return ctl->cfg.ports[3];
}

void sim_control_stop(sim_control *ctl) {
    sim_control_free(ctl);
}
