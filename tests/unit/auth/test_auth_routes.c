/* test_auth_routes.c -- the auth service's routes (docs/contract.md §3),
 * without sockets. */
#include "auth_fixture.h"

static void test_routes(void) {
    clear_env();
    sim_auth_store *st = sim_auth_store_new(make_scenario(SECRET, "e2e-key"), 3);
    int status;
    cJSON *j;

    j = call(st, "GET", "/health", NULL, NULL, NOW, &status);
    is_int(status, 200, "GET /health");
    is_str(jstr(j, "status"), "healthy", "health status");
    is_str(jstr(j, "service"), "auth-service", "health service");
    cJSON_Delete(j);
    j = call(st, "HEAD", "/health", NULL, NULL, NOW, &status);
    is_int(status, 200, "HEAD on a GET route");
    cJSON_Delete(j);
    j = call(st, "GET", "/health/ready", NULL, NULL, NOW, &status);
    is_str(jstr(j, "status"), "ready", "ready");
    cJSON_Delete(j);
    static const char *const host[] = {"Host", "127.0.0.1:9", NULL};
    j = call(st, "GET", "/auth/config", NULL, host, NOW, &status);
    is_str(jstr(cJSON_GetObjectItem(j, "endpoints"), "login"), "http://127.0.0.1:9/auth/login",
           "config endpoints on the client's host");
    cJSON_Delete(j);

    j = call(st, "GET", "/nope", NULL, NULL, NOW, &status);
    is_int(status, 404, "unknown route 404");
    is_str(jstr(j, "detail"), "Not Found", "404 detail");
    cJSON_Delete(j);
    j = call(st, "GET", "/auth/login", NULL, NULL, NOW, &status);
    is_int(status, 405, "GET on a POST route 405");
    is_str(jstr(j, "detail"), "Method Not Allowed", "405 detail");
    cJSON_Delete(j);

    /* login */
    j = call(st, "POST", "/auth/login", "{\"email\":\"alice@example.com\",\"password\":\"alice-password\"}",
             NULL, NOW, &status);
    is_int(status, 200, "login");
    is_str(jstr(j, "token_type"), "Bearer", "login token_type");
    ok(cJSON_GetObjectItem(j, "expires_in")->valueint == 900, "expires_in says 900");
    is_str(jstr(cJSON_GetObjectItem(j, "user"), "id"), "user-alice", "login user id");
    char *access = sim_xstrdup(jstr(j, "access_token"));
    char *refresh = sim_xstrdup(jstr(j, "refresh_token"));
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/login", "{\"email\":\"alice@example.com\",\"password\":\"nope\"}",
             NULL, NOW, &status);
    is_int(status, 401, "wrong password 401");
    is_str(jstr(j, "detail"), "Invalid credentials", "401 detail");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/login", "{\"email\":\"alice@example.com\"}", NULL, NOW, &status);
    is_int(status, 422, "missing password 422");
    const cJSON *d0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "detail"), 0);
    is_str(jstr(d0, "type"), "missing", "422 item type");
    is_str(cJSON_GetArrayItem(cJSON_GetObjectItem(d0, "loc"), 1)->valuestring, "password",
           "422 loc names the field");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/login", "{\"email\":", NULL, NOW, &status);
    is_int(status, 422, "malformed JSON 422");
    is_str(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "detail"), 0), "type"), "json_invalid",
           "malformed JSON: json_invalid");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/login", "[1]", NULL, NOW, &status);
    is_int(status, 422, "array body 422");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/login", "{\"email\":5,\"password\":\"x\"}", NULL, NOW, &status);
    is_int(status, 422, "non-string field 422");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/login", NULL, NULL, NOW, &status);
    is_int(status, 422, "empty body 422");
    cJSON_Delete(j);

    /* me / validate with the access token */
    sim_buf bearer = {0};
    sim_buf_printf(&bearer, "Bearer %s", access);
    const char *const auth_h[] = {"Authorization", bearer.data, NULL};
    j = call(st, "GET", "/auth/me", NULL, auth_h, NOW + 1, &status);
    is_int(status, 200, "me");
    is_str(jstr(j, "user_id"), "user-alice", "me user_id");
    cJSON_Delete(j);
    j = call(st, "GET", "/auth/me", NULL, NULL, NOW + 1, &status);
    is_int(status, 401, "me without token 401");
    cJSON_Delete(j);
    sim_buf vb = {0};
    sim_buf_printf(&vb, "{\"token\":\"%s\"}", access);
    j = call(st, "POST", "/auth/validate", vb.data, NULL, NOW + 1, &status);
    is_int(status, 200, "validate 200");
    ok(cJSON_IsTrue(cJSON_GetObjectItem(j, "valid")), "validate valid:true");
    ok(jstr(j, "expires_at") != NULL, "validate expires_at");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/validate", vb.data, NULL, NOW + 1800, &status);
    is_str(jstr(j, "error"), "token_expired", "validate expired");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/validate", "{}", NULL, NOW, &status);
    is_int(status, 200, "validate without token still 200");
    is_str(jstr(j, "error"), "missing_token", "validate missing_token");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/validate", "{\"token\":\"x.y.z\"}", NULL, NOW, &status);
    is_str(jstr(j, "error"), "invalid_token", "validate invalid_token");
    cJSON_Delete(j);

    /* refresh rotation */
    sim_buf rb = {0};
    sim_buf_printf(&rb, "{\"refresh_token\":\"%s\"}", refresh);
    j = call(st, "POST", "/auth/refresh", rb.data, NULL, NOW + 5, &status);
    is_int(status, 200, "refresh");
    ok(jstr(j, "access_token") && jstr(j, "refresh_token"), "refresh returns a pair");
    ok(strcmp(jstr(j, "refresh_token"), refresh) != 0, "new refresh token differs");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/refresh", rb.data, NULL, NOW + 6, &status);
    is_int(status, 401, "reused refresh token 401 (rotation)");
    is_str(jstr(j, "detail"), "Invalid refresh token", "rotation detail");
    cJSON_Delete(j);
    sim_buf vr = {0};
    sim_buf_printf(&vr, "{\"refresh_token\":\"%s\"}", access);
    j = call(st, "POST", "/auth/refresh", vr.data, NULL, NOW, &status);
    is_int(status, 401, "access token as refresh token 401");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/refresh", "", NULL, NOW, &status);
    is_int(status, 422, "refresh empty body 422");
    cJSON_Delete(j);

    /* logout */
    j = call(st, "POST", "/auth/logout", NULL, auth_h, NOW + 2, &status);
    is_int(status, 200, "logout");
    is_str(jstr(j, "message"), "Successfully logged out", "logout message");
    cJSON_Delete(j);
    j = call(st, "GET", "/auth/me", NULL, auth_h, NOW + 3, &status);
    is_int(status, 401, "me after logout 401");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/validate", vb.data, NULL, NOW + 3, &status);
    is_str(jstr(j, "error"), "token_revoked", "validate after logout: token_revoked");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/logout", NULL, NULL, NOW, &status);
    is_int(status, 401, "logout without token 401");
    cJSON_Delete(j);

    /* register */
    const char *reg = "{\"email\":\"carol@example.com\",\"password\":\"carol-pw\"}";
    j = call(st, "POST", "/auth/register", reg, NULL, NOW, &status);
    is_int(status, 200, "register");
    const char *cid = jstr(cJSON_GetObjectItem(j, "user"), "id");
    ok(cid && strlen(cid) == 36, "registered id is UUID-shaped");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/register", reg, NULL, NOW, &status);
    is_int(status, 409, "register twice 409");
    is_str(jstr(j, "detail"), "User already exists", "409 detail");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/login", "{\"email\":\"carol@example.com\",\"password\":\"carol-pw\"}",
             NULL, NOW, &status);
    is_int(status, 200, "registered user logs in");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/register", "{\"email\":\"not-an-email\",\"password\":\"x\"}", NULL,
             NOW, &status);
    is_int(status, 422, "register bad email 422");
    cJSON_Delete(j);

    /* e2e */
    j = call(st, "POST", "/auth/e2e/test-auth", NULL, NULL, NOW, &status);
    is_int(status, 401, "e2e no header 401");
    is_str(jstr(j, "detail"), "E2E bypass key required", "e2e no header detail");
    cJSON_Delete(j);
    static const char *const wrong[] = {"X-E2E-Bypass-Key", "e2e-kez", NULL};
    j = call(st, "POST", "/auth/e2e/test-auth", NULL, wrong, NOW, &status);
    is_int(status, 401, "e2e wrong key 401");
    is_str(jstr(j, "detail"), "Invalid E2E bypass key", "e2e wrong key detail");
    cJSON_Delete(j);
    static const char *const right[] = {"x-e2e-bypass-key", "e2e-key", NULL};
    j = call(st, "POST", "/auth/e2e/test-auth", NULL, right, NOW, &status);
    is_int(status, 200, "e2e ok");
    const cJSON *u = cJSON_GetObjectItem(j, "user");
    is_str(jstr(u, "id"), "e2e-e2e-test", "e2e default user id");
    is_str(jstr(u, "email"), "e2e-test@staging.netrasystems.ai", "e2e default email");
    ok(cJSON_IsTrue(cJSON_GetObjectItem(u, "oauth_simulated")), "oauth_simulated");
    sim_principal pr;
    is_int(sim_auth_check_access(st, jstr(j, "access_token"), AT(NOW), &pr), SIM_AUTH_OK,
           "e2e token valid for the backend");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/e2e/test-auth", "{\"email\":\"zed@x.io\",\"permissions\":[\"admin\"]}",
             right, NOW, &status);
    is_str(jstr(cJSON_GetObjectItem(j, "user"), "id"), "e2e-zed", "e2e id from the body's email");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/e2e/test-auth", "{bad", right, NOW, &status);
    is_int(status, 422, "e2e malformed body 422");
    cJSON_Delete(j);
    sim_auth_store_free(st);
    st = sim_auth_store_new(make_scenario(SECRET, NULL), 3);
    j = call(st, "POST", "/auth/e2e/test-auth", NULL, right, NOW, &status);
    is_int(status, 503, "e2e not configured 503");
    is_str(jstr(j, "detail"), "E2E authentication not configured", "503 detail");
    cJSON_Delete(j);
    j = call(st, "POST", "/auth/e2e/test-auth", NULL, NULL, NOW, &status);
    is_int(status, 401, "e2e not configured, no header: 401 first");
    cJSON_Delete(j);

    sim_buf_free(&bearer);
    sim_buf_free(&vb);
    sim_buf_free(&rb);
    sim_buf_free(&vr);
    free(access);
    free(refresh);
    sim_auth_store_free(st);
}

