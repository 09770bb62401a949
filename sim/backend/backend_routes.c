/* backend_routes.c -- the backend's HTTP routes of CONTRACT section 1, as a
 * table of {method, path, handler}; pure (request in, response out). The
 * thread history route only names the thread: the glue reads Redis. */
#include "backend_routes.h"
#include "startup.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct route_ctx {
    sim_backend_routes *rt;
    const sim_http_request *req;
    sim_http_response *resp;
    const char *thread_id;      /* {id} of /api/threads/{id}/..., else NULL */
    const sim_principal *who;   /* set for authenticated routes */
    char *history_thread;       /* out: read this thread's history */
    size_t history_len;
} route_ctx;

typedef int (*route_fn)(route_ctx *c);

static int legacy(const route_ctx *c) {
    return c->rt->sc && c->rt->sc->profile == SIM_PROFILE_LEGACY;
}

static int reply(route_ctx *c, int status, cJSON *j) {
    sim_http_json(c->resp, status, j);
    return SIM_ROUTE_DONE;
}

static cJSON *status_obj(const char *status) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", status);
    return j;
}

static void add_iso(cJSON *j, const char *key, int64_t now_ms) {
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, now_ms);
    cJSON_AddStringToObject(j, key, iso);
}

/* ---- health family ------------------------------------------------------ */

static int h_health(route_ctx *c) {
    if (!legacy(c)) return reply(c, 200, status_obj("ok"));
    sim_phase phase = sim_startup_phase(c->rt->sc, c->req->now_ms - c->rt->start_ms);
    if (phase != SIM_PHASE_COMPLETE) {
        cJSON *j = status_obj("unhealthy");
        cJSON_AddStringToObject(j, "message", "Startup in progress");
        cJSON_AddBoolToObject(j, "startup_in_progress", 1);
        cJSON *d = cJSON_AddObjectToObject(j, "details");
        cJSON_AddStringToObject(d, "phase", sim_phase_name(phase));
        return reply(c, 503, j);
    }
    cJSON *j = status_obj("healthy");
    cJSON_AddStringToObject(j, "service", "netra-ai-platform");
    cJSON_AddStringToObject(j, "version", "1.0.0");
    cJSON_AddNumberToObject(j, "timestamp", c->req->now_ms / 1000.0);
    return reply(c, 200, j);
}

static int h_ok(route_ctx *c) {
    return reply(c, 200, status_obj("ok"));
}

static const char *redis_state(const route_ctx *c) {
    sim_history *h = c->rt->history;
    if (!h) return "skipped_optional";
    return sim_history_connected(h) ? "connected" : "optional_unavailable";
}

static int h_ready(route_ctx *c) {
    cJSON *j = status_obj("ready");
    if (legacy(c)) {
        cJSON_AddStringToObject(j, "core_db", "connected");
        cJSON_AddStringToObject(j, "clickhouse_db", "skipped_optional");
        cJSON_AddStringToObject(j, "redis_db", redis_state(c));
    }
    return reply(c, 200, j);
}

/* Breaker view of the backend's Redis client, following the staging rules
 * (5 failures open it): open while disconnected after 5 failures. The
 * WebSocket and auth breakers have nothing that trips them yet. */
static cJSON *breakers(const route_ctx *c) {
    sim_history *h = c->rt->history;
    uint64_t fails = h ? sim_history_failures(h) : 0;
    int redis_open = h && !sim_history_connected(h) && fails >= 5;
    static const struct { const char *name; int threshold; int recovery_s; } defs[] = {
        {"redis", 5, 60}, {"websocket", 3, 15}, {"auth", 5, 30}};
    cJSON *b = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        cJSON *o = cJSON_AddObjectToObject(b, defs[i].name);
        int is_redis = i == 0;
        cJSON_AddStringToObject(o, "name", defs[i].name);
        cJSON_AddStringToObject(o, "state", is_redis && redis_open ? "open" : "closed");
        cJSON_AddNumberToObject(o, "failure_count", is_redis ? (double)fails : 0);
        cJSON_AddNumberToObject(o, "failure_threshold", defs[i].threshold);
        cJSON_AddNumberToObject(o, "recovery_timeout", defs[i].recovery_s);
    }
    return b;
}

