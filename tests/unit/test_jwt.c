/* test_jwt.c -- JWT (HS256, base64url) and the auth store and routes,
 * without sockets: tokens checked against PyJWT and RFC 7515 vectors, time
 * passed in. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "auth_int.h"
#include "jwt.h"
#include "tap.h"
#include "util.h"

#define SECRET "test-secret-0123456789abcdef0123456789"
#define NOW 1700000000.0

/* ---- helpers ------------------------------------------------------------- */

static char *b64(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    sim_b64url_encode(out, (const unsigned char *)s, n);
    return out;
}

/* header.payload signed with HS256 over SECRET, for hand-made tokens. */
static char *forge(const char *header_json, const char *payload_json) {
    char *h = b64(header_json), *p = b64(payload_json);
    sim_buf b = {0};
    sim_buf_printf(&b, "%s.%s", h, p);
    unsigned char sig[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)b.data, b.len, sig,
         &len);
    char s64[64];
    sim_b64url_encode(s64, sig, len);
    sim_buf_printf(&b, ".%s", s64);
    free(h);
    free(p);
    return b.data;
}

static int verify(const char *tok) {
    return sim_jwt_verify(tok, SECRET, strlen(SECRET), NULL);
}

/* A fake request: headers as a NULL-terminated name/value list. */
typedef struct fake {
    sim_http_request req;
    const char *const *headers;
} fake;

static const char *fake_header(const sim_http_request *req, const char *name) {
    const fake *f = (const fake *)req;
    for (size_t i = 0; f->headers && f->headers[i]; i += 2)
        if (sim_strcaseeq(f->headers[i], name))
            return f->headers[i + 1];
    return NULL;
}

/* Runs one request through the routes; returns the parsed JSON body
 * (caller deletes) and the status in *status. */
static cJSON *call(sim_auth_store *st, const char *method, const char *path, const char *body,
                   const char *const *headers, double now, int *status) {
    fake f;
    memset(&f, 0, sizeof f);
    f.req.method = method;
    f.req.path = path;
    f.req.query = "";
    f.req.body = body;
    f.req.body_len = body ? strlen(body) : 0;
    f.req.now = now;
    f.req.header = fake_header;
    f.headers = headers;
    sim_http_response r;
    sim_http_response_init(&r);
    sim_auth_handle(st, &f.req, &r);
    *status = r.status;
    cJSON *j = r.body.data ? cJSON_Parse(r.body.data) : NULL;
    sim_http_response_free(&r);
    return j;
}

