/* auth_routes.c -- the auth service's HTTP routes (docs/contract.md §3.1) as
 * a pure request -> response function over the store, plus the few lines that
 * put them on libmicrohttpd (sim/net/mhd.c) as the auth service.
 *
 * Bad bodies follow FastAPI + pydantic v2, which is what staging runs: every
 * body problem is a 422 whose `detail` is a list of
 * {"type","loc","msg","input"} items -- "json_invalid" for unparsable JSON
 * (FastAPI >= 0.100 answers 422 there, not 400), "missing" for an empty body
 * or an absent field, "model_attributes_type" for a non-object body,
 * "string_type" for a field of the wrong type. */
#include "auth_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "jcheck.h"
#include "mhd.h"
#include "utf8.h"
#include "util.h"

/* Bodies larger than this get 413 before any route sees them. */
#define AUTH_MAX_BODY (64 * 1024)
/* What the responses advertise; tokens really live access_ttl_s (1800 s),
 * exactly the mismatch staging has. */
#define ADVERTISED_EXPIRES_IN 900
#define E2E_DEFAULT_EMAIL "e2e-test@staging.netrasystems.ai"
#define E2E_DEFAULT_NAME "E2E Test User"
#define MAX_EMAIL_LEN SIM_MAX_EMAIL
#define MAX_PASSWORD_LEN SIM_MAX_PASSWORD

/* ---- FastAPI-shaped validation errors ---------------------------------- */

/* One item of a 422 detail list. input is taken over (may be NULL: null). */
static cJSON *err_item(const char *type, const char *field, const char *msg, cJSON *input) {
    cJSON *it = cJSON_CreateObject();
    cJSON_AddStringToObject(it, "type", type);
    cJSON *loc = cJSON_AddArrayToObject(it, "loc");
    cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
    if (field)
        cJSON_AddItemToArray(loc, cJSON_CreateString(field));
    cJSON_AddStringToObject(it, "msg", msg);
    cJSON_AddItemToObject(it, "input", input ? input : cJSON_CreateNull());
    return it;
}

static void reply_422(sim_http_response *resp, cJSON *items) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "detail", items);
    sim_http_json(resp, 422, o);
}

static int body_blank(const sim_http_request *req) {
    for (size_t i = 0; i < req->body_len; i++)
        if (!strchr(" \t\r\n", req->body[i]))
            return 0;
    return 1;
}

/* Parses the body as a JSON object. Returns it (caller deletes) or NULL:
 * with *replied set when a 422 was written, clear when the body was empty
 * and `optional` (then the route uses its defaults). */
static cJSON *parse_body(const sim_http_request *req, sim_http_response *resp, int optional,
                         int *replied) {
    *replied = 0;
    if (!req->body || body_blank(req)) {
        if (optional)
            return NULL;
        cJSON *items = cJSON_CreateArray();
        cJSON_AddItemToArray(items, err_item("missing", NULL, "Field required", NULL));
        reply_422(resp, items);
        *replied = 1;
        return NULL;
    }
    size_t at = 0;
    cJSON *j = sim_jcheck_parse(req->body, req->body_len, &at);
    if (!j) {
        long pos = (long)at;
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "type", "json_invalid");
        cJSON *loc = cJSON_AddArrayToObject(it, "loc");
        cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
        cJSON_AddItemToArray(loc, cJSON_CreateNumber((double)pos));
        cJSON_AddStringToObject(it, "msg", "JSON decode error");
        cJSON_AddItemToObject(it, "input", cJSON_CreateObject());
        cJSON *ctx = cJSON_AddObjectToObject(it, "ctx");
        cJSON_AddStringToObject(ctx, "error", "Expecting value");
        cJSON *items = cJSON_CreateArray();
        cJSON_AddItemToArray(items, it);
        reply_422(resp, items);
        *replied = 1;
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON *items = cJSON_CreateArray();
        cJSON_AddItemToArray(items, err_item("model_attributes_type", NULL,
            "Input should be a valid dictionary or object to extract fields from", j));
        reply_422(resp, items);
        *replied = 1;
        return NULL;
    }
    return j;
}

typedef struct field {
    const char *name;
    int required;
    size_t max_len;          /* 0: no limit */
    const char **out;        /* the string value, borrowed from the body */
} field;

/* Checks string fields of an object body, collecting every problem (as
 * pydantic does). 0 when all good; else a 422 was written. A JSON null in an
 * optional field counts as absent. */