static int h_infrastructure(route_ctx *c) {
    sim_history *h = c->rt->history;
    int connected = h ? sim_history_connected(h) : 0;
    cJSON *j = status_obj(!h || connected ? "ok" : "degraded");
    cJSON *inf = cJSON_AddObjectToObject(j, "infrastructure");
    cJSON *r = cJSON_AddObjectToObject(inf, "redis");
    cJSON_AddStringToObject(r, "status", !h ? "not_configured" : connected ? "connected" : "failed");
    cJSON_AddBoolToObject(r, "connected", connected);
    if (h && !connected) cJSON_AddStringToObject(r, "error", sim_history_status(h));
    cJSON_AddNumberToObject(r, "failures", h ? (double)sim_history_failures(h) : 0);
    cJSON *db = cJSON_AddObjectToObject(inf, "database");
    cJSON_AddStringToObject(db, "status", "connected");
    cJSON_AddBoolToObject(db, "connected", 1);
    cJSON_AddItemToObject(j, "circuit_breakers", breakers(c));
    /* Redis is optional: chat keeps working without it. */
    cJSON_AddBoolToObject(j, "chat_functionality_impact", 0);
    add_iso(j, "timestamp", c->req->now_ms);
    return reply(c, 200, j);
}

static int h_breakers(route_ctx *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "circuit_breakers", breakers(c));
    add_iso(j, "timestamp", c->req->now_ms);
    return reply(c, 200, j);
}

/* ---- discovery, mcp, beacon --------------------------------------------- */

/* The host part of URLs that point back at this simulator. */
static void own_host(const route_ctx *c, char *out, size_t outlen) {
    const char *host = c->rt->host;
    if (host && *host && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0) {
        snprintf(out, outlen, "%s", host);
        return;
    }
    const char *hh = c->req->header ? c->req->header(c->req, "Host") : NULL;
    if (hh && *hh && strlen(hh) < outlen) {
        snprintf(out, outlen, "%s", hh);
        char *colon = strrchr(out, ':');
        if (colon && !strchr(colon, ']')) *colon = '\0';
        return;
    }
    snprintf(out, outlen, "127.0.0.1");
}

static int h_discovery(route_ctx *c) {
    char host[256], url[320];
    own_host(c, host, sizeof(host));
    cJSON *j = cJSON_CreateObject();
    cJSON *s = cJSON_AddObjectToObject(j, "services");
    cJSON *b = cJSON_AddObjectToObject(s, "backend");
    snprintf(url, sizeof(url), "http://%s:%d", host, c->rt->backend_port);
    cJSON_AddStringToObject(b, "url", url);
    snprintf(url, sizeof(url), "ws://%s:%d/ws", host, c->rt->backend_port);
    cJSON_AddStringToObject(b, "ws_url", url);
    snprintf(url, sizeof(url), "http://%s:%d/health", host, c->rt->backend_port);
    cJSON_AddStringToObject(b, "health_url", url);
    cJSON *a = cJSON_AddObjectToObject(s, "auth");
    snprintf(url, sizeof(url), "http://%s:%d", host, c->rt->auth_port);
    cJSON_AddStringToObject(a, "url", url);
    snprintf(url, sizeof(url), "http://%s:%d/health", host, c->rt->auth_port);
    cJSON_AddStringToObject(a, "health_url", url);
    cJSON *f = cJSON_AddObjectToObject(s, "frontend");
    snprintf(url, sizeof(url), "http://%s:3000", host);
    cJSON_AddStringToObject(f, "url", url);
    add_iso(j, "timestamp", c->req->now_ms);
    cJSON_AddBoolToObject(j, "available", 1);
    return reply(c, 200, j);
}

