/* test_backend_routes.c -- the backend's HTTP route table, without sockets. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "backend_routes.h"
#include "tap.h"
#include "util.h"

static const char *hdr_auth;

static const char *test_header(const sim_http_request *req, const char *name) {
    (void)req;
    return sim_strcaseeq(name, "Authorization") ? hdr_auth : NULL;
}

/* Runs one request through the route table; returns the status, the body
 * parsed into *out (caller deletes). */
static int route(sim_backend_routes *rt, const char *method, const char *path, cJSON **out,
                 sim_route_result *res, char *tid) {
    sim_http_request req = {.method = method, .path = path, .query = "", .now_ms = 1700000000000,
                            .header = test_header};
    sim_http_response resp;
    sim_http_response_init(&resp);
    char t[129] = "";
    *res = sim_backend_routes_handle(rt, &req, &resp, t, sizeof(t));
    if (tid) strcpy(tid, t);
    *out = resp.body.data ? cJSON_Parse(resp.body.data) : NULL;
    int st = resp.status;
    sim_http_response_free(&resp);
    return st;
}

static void test_routes(void) {
    char err[256];
    sim_scenario *sc = sim_scenario_load(NULL, err, sizeof(err));
    ok(sc != NULL, "built-in scenario");
    if (!sc) return;
    sim_auth_store *st = sim_auth_store_new(sc, 1);
    sim_backend_routes rt = {.sc = sc, .auth = st, .host = "127.0.0.1", .backend_port = 8000,
                             .auth_port = 8081, .seed = 1};
    cJSON *j;
    sim_route_result res;
    hdr_auth = NULL;

    static const char *ok_paths[] = {"/health", "/health/", "/health/live", "/health/startup",
                                     "/health/backend", NULL};
    for (int i = 0; ok_paths[i]; i++) {
        is_int(route(&rt, "GET", ok_paths[i], &j, &res, NULL), 200, "GET %s", ok_paths[i]);
        is_str(cJSON_GetObjectItem(j, "status")->valuestring, "ok", "%s ok", ok_paths[i]);
        cJSON_Delete(j);
    }
    is_int(route(&rt, "HEAD", "/health", &j, &res, NULL), 200, "HEAD /health");
    cJSON_Delete(j);
    is_int(route(&rt, "POST", "/health", &j, &res, NULL), 405, "POST /health 405");
    cJSON_Delete(j);
    is_int(route(&rt, "GET", "/", &j, &res, NULL), 200, "root");
    is_str(cJSON_GetObjectItem(j, "message")->valuestring, "Welcome to Netra API", "welcome");
    cJSON_Delete(j);
    is_int(route(&rt, "GET", "/api/chat", &j, &res, NULL), 404, "unknown 404");
    is_str(cJSON_GetObjectItem(j, "detail")->valuestring, "Not Found", "404 detail");
    cJSON_Delete(j);
    is_int(route(&rt, "GET", "/api/health", &j, &res, NULL), 404, "/api/health is legacy only");
    cJSON_Delete(j);
    is_int(route(&rt, "GET", "/health/infrastructure", &j, &res, NULL), 200, "infrastructure");
    ok(cJSON_IsObject(cJSON_GetObjectItem(j, "circuit_breakers")), "breakers present");
    ok(cJSON_IsBool(cJSON_GetObjectItem(j, "chat_functionality_impact")), "impact bool");
    cJSON_Delete(j);
    is_int(route(&rt, "GET", "/api/discovery/services", &j, &res, NULL), 200, "discovery");
    cJSON *svc = cJSON_GetObjectItem(j, "services");
    is_str(cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "backend"), "url")->valuestring,
           "http://127.0.0.1:8000", "own backend url");
    is_str(cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "auth"), "url")->valuestring,
           "http://127.0.0.1:8081", "own auth url");
    cJSON_Delete(j);

    is_int(route(&rt, "POST", "/api/threads/create", &j, &res, NULL), 401, "create needs auth");
    cJSON_Delete(j);
    hdr_auth = "Bearer nope";
    is_int(route(&rt, "GET", "/api/threads/t1/validate", &j, &res, NULL), 401, "bad token 401");
    cJSON_Delete(j);
    char *tok = sim_auth_issue_access(st, "user-alice", "alice@example.com", 1700000000000);
    char hdr[2048];
    snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
    hdr_auth = hdr;
    is_int(route(&rt, "POST", "/api/threads/create", &j, &res, NULL), 200, "create with token");
    is_str(cJSON_GetObjectItem(j, "user_id")->valuestring, "user-alice", "thread owner");
    cJSON_Delete(j);
    is_int(route(&rt, "GET", "/api/threads/t-9/validate", &j, &res, NULL), 200, "validate");
    is_str(cJSON_GetObjectItem(j, "thread_id")->valuestring, "t-9", "validate thread id");
    cJSON_Delete(j);
    char tid[129];
    route(&rt, "GET", "/api/threads/t-9/messages", &j, &res, tid);
    is_int(res, SIM_ROUTE_HISTORY, "messages asks the glue for the history");
    is_str(tid, "t-9", "thread id handed over");
    is_int(route(&rt, "GET", "/api/threads/a b/messages", &j, &res, NULL), 404,
           "odd thread id rejected");
    cJSON_Delete(j);

    sim_http_response resp;
    sim_http_response_init(&resp);
    cJSON *arr = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hi\"}]");
    sim_backend_routes_history(&resp, "t-9", arr, NULL);
    is_int(resp.status, 200, "history 200");
    ok(strstr(resp.body.data, "\"messages\":[{\"role\":\"user\"") != NULL, "history body");
    sim_http_response_free(&resp);
    cJSON_Delete(arr);
    sim_http_response_init(&resp);
    sim_backend_routes_history(&resp, "t-9", NULL, "down");
    is_int(resp.status, 503, "history without Redis 503");
    sim_http_response_free(&resp);

    free(tok);
    hdr_auth = NULL;
    sim_auth_store_free(st);
    sim_scenario_free(sc);
}

int main(void) {
    sim_log_set_level(SIM_LOG_ERROR);
    test_routes();
    return tap_done();
}
