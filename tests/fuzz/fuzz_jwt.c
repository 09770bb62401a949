/* fuzz_jwt.c -- libFuzzer harness: tokens through sim_jwt_verify and the
 * auth store's checks (sim_auth_store_check, sim_auth_check_access). The
 * input is tried as a token as it is; and, since the fuzzer cannot forge an
 * HMAC, also as "HEADER\nCLAIMS" (or CLAIMS alone under the HS256 header)
 * that the harness encodes and signs with the store's secret, so the claim
 * checks see arbitrary claims: exp/iat/nbf/aud of every type and size. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "auth_int.h"
#include "base64url.h"
#include "clock.h"
#include "fuzz_common.h"
#include "jwt.h"

#define SECRET "fuzz-secret-0123456789abcdef01234567"
#define LEEWAY_S 30
#define SKEW_MS 2500
#define NOW_MS 1700000000500LL

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One store for every input: checks never change it (no revocation, no
 * fault engine). The backend's view has a skewed clock. */
static sim_scenario *sc;
static sim_auth_store *st;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    unsetenv("JWT_SECRET_STAGING");
    unsetenv("JWT_SECRET_KEY");
    sim_log_set_level(SIM_LOG_ERROR);
    char err[256];
    sc = sim_scenario_parse("{\"name\":\"fuzz-jwt\",\"auth\":{\"jwt_secret\":\"" SECRET "\","
                            "\"leeway_s\":30,\"backend_clock_skew_ms\":2500}}",
                            "fuzz", err, sizeof err);
    FZ_CHECK(sc != NULL);
    st = sim_auth_store_new(sc, 1);
    return 0;
}

/* b64url(header).b64url(claims).b64url(HS256 over both), caller frees. */
static char *sign(const char *h, size_t hn, const char *c, size_t cn) {
    char *tok = sim_xmalloc(4 * ((hn + 2) / 3) + 4 * ((cn + 2) / 3) + 48);
    size_t n = sim_b64url_encode(tok, (const unsigned char *)h, hn);
    tok[n++] = '.';
    n += sim_b64url_encode(tok + n, (const unsigned char *)c, cn);
    unsigned char sig[32];
    unsigned len = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)tok, n, sig, &len);
    tok[n++] = '.';
    sim_b64url_encode(tok + n, sig, len);
    return tok;
}

/* What an accepted token holds, by PyJWT's rules with the leeway, give or
 * take the second the store rounds its clock to. */
static void check_accepted(const cJSON *c, int64_t now_ms) {
    double now = floor((double)now_ms / 1000.0);
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(c, "sub");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(c, "exp");
    const cJSON *iat = cJSON_GetObjectItemCaseSensitive(c, "iat");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(c, "nbf");
    const cJSON *aud = cJSON_GetObjectItemCaseSensitive(c, "aud"), *a;
    const cJSON *auds = cJSON_IsArray(aud) ? aud : NULL;
    FZ_CHECK(cJSON_IsString(sub) && sub->valuestring[0] && strlen(sub->valuestring) <= SIM_MAX_USER_ID);
    FZ_CHECK(cJSON_IsNumber(exp) && exp->valuedouble > now - LEEWAY_S - 1);
    FZ_CHECK(cJSON_IsNumber(iat) && iat->valuedouble < now + LEEWAY_S + 1);
    FZ_CHECK(!nbf || (cJSON_IsNumber(nbf) && nbf->valuedouble < now + LEEWAY_S + 1));
    int aud_ok = !aud || (cJSON_IsString(aud) && strcmp(aud->valuestring, "netra-platform") == 0);
    cJSON_ArrayForEach(a, auds)
        aud_ok |= cJSON_IsString(a) && strcmp(a->valuestring, "netra-platform") == 0;
    FZ_CHECK(aud_ok);
    /* /auth/validate formats exp as expires_at: never garbage. */
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, sim_epoch_s_to_ms(exp->valuedouble));
    FZ_CHECK(strlen(iso) == 32 && iso[4] == '-' && iso[10] == 'T' && strcmp(iso + 26, "+00:00") == 0);
}

static void check_token(const char *tok) {
    void *c = NULL;
    if (sim_jwt_verify(tok, SECRET, strlen(SECRET), &c) == SIM_JWT_OK)
        FZ_CHECK(cJSON_IsObject((cJSON *)c));
    cJSON_Delete(c);
    static const char *const types[] = {"access", "refresh"};
    for (int i = 0; i < 2; i++) {
        c = NULL;
        sim_auth_status rc = sim_auth_store_check(st, tok, types[i], NOW_MS, &c);
        /* Nothing was revoked. */
        FZ_CHECK(rc <= SIM_AUTH_OK && rc >= SIM_AUTH_NOT_YET_VALID && rc != SIM_AUTH_REVOKED);
        FZ_CHECK((rc == SIM_AUTH_OK) == (c != NULL));
        if (c) check_accepted(c, NOW_MS);
        cJSON_Delete(c);
    }
    sim_principal p;
    if (sim_auth_check_access(st, tok, NOW_MS, &p) == SIM_AUTH_OK) {
        FZ_CHECK(p.user_id[0] && memchr(p.user_id, '\0', sizeof p.user_id));
        FZ_CHECK(memchr(p.email, '\0', sizeof p.email));
        FZ_CHECK(p.exp > floor((NOW_MS + SKEW_MS) / 1000.0) - LEEWAY_S - 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    const char *s = (const char *)data;
    char *raw = sim_xstrndup(s, size);
    check_token(raw);
    free(raw);
    const char *nl = memchr(s, '\n', size);
    char *tok = nl ? sign(s, (size_t)(nl - s), nl + 1, size - (size_t)(nl + 1 - s))
                   : sign(hs256, sizeof hs256 - 1, s, size);
    check_token(tok);
    free(tok);
    return 0;
}
