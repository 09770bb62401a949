/* jwt.c -- HS256 JSON Web Tokens, pure (no clock, no I/O).
 * Signing is OpenSSL HMAC-SHA256 (EVP_MAC, keyed once per secret);
 * verification accepts only alg "HS256" and compares signatures in constant
 * time. */
#include "jwt.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "base64url.h"
#include "util.h"

/* Tokens longer than this are refused outright: no real token comes close,
 * and it bounds what a client can make us decode. */
#define JWT_MAX_LEN 16384
#define SIG_LEN 32

/* The only header we ever emit; base64url of {"alg":"HS256","typ":"JWT"}. */
static const char header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/* A key keeps OpenSSL's HMAC context keyed once: HMAC() fetches the
 * algorithm, allocates and hashes the key's pads on every call, which cost
 * ten times the hashing of a token (bench/RESULTS.md section 7). */
struct sim_jwt_key {
    EVP_MAC_CTX *ctx;
};

sim_jwt_key *sim_jwt_key_new(const char *secret, size_t secret_len) {
    /* An empty secret is still a key; EVP_MAC_init treats a NULL one as
     * "keep the previous key". */
    static const unsigned char empty = 0;
    const unsigned char *key = secret_len ? (const unsigned char *)secret : &empty;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);   /* the context holds its own reference */
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!ctx || !EVP_MAC_init(ctx, key, secret_len, params)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    sim_jwt_key *k = sim_xmalloc(sizeof *k);
    k->ctx = ctx;
    return k;
}

void sim_jwt_key_free(sim_jwt_key *k) {
    if (!k)
        return;
    EVP_MAC_CTX_free(k->ctx);
    free(k);
}

/* HMAC-SHA256 of data into sig (32 bytes). 0 or -1. */
static int hs256(unsigned char sig[SIG_LEN], sim_jwt_key *k, const char *data, size_t len) {
    size_t siglen = 0;
    if (!k || !EVP_MAC_init(k->ctx, NULL, 0, NULL)
        || !EVP_MAC_update(k->ctx, (const unsigned char *)data, len)
        || !EVP_MAC_final(k->ctx, sig, &siglen, SIG_LEN) || siglen != SIG_LEN)
        return -1;
    return 0;
}

char *sim_jwt_sign_payload(sim_jwt_key *k, const char *payload, size_t plen) {
    size_t hlen = sizeof header_b64 - 1;
    size_t cap = hlen + 1 + 4 * ((plen + 2) / 3) + 1 + 4 * ((SIG_LEN + 2) / 3) + 1;
    char *tok = sim_xmalloc(cap);
    memcpy(tok, header_b64, hlen);
    tok[hlen] = '.';
    size_t n = hlen + 1 + sim_b64url_encode(tok + hlen + 1, (const unsigned char *)payload, plen);
    unsigned char sig[SIG_LEN];
    if (hs256(sig, k, tok, n) != 0) {
        free(tok);
        return NULL;
    }
    tok[n++] = '.';
    sim_b64url_encode(tok + n, sig, SIG_LEN);
    return tok;
}

char *sim_jwt_sign(const void *claims, const char *secret, size_t secret_len) {
    char *payload = cJSON_PrintUnformatted((const cJSON *)claims);
    sim_jwt_key *k = payload ? sim_jwt_key_new(secret, secret_len) : NULL;
    char *tok = k ? sim_jwt_sign_payload(k, payload, strlen(payload)) : NULL;
    sim_jwt_key_free(k);
    cJSON_free(payload);
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
    sim_jwt_key *k = sim_jwt_key_new(secret, secret_len);
    sim_jwt_status rc = sim_jwt_verify_key(token, k, claims_out);
    sim_jwt_key_free(k);
    return rc;
}

sim_jwt_status sim_jwt_verify_key(const char *token, sim_jwt_key *k, void **claims_out) {
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
    if (hs256(want, k, token, (size_t)(d2 - token)) != 0
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
