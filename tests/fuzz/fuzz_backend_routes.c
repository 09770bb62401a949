/* fuzz_backend_routes.c -- libFuzzer harness: the backend's HTTP routes
 * (sim_backend_routes_handle, pure) fed requests framed as in
 * fuzz_common.h. "$A" is alice's access token, "$R" bob's, "$E" an expired
 * one of bob's. An input that starts with '!' is served with the legacy
 * profile (docs/contract.md §7), any other with the current one. Every
 * second request goes through sim_backend_routes_handle_checked, as for a
 * backend that validates remotely: the verdict is the auth store's own,
 * or "unavailable" when the request has a header `X-Verdict: unavailable`.
 * When a route asks for a thread's history the harness answers it from the
 * request's body: a JSON array is the stored history, anything else is
 * Redis's error text.
 *
 * Checks besides fz_check_response: a 401 carries `WWW-Authenticate:
 * Bearer`, and only routes that need a token give 401 or 503 (unavailable)
 * answers; a history read names a valid thread id (letters, digits,
 * "-_.:", at most 128 bytes), the one in the path, and happens only for
 * the user who owns the thread; a thread someone else created is "not
 * found" (404) to everyone else, on both thread routes; a created thread
 * is answered with the user's id and is then theirs.
 *
 * Thread ids come from the seed and the ordinal of the creation: the
 * routes are made anew per input, so the first thread an input creates is
 * always thread_<the same 16 hex digits>, which the seeds use. */
#include <ev.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth_int.h"
#include "backend_routes.h"
#include "dep_breaker.h"
#include "fuzz_common.h"
#include "threads.h"

#define NOW_MS 1700000000000LL

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sim_scenario *current, *legacy;
static sim_faults *faults;
static sim_clock clock_;

static sim_scenario *load(const char *profile) {
    char text[1024], err[256];
    snprintf(text, sizeof text,
             "{\"name\":\"fuzz\",\"seed\":11,\"profile\":\"%s\","
             "\"auth\":{\"jwt_secret\":\"fuzz-secret-0123456789abcdef01234567\",\"leeway_s\":5},"
             "\"agent\":{\"tools\":[\"search\",\"analyze\"]},\"users\":["
             "{\"id\":\"user-alice\",\"email\":\"alice@example.com\",\"password\":\"a\"},"
             "{\"id\":\"user-bob\",\"email\":\"bob@example.com\",\"password\":\"b\"}]}",
             profile);
    sim_scenario *sc = sim_scenario_parse(text, "fuzz", err, sizeof err);
    FZ_CHECK(sc != NULL);
    return sc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_scenario_decides();
    current = load("current");
    legacy = load("legacy");
    sim_clock_init(&clock_, NOW_MS / 1000.0, 1);
    faults = sim_faults_new(11, NULL, NOW_MS);
    return 0;
}

typedef struct run {
    sim_backend_routes rt;
    size_t nreq;
} run;

static int need_token(const char *method, const char *path) {
    return (strcmp(method, "POST") == 0 && strcmp(path, "/api/threads/create") == 0) ||
           (strncmp(path, "/api/threads/", 13) == 0 && strcmp(path, "/api/threads/create") != 0);
}

static int thread_id_chars_ok(const char *id) {
    size_t n = strlen(id);
    if (n < 1 || n > 128) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("-_.:", ch)))
            return 0;
    }
    return 1;
}

/* Who the request's token says it is, or "" for none or a bad one. */
static void who_asks(const run *rn, const sim_http_request *req, sim_principal *who) {
    memset(who, 0, sizeof *who);
    const char *tok = sim_http_bearer(req);
    if (!tok || sim_auth_check_access(rn->rt.auth, tok, req->now_ms, who) != SIM_AUTH_OK)
        memset(who, 0, sizeof *who);
}

