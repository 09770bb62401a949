/* probe_login.h -- logging in at the auth service (password or the E2E
 * bypass, docs/contract.md §3) and checking an HTTP answer's status: what
 * the golden-path and auth probes share. Private to sim/probe. */
#ifndef SIM_PROBE_LOGIN_H
#define SIM_PROBE_LOGIN_H
#ifndef SIM_IN_PROBE
#error "probe_login.h is private to sim/probe/"
/* Copies the non-empty string member key of j (a cJSON object) that fits
 * in outlen into out; 0, or -1 when there is none. */
int probe_token_member(const void *j, const char *key, char *out, size_t outlen);

#endif

#include "probe_http.h"
#include "probe_int.h"

typedef struct probe_tokens {
    char access[4096];
    char refresh[4096];
    char user_id[128];   /* user.id of the answer, else the access token's sub */
} probe_tokens;

/* A login request for the run's credentials: the E2E bypass when e2e is
 * set (X-E2E-Bypass-Key, body {"email"} when one was given), else
 * POST /auth/login. path and body are the caller's buffers rq points into. */
void probe_login_request(const sim_probe_run *run, int e2e, probe_http_request *rq, char *path,
                         size_t pathlen, char *body, size_t bodylen);

/* 0 when reply came with status want; else -1 with r failed at stage:
 * failure connect (no answer) or status (http_status, the body's start). */
int probe_reply_check(const probe_http_reply *reply, int want, const char *stage,
                      sim_probe_result *r);

/* A login answer: 200 and a JSON body with a non-empty access_token and a
 * user id. 0 with t filled, or -1 with r failed at stage. A refresh token
 * is taken when there is one. */
int probe_login_parse(const probe_http_reply *reply, const char *stage, probe_tokens *t,
                      sim_probe_result *r);

/* Copies the non-empty string member key of j (a cJSON object) that fits
 * in outlen into out; 0, or -1 when there is none. */
int probe_token_member(const void *j, const char *key, char *out, size_t outlen);

#endif