static const char *jstr(const cJSON *j, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static sim_scenario *make_scenario(const char *secret, const char *e2e) {
    static char *perms[] = {"read", "write"};
    static sim_user users[2];
    static sim_scenario sc;
    memset(&sc, 0, sizeof sc);
    users[0] = (sim_user){"user-alice", "alice@example.com", "alice-password", perms, 2};
    users[1] = (sim_user){"user-bob", "bob@example.com", "bob-password", NULL, 0};
    sc.users = users;
    sc.nusers = 2;
    sc.access_ttl_s = 1800;
    sc.refresh_ttl_s = 14 * 86400;
    sc.jwt_secret = (char *)secret;
    sc.e2e_key = (char *)e2e;
    return &sc;
}

static void clear_env(void) {
    unsetenv("JWT_SECRET_STAGING");
    unsetenv("JWT_SECRET_KEY");
    unsetenv("E2E_OAUTH_SIMULATION_KEY");
}

/* ---- base64url ----------------------------------------------------------- */

static void test_b64(void) {
    static const struct { const char *in, *out; } v[] = {
        {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"},
        {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[32];
        unsigned char back[32];
        size_t n = sim_b64url_encode(out, (const unsigned char *)v[i].in, strlen(v[i].in));
        is_str(out, v[i].out, "b64url encode of %zu bytes", strlen(v[i].in));
        is_int(n, strlen(v[i].out), "encode length %zu", i);
        long m = sim_b64url_decode(back, out, n);
        ok(m == (long)strlen(v[i].in) && memcmp(back, v[i].in, (size_t)m) == 0,
           "decode round trip %zu", i);
    }
    unsigned char b[16];
    is_int(sim_b64url_decode(b, "Zg==", 4), 1, "padding accepted");
    is_int(sim_b64url_decode(b, "+/8", 3), 2, "standard alphabet accepted");
    ok(b[0] == 0xfb && b[1] == 0xff, "standard alphabet decodes like url-safe");
    is_int(sim_b64url_decode(b, "Z", 1), -1, "lone trailing character rejected");
    is_int(sim_b64url_decode(b, "Zh", 2), -1, "non-zero leftover bits rejected");
    is_int(sim_b64url_decode(b, "Zm*v", 4), -1, "invalid character rejected");
    is_int(sim_b64url_decode(b, "Zm9v.", 5), -1, "dot rejected");
    is_int(sim_b64url_decode(b, "", 0), 0, "empty decodes to nothing");
}

/* ---- JWT ------------------------------------------------------------------- */

static void test_known_vectors(void) {
    /* Produced by PyJWT 2.6: jwt.encode({"sub":"user-alice","iat":1700000000,
     * "exp":1700001800}, SECRET, algorithm="HS256"). */
    static const char pyjwt[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiJ1c2VyLWFsaWNlIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDE4MDB9."
        "t4taXXXzmz7dPr-_EToWaiGyAZ5YmEzsqpsgzAxlfDI";
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "sub", "user-alice");
    cJSON_AddNumberToObject(c, "iat", 1700000000);
    cJSON_AddNumberToObject(c, "exp", 1700001800);
    char *tok = sim_jwt_sign(c, SECRET, strlen(SECRET));
    is_str(tok, pyjwt, "signing matches PyJWT byte for byte");
    cJSON_Delete(c);
    free(tok);

    void *claims = NULL;
    is_int(sim_jwt_verify(pyjwt, SECRET, strlen(SECRET), &claims), SIM_JWT_OK,
           "PyJWT token verifies");
    is_str(jstr(claims, "sub"), "user-alice", "PyJWT token claims parsed");
    cJSON_Delete(claims);

    /* RFC 7515 appendix A.1: binary key, header with CRLF whitespace. */
    static const char rfc[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    static const char rfc_key_b64[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    unsigned char key[64];
    long klen = sim_b64url_decode(key, rfc_key_b64, strlen(rfc_key_b64));
    is_int(klen, 64, "RFC 7515 key decodes to 64 bytes");
    claims = NULL;
    is_int(sim_jwt_verify(rfc, (const char *)key, (size_t)klen, &claims), SIM_JWT_OK,
           "RFC 7515 A.1 token verifies");
    is_str(jstr(claims, "iss"), "joe", "RFC 7515 A.1 claims parsed");
    cJSON_Delete(claims);
    is_int(sim_jwt_verify(rfc, SECRET, strlen(SECRET), NULL), SIM_JWT_BAD_SIGNATURE,
           "RFC token with the wrong key is refused");
}

static void test_tampering(void) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "sub", "user-bob");
    char *tok = sim_jwt_sign(c, SECRET, strlen(SECRET));
    cJSON_Delete(c);
    is_int(verify(tok), SIM_JWT_OK, "round trip");
    is_int(sim_jwt_verify(tok, "other", 5, NULL), SIM_JWT_BAD_SIGNATURE, "other secret refused");

    /* Payload swapped for another user, signature kept. */
    char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    char *evil = b64("{\"sub\":\"user-alice\"}");
    sim_buf b = {0};
    sim_buf_printf(&b, "%.*s.%s%s", (int)(d1 - tok), tok, evil, d2);
    is_int(verify(b.data), SIM_JWT_BAD_SIGNATURE, "tampered payload refused");
    sim_buf_free(&b);
    free(evil);

    /* One signature character changed; then a truncated signature. */
    char *t2 = sim_xstrdup(tok);
    char *s = strrchr(t2, '.') + 1;
    s[0] = s[0] == 'A' ? 'B' : 'A';
    is_int(verify(t2), SIM_JWT_BAD_SIGNATURE, "tampered signature refused");
    strcpy(t2, tok);
    t2[strlen(t2) - 1] = '\0';
    ok(verify(t2) != SIM_JWT_OK, "truncated signature refused");
    strcpy(t2, tok);
    *(strrchr(t2, '.') + 1) = '\0';
    is_int(verify(t2), SIM_JWT_BAD_SIGNATURE, "empty signature refused");
    free(t2);

    /* The last signature character also carries 2 padding bits: flipping
     * only those must not verify (non-canonical encoding refused). */
    char *t3 = sim_xstrdup(tok);
    char *last = t3 + strlen(t3) - 1;
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alpha, *last) - alpha);
    *last = alpha[v ^ 1];
    ok(verify(t3) != SIM_JWT_OK, "signature with non-zero padding bits refused");
    free(t3);
    free(tok);
}

static void test_algorithms(void) {
    const char *payload = "{\"sub\":\"user-alice\",\"exp\":9999999999}";
    char *p = b64(payload);
    static const char *const headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}",
        "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", "{\"alg\":\"HS384\"}", "{\"alg\":\"RS256\"}",
        "{\"alg\":\"hs256\"}", "{\"typ\":\"JWT\"}", "{\"alg\":256}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *h = b64(headers[i]);
        sim_buf b = {0};
        sim_buf_printf(&b, "%s.%s.", h, p);
        is_int(verify(b.data), SIM_JWT_BAD_ALG, "unsigned token with %s refused", headers[i]);
        free(h);
        sim_buf_free(&b);
        /* Even correctly HMAC'd with our secret, a foreign alg is refused. */
        char *f = forge(headers[i], payload);
        is_int(verify(f), SIM_JWT_BAD_ALG, "signed token with %s refused", headers[i]);
        free(f);
    }
    /* A real HS512 token from PyJWT (key "k"). */
    static const char hs512[] =
        "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0."
        "LCBRJFXHVGqAlL0ee90HDF2u0pQg3Z2Ms-P7y59B936z-0Sw5yVi7szY9VlzZWdErSy8K9zUVWJpmunn3BmaTQ";
    is_int(sim_jwt_verify(hs512, "k", 1, NULL), SIM_JWT_BAD_ALG, "PyJWT HS512 token refused");
    char *crit = forge("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", payload);
    is_int(verify(crit), SIM_JWT_MALFORMED, "header with crit refused");
    free(crit);
    char *good = forge("{\"alg\":\"HS256\"}", payload);
    is_int(verify(good), SIM_JWT_OK, "forged helper makes valid tokens (control)");
    free(good);
    free(p);
}