static void add_problem(cJSON **items, cJSON *it) {
    if (!*items)
        *items = cJSON_CreateArray();
    cJSON_AddItemToArray(*items, it);
}

static int check_fields(const cJSON *body, field *f, size_t n, sim_http_response *resp) {
    cJSON *items = NULL;   /* made at the first problem: a good body costs nothing */
    for (size_t i = 0; i < n; i++) {
        *f[i].out = NULL;
        const cJSON *v = body ? cJSON_GetObjectItemCaseSensitive(body, f[i].name) : NULL;
        if (!v || (cJSON_IsNull(v) && !f[i].required)) {
            if (f[i].required)
                add_problem(&items, err_item("missing", f[i].name, "Field required",
                                             cJSON_Duplicate(body, 1)));
        } else if (!cJSON_IsString(v)) {
            add_problem(&items, err_item("string_type", f[i].name,
                                         "Input should be a valid string", cJSON_Duplicate(v, 1)));
        } else if (f[i].max_len && strlen(v->valuestring) > f[i].max_len) {
            char msg[80];
            snprintf(msg, sizeof msg, "String should have at most %zu characters", f[i].max_len);
            add_problem(&items, err_item("string_too_long", f[i].name, msg,
                                         cJSON_Duplicate(v, 1)));
        } else {
            *f[i].out = v->valuestring;
        }
    }
    if (!items)
        return 0;
    reply_422(resp, items);
    return -1;
}

/* local@domain with both parts non-empty, one '@', no spaces: enough to
 * turn away what pydantic's EmailStr turns away in practice. */
static int email_ok(const char *e) {
    const char *at = strchr(e, '@');
    return at && at != e && at[1] && !strchr(at + 1, '@') && !strpbrk(e, " \t\r\n");
}

static void reply_bad_email(sim_http_response *resp, const char *email) {
    cJSON *items = cJSON_CreateArray();
    cJSON_AddItemToArray(items, err_item("value_error", "email",
        "value is not a valid email address: An email address must have an @-sign.",
        cJSON_CreateString(email)));
    reply_422(resp, items);
}

static void reply_401(sim_http_response *resp, const char *detail) {
    sim_http_detail(resp, 401, detail);
    snprintf(resp->extra_headers, sizeof resp->extra_headers, "WWW-Authenticate: Bearer\r\n");
}

/* ---- tokens -------------------------------------------------------------- */

static cJSON *perms_json(const sim_auth_user *u) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; u && i < u->npermissions; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(u->permissions[i]));
    return a;
}

/* Issues an access + refresh pair and writes the login-shaped 200. perms is
 * borrowed; user (may be NULL: {"id": sub, "email": email}) is taken over
 * as the "user" member. The body is the bytes sim_http_json would print for
 * the same object, written without building it (the login's hot path). */
static void reply_tokens(sim_auth_store *st, const sim_http_request *req,
                         sim_http_response *resp, const char *sub, const char *email,
                         const cJSON *perms, cJSON *user) {
    char *access = sim_auth_store_issue(st, "access", sub, email, perms, req->now_ms);
    char *refresh = sim_auth_store_issue(st, "refresh", sub, email, perms, req->now_ms);
    if (!access || !refresh) {
        free(access);
        free(refresh);
        cJSON_Delete(user);
        sim_http_detail(resp, 500, "Token generation failed");
        return;
    }
    sim_buf *b = &resp->body;
    b->len = 0;
    sim_buf_reserve(b, 2 * strlen(access) + 256);
    sim_buf_puts(b, "{\"access_token\":\"");
    sim_buf_puts(b, access);   /* base64url and dots: nothing to escape */
    sim_buf_puts(b, "\",\"refresh_token\":\"");
    sim_buf_puts(b, refresh);
    sim_buf_puts(b, "\",\"token_type\":\"Bearer\",\"expires_in\":");
    sim_buf_i64(b, ADVERTISED_EXPIRES_IN);
    sim_buf_puts(b, ",\"user\":");
    if (user) {
        char *text = cJSON_PrintUnformatted(user);
        sim_buf_puts(b, text ? text : "null");
        cJSON_free(text);
        cJSON_Delete(user);
    } else {
        sim_buf_puts(b, "{\"id\":");
        sim_buf_json_str(b, sub);
        sim_buf_puts(b, ",\"email\":");
        sim_buf_json_str(b, email);
        sim_buf_puts(b, "}");
    }
    sim_buf_puts(b, "}");
    sim_utf8_fix_json(b, 0);
    resp->status = 200;
    resp->content_type = "application/json";
    free(access);
    free(refresh);
}

