/* backend_routes.c -- the backend's HTTP routes of docs/contract.md §1, as a
 * sim_route table of {method, path, handler, flags}; pure (request in,
 * response out). The thread history route only names the thread: the glue
 * reads Redis. */
#include "backend_routes.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dep_breaker.h"
#include "startup.h"
#include "threads.h"
#include "util.h"

#define THREAD_ID_SIZE 129   /* a thread id and its NUL */

/* What a handler gets as its ctx: the service, and what the dispatcher
 * found out about the request. */
typedef struct route_ctx {
    sim_backend_routes *rt;
    const sim_principal *who;        /* set for R_AUTH routes */
    char thread_id[THREAD_ID_SIZE];  /* the {} of /api/threads/{}/..., for R_THREAD routes */
    int read_history;                /* out: read thread_id's history from Redis */
} route_ctx;

static int legacy(const sim_backend_routes *rt) {
    return rt->sc && rt->sc->profile == SIM_PROFILE_LEGACY;
}

static cJSON *status_obj(const char *status) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", status);
    return j;
}

/* A constant JSON body, as sim_http_json would print it: the health probes'
 * hot path needs no object built and printed per request. */
static void reply_const(sim_http_response *resp, int status, const char *json) {
    resp->status = status;
    resp->content_type = "application/json";
    resp->body.len = 0;
    sim_buf_puts(&resp->body, json);
}

static void add_iso(cJSON *j, const char *key, int64_t now_ms) {
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, now_ms);
    cJSON_AddStringToObject(j, key, iso);
}

/* ---- health family ------------------------------------------------------ */

static void h_health(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    const route_ctx *c = ctx;
    if (!legacy(c->rt)) {
        reply_const(resp, 200, "{\"status\":\"ok\"}");
        return;
    }
    sim_phase phase = sim_startup_phase(c->rt->sc, req->now_ms - c->rt->start_ms);
    if (phase != SIM_PHASE_COMPLETE) {
        cJSON *j = status_obj("unhealthy");
        cJSON_AddStringToObject(j, "message", "Startup in progress");
        cJSON_AddBoolToObject(j, "startup_in_progress", 1);
        cJSON *d = cJSON_AddObjectToObject(j, "details");
        cJSON_AddStringToObject(d, "phase", sim_phase_name(phase));
        sim_http_json(resp, 503, j);
        return;
    }
    cJSON *j = status_obj("healthy");
    cJSON_AddStringToObject(j, "service", "netra-ai-platform");
    cJSON_AddStringToObject(j, "version", "1.0.0");
    char epoch[SIM_EPOCH_LEN];
    sim_epoch_seconds(epoch, req->now_ms);
    cJSON_AddRawToObject(j, "timestamp", epoch);
    sim_http_json(resp, 200, j);
}

static void h_ok(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    (void)ctx, (void)req;
    reply_const(resp, 200, "{\"status\":\"ok\"}");
}

static const char *redis_state(const sim_backend_routes *rt) {
    sim_history *h = rt->history;
    if (!h) return "skipped_optional";
    return sim_history_connected(h) ? "connected" : "optional_unavailable";
}

static void h_ready(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    const route_ctx *c = ctx;
    (void)req;
    cJSON *j = status_obj("ready");
    if (legacy(c->rt)) {
        cJSON_AddStringToObject(j, "core_db", "connected");
        cJSON_AddStringToObject(j, "clickhouse_db", "skipped_optional");
        cJSON_AddStringToObject(j, "redis_db", redis_state(c->rt));
    }
    sim_http_json(resp, 200, j);
}

cJSON *sim_backend_routes_breakers(const sim_backend_routes *rt) {
    cJSON *b = cJSON_CreateObject();
    sim_dep_breaker *redis = rt->history ? sim_history_breaker(rt->history) : NULL;
    if (redis) cJSON_AddItemToObject(b, "redis", sim_dep_breaker_json(redis));
    if (rt->ws_breaker) cJSON_AddItemToObject(b, "websocket", sim_dep_breaker_json(rt->ws_breaker));
    if (rt->auth_breaker) cJSON_AddItemToObject(b, "auth", sim_dep_breaker_json(rt->auth_breaker));
    return b;
}

static int breaker_closed(sim_dep_breaker *d) {
    return !d || sim_dep_breaker_state(d) == STAGESIM_BREAKER_CLOSED;
}

