/* jwt.c -- HS256 JSON Web Tokens, pure (no clock, no I/O).
 * Signing is OpenSSL HMAC-SHA256; verification accepts only alg "HS256"
 * and compares signatures in constant time. */
#include "jwt.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base64url.h"
#include "util.h"

/* Tokens longer than this are refused outright: no real token comes close,
 * and it bounds what a client can make us decode. */
#define JWT_MAX_LEN 16384
#define SIG_LEN 32

/* The only header we ever emit; base64url of {"alg":"HS256","typ":"JWT"}. */
static const char header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/* HMAC-SHA256 of data with the secret into sig (32 bytes). 0 or -1. */
static int hs256(unsigned char sig[SIG_LEN], const char *secret, size_t secret_len,
                 const char *data, size_t len) {
    unsigned int siglen = 0;
    /* HMAC() with a NULL key pointer fails; an empty secret is still a key. */
    static const unsigned char empty = 0;
    const void *key = secret_len ? (const void *)secret : (const void *)&empty;
    if (!HMAC(EVP_sha256(), key, (int)secret_len, (const unsigned char *)data, len, sig, &siglen)
        || siglen != SIG_LEN)
        return -1;
    return 0;
}

char *sim_jwt_sign(const void *claims, const char *secret, size_t secret_len) {
    char *payload = cJSON_PrintUnformatted((const cJSON *)claims);
    if (!payload)
        return NULL;
    size_t plen = strlen(payload);
    size_t hlen = sizeof header_b64 - 1;
    size_t cap = hlen + 1 + 4 * ((plen + 2) / 3) + 1 + 4 * ((SIG_LEN + 2) / 3) + 1;
    char *tok = sim_xmalloc(cap);
    memcpy(tok, header_b64, hlen);
    tok[hlen] = '.';
    size_t n = hlen + 1 + sim_b64url_encode(tok + hlen + 1, (const unsigned char *)payload, plen);
    cJSON_free(payload);
    unsigned char sig[SIG_LEN];
    if (hs256(sig, secret, secret_len, tok, n) != 0) {
        free(tok);
        return NULL;
    }
    tok[n++] = '.';
    sim_b64url_encode(tok + n, sig, SIG_LEN);
    return tok;
}

/* Decodes one base64url part holding a JSON object. NULL when the part is
 * not base64url, not JSON, has trailing bytes, or is not an object. */
static cJSON *decode_json_part(const char *p, size_t n) {
    unsigned char *buf = sim_xmalloc(n + 1);
    long len = sim_b64url_decode(buf, p, n);
    cJSON *j = NULL;
    if (len > 0) {
        buf[len] = '\0';
        const char *end = NULL;
        j = cJSON_ParseWithLengthOpts((const char *)buf, (size_t)len + 1, &end, 1);
        /* An embedded NUL would end parsing early: insist on all bytes used. */
        if (j && (end != (const char *)buf + len || !cJSON_IsObject(j))) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    free(buf);
    return j;
}

void *sim_jwt_peek_claims(const char *token) {
    size_t tlen = token ? strnlen(token, JWT_MAX_LEN + 1) : 0;
    const char *d1 = tlen && tlen <= JWT_MAX_LEN ? memchr(token, '.', tlen) : NULL;
    const char *d2 = d1 ? memchr(d1 + 1, '.', tlen - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || d2 == d1 + 1) return NULL;
    cJSON *c = decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1));
    if (c && !cJSON_IsObject(c)) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

sim_jwt_status sim_jwt_verify(const char *token, const char *secret, size_t secret_len,
                              void **claims_out) {
    if (claims_out)
        *claims_out = NULL;
    if (!token)
        return SIM_JWT_MALFORMED;
    size_t tlen = strnlen(token, JWT_MAX_LEN + 1);
    if (tlen == 0 || tlen > JWT_MAX_LEN)
        return SIM_JWT_MALFORMED;
    const char *d1 = memchr(token, '.', tlen);
    if (!d1)
        return SIM_JWT_MALFORMED;
    const char *d2 = memchr(d1 + 1, '.', tlen - (size_t)(d1 + 1 - token));
    if (!d2 || memchr(d2 + 1, '.', tlen - (size_t)(d2 + 1 - token)))
        return SIM_JWT_MALFORMED;
    size_t hlen = (size_t)(d1 - token);
    size_t plen = (size_t)(d2 - d1 - 1);
    size_t slen = tlen - (size_t)(d2 + 1 - token);
    if (hlen == 0 || plen == 0)
        return SIM_JWT_MALFORMED;

    /* Header first: the algorithm decides everything else. Anything but
     * exactly "HS256" (including "none", "hs256", "HS512") is refused. */
    cJSON *hdr = decode_json_part(token, hlen);
    if (!hdr)
        return SIM_JWT_MALFORMED;
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
    int alg_ok = cJSON_IsString(alg) && strcmp(alg->valuestring, "HS256") == 0;
    /* "crit" names extensions we would have to understand (RFC 7515 4.1.11). */
    int has_crit = cJSON_GetObjectItemCaseSensitive(hdr, "crit") != NULL;
    cJSON_Delete(hdr);
    if (!alg_ok)
        return SIM_JWT_BAD_ALG;
    if (has_crit)
        return SIM_JWT_MALFORMED;

    unsigned char got[48], want[SIG_LEN];
    if (slen > 4 * ((SIG_LEN + 2) / 3) + 2
        || sim_b64url_decode(got, d2 + 1, slen) != SIG_LEN)
        return SIM_JWT_BAD_SIGNATURE;
    if (hs256(want, secret, secret_len, token, (size_t)(d2 - token)) != 0
        || CRYPTO_memcmp(got, want, SIG_LEN) != 0)
        return SIM_JWT_BAD_SIGNATURE;

    cJSON *claims = decode_json_part(d1 + 1, plen);
    if (!claims)
        return SIM_JWT_MALFORMED;
    if (claims_out)
        *claims_out = claims;
    else
        cJSON_Delete(claims);
    return SIM_JWT_OK;
}