static cJSON *user_json(const char *id, const char *email) {
    cJSON *u = cJSON_CreateObject();
    cJSON_AddStringToObject(u, "id", id);
    cJSON_AddStringToObject(u, "email", email);
    return u;
}

/* ---- routes -------------------------------------------------------------- */

static void add_health_fields(cJSON *o, const sim_http_request *req) {
    char ts[SIM_ISO_LEN];
    sim_iso_time(ts, req->now_ms);
    cJSON_AddStringToObject(o, "service", "auth-service");
    cJSON_AddStringToObject(o, "version", "1.0.0");
    cJSON_AddStringToObject(o, "timestamp", ts);
    cJSON_AddStringToObject(o, "database_status", "connected");
    cJSON_AddStringToObject(o, "environment", "staging");
}

static void r_health(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_store *st = ctx;
    (void)st;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "healthy");
    add_health_fields(o, req);
    sim_http_json(resp, 200, o);
}

static void r_ready(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_store *st = ctx;
    (void)st;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ready");
    add_health_fields(o, req);
    sim_http_json(resp, 200, o);
}

/* Endpoints as absolute URLs on whatever Host the client used, so a client
 * following them stays on stagesim. */
static void r_config(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_store *st = ctx;
    static const char *const eps[][2] = {
        {"login", "/auth/login"}, {"logout", "/auth/logout"}, {"callback", "/auth/callback"},
        {"token", "/auth/token"}, {"user", "/auth/me"},
    };
    const char *host = req->header ? req->header(req, "Host") : NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "oauth_enabled", sim_auth_store_e2e_key(st) != NULL);
    cJSON_AddBoolToObject(o, "development_mode", 0);
    cJSON *e = cJSON_AddObjectToObject(o, "endpoints");
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        char url[512];
        if (host && *host && strlen(host) < 400 && !strpbrk(host, "\"\\ \r\n/"))
            snprintf(url, sizeof url, "http://%s%s", host, eps[i][1]);
        else
            snprintf(url, sizeof url, "%s", eps[i][1]);
        cJSON_AddStringToObject(e, eps[i][0], url);
    }
    sim_http_json(resp, 200, o);
}

static void r_login(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_store *st = ctx;
    int replied;
    cJSON *body = parse_body(req, resp, 0, &replied);
    if (!body)
        return;
    const char *email, *password;
    field f[] = {{"email", 1, 0, &email}, {"password", 1, 0, &password}};
    if (check_fields(body, f, 2, resp) == 0) {
        const sim_auth_user *u = sim_auth_store_by_email(st, email);
        if (!u || !sim_auth_password_ok(u, password)) {
            reply_401(resp, "Invalid credentials");
        } else {
            cJSON *perms = perms_json(u);
            reply_tokens(st, req, resp, u->id, u->email, perms, NULL);
            cJSON_Delete(perms);
        }
    }
    cJSON_Delete(body);
}

static void r_register(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_store *st = ctx;
    int replied;
    cJSON *body = parse_body(req, resp, 0, &replied);
    if (!body)
        return;
    const char *email, *password, *name, *full_name;
    field f[] = {{"email", 1, MAX_EMAIL_LEN, &email}, {"password", 1, MAX_PASSWORD_LEN, &password},
                 {"name", 0, 256, &name}, {"full_name", 0, 256, &full_name}};
    if (check_fields(body, f, 4, resp) == 0) {
        if (!email_ok(email)) {
            reply_bad_email(resp, email);
        } else if (sim_auth_store_by_email(st, email)) {
            sim_http_detail(resp, 409, "User already exists");
        } else {
            const sim_auth_user *u = sim_auth_store_register(st, email, password,
                                                             name ? name : full_name);
            cJSON *perms = perms_json(u);
            reply_tokens(st, req, resp, u->id, u->email, perms, NULL);
            cJSON_Delete(perms);
        }
    }
    cJSON_Delete(body);
}

/* Rotation: a refresh token works once. Its jti is revoked before the new
 * pair is issued, so replaying it afterwards gets 401. */