/* Redis as the real backend's health check reported it (S11): healthy
 * with the reply time, or failed with redis-py's error behind "Failed to
 * create Redis client: ". Redis is optional: its trouble makes the backend
 * degraded, never critical, and chat goes on. */
static void h_infrastructure(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    const route_ctx *c = ctx;
    sim_history *h = c->rt->history;
    int connected = h ? sim_history_connected(h) : 0;
    int ok = !h || (connected && breaker_closed(sim_history_breaker(h)));
    cJSON *j = status_obj(ok ? "ok" : "degraded");
    cJSON *inf = cJSON_AddObjectToObject(j, "infrastructure");
    cJSON *r = cJSON_AddObjectToObject(inf, "redis");
    if (!h) {
        cJSON_AddStringToObject(r, "status", "not_configured");
        cJSON_AddBoolToObject(r, "connected", 0);
    } else if (connected) {
        cJSON_AddStringToObject(r, "status", "healthy");
        cJSON_AddBoolToObject(r, "connected", 1);
        cJSON_AddNumberToObject(r, "response_time_ms", sim_history_reply_ms(h));
    } else {
        char why[400];
        snprintf(why, sizeof(why), "Failed to create Redis client: %s", sim_history_status(h));
        cJSON_AddStringToObject(r, "status", "failed");
        cJSON_AddBoolToObject(r, "connected", 0);
        cJSON_AddStringToObject(r, "error", why);
    }
    cJSON *db = cJSON_AddObjectToObject(inf, "postgresql");
    cJSON_AddStringToObject(db, "status", "healthy");
    cJSON_AddBoolToObject(db, "connected", 1);
    cJSON_AddItemToObject(j, "circuit_breakers", sim_backend_routes_breakers(c->rt));
    cJSON_AddBoolToObject(j, "chat_functionality_impact", 0);
    add_iso(j, "timestamp", req->now_ms);
    sim_http_json(resp, 200, j);
}

static void h_breakers(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    const route_ctx *c = ctx;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "circuit_breakers", sim_backend_routes_breakers(c->rt));
    add_iso(j, "timestamp", req->now_ms);
    sim_http_json(resp, 200, j);
}

/* ---- discovery, mcp, beacon --------------------------------------------- */

/* The host part of URLs that point back at this simulator. */
static void own_host(const sim_backend_routes *rt, const sim_http_request *req, char *out,
                     size_t outlen) {
    const char *host = rt->host;
    if (host && *host && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0) {
        snprintf(out, outlen, "%s", host);
        return;
    }
    const char *hh = req->header ? req->header(req, "Host") : NULL;
    if (hh && *hh && strlen(hh) < outlen) {
        snprintf(out, outlen, "%s", hh);
        char *colon = strrchr(out, ':');
        if (colon && !strchr(colon, ']')) *colon = '\0';
        return;
    }
    snprintf(out, outlen, "127.0.0.1");
}

static void h_discovery(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    const route_ctx *c = ctx;
    char host[256], url[320];
    own_host(c->rt, req, host, sizeof(host));
    cJSON *j = cJSON_CreateObject();
    cJSON *s = cJSON_AddObjectToObject(j, "services");
    cJSON *b = cJSON_AddObjectToObject(s, "backend");
    const char *http = c->rt->tls ? "https" : "http", *ws = c->rt->tls ? "wss" : "ws";
    snprintf(url, sizeof(url), "%s://%s:%d", http, host, c->rt->backend_port);
    cJSON_AddStringToObject(b, "url", url);
    snprintf(url, sizeof(url), "%s://%s:%d/ws", ws, host, c->rt->backend_port);
    cJSON_AddStringToObject(b, "ws_url", url);
    snprintf(url, sizeof(url), "%s://%s:%d/health", http, host, c->rt->backend_port);
    cJSON_AddStringToObject(b, "health_url", url);
    cJSON *a = cJSON_AddObjectToObject(s, "auth");
    snprintf(url, sizeof(url), "%s://%s:%d", http, host, c->rt->auth_port);
    cJSON_AddStringToObject(a, "url", url);
    snprintf(url, sizeof(url), "%s://%s:%d/health", http, host, c->rt->auth_port);
    cJSON_AddStringToObject(a, "health_url", url);
    cJSON *f = cJSON_AddObjectToObject(s, "frontend");
    snprintf(url, sizeof(url), "http://%s:3000", host);
    cJSON_AddStringToObject(f, "url", url);
    add_iso(j, "timestamp", req->now_ms);
    cJSON_AddBoolToObject(j, "available", 1);
    sim_http_json(resp, 200, j);
}