static void test_malformed(void) {
    static const char *const bad[] = {
        "", "abc", "a.b", "a.b.c.d", "..", "...", ".x.y", "eyJhbGciOiJIUzI1NiJ9..sig",
        "!!!.eyJ9.abc", "eyJhbGciOiJIUzI1NiJ9.%%%.abc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ok(verify(bad[i]) != SIM_JWT_OK, "malformed \"%s\" refused", bad[i]);
    is_int(verify(NULL), SIM_JWT_MALFORMED, "NULL token refused");
    char *h = forge("[1,2]", "{}");
    is_int(verify(h), SIM_JWT_MALFORMED, "header not an object");
    free(h);
    char *p1 = forge("{\"alg\":\"HS256\"}", "[\"sub\"]");
    is_int(verify(p1), SIM_JWT_MALFORMED, "payload not an object (validly signed)");
    free(p1);
    char *p2 = forge("{\"alg\":\"HS256\"}", "{\"sub\":");
    is_int(verify(p2), SIM_JWT_MALFORMED, "payload not JSON (validly signed)");
    free(p2);
    char *p3 = forge("{\"alg\":\"HS256\"}", "{} trailing");
    is_int(verify(p3), SIM_JWT_MALFORMED, "payload with trailing bytes");
    free(p3);
    char *huge = malloc(20001);
    memset(huge, 'A', 20000);
    huge[20000] = '\0';
    huge[100] = huge[200] = '.';
    is_int(verify(huge), SIM_JWT_MALFORMED, "oversized token refused");
    free(huge);
}

