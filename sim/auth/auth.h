/* auth.h -- the auth service's state (users, issued tokens, revocations) and
 * its routes. The store is pure and shared in-process with the backend, so a
 * logout revokes the token everywhere at once, WebSocket included. */
#ifndef SIM_AUTH_H
#define SIM_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include "clock.h"
#include "http.h"
#include "scenario.h"
#include "tls_cert.h"

struct ev_loop;
typedef struct sim_faults sim_faults;
typedef struct sim_auth_store sim_auth_store;

/* Who a valid access token belongs to. */
typedef struct sim_principal {
    char user_id[128];
    char email[256];
    double exp;          /* the claim: epoch seconds */
    char jti[64];
} sim_principal;

typedef enum {
    SIM_AUTH_OK = 0,
    SIM_AUTH_INVALID = -1,   /* malformed, bad signature, bad alg, missing claim, wrong iss/type */
    SIM_AUTH_EXPIRED = -2,
    SIM_AUTH_REVOKED = -3,
    SIM_AUTH_NOT_YET_VALID = -4, /* iat or nbf in the future (PyJWT's ImmatureSignatureError) */
    SIM_AUTH_UNAVAILABLE = -10,  /* the auth service could not say (remote validation) */
} sim_auth_status;

/* "Token has expired", "Token has been revoked", "Token is not yet valid",
 * "Invalid token". */
const char *sim_auth_status_text(sim_auth_status st);

/* Creates the store from the scenario (borrowed, must outlive the store).
 * The secret is chosen here: JWT_SECRET_STAGING, else JWT_SECRET_KEY, else the
 * scenario's, else generated from the seed and logged. Same for the E2E key:
 * E2E_OAUTH_SIMULATION_KEY, else the scenario's, else not configured. */
sim_auth_store *sim_auth_store_new(const sim_scenario *sc, uint64_t seed);
void sim_auth_store_free(sim_auth_store *st);
/* Token checks cross the fault engine as `auth.token` (a "reject" rule makes
 * a valid token fail). f is borrowed; NULL turns it off. */
void sim_auth_store_set_faults(sim_auth_store *st, sim_faults *f);

/* Checks an access token as the backend does, at now_ms (clock.h): with
 * the backend's own secret and clock skew when the scenario gives it one. */
sim_auth_status sim_auth_check_access(sim_auth_store *st, const char *token, int64_t now_ms,
                                      sim_principal *out);

/* Issues an access token for a known user id (tests, demo). Caller frees. */
char *sim_auth_issue_access(sim_auth_store *st, const char *user_id, const char *email,
                            int64_t now_ms);

/* The auth service routes of docs/contract.md §3.1, pure. */
void sim_auth_handle(sim_auth_store *st, const sim_http_request *req, sim_http_response *resp);

/* The auth HTTP service (libmicrohttpd) on the loop. */
typedef struct sim_auth_service sim_auth_service;
typedef struct sim_auth_config {
    const char *bind;
    int port;                   /* 0 picks a free port */
    sim_auth_store *store;      /* borrowed, outlives the service */
    sim_faults *faults;         /* borrowed */
    const sim_clock *clock;     /* borrowed */
    const sim_tls_cert *tls;    /* borrowed: serve https; NULL for http */
    int front_end;              /* replies carry Google's front-end headers */
    uint64_t seed;
    long max_conns;             /* clients at once (caps.h); over it a 503. 0: the default */
} sim_auth_config;
sim_auth_service *sim_auth_service_start(struct ev_loop *loop, const sim_auth_config *cfg,
                                         char *err, size_t errlen);
int sim_auth_service_port(const sim_auth_service *svc);
/* The service's process dies and comes back (docs/lifecycle.md): its port
 * stops listening and its connections are cut; restart listens again. */
void sim_auth_service_crash(sim_auth_service *svc);
int sim_auth_service_restart(sim_auth_service *svc, char *err, size_t errlen);
/* Forgets what the service learnt at run time (registered users, revoked
 * tokens), as a restart on an empty database would. */
void sim_auth_store_forget(sim_auth_store *st, int64_t now_ms);

/* Told of every revocation as it happens: one token's (jti set: a logout, a
 * refresh that retires its token) or every token of user_id (jti NULL).
 * The backend closes the WebSockets that rode on them (1008). One
 * listener; NULL removes it. */
typedef void (*sim_auth_revoke_fn)(void *ctx, const char *user_id, const char *jti,
                                   int64_t now_ms);
void sim_auth_store_on_revoke(sim_auth_store *st, sim_auth_revoke_fn fn, void *ctx);
/* Revokes every token of user_id issued before the current second (iat is
 * in whole seconds, so a login later in this second stays good), and tells
 * the listener, which revokes the tokens its sessions hold
 * (sim_auth_store_revoke_token). */
void sim_auth_store_revoke_user(sim_auth_store *st, const char *user_id, int64_t now_ms);
/* The jti and exp claims of a token another service found valid (the
 * backend validating remotely): unverified here. 0, or -1 when absent. */
int sim_auth_token_jti(const char *token, char *jti, size_t jtilen, double *exp);
/* Revokes one token by its jti until exp (epoch seconds). */
void sim_auth_store_revoke_token(sim_auth_store *st, const char *jti, double exp, int64_t now_ms);
void sim_auth_service_stop(sim_auth_service *svc);

#endif