static void r_refresh(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_store *st = ctx;
    int replied;
    cJSON *body = parse_body(req, resp, 0, &replied);
    if (!body)
        return;
    const char *token;
    field f[] = {{"refresh_token", 1, 0, &token}};
    if (check_fields(body, f, 1, resp) == 0) {
        void *v = NULL;
        if (sim_auth_store_check(st, token, "refresh", req->now_ms, &v) != SIM_AUTH_OK) {
            reply_401(resp, "Invalid refresh token");
        } else {
            cJSON *c = v;
            const char *sub = cJSON_GetObjectItemCaseSensitive(c, "sub")->valuestring;
            const cJSON *em = cJSON_GetObjectItemCaseSensitive(c, "email");
            const cJSON *pm = cJSON_GetObjectItemCaseSensitive(c, "permissions");
            sim_auth_store_revoke(st, cJSON_GetObjectItemCaseSensitive(c, "jti")->valuestring, sub,
                                  cJSON_GetObjectItemCaseSensitive(c, "exp")->valuedouble,
                                  req->now_ms);
            /* A known user gets today's permissions; others keep the token's. */
            const sim_auth_user *u = sim_auth_store_by_id(st, sub);
            const char *email = u ? u->email : cJSON_IsString(em) ? em->valuestring : "";
            cJSON *perms = u ? perms_json(u)
                             : cJSON_IsArray(pm) ? cJSON_Duplicate(pm, 1) : cJSON_CreateArray();
            reply_tokens(st, req, resp, sub, email, perms, NULL);
            cJSON_Delete(perms);
            cJSON_Delete(c);
        }
    }
    cJSON_Delete(body);
}

/* Revokes the Bearer access token (and, if the optional body names one, the
 * caller's refresh token). The body is advisory: unparsable is ignored. */
static void r_logout(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_store *st = ctx;
    const char *tok = sim_http_bearer(req);
    if (!tok) {
        reply_401(resp, "Not authenticated");
        return;
    }
    void *v = NULL;
    if (sim_auth_store_check(st, tok, "access", req->now_ms, &v) != SIM_AUTH_OK) {
        reply_401(resp, "Invalid or expired token");
        return;
    }
    cJSON *c = v;
    const char *sub = cJSON_GetObjectItemCaseSensitive(c, "sub")->valuestring;
    sim_auth_store_revoke(st, cJSON_GetObjectItemCaseSensitive(c, "jti")->valuestring, sub,
                          cJSON_GetObjectItemCaseSensitive(c, "exp")->valuedouble, req->now_ms);
    if (req->body && req->body_len) {
        cJSON *body = cJSON_ParseWithLength(req->body, req->body_len);
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(body, "refresh_token");
        void *rv = NULL;
        if (cJSON_IsString(rt)
            && sim_auth_store_check(st, rt->valuestring, "refresh", req->now_ms, &rv) == SIM_AUTH_OK) {
            cJSON *rc = rv;
            if (strcmp(cJSON_GetObjectItemCaseSensitive(rc, "sub")->valuestring, sub) == 0)
                sim_auth_store_revoke(st, cJSON_GetObjectItemCaseSensitive(rc, "jti")->valuestring,
                                      sub, cJSON_GetObjectItemCaseSensitive(rc, "exp")->valuedouble,
                                      req->now_ms);
            cJSON_Delete(rc);
        }
        cJSON_Delete(body);
    }
    cJSON_Delete(c);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "message", "Successfully logged out");
    cJSON_AddStringToObject(o, "status", "success");
    sim_http_json(resp, 200, o);
}

static void validate_false(sim_http_response *resp, const char *error, const char *message) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "valid", 0);
    cJSON_AddStringToObject(o, "error", error);
    cJSON_AddStringToObject(o, "message", message);
    sim_http_json(resp, 200, o);
}

/* Always 200 for a well-formed request: the verdict is in the body. An
 * empty body or absent token is "missing_token"; only unparsable JSON or a
 * non-string token are 422 (FastAPI rejects those before the handler). */
