/* auth_remote.h -- the backend validating tokens at the auth service, as
 * the real one could (docs/contract.md §3): POST /auth/validate over the
 * wire (so the auth service's faults and latency apply), behind the auth
 * breaker of staging (5 failures, 30 s open, at most 3 half-open calls).
 * The service answering "valid": false is a success for the breaker;
 * no answer, a 5xx or a reply that is not the contract's is a failure. */
#ifndef SIM_AUTH_REMOTE_H
#define SIM_AUTH_REMOTE_H

#include <stdint.h>

#include "auth.h"
#include "clock.h"
#include "dep_breaker.h"

struct ev_loop;
typedef struct sim_faults sim_faults;
typedef struct sim_auth_remote sim_auth_remote;

typedef struct sim_auth_remote_config {
    int port;                      /* the auth service's */
    const char *cacert;            /* its certificate when it serves https, else NULL */
    uint32_t timeout_ms;           /* one validation */
    const stagesim_breaker_config *breaker;
    sim_faults *faults;            /* breaker journal lines */
    const sim_clock *clock;
} sim_auth_remote_config;

sim_auth_remote *sim_auth_remote_new(struct ev_loop *loop, const sim_auth_remote_config *cfg);
/* Cancels the validations under way: their callbacks are not called. */
void sim_auth_remote_free(sim_auth_remote *r);
sim_dep_breaker *sim_auth_remote_breaker(sim_auth_remote *r);

/* The verdict: SIM_AUTH_OK with *who, a token the service refused
 * (INVALID, EXPIRED, REVOKED, NOT_YET_VALID), or SIM_AUTH_UNAVAILABLE
 * with why (not answering, or the breaker open). */
typedef void (*sim_auth_remote_fn)(void *ctx, sim_auth_status status, const sim_principal *who,
                                   const char *why);

/* Validates token; fn is called once, from the loop, never before this
 * returns. The returned handle cancels it (sim_auth_remote_cancel) while
 * fn has not been called. */
typedef struct sim_auth_check sim_auth_check;
sim_auth_check *sim_auth_remote_validate(sim_auth_remote *r, const char *token,
                                         sim_auth_remote_fn fn, void *ctx);
void sim_auth_remote_cancel(sim_auth_check *k);

#endif