static int h_mcp_servers(route_ctx *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    cJSON *srv = cJSON_CreateObject();
    cJSON_AddStringToObject(srv, "name", "netra-mcp");
    cJSON_AddStringToObject(srv, "status", "connected");
    cJSON_AddStringToObject(srv, "transport", "http");
    cJSON_AddNumberToObject(srv, "tools_count",
                            c->rt->sc ? (double)c->rt->sc->agent.ntools : 0);
    cJSON_AddItemToArray(arr, srv);
    cJSON_AddStringToObject(j, "status", "success");
    return reply(c, 200, j);
}

static int h_mcp_config(route_ctx *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON *srv = cJSON_AddObjectToObject(j, "server");
    cJSON_AddStringToObject(srv, "name", "netra-mcp");
    cJSON_AddStringToObject(srv, "version", "1.0.0");
    cJSON_AddStringToObject(j, "transport", "http");
    cJSON *tools = cJSON_AddArrayToObject(j, "tools");
    if (c->rt->sc)
        for (size_t i = 0; i < c->rt->sc->agent.ntools; i++)
            cJSON_AddItemToArray(tools, cJSON_CreateString(c->rt->sc->agent.tools[i]));
    return reply(c, 200, j);
}

static int h_beacon(route_ctx *c) {
    cJSON *j = status_obj("healthy");
    cJSON_AddStringToObject(j, "service", "websocket_beacon");
    add_iso(j, "timestamp", c->req->now_ms);
    cJSON_AddStringToObject(j, "message", "WebSocket service is available");
    return reply(c, 200, j);
}

static int h_root(route_ctx *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "message", "Welcome to Netra API");
    return reply(c, 200, j);
}

/* ---- threads (Bearer-authenticated) -------------------------------------- */

static int h_thread_create(route_ctx *c) {
    char hex[17], id[40];
    uint64_t n = ++c->rt->threads_created;
    sim_hex(hex, 16, sim_mix(c->rt->seed, "thread_create", n, 0));
    snprintf(id, sizeof(id), "thread_%s", hex);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "thread_id", id);
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "user_id", c->who->user_id);
    add_iso(j, "created_at", c->req->now_ms);
    cJSON_AddStringToObject(j, "status", "created");
    return reply(c, 200, j);
}

static int h_thread_validate(route_ctx *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "valid", 1);
    cJSON_AddStringToObject(j, "thread_id", c->thread_id);
    cJSON_AddStringToObject(j, "user_id", c->who->user_id);
    return reply(c, 200, j);
}

static int h_thread_messages(route_ctx *c) {
    snprintf(c->history_thread, c->history_len, "%s", c->thread_id);
    return SIM_ROUTE_HISTORY;
}

void sim_backend_routes_history(sim_http_response *resp, const char *thread_id,
                                const void *json_array, const char *error) {
    if (!json_array) {
        char msg[256];
        snprintf(msg, sizeof(msg), "Thread history unavailable: %s", error ? error : "no Redis");
        sim_http_detail(resp, 503, msg);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "thread_id", thread_id);
    cJSON *copy = cJSON_Duplicate((const cJSON *)json_array, 1);
    cJSON_AddNumberToObject(j, "total", (double)cJSON_GetArraySize(copy));
    cJSON_AddItemToObject(j, "messages", copy);
    sim_http_json(resp, 200, j);
}

/* ---- the table ----------------------------------------------------------- */

enum { R_GET = 1, R_POST = 2, R_AUTH = 4, R_THREAD = 8, R_LEGACY_ONLY = 16 };

typedef struct route {
    const char *path;     /* exact, or the suffix after /api/threads/{id} when R_THREAD */
    int flags;
    route_fn fn;
} route;