static void h_mcp_servers(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    const route_ctx *c = ctx;
    (void)req;
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
    sim_http_json(resp, 200, j);
}

static void h_mcp_config(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    const route_ctx *c = ctx;
    (void)req;
    cJSON *j = cJSON_CreateObject();
    cJSON *srv = cJSON_AddObjectToObject(j, "server");
    cJSON_AddStringToObject(srv, "name", "netra-mcp");
    cJSON_AddStringToObject(srv, "version", "1.0.0");
    cJSON_AddStringToObject(j, "transport", "http");
    cJSON *tools = cJSON_AddArrayToObject(j, "tools");
    if (c->rt->sc)
        for (size_t i = 0; i < c->rt->sc->agent.ntools; i++)
            cJSON_AddItemToArray(tools, cJSON_CreateString(c->rt->sc->agent.tools[i]));
    sim_http_json(resp, 200, j);
}

static void h_beacon(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    (void)ctx;
    cJSON *j = status_obj("healthy");
    cJSON_AddStringToObject(j, "service", "websocket_beacon");
    add_iso(j, "timestamp", req->now_ms);
    cJSON_AddStringToObject(j, "message", "WebSocket service is available");
    sim_http_json(resp, 200, j);
}

static void h_root(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    (void)ctx, (void)req;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "message", "Welcome to Netra API");
    sim_http_json(resp, 200, j);
}

/* ---- threads (Bearer-authenticated) -------------------------------------- */

static void h_thread_create(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    route_ctx *c = ctx;
    char hex[17], id[40];
    uint64_t n = ++c->rt->threads_created;
    sim_hex(hex, 16, sim_mix(c->rt->seed, "thread_create", n, 0));
    snprintf(id, sizeof(id), "thread_%s", hex);
    if (c->rt->threads) sim_threads_claim(c->rt->threads, id, c->who->user_id);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "thread_id", id);
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "user_id", c->who->user_id);
    add_iso(j, "created_at", req->now_ms);
    cJSON_AddStringToObject(j, "status", "created");
    sim_http_json(resp, 200, j);
}

/* Someone else's thread is "not found" to this user (threads.h): the
 * answer does not say that it exists. */
static int not_theirs(const route_ctx *c, sim_http_response *resp) {
    const char *owner = c->rt->threads ? sim_threads_owner(c->rt->threads, c->thread_id) : NULL;
    if (!owner || strcmp(owner, c->who->user_id) == 0) return 0;
    sim_http_detail(resp, 404, "Thread not found");
    return 1;
}

static void h_thread_validate(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    const route_ctx *c = ctx;
    (void)req;
    if (not_theirs(c, resp)) return;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "valid", 1);
    cJSON_AddStringToObject(j, "thread_id", c->thread_id);
    cJSON_AddStringToObject(j, "user_id", c->who->user_id);
    sim_http_json(resp, 200, j);
}

/* The history is in Redis: the dispatcher hands the read to the glue. */
static void h_thread_messages(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    route_ctx *c = ctx;
    (void)req;
    if (not_theirs(c, resp)) return;
    c->read_history = 1;
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

enum {
    R_AUTH = 1,          /* a valid Bearer token, else 401 */
    R_THREAD = 2,        /* the {} is a thread id */
    R_LEGACY_ONLY = 4,   /* profile legacy only */
};

static const sim_route routes[] = {
    {"GET", "/", h_root, 0},
    {"GET", "/health", h_health, 0},
    {"GET", "/health/", h_health, 0},
    {"GET", "/api/health", h_health, R_LEGACY_ONLY},
    {"GET", "/health/ready", h_ready, 0},
    {"GET", "/health/live", h_ok, 0},
    {"GET", "/health/startup", h_ok, 0},
    {"GET", "/health/backend", h_ok, 0},
    {"GET", "/health/infrastructure", h_infrastructure, 0},
    {"GET", "/health/circuit-breakers", h_breakers, 0},
    {"GET", "/api/discovery/services", h_discovery, 0},
    {"GET", "/api/mcp/servers", h_mcp_servers, 0},
    {"GET", "/api/mcp/config", h_mcp_config, 0},
    {"GET", "/ws/beacon", h_beacon, 0},
    {"POST", "/api/threads/create", h_thread_create, R_AUTH},
    {"GET", "/api/threads/{}/validate", h_thread_validate, R_AUTH | R_THREAD},
    {"GET", "/api/threads/{}/messages", h_thread_messages, R_AUTH | R_THREAD},
    {NULL, NULL, NULL, 0},
};

/* A thread id must be fit for a Redis key: letters, digits and "-_.:". A
 * path under /api/threads/ whose id is not matches no thread route (404,
 * whatever the method). */
static int thread_id_ok(const char *path) {
    static const char prefix[] = "/api/threads/";
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0) return 1;
    const char *id = path + sizeof(prefix) - 1;
    size_t n = strcspn(id, "/");
    if (n >= THREAD_ID_SIZE) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        int okc = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '_' || ch == '.' || ch == ':';
        if (!okc) return 0;
    }
    return 1;
}

