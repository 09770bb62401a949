/* jwt.h -- HS256 JSON Web Tokens, pure: no clock, no I/O.
 * Signing uses OpenSSL HMAC-SHA256; verification compares in constant time
 * and accepts only {"alg":"HS256"} (never "none", never another algorithm). */
#ifndef SIM_JWT_H
#define SIM_JWT_H
#ifndef SIM_IN_AUTH
#error "jwt.h is private to sim/auth/"
#endif

#include <stddef.h>

/* An HMAC-SHA256 key, made once per secret (OpenSSL's context keyed once).
 * Not shareable between threads: signing and verifying reuse its context.
 * NULL when OpenSSL cannot make one. */
typedef struct sim_jwt_key sim_jwt_key;
sim_jwt_key *sim_jwt_key_new(const char *secret, size_t secret_len);
void sim_jwt_key_free(sim_jwt_key *k);

/* Signs claims already printed as JSON (plen bytes) into a compact JWT.
 * Returns a string the caller frees, or NULL on failure. */
char *sim_jwt_sign_payload(sim_jwt_key *k, const char *payload, size_t plen);

/* Signs a claims object (a cJSON *, borrowed) into a compact JWT.
 * Returns a string the caller frees, or NULL on failure. */
char *sim_jwt_sign(const void *claims, const char *secret, size_t secret_len);

typedef enum {
    SIM_JWT_OK = 0,
    SIM_JWT_MALFORMED = -1,     /* not three base64url parts of JSON */
    SIM_JWT_BAD_ALG = -2,       /* header alg is not HS256 */
    SIM_JWT_BAD_SIGNATURE = -3,
} sim_jwt_status;

/* Verifies signature and algorithm. On SIM_JWT_OK stores the parsed claims
 * (a cJSON * the caller frees with cJSON_Delete) in *claims_out.
 * Claims (exp, iss, token_type...) are checked by the caller. */
sim_jwt_status sim_jwt_verify(const char *token, const char *secret, size_t secret_len,
                              void **claims_out);
sim_jwt_status sim_jwt_verify_key(const char *token, sim_jwt_key *k, void **claims_out);
/* The claims of a token whose signature someone else checked (a cJSON *
 * the caller frees), or NULL when they are not base64url JSON. */
void *sim_jwt_peek_claims(const char *token);

#endif
