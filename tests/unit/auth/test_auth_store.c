/* test_auth_store.c -- the auth store: claims as the backend checks them,
 * secrets and determinism, revocation. Time is passed in. */
#include "auth_fixture.h"

static void test_claims(void) {
    clear_env();
    sim_auth_store *st = sim_auth_store_new(make_scenario(SECRET, NULL), 42);
    char *tok = sim_auth_issue_access(st, "user-alice", "alice@example.com", AT(NOW + 0.75));
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
    is_int(sim_auth_check_access(st, tok, AT(NOW + 10), &pr), SIM_AUTH_OK, "access token valid");
    is_str(pr.user_id, "user-alice", "principal user id");
    is_str(pr.email, "alice@example.com", "principal email");
    ok(pr.exp == NOW + 1800, "principal exp");
    is_int(sim_auth_check_access(st, tok, AT(NOW + 1799.9), NULL), SIM_AUTH_OK, "valid just before exp");
    is_int(sim_auth_check_access(st, tok, AT(NOW + 1800), NULL), SIM_AUTH_EXPIRED, "expired at exp");
    is_int(sim_auth_check_access(st, tok, AT(NOW + 99999), NULL), SIM_AUTH_EXPIRED, "expired later");

    char *refresh = sim_auth_store_issue(st, "refresh", "user-alice", "alice@example.com", NULL, AT(NOW));
    is_int(sim_auth_check_access(st, refresh, AT(NOW), NULL), SIM_AUTH_INVALID,
           "refresh token is not an access token");
    is_int(sim_auth_store_check(st, refresh, "refresh", AT(NOW + 14 * 86400 - 1), NULL), SIM_AUTH_OK,
           "refresh token lives refresh_ttl_s");
    is_int(sim_auth_store_check(st, refresh, "refresh", AT(NOW + 14 * 86400), NULL), SIM_AUTH_EXPIRED,
           "refresh token expires after refresh_ttl_s");

    /* Revocation. */
    void *cv = NULL;
    sim_jwt_verify(tok, SECRET, strlen(SECRET), &cv);
    sim_auth_store_revoke(st, jstr(cv, "jti"), "u1", NOW + 1800, AT(NOW));
    cJSON_Delete(cv);
    is_int(sim_auth_check_access(st, tok, AT(NOW + 10), NULL), SIM_AUTH_REVOKED, "revoked after logout");
    is_int(sim_auth_check_access(st, tok, AT(NOW + 1800), NULL), SIM_AUTH_EXPIRED,
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
        is_int(sim_auth_check_access(st, f, AT(NOW), NULL), SIM_AUTH_INVALID, "bad claim: %s", what[i]);
        free(f);
    }
    char *f = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                    "{\"sub\":\"u\",\"iat\":1700000000,\"exp\":1800000000,\"iss\":\"netra-auth-service\",\"jti\":\"j\",\"token_type\":\"access\"}");
    is_int(sim_auth_check_access(st, f, AT(NOW), NULL), SIM_AUTH_OK, "minimal valid claims accepted (control)");
    free(f);
    char *none = b64("{\"alg\":\"none\"}");
    char *pl = b64("{\"sub\":\"u\",\"iat\":1700000000,\"exp\":1800000000,\"iss\":\"netra-auth-service\",\"jti\":\"j\",\"token_type\":\"access\"}");
    sim_buf nb = {0};
    sim_buf_printf(&nb, "%s.%s.", none, pl);
    is_int(sim_auth_check_access(st, nb.data, AT(NOW), NULL), SIM_AUTH_INVALID, "alg none refused by the store");
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
    char *ta = sim_auth_issue_access(a, "user-bob", NULL, AT(NOW));
    char *tb = sim_auth_issue_access(b, "user-bob", NULL, AT(NOW));
    char *tc = sim_auth_issue_access(c, "user-bob", NULL, AT(NOW));
    is_str(ta, tb, "same seed, same ordinal, same now: identical token");
    ok(strcmp(ta, tc) != 0, "other seed: other jti");
    char *ta2 = sim_auth_issue_access(a, "user-bob", NULL, AT(NOW));
    ok(strcmp(ta, ta2) != 0, "next ordinal: other jti");
    /* Another user logging in between does not change bob's tokens: the jti
     * comes from bob's own ordinal, not the order of logins. */
    char *alice = sim_auth_issue_access(b, "user-alice", NULL, AT(NOW));
    char *tb2 = sim_auth_issue_access(b, "user-bob", NULL, AT(NOW));
    is_str(tb2, ta2, "bob's 2nd token is the same whoever logged in before it");
    ok(strcmp(alice, ta) != 0, "alice's token differs from bob's");
    free(ta); free(tb); free(tc); free(ta2); free(alice); free(tb2);
    sim_auth_store_free(a); sim_auth_store_free(b); sim_auth_store_free(c);

    /* Generated secret: deterministic from the seed. */
    sc = make_scenario(NULL, NULL);
    sim_auth_store *g = sim_auth_store_new(sc, 99);
    char gen[65];
    sim_hex(gen, 64, sim_mix(99, "jwt_secret", 0, 0));
    char *tg = sim_auth_issue_access(g, "user-bob", NULL, AT(NOW));
    is_int(sim_jwt_verify(tg, gen, 64, NULL), SIM_JWT_OK, "generated secret = sim_mix(seed)");
    free(tg);
    sim_auth_store_free(g);

    /* Precedence: STAGING > KEY > scenario. */
    const char *staging = "staging-secret-staging-secret-0123", *key = "key-secret-key-secret-key-secret-0";
    sc = make_scenario(SECRET, NULL);
    setenv("JWT_SECRET_KEY", key, 1);
    sim_auth_store *k = sim_auth_store_new(sc, 1);
    char *tk = sim_auth_issue_access(k, "user-bob", NULL, AT(NOW));
    is_int(sim_jwt_verify(tk, key, strlen(key), NULL), SIM_JWT_OK, "JWT_SECRET_KEY beats the scenario");
    free(tk);
    sim_auth_store_free(k);
    setenv("JWT_SECRET_STAGING", staging, 1);
    k = sim_auth_store_new(sc, 1);
    tk = sim_auth_issue_access(k, "user-bob", NULL, AT(NOW));
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
        sim_auth_store_revoke(st, jti, "u", NOW + 10, AT(NOW));
    }
    is_int(sim_auth_store_revoked_count(st), 1000, "1000 revocations held");
    for (int i = 0; i < 1000; i++) {
        snprintf(jti, sizeof jti, "new-%d", i);
        sim_auth_store_revoke(st, jti, "u", NOW + 5000, AT(NOW + 100));
    }
    ok(sim_auth_store_revoked_count(st) < 1500, "expired revocations dropped on growth (%zu left)",
       sim_auth_store_revoked_count(st));
    sim_auth_store_revoke(st, "past", "u", NOW - 1, AT(NOW));
    ok(sim_auth_store_revoked_count(st) < 1500, "already-expired revocation not stored");
    sim_auth_store_free(st);
}

