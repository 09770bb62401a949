/* test_jwt.c -- HS256 JWTs, pure: RFC 7515 and PyJWT vectors, tampering,
 * algorithms and malformed tokens. */
#include "auth_fixture.h"

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

/* ---- the routes, without sockets ------------------------------------------- */

int main(void) {
    sim_log_set_level(SIM_LOG_ERROR);
    test_known_vectors();
    test_tampering();
    test_algorithms();
    test_malformed();
    return tap_done();
}