static void handle(void *ctx, fz_request *f, sim_http_response *r) {
    run *rn = ctx;
    const sim_http_request *req = &f->req;
    sim_principal who;
    who_asks(rn, req, &who);
    const char *path = req->path;
    /* The owner before the request: a thread route of /api/threads/{id}/x. */
    char tid[256] = "";
    if (strncmp(path, "/api/threads/", 13) == 0) {
        size_t n = strcspn(path + 13, "/");
        if (n < sizeof tid) memcpy(tid, path + 13, n), tid[n] = '\0';
    }
    const char *owner0 = *tid ? sim_threads_owner(rn->rt.threads, tid) : NULL;
    char owner[128] = "";
    if (owner0) snprintf(owner, sizeof owner, "%s", owner0);

    char thread_id[129];
    sim_route_result res;
    if (rn->nreq++ % 2) {
        sim_token_verdict v = {.status = SIM_AUTH_INVALID};
        const char *tok = sim_backend_routes_token(req);
        const char *hv = fz_header(req, "X-Verdict");
        if (hv && strcmp(hv, "unavailable") == 0) {
            v.status = SIM_AUTH_UNAVAILABLE;
            snprintf(v.why, sizeof v.why, "fuzz");
        } else if (tok) {
            v.status = sim_auth_check_access(rn->rt.auth, tok, req->now_ms, &v.who);
        }
        res = sim_backend_routes_handle_checked(&rn->rt, req, &v, r, thread_id, sizeof thread_id);
    } else {
        res = sim_backend_routes_handle(&rn->rt, req, r, thread_id, sizeof thread_id);
    }
    if (res == SIM_ROUTE_HISTORY) {
        FZ_CHECK(r->status == 0 || r->status == 200);   /* untouched */
        FZ_CHECK(thread_id_chars_ok(thread_id) && strcmp(thread_id, tid) == 0);
        FZ_CHECK(*who.user_id && (!*owner || strcmp(owner, who.user_id) == 0));
        cJSON *stored = req->body_len ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
        if (!cJSON_IsArray(stored)) {
            cJSON_Delete(stored);
            stored = NULL;
        }
        char *error = sim_xstrndup(req->body ? req->body : "", req->body_len);
        sim_backend_routes_history(r, thread_id, stored, error);
        free(error);
        FZ_CHECK(r->status == (stored ? 200 : 503));
        cJSON_Delete(stored);
        return;
    }
    if (r->status == 401) FZ_CHECK(strstr(r->extra_headers, "WWW-Authenticate: Bearer\r\n"));
    if (r->status == 401 || r->status == 503) FZ_CHECK(need_token(req->method, path));
    int thread_route = *tid && path[13 + strlen(tid)] == '/';   /* /api/threads/{id}/... */
    if (thread_route && r->status == 200) FZ_CHECK(*who.user_id && (!*owner || !strcmp(owner, who.user_id)));
    if (thread_route && *owner && *who.user_id && strcmp(owner, who.user_id) != 0)
        FZ_CHECK(r->status == 404 || r->status == 401 || r->status == 503 || r->status == 405);
    if (strcmp(req->method, "POST") == 0 && strcmp(path, "/api/threads/create") == 0 &&
        r->status == 200) {
        cJSON *j = cJSON_Parse(r->body.data);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "thread_id");
        const cJSON *user = cJSON_GetObjectItemCaseSensitive(j, "user_id");
        FZ_CHECK(cJSON_IsString(id) && cJSON_IsString(user) && strcmp(user->valuestring, who.user_id) == 0);
        const char *now_owner = sim_threads_owner(rn->rt.threads, id->valuestring);
        FZ_CHECK(now_owner && strcmp(now_owner, who.user_id) == 0);
        cJSON_Delete(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const sim_scenario *sc = current;
    if (size && data[0] == '!') {
        sc = legacy;
        data++, size--;
    }
    stagesim_breaker_config bc;
    FZ_CHECK(stagesim_breaker_config_parse(SIM_AUTH_BREAKER, &bc, NULL, 0) == 0);
    run rn = {.rt = {.sc = sc, .auth = sim_auth_store_new(sc, sc->seed), .host = NULL,
                     .backend_port = 8000, .auth_port = 8081, .seed = sc->seed,
                     .threads = sim_threads_new(), .start_ms = NOW_MS - 60000}};
    rn.rt.auth_breaker = sim_dep_breaker_new(EV_DEFAULT, &clock_, faults, "auth", &bc, NULL, NULL);
    char *tokens[3] = {
        sim_auth_store_issue(rn.rt.auth, "access", "user-alice", "alice@example.com", NULL, NOW_MS),
        sim_auth_store_issue(rn.rt.auth, "access", "user-bob", "bob@example.com", NULL, NOW_MS),
        sim_auth_store_issue(rn.rt.auth, "access", "user-bob", "bob@example.com", NULL,
                             NOW_MS - 3600 * 1000),
    };
    fz_run_requests(data, size, NOW_MS, (const char *const *)tokens, handle, &rn);
    for (int i = 0; i < 3; i++) free(tokens[i]);
    sim_dep_breaker_free(rn.rt.auth_breaker);
    sim_threads_free(rn.rt.threads);
    sim_auth_store_free(rn.rt.auth);
    return 0;
}