/* Claims as PyJWT 2 checks them: iat and nbf not in the future, aud when
 * present, each with the leeway; whole seconds of the checker's clock. */
static void test_pyjwt_claims(void) {
    clear_env();
    sim_scenario *sc = make_scenario(SECRET, NULL);
    sim_auth_store *st = sim_auth_store_new(sc, 7);
    static const char head[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
#define CLAIMS(extra) "{\"sub\":\"u\",\"iss\":\"netra-auth-service\",\"jti\":\"j\"," \
                      "\"token_type\":\"access\",\"exp\":1800000000," extra "}"
    static const struct { const char *claims; double at; sim_auth_status want; const char *what; } cases[] = {
        {CLAIMS("\"iat\":1700000000"), NOW, SIM_AUTH_OK, "iat now"},
        {CLAIMS("\"iat\":1700000001"), NOW, SIM_AUTH_NOT_YET_VALID, "iat a second ahead"},
        {CLAIMS("\"iat\":1700000001"), NOW + 0.999, SIM_AUTH_NOT_YET_VALID, "whole seconds: still ahead at .999"},
        {CLAIMS("\"iat\":1700000001"), NOW + 1, SIM_AUTH_OK, "iat reached"},
        {CLAIMS("\"iat\":1700000000,\"nbf\":1700000060"), NOW, SIM_AUTH_NOT_YET_VALID, "nbf ahead"},
        {CLAIMS("\"iat\":1700000000,\"nbf\":1700000060"), NOW + 60, SIM_AUTH_OK, "nbf reached"},
        {CLAIMS("\"iat\":1700000000,\"nbf\":\"soon\""), NOW + 60, SIM_AUTH_INVALID, "nbf not a number"},
        {CLAIMS("\"iat\":1700000000,\"aud\":\"netra-platform\""), NOW, SIM_AUTH_OK, "aud matches"},
        {CLAIMS("\"iat\":1700000000,\"aud\":[\"x\",\"netra-platform\"]"), NOW, SIM_AUTH_OK, "aud list holds it"},
        {CLAIMS("\"iat\":1700000000,\"aud\":\"other\""), NOW, SIM_AUTH_INVALID, "wrong aud"},
        {CLAIMS("\"iat\":1700000000,\"aud\":[\"other\"]"), NOW, SIM_AUTH_INVALID, "aud list without it"},
        {CLAIMS("\"iat\":1e300"), NOW, SIM_AUTH_NOT_YET_VALID, "iat beyond the calendar"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *f = forge(head, cases[i].claims);
        is_int(sim_auth_check_access(st, f, AT(cases[i].at), NULL), cases[i].want, "%s", cases[i].what);
        is_int(sim_auth_store_check(st, f, "access", AT(cases[i].at), NULL), cases[i].want,
               "%s (the auth service's view)", cases[i].what);
        free(f);
    }
    is_str(sim_auth_status_text(SIM_AUTH_NOT_YET_VALID), "Token is not yet valid", "status text");
    sim_auth_store_free(st);

    /* The leeway applies to iat, nbf and exp alike. */
    sc = make_scenario(SECRET, NULL);
    sc->auth_leeway_s = 10;
    st = sim_auth_store_new(sc, 7);
    char *ahead = forge(head, CLAIMS("\"iat\":1700000010"));
    is_int(sim_auth_check_access(st, ahead, AT(NOW), NULL), SIM_AUTH_OK, "iat within the leeway");
    free(ahead);
    char *late = forge(head, "{\"sub\":\"u\",\"iss\":\"netra-auth-service\",\"jti\":\"j\","
                             "\"token_type\":\"access\",\"iat\":1699990000,\"exp\":1699999995}");
    is_int(sim_auth_check_access(st, late, AT(NOW), NULL), SIM_AUTH_OK, "exp within the leeway");
    is_int(sim_auth_check_access(st, late, AT(NOW + 5), NULL), SIM_AUTH_EXPIRED, "exp past the leeway");
    free(late);
    sim_auth_store_free(st);
#undef CLAIMS
}

/* The backend's own view: another secret (the services disagree), another
 * clock (skew); the auth service's routes keep theirs. */
static void test_backend_view(void) {
    clear_env();
    sim_scenario *sc = make_scenario(SECRET, NULL);
    sc->backend_jwt_secret = "another-secret-0123456789abcdef0123456";
    sim_auth_store *st = sim_auth_store_new(sc, 7);
    char *tok = sim_auth_issue_access(st, "user-alice", "alice@example.com", AT(NOW));
    is_int(sim_auth_check_access(st, tok, AT(NOW + 1), NULL), SIM_AUTH_INVALID,
           "the backend rejects the auth service's token");
    is_int(sim_auth_store_check(st, tok, "access", AT(NOW + 1), NULL), SIM_AUTH_OK,
           "the auth service still accepts it");
    free(tok);
    sim_auth_store_free(st);

    sc = make_scenario(SECRET, NULL);
    sc->backend_clock_skew_ms = -1500;   /* the backend's clock is behind */
    st = sim_auth_store_new(sc, 7);
    tok = sim_auth_issue_access(st, "user-alice", "alice@example.com", AT(NOW));
    is_int(sim_auth_check_access(st, tok, AT(NOW), NULL), SIM_AUTH_NOT_YET_VALID,
           "a backend behind the issuer sees iat in the future");
    is_int(sim_auth_check_access(st, tok, AT(NOW + 2), NULL), SIM_AUTH_OK, "until its clock gets there");
    is_int(sim_auth_store_check(st, tok, "access", AT(NOW), NULL), SIM_AUTH_OK, "no skew for the issuer");
    free(tok);
    sim_auth_store_free(st);

    sc = make_scenario(SECRET, NULL);
    sc->backend_clock_skew_ms = 1800 * 1000;   /* ahead by the token's lifetime */
    st = sim_auth_store_new(sc, 7);
    tok = sim_auth_issue_access(st, "user-alice", "alice@example.com", AT(NOW));
    is_int(sim_auth_check_access(st, tok, AT(NOW), NULL), SIM_AUTH_EXPIRED,
           "a backend ahead sees a fresh token expired");
    free(tok);
    sim_auth_store_free(st);
}

typedef struct heard {
    int n;
    char user[64], jti[64];
} heard;

static void on_revoke(void *ctx, const char *user_id, const char *jti, int64_t now_ms) {
    (void)now_ms;
    heard *h = ctx;
    h->n++;
    snprintf(h->user, sizeof h->user, "%s", user_id ? user_id : "");
    snprintf(h->jti, sizeof h->jti, "%s", jti ? jti : "(all)");
}

static void test_revoke_user_and_listener(void) {
    clear_env();
    sim_auth_store *st = sim_auth_store_new(make_scenario(SECRET, NULL), 1);
    heard h = {0};
    sim_auth_store_on_revoke(st, on_revoke, &h);
    char *old = sim_auth_issue_access(st, "u1", "u1@x", AT(NOW));
    char *other = sim_auth_issue_access(st, "u2", "u2@x", AT(NOW));
    sim_principal who;
    is_int(sim_auth_check_access(st, old, AT(NOW + 2), &who), SIM_AUTH_OK, "valid before");
    ok(strlen(who.jti) == 16, "the principal carries the jti");
    /* A logout: one token, the listener hears its jti. */
    sim_auth_store_revoke(st, who.jti, "u1", who.exp, AT(NOW + 2));
    is_int(h.n, 1, "listener told of the logout");
    is_str(h.jti, who.jti, "with the token's jti");
    sim_auth_store_revoke(st, who.jti, "u1", who.exp, AT(NOW + 2));
    is_int(h.n, 1, "a token revoked twice is told once");
    /* Every token of a user, issued before the current second. */
    char *older = sim_auth_issue_access(st, "u1", "u1@x", AT(NOW + 1));
    sim_auth_store_revoke_user(st, "u1", AT(NOW + 5) + 300);
    is_int(h.n, 2, "listener told of the user's revocation");
    is_str(h.jti, "(all)", "for all their tokens");
    is_str(h.user, "u1", "of that user");
    is_int(sim_auth_check_access(st, older, AT(NOW + 6), NULL), SIM_AUTH_REVOKED,
           "a token of an earlier second is revoked");
    char *same = sim_auth_issue_access(st, "u1", "u1@x", AT(NOW + 5) + 600);
    is_int(sim_auth_check_access(st, same, AT(NOW + 6), NULL), SIM_AUTH_OK,
           "a login later in the same second stays good (iat is whole seconds)");
    is_int(sim_auth_check_access(st, other, AT(NOW + 6), NULL), SIM_AUTH_OK,
           "another user's token stays good");
    sim_auth_store_forget(st, AT(NOW + 7));
    is_int(sim_auth_check_access(st, older, AT(NOW + 8), NULL), SIM_AUTH_OK,
           "forgotten with the rest of the run-time state");
    free(old), free(other), free(older), free(same);
    sim_auth_store_free(st);
}

/* The claims are written without cJSON: they must be the bytes
 * cJSON_PrintUnformatted gives for the same claims (parsed and printed
 * again), for awkward strings, numbers and permissions too. */
static int prints_as_cjson(const char *json) {
    cJSON *j = cJSON_Parse(json);
    char *again = j ? cJSON_PrintUnformatted(j) : NULL;
    int same = again && strcmp(again, json) == 0;
    if (!same) printf("#   written %s\n#   cJSON   %s\n", json, again ? again : "(unparsable)");
    cJSON_free(again);
    cJSON_Delete(j);
    return same;
}

static void test_claims_bytes(void) {
    clear_env();
    sim_auth_store *st = sim_auth_store_new(make_scenario(SECRET, NULL), 42);
    cJSON *odd = cJSON_Parse("[\"r\\\"w\\n\\u0001\\u007f\u00e9\", 1.5, null, [\"x\"], {\"a\":-0.1}]");
    cJSON *plain = cJSON_Parse("[\"read\",\"write\"]");
    const struct { const char *type, *sub, *email; const cJSON *perms; double now; } c[] = {
        {"access", "user-alice", "alice@example.com", plain, NOW + 0.75},
        {"refresh", "u\"\\\b\f\n\r\t\x01\x1f", "\xc3\xa9@\xff.example", odd, NOW},
        {"access", "u", "", NULL, -5.5},
        {"refresh", "u", "e@x", plain, 3e9},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char *tok = sim_auth_store_issue(st, c[i].type, c[i].sub, c[i].email, c[i].perms,
                                         AT(c[i].now));
        const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
        unsigned char payload[1024];
        long n = sim_b64url_decode(payload, d1 + 1, (size_t)(d2 - d1 - 1));
        ok(n > 0, "issued payload %zu decodes", i);
        payload[n > 0 ? n : 0] = '\0';
        ok(prints_as_cjson((const char *)payload), "issued claims %zu are cJSON's bytes", i);
        is_int(sim_jwt_verify(tok, SECRET, strlen(SECRET), NULL), SIM_JWT_OK, "issued %zu verifies", i);
        free(tok);
    }
    cJSON_Delete(odd);
    cJSON_Delete(plain);
    sim_auth_store_free(st);
}

int main(void) {
    sim_log_set_level(SIM_LOG_ERROR);
    test_revoke_user_and_listener();
    test_claims();
    test_claims_bytes();
    test_determinism_and_secrets();
    test_revocation_pruning();
    test_pyjwt_claims();
    test_backend_view();
    return tap_done();
}