/* Claims a client crafted (validly signed): an exp beyond the calendar is
 * a date, not garbage; iat in the future is "not yet valid". */
static void test_validate_edges(void) {
    clear_env();
    sim_auth_store *st = sim_auth_store_new(make_scenario(SECRET, NULL), 3);
    int status;
    static const char head[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *far = forge(head, "{\"sub\":\"u\",\"iss\":\"netra-auth-service\",\"jti\":\"j\","
                            "\"token_type\":\"access\",\"iat\":1700000000,\"exp\":1e300}");
    sim_buf body = {0};
    sim_buf_printf(&body, "{\"token\":\"%s\"}", far);
    cJSON *j = call(st, "POST", "/auth/validate", body.data, NULL, NOW, &status);
    ok(cJSON_IsTrue(cJSON_GetObjectItem(j, "valid")), "exp beyond the calendar: valid");
    is_str(jstr(j, "expires_at"), "9999-12-31T23:59:59.000000+00:00", "expires_at clamped, not garbage");
    cJSON_Delete(j);
    char *ahead = forge(head, "{\"sub\":\"u\",\"iss\":\"netra-auth-service\",\"jti\":\"j\","
                              "\"token_type\":\"access\",\"iat\":1700000100,\"exp\":1800000000}");
    body.len = 0;
    sim_buf_printf(&body, "{\"token\":\"%s\"}", ahead);
    j = call(st, "POST", "/auth/validate", body.data, NULL, NOW, &status);
    ok(cJSON_IsFalse(cJSON_GetObjectItem(j, "valid")), "iat ahead: not valid");
    is_str(jstr(j, "error"), "token_not_yet_valid", "iat ahead: its own error");
    cJSON_Delete(j);
    sim_buf bearer = {0};
    sim_buf_printf(&bearer, "Bearer %s", ahead);
    const char *const h2[] = {"Authorization", bearer.data, NULL};
    j = call(st, "GET", "/auth/me", NULL, h2, NOW, &status);
    is_int(status, 401, "me with iat ahead");
    is_str(jstr(j, "detail"), "Token is not yet valid", "me says why");
    cJSON_Delete(j);
    sim_buf_free(&bearer);
    sim_buf_free(&body);
    free(far);
    free(ahead);
    sim_auth_store_free(st);
}

/* Token replies are written without cJSON: the bytes must be those
 * cJSON_PrintUnformatted gives for the same object. */
static void test_token_reply_bytes(void) {
    clear_env();
    sim_auth_store *st = sim_auth_store_new(make_scenario(SECRET, "e2e-key"), 7);
    static const char *const reg =
        "{\"email\":\"q\\\"u\\\\o\\u0001te\\u00e9@example.com\",\"password\":\"pw\"}";
    static const char *const login =
        "{\"email\":\"alice@example.com\",\"password\":\"alice-password\"}";
    static const char *const e2e_headers[] = {"X-E2E-Bypass-Key", "e2e-key", NULL};
    const struct { const char *path, *body; const char *const *headers; } c[] = {
        {"/auth/login", login, NULL},
        {"/auth/register", reg, NULL},
        {"/auth/e2e/test-auth", NULL, e2e_headers},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        fake f;
        memset(&f, 0, sizeof f);
        f.req.method = "POST";
        f.req.path = c[i].path;
        f.req.query = "";
        f.req.body = c[i].body;
        f.req.body_len = c[i].body ? strlen(c[i].body) : 0;
        f.req.now_ms = AT(NOW);
        f.req.header = fake_header;
        f.headers = c[i].headers;
        sim_http_response r;
        sim_http_response_init(&r);
        sim_auth_handle(st, &f.req, &r);
        is_int(r.status, 200, "%s answers 200", c[i].path);
        cJSON *j = r.body.data ? cJSON_Parse(r.body.data) : NULL;
        char *again = j ? cJSON_PrintUnformatted(j) : NULL;
        ok(again && strcmp(again, r.body.data) == 0, "%s: the body is cJSON's bytes", c[i].path);
        cJSON_free(again);
        cJSON_Delete(j);
        sim_http_response_free(&r);
    }
    sim_auth_store_free(st);
}

int main(void) {
    sim_log_set_level(SIM_LOG_ERROR);
    test_routes();
    test_validate_edges();
    test_token_reply_bytes();
    return tap_done();
}