/* 0 with *who filled for a valid Bearer token, else a 401 in resp with
 * FastAPI's text (a 503 when the auth service could not say). verdict:
 * the check made elsewhere, or NULL to check here. */
static int authenticate(sim_backend_routes *rt, const sim_http_request *req,
                        const sim_token_verdict *verdict, sim_principal *who,
                        sim_http_response *resp) {
    const char *tok = sim_http_bearer(req);
    const char *why = "Not authenticated";
    if (tok) {
        sim_auth_status st;
        if (verdict) {
            st = verdict->status;
            if (st == SIM_AUTH_OK) *who = verdict->who;
            if (st == SIM_AUTH_UNAVAILABLE) {
                sim_http_detail(resp, 503, "Authentication service unavailable");
                return -1;
            }
        } else {
            st = rt->auth ? sim_auth_check_access(rt->auth, tok, req->now_ms, who)
                          : SIM_AUTH_INVALID;
        }
        if (st == SIM_AUTH_OK) return 0;
        why = st == SIM_AUTH_EXPIRED   ? "Token has expired"
              : st == SIM_AUTH_REVOKED ? "Token has been revoked"
                                       : "Invalid authentication credentials";
    }
    sim_http_detail(resp, 401, why);
    snprintf(resp->extra_headers, sizeof(resp->extra_headers), "WWW-Authenticate: Bearer\r\n");
    return -1;
}

const char *sim_backend_routes_token(const sim_http_request *req) {
    sim_route_miss miss;
    const sim_route *r = sim_route_find(routes, req, 0, &miss);
    return r && (r->flags & R_AUTH) ? sim_http_bearer(req) : NULL;
}

sim_route_result sim_backend_routes_handle(sim_backend_routes *rt, const sim_http_request *req,
                                           sim_http_response *resp, char *thread_id,
                                           size_t tidlen) {
    return sim_backend_routes_handle_checked(rt, req, NULL, resp, thread_id, tidlen);
}

sim_route_result sim_backend_routes_handle_checked(sim_backend_routes *rt,
                                                   const sim_http_request *req,
                                                   const sim_token_verdict *verdict,
                                                   sim_http_response *resp, char *thread_id,
                                                   size_t tidlen) {
    int skip = (legacy(rt) ? 0 : R_LEGACY_ONLY) | (thread_id_ok(req->path) ? 0 : R_THREAD);
    sim_route_miss miss;
    const sim_route *r = sim_route_find(routes, req, skip, &miss);
    if (!r) {
        sim_http_detail(resp, miss.status, miss.status == 405 ? "Method Not Allowed" : "Not Found");
        return SIM_ROUTE_DONE;
    }
    sim_principal who;
    memset(&who, 0, sizeof(who));
    if ((r->flags & R_AUTH) && authenticate(rt, req, verdict, &who, resp)) return SIM_ROUTE_DONE;
    route_ctx c = {.rt = rt, .who = &who};
    if (r->flags & R_THREAD) sim_route_param(r, req->path, c.thread_id, sizeof(c.thread_id));
    r->fn(&c, req, resp);
    if (!c.read_history) return SIM_ROUTE_DONE;
    snprintf(thread_id, tidlen, "%s", c.thread_id);
    return SIM_ROUTE_HISTORY;
}