static void r_validate(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_store *st = ctx;
    int replied;
    cJSON *body = parse_body(req, resp, 1, &replied);
    if (replied)
        return;
    const char *token = NULL;
    field f[] = {{"token", 0, 0, &token}};
    if (body && check_fields(body, f, 1, resp) != 0) {
        cJSON_Delete(body);
        return;
    }
    if (!token || !*token) {
        validate_false(resp, "missing_token", "Token is required");
        cJSON_Delete(body);
        return;
    }
    void *v = NULL;
    sim_auth_status rc = sim_auth_store_check(st, token, "access", req->now_ms, &v);
    cJSON_Delete(body);
    if (rc == SIM_AUTH_EXPIRED) {
        validate_false(resp, "token_expired", "Token has expired");
    } else if (rc == SIM_AUTH_REVOKED) {
        validate_false(resp, "token_revoked", "Token has been revoked");
    } else if (rc == SIM_AUTH_NOT_YET_VALID) {
        validate_false(resp, "token_not_yet_valid", "The token is not yet valid");
    } else if (rc != SIM_AUTH_OK) {
        validate_false(resp, "invalid_token", "Invalid token");
    } else {
        cJSON *c = v;
        const cJSON *em = cJSON_GetObjectItemCaseSensitive(c, "email");
        const cJSON *pm = cJSON_GetObjectItemCaseSensitive(c, "permissions");
        char exp[SIM_ISO_LEN];
        sim_iso_time(exp, sim_epoch_s_to_ms(cJSON_GetObjectItemCaseSensitive(c, "exp")->valuedouble));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "valid", 1);
        cJSON_AddStringToObject(o, "user_id",
                                cJSON_GetObjectItemCaseSensitive(c, "sub")->valuestring);
        cJSON_AddStringToObject(o, "email", cJSON_IsString(em) ? em->valuestring : "");
        cJSON_AddItemToObject(o, "permissions",
                              cJSON_IsArray(pm) ? cJSON_Duplicate(pm, 1) : cJSON_CreateArray());
        cJSON_AddStringToObject(o, "expires_at", exp);
        cJSON_Delete(c);
        sim_http_json(resp, 200, o);
    }
}

static void r_me(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_store *st = ctx;
    const char *tok = sim_http_bearer(req);
    if (!tok) {
        reply_401(resp, "Not authenticated");
        return;
    }
    void *v = NULL;
    sim_auth_status rc = sim_auth_store_check(st, tok, "access", req->now_ms, &v);
    if (rc != SIM_AUTH_OK) {
        reply_401(resp, rc == SIM_AUTH_INVALID ? "Invalid or expired token"
                                               : sim_auth_status_text(rc));
        return;
    }
    cJSON *c = v;
    const cJSON *em = cJSON_GetObjectItemCaseSensitive(c, "email");
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(c, "permissions");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user_id", cJSON_GetObjectItemCaseSensitive(c, "sub")->valuestring);
    cJSON_AddStringToObject(o, "email", cJSON_IsString(em) ? em->valuestring : "");
    cJSON_AddItemToObject(o, "permissions",
                          cJSON_IsArray(pm) ? cJSON_Duplicate(pm, 1) : cJSON_CreateArray());
    cJSON_Delete(c);
    sim_http_json(resp, 200, o);
}

/* The staging E2E bypass, in the contract's order: no header 401, no key
 * configured 503, wrong key 401 (constant-time compare). Production (403)
 * never applies: stagesim is always staging. */
static void r_e2e(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_store *st = ctx;
    const char *given = req->header ? req->header(req, "X-E2E-Bypass-Key") : NULL;
    if (!given || !*given) {
        sim_http_detail(resp, 401, "E2E bypass key required");
        return;
    }
    const char *key = sim_auth_store_e2e_key(st);
    if (!key) {
        sim_http_detail(resp, 503, "E2E authentication not configured");
        return;
    }
    size_t kl = strlen(key);
    if (strlen(given) != kl || CRYPTO_memcmp(given, key, kl) != 0) {
        sim_http_detail(resp, 401, "Invalid E2E bypass key");
        return;
    }
    int replied;
    cJSON *body = parse_body(req, resp, 1, &replied);
    if (replied)
        return;
    const char *email = NULL, *name = NULL;
    /* The user id "e2e-<local part>" becomes the token's sub, which the
     * store caps at 127 characters: keep the email well under that. */
    field f[] = {{"email", 0, 120, &email}, {"name", 0, 256, &name}};
    const cJSON *pm = body ? cJSON_GetObjectItemCaseSensitive(body, "permissions") : NULL;
    if (body && check_fields(body, f, 2, resp) != 0) {
        cJSON_Delete(body);
        return;
    }
    int perms_ok = !pm || cJSON_IsNull(pm) || cJSON_IsArray(pm);
    for (const cJSON *p = cJSON_IsArray(pm) ? pm->child : NULL; p && perms_ok; p = p->next)
        perms_ok = cJSON_IsString(p);
    if (!perms_ok) {
        cJSON *items = cJSON_CreateArray();
        cJSON_AddItemToArray(items, err_item("list_type", "permissions",
                                             "Input should be a valid list of strings",
                                             cJSON_Duplicate(pm, 1)));
        reply_422(resp, items);
        cJSON_Delete(body);
        return;
    }
    if (!email)
        email = E2E_DEFAULT_EMAIL;
    if (!name)
        name = E2E_DEFAULT_NAME;
    const char *at = strchr(email, '@');
    char id[MAX_EMAIL_LEN + 8];
    snprintf(id, sizeof id, "e2e-%.*s", at ? (int)(at - email) : (int)strlen(email), email);
    cJSON *perms;
    if (cJSON_IsArray(pm)) {
        perms = cJSON_Duplicate(pm, 1);
    } else {
        perms = cJSON_CreateArray();
        cJSON_AddItemToArray(perms, cJSON_CreateString("read"));
        cJSON_AddItemToArray(perms, cJSON_CreateString("write"));
    }
    cJSON *user = user_json(id, email);
    cJSON_AddStringToObject(user, "name", name);
    cJSON_AddItemToObject(user, "permissions", cJSON_Duplicate(perms, 1));
    cJSON_AddBoolToObject(user, "oauth_simulated", 1);
    reply_tokens(st, req, resp, id, email, perms, user);
    cJSON_Delete(perms);
    cJSON_Delete(body);
}

