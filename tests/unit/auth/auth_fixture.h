/* auth_fixture.h -- what the auth unit tests share: a secret, hand-made
 * tokens, a scenario with two users, and requests run through the routes
 * without a socket. Included once by each test file. */
#ifndef SIM_AUTH_FIXTURE_H
#define SIM_AUTH_FIXTURE_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "auth_int.h"
#include "base64url.h"
#include "jwt.h"
#include "tap.h"
#include "util.h"

#define SECRET "test-secret-0123456789abcdef0123456789"
#define NOW 1700000000.0
/* Epoch seconds as the simulator's now_ms. */
#define AT(seconds) ((int64_t)((seconds) * 1000.0))

static inline char *b64(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    sim_b64url_encode(out, (const unsigned char *)s, n);
    return out;
}

/* header.payload signed with HS256 over SECRET, for hand-made tokens. */
static inline char *forge(const char *header_json, const char *payload_json) {
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

static inline int verify(const char *tok) {
    return sim_jwt_verify(tok, SECRET, strlen(SECRET), NULL);
}

/* A fake request: headers as a NULL-terminated name/value list. */
typedef struct fake {
    sim_http_request req;
    const char *const *headers;
} fake;

static inline const char *fake_header(const sim_http_request *req, const char *name) {
    const fake *f = (const fake *)req;
    for (size_t i = 0; f->headers && f->headers[i]; i += 2)
        if (sim_strcaseeq(f->headers[i], name))
            return f->headers[i + 1];
    return NULL;
}

/* Runs one request through the routes; returns the parsed JSON body
 * (caller deletes) and the status in *status. */
static inline cJSON *call(sim_auth_store *st, const char *method, const char *path, const char *body,
                   const char *const *headers, double now, int *status) {
    fake f;
    memset(&f, 0, sizeof f);
    f.req.method = method;
    f.req.path = path;
    f.req.query = "";
    f.req.body = body;
    f.req.body_len = body ? strlen(body) : 0;
    f.req.now_ms = AT(now);
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

static inline const char *jstr(const cJSON *j, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline sim_scenario *make_scenario(const char *secret, const char *e2e) {
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

static inline void clear_env(void) {
    unsetenv("JWT_SECRET_STAGING");
    unsetenv("JWT_SECRET_KEY");
    unsetenv("E2E_OAUTH_SIMULATION_KEY");
}

#endif