/* ---- the store ------------------------------------------------------------- */

static void test_claims(void) {
    clear_env();
    sim_auth_store *st = sim_auth_store_new(make_scenario(SECRET, NULL), 42);
    char *tok = sim_auth_issue_access(st, "user-alice", "alice@example.com", NOW + 0.75);
    void *v = NULL;
    is_int(sim_jwt_verify(tok, SECRET, strlen(SECRET), &v), SIM_JWT_OK, "store signs with scenario secret");
    cJSON *c = v;
    is_str(jstr(c, "sub"), "user-alice", "sub");
    is_str(jstr(c, "token_type"), "access", "token_type");
    is_str(jstr(c, "type"), "access", "type");
    is_str(jstr(c, "iss"), "netra-auth-service", "iss");
    is_str(jstr(c, "aud"), "netra-platform", "aud");
    is_str(jstr(c, "env"), "staging", "env");
    is_str(jstr(c, "svc_id"), "netra_auth_service_staging", "svc_id");
    is_str(jstr(c, "email"), "alice@example.com", "email");
    ok(jstr(c, "jti") && strlen(jstr(c, "jti")) == 16, "jti is 16 hex digits");
    const cJSON *iat = cJSON_GetObjectItem(c, "iat"), *exp = cJSON_GetObjectItem(c, "exp");
    ok(cJSON_IsNumber(iat) && iat->valuedouble == NOW, "iat is whole seconds of now");
    ok(cJSON_IsNumber(exp) && exp->valuedouble == NOW + 1800, "exp = iat + access_ttl_s");
    const cJSON *perms = cJSON_GetObjectItem(c, "permissions");
    ok(cJSON_IsArray(perms) && cJSON_GetArraySize(perms) == 2, "permissions from the scenario");
    is_int(cJSON_GetArraySize(c), 12, "exactly the twelve contract claims");
    cJSON_Delete(c);

    sim_principal pr;
    is_int(sim_auth_check_access(st, tok, NOW + 10, &pr), SIM_AUTH_OK, "access token valid");
    is_str(pr.user_id, "user-alice", "principal user id");
    is_str(pr.email, "alice@example.com", "principal email");
    ok(pr.exp == NOW + 1800, "principal exp");
    is_int(sim_auth_check_access(st, tok, NOW + 1799.9, NULL), SIM_AUTH_OK, "valid just before exp");
    is_int(sim_auth_check_access(st, tok, NOW + 1800, NULL), SIM_AUTH_EXPIRED, "expired at exp");
    is_int(sim_auth_check_access(st, tok, NOW + 99999, NULL), SIM_AUTH_EXPIRED, "expired later");

    char *refresh = sim_auth_store_issue(st, "refresh", "user-alice", "alice@example.com", NULL, NOW);
    is_int(sim_auth_check_access(st, refresh, NOW, NULL), SIM_AUTH_INVALID,
           "refresh token is not an access token");
    is_int(sim_auth_store_check(st, refresh, "refresh", NOW + 14 * 86400 - 1, NULL), SIM_AUTH_OK,
           "refresh token lives refresh_ttl_s");
    is_int(sim_auth_store_check(st, refresh, "refresh", NOW + 14 * 86400, NULL), SIM_AUTH_EXPIRED,
           "refresh token expires after refresh_ttl_s");

    /* Revocation. */
    void *cv = NULL;
    sim_jwt_verify(tok, SECRET, strlen(SECRET), &cv);
    sim_auth_store_revoke(st, jstr(cv, "jti"), NOW + 1800, NOW);
    cJSON_Delete(cv);
    is_int(sim_auth_check_access(st, tok, NOW + 10, NULL), SIM_AUTH_REVOKED, "revoked after logout");
    is_int(sim_auth_check_access(st, tok, NOW + 1800, NULL), SIM_AUTH_EXPIRED,
           "expiry reported before revocation");

    /* Missing / wrong claims, validly signed. */
    static const char *const payloads[] = {
        "{\"iat\":1700000000,\"exp\":1800000000,\"iss\":\"netra-auth-service\",\"jti\":\"j\",\"token_type\":\"access\"}",
        "{\"sub\":\"u\",\"exp\":1800000000,\"iss\":\"netra-auth-service\",\"jti\":\"j\",\"token_type\":\"access\"}",
        "{\"sub\":\"u\",\"iat\":1700000000,\"iss\":\"netra-auth-service\",\"jti\":\"j\",\"token_type\":\"access\"}",
        "{\"sub\":\"u\",\"iat\":1700000000,\"exp\":1800000000,\"jti\":\"j\",\"token_type\":\"access\"}",
        "{\"sub\":\"u\",\"iat\":1700000000,\"exp\":1800000000,\"iss\":\"evil\",\"jti\":\"j\",\"token_type\":\"access\"}",
        "{\"sub\":\"u\",\"iat\":1700000000,\"exp\":1800000000,\"iss\":\"netra-auth-service\",\"token_type\":\"access\"}",
        "{\"sub\":\"u\",\"iat\":1700000000,\"exp\":1800000000,\"iss\":\"netra-auth-service\",\"jti\":\"j\"}",
        "{\"sub\":\"u\",\"iat\":1700000000,\"exp\":\"1800000000\",\"iss\":\"netra-auth-service\",\"jti\":\"j\",\"token_type\":\"access\"}",
    };
    static const char *const what[] = {"sub", "iat", "exp", "iss", "iss value", "jti",
                                       "token_type", "exp type"};
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char *f = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payloads[i]);
        is_int(sim_auth_check_access(st, f, NOW, NULL), SIM_AUTH_INVALID, "bad claim: %s", what[i]);
        free(f);
    }
    char *f = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                    "{\"sub\":\"u\",\"iat\":1700000000,\"exp\":1800000000,\"iss\":\"netra-auth-service\",\"jti\":\"j\",\"token_type\":\"access\"}");
    is_int(sim_auth_check_access(st, f, NOW, NULL), SIM_AUTH_OK, "minimal valid claims accepted (control)");
    free(f);
    char *none = b64("{\"alg\":\"none\"}");
    char *pl = b64("{\"sub\":\"u\",\"iat\":1700000000,\"exp\":1800000000,\"iss\":\"netra-auth-service\",\"jti\":\"j\",\"token_type\":\"access\"}");
    sim_buf nb = {0};
    sim_buf_printf(&nb, "%s.%s.", none, pl);
    is_int(sim_auth_check_access(st, nb.data, NOW, NULL), SIM_AUTH_INVALID, "alg none refused by the store");
    sim_buf_free(&nb);
    free(none);
    free(pl);

    free(tok);
    free(refresh);
    sim_auth_store_free(st);
}