/* ---- dispatch ------------------------------------------------------------ */

static const sim_route routes[] = {
    {"GET", "/health", r_health, 0},
    {"GET", "/health/ready", r_ready, 0},
    {"GET", "/auth/config", r_config, 0},
    {"POST", "/auth/login", r_login, 0},
    {"POST", "/auth/register", r_register, 0},
    {"POST", "/auth/refresh", r_refresh, 0},
    {"POST", "/auth/logout", r_logout, 0},
    {"POST", "/auth/validate", r_validate, 0},
    {"GET", "/auth/me", r_me, 0},
    {"POST", "/auth/e2e/test-auth", r_e2e, 0},
    {NULL, NULL, NULL, 0},
};

/* Unknown path: 404; known path, other method: 405 with Allow, as
 * Starlette does (a GET route also answers HEAD). */
void sim_auth_handle(sim_auth_store *st, const sim_http_request *req, sim_http_response *resp) {
    sim_route_miss miss;
    const sim_route *r = sim_route_find(routes, req, 0, &miss);
    if (r) {
        r->fn(st, req, resp);
        return;
    }
    sim_http_detail(resp, miss.status, sim_http_reason(miss.status));
    if (miss.status == 405)
        snprintf(resp->extra_headers, sizeof resp->extra_headers, "Allow: %s\r\n", miss.allow);
}

/* ---- the service on the loop --------------------------------------------- */

struct sim_auth_service {
    sim_mhd *mhd;
};

static void service_handler(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    sim_auth_handle(ctx, req, resp);
}

sim_auth_service *sim_auth_service_start(struct ev_loop *loop, const sim_auth_config *cfg,
                                         char *err, size_t errlen) {
    sim_mhd_config mc = {.who = "auth", .bind = cfg->bind, .port = cfg->port,
                         .max_body = AUTH_MAX_BODY,
                         .handler = service_handler, .ctx = cfg->store, .faults = cfg->faults,
                         .service = SIM_SVC_AUTH, .clock = cfg->clock, .tls = cfg->tls,
                         .front_end = cfg->front_end, .seed = cfg->seed,
                         .max_conns = cfg->max_conns};
    sim_mhd *m = sim_mhd_start(loop, &mc, err, errlen);
    if (!m)
        return NULL;
    sim_auth_service *svc = sim_xcalloc(1, sizeof *svc);
    svc->mhd = m;
    return svc;
}

int sim_auth_service_port(const sim_auth_service *svc) { return sim_mhd_port(svc->mhd); }

void sim_auth_service_crash(sim_auth_service *svc) { sim_mhd_crash(svc->mhd); }

int sim_auth_service_restart(sim_auth_service *svc, char *err, size_t errlen) {
    return sim_mhd_restart(svc->mhd, err, errlen);
}

void sim_auth_service_stop(sim_auth_service *svc) {
    if (!svc)
        return;
    sim_mhd_stop(svc->mhd);
    free(svc);
}