static const route routes[] = {
    {"/", R_GET, h_root},
    {"/health", R_GET, h_health},
    {"/health/", R_GET, h_health},
    {"/api/health", R_GET | R_LEGACY_ONLY, h_health},
    {"/health/ready", R_GET, h_ready},
    {"/health/live", R_GET, h_ok},
    {"/health/startup", R_GET, h_ok},
    {"/health/backend", R_GET, h_ok},
    {"/health/infrastructure", R_GET, h_infrastructure},
    {"/health/circuit-breakers", R_GET, h_breakers},
    {"/api/discovery/services", R_GET, h_discovery},
    {"/api/mcp/servers", R_GET, h_mcp_servers},
    {"/api/mcp/config", R_GET, h_mcp_config},
    {"/ws/beacon", R_GET, h_beacon},
    {"/api/threads/create", R_POST | R_AUTH, h_thread_create},
    {"/validate", R_GET | R_AUTH | R_THREAD, h_thread_validate},
    {"/messages", R_GET | R_AUTH | R_THREAD, h_thread_messages},
    {NULL, 0, NULL},
};

/* Splits /api/threads/{id}/<suffix>: copies id into out and returns the
 * suffix ("/validate"), or NULL when the path is not of that form or the id
 * has characters a Redis key built from it should not carry. */
static const char *thread_path(const char *path, char *out, size_t outlen) {
    static const char prefix[] = "/api/threads/";
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0) return NULL;
    const char *id = path + sizeof(prefix) - 1;
    const char *slash = strchr(id, '/');
    if (!slash || slash == id || (size_t)(slash - id) >= outlen) return NULL;
    for (const char *p = id; p < slash; p++) {
        char ch = *p;
        int okc = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '_' || ch == '.' || ch == ':';
        if (!okc) return NULL;
    }
    memcpy(out, id, (size_t)(slash - id));
    out[slash - id] = '\0';
    return slash;
}

sim_route_result sim_backend_routes_handle(sim_backend_routes *rt, const sim_http_request *req,
                                           sim_http_response *resp, char *thread_id,
                                           size_t tidlen) {
    char tid[129];
    const char *suffix = thread_path(req->path, tid, sizeof(tid));
    const route *hit = NULL;
    for (const route *r = routes; r->path; r++) {
        if ((r->flags & R_LEGACY_ONLY) && !(rt->sc && rt->sc->profile == SIM_PROFILE_LEGACY))
            continue;
        if (r->flags & R_THREAD ? (suffix && strcmp(suffix, r->path) == 0)
                                : strcmp(req->path, r->path) == 0) {
            hit = r;
            break;
        }
    }
    if (!hit) {
        sim_http_detail(resp, 404, "Not Found");
        return SIM_ROUTE_DONE;
    }
    int is_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    int is_post = strcmp(req->method, "POST") == 0;
    if (!((hit->flags & R_GET) && is_get) && !((hit->flags & R_POST) && is_post)) {
        sim_http_detail(resp, 405, "Method Not Allowed");
        return SIM_ROUTE_DONE;
    }
    sim_principal who;
    memset(&who, 0, sizeof(who));
    if (hit->flags & R_AUTH) {
        const char *tok = sim_http_bearer(req);
        if (!tok) {
            sim_http_detail(resp, 401, "Not authenticated");
            snprintf(resp->extra_headers, sizeof(resp->extra_headers),
                     "WWW-Authenticate: Bearer\r\n");
            return SIM_ROUTE_DONE;
        }
        sim_auth_status st = rt->auth ? sim_auth_check_access(rt->auth, tok, req->now_ms, &who)
                                      : SIM_AUTH_INVALID;
        if (st != SIM_AUTH_OK) {
            sim_http_detail(resp, 401, st == SIM_AUTH_EXPIRED   ? "Token has expired"
                                       : st == SIM_AUTH_REVOKED ? "Token has been revoked"
                                                                : "Invalid authentication credentials");
            snprintf(resp->extra_headers, sizeof(resp->extra_headers),
                     "WWW-Authenticate: Bearer\r\n");
            return SIM_ROUTE_DONE;
        }
    }
    route_ctx c = {rt, req, resp, suffix ? tid : NULL, &who, thread_id, tidlen};
    return (sim_route_result)hit->fn(&c);
}