static void test_determinism_and_secrets(void) {
    clear_env();
    sim_scenario *sc = make_scenario(SECRET, NULL);
    sim_auth_store *a = sim_auth_store_new(sc, 7), *b = sim_auth_store_new(sc, 7);
    sim_auth_store *c = sim_auth_store_new(sc, 8);
    char *ta = sim_auth_issue_access(a, "user-bob", NULL, NOW);
    char *tb = sim_auth_issue_access(b, "user-bob", NULL, NOW);
    char *tc = sim_auth_issue_access(c, "user-bob", NULL, NOW);
    is_str(ta, tb, "same seed, same ordinal, same now: identical token");
    ok(strcmp(ta, tc) != 0, "other seed: other jti");
    char *ta2 = sim_auth_issue_access(a, "user-bob", NULL, NOW);
    ok(strcmp(ta, ta2) != 0, "next ordinal: other jti");
    /* Another user logging in between does not change bob's tokens: the jti
     * comes from bob's own ordinal, not the order of logins. */
    char *alice = sim_auth_issue_access(b, "user-alice", NULL, NOW);
    char *tb2 = sim_auth_issue_access(b, "user-bob", NULL, NOW);
    is_str(tb2, ta2, "bob's 2nd token is the same whoever logged in before it");
    ok(strcmp(alice, ta) != 0, "alice's token differs from bob's");
    free(ta); free(tb); free(tc); free(ta2); free(alice); free(tb2);
    sim_auth_store_free(a); sim_auth_store_free(b); sim_auth_store_free(c);

    /* Generated secret: deterministic from the seed. */
    sc = make_scenario(NULL, NULL);
    sim_auth_store *g = sim_auth_store_new(sc, 99);
    char gen[65];
    sim_hex(gen, 64, sim_mix(99, "jwt_secret", 0, 0));
    char *tg = sim_auth_issue_access(g, "user-bob", NULL, NOW);
    is_int(sim_jwt_verify(tg, gen, 64, NULL), SIM_JWT_OK, "generated secret = sim_mix(seed)");
    free(tg);
    sim_auth_store_free(g);

    /* Precedence: STAGING > KEY > scenario. */
    const char *staging = "staging-secret-staging-secret-0123", *key = "key-secret-key-secret-key-secret-0";
    sc = make_scenario(SECRET, NULL);
    setenv("JWT_SECRET_KEY", key, 1);
    sim_auth_store *k = sim_auth_store_new(sc, 1);
    char *tk = sim_auth_issue_access(k, "user-bob", NULL, NOW);
    is_int(sim_jwt_verify(tk, key, strlen(key), NULL), SIM_JWT_OK, "JWT_SECRET_KEY beats the scenario");
    free(tk);
    sim_auth_store_free(k);
    setenv("JWT_SECRET_STAGING", staging, 1);
    k = sim_auth_store_new(sc, 1);
    tk = sim_auth_issue_access(k, "user-bob", NULL, NOW);
    is_int(sim_jwt_verify(tk, staging, strlen(staging), NULL), SIM_JWT_OK,
           "JWT_SECRET_STAGING beats JWT_SECRET_KEY");
    free(tk);
    sim_auth_store_free(k);

    /* E2E key precedence. */
    sc = make_scenario(SECRET, "scenario-e2e");
    k = sim_auth_store_new(sc, 1);
    is_str(sim_auth_store_e2e_key(k), "scenario-e2e", "e2e key from the scenario");
    sim_auth_store_free(k);
    setenv("E2E_OAUTH_SIMULATION_KEY", "env-e2e", 1);
    k = sim_auth_store_new(sc, 1);
    is_str(sim_auth_store_e2e_key(k), "env-e2e", "E2E_OAUTH_SIMULATION_KEY beats the scenario");
    sim_auth_store_free(k);
    clear_env();
    k = sim_auth_store_new(make_scenario(SECRET, NULL), 1);
    ok(sim_auth_store_e2e_key(k) == NULL, "no e2e key: not configured");
    sim_auth_store_free(k);
}

static void test_revocation_pruning(void) {
    clear_env();
    sim_auth_store *st = sim_auth_store_new(make_scenario(SECRET, NULL), 1);
    char jti[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(jti, sizeof jti, "old-%d", i);
        sim_auth_store_revoke(st, jti, NOW + 10, NOW);
    }
    is_int(sim_auth_store_revoked_count(st), 1000, "1000 revocations held");
    for (int i = 0; i < 1000; i++) {
        snprintf(jti, sizeof jti, "new-%d", i);
        sim_auth_store_revoke(st, jti, NOW + 5000, NOW + 100);
    }
    ok(sim_auth_store_revoked_count(st) < 1500, "expired revocations dropped on growth (%zu left)",
       sim_auth_store_revoked_count(st));
    sim_auth_store_revoke(st, "past", NOW - 1, NOW);
    ok(sim_auth_store_revoked_count(st) < 1500, "already-expired revocation not stored");
    sim_auth_store_free(st);
}

/* ---- the routes, without sockets ------------------------------------------- */

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
    is_int(sim_auth_check_access(st, jstr(j, "access_token"), NOW, &pr), SIM_AUTH_OK,
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

int main(void) {
    sim_log_set_level(SIM_LOG_ERROR);
    test_b64();
    test_known_vectors();
    test_tampering();
    test_algorithms();
    test_malformed();
    test_claims();
    test_determinism_and_secrets();
    test_revocation_pruning();
    test_routes();
    return tap_done();
}
