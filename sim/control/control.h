/* control.h -- the control API: rules at run time, the journal, metrics,
 * status (docs/control-api.md), on its own port. */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include <stdint.h>

#include "clock.h"
#include "fault.h"
#include "http.h"
#include "scenario.h"

struct ev_loop;
typedef struct cJSON cJSON;
typedef struct sim_control sim_control;

/* The backend's Redis client as /status and /metrics show it. Control sits
 * beside the backend, not above it: the app fills this in on request. */
typedef struct sim_control_redis_info {
    int up;                      /* connected and answering */
    const char *status;          /* "connected" or the last error (borrowed) */
    uint64_t failures;
} sim_control_redis_info;

typedef struct sim_control_config {
    const char *bind;            /* used only with a token; else 127.0.0.1 */
    int port;                    /* 0 picks a free port */
    const char *token;           /* bearer token required when non-NULL (copied) */
    sim_faults *faults;          /* borrowed */
    const sim_scenario *sc;      /* borrowed */
    const sim_clock *clock;      /* borrowed */
    void (*redis_info)(void *ctx, sim_control_redis_info *out);
    void *redis_info_ctx;
    /* POST /lifecycle carries a step out: 0, or the HTTP status of a
     * refusal with its reason in err. GET /lifecycle: the services'
     * states, a cJSON object the caller frees. Either may be NULL (404). */
    int (*lifecycle)(void *ctx, const sim_lifecycle_step *st, char *err, size_t errlen);
    cJSON *(*lifecycle_state)(void *ctx);
    void *lifecycle_ctx;
    /* POST /revoke {"user_id"}: every token of the user (auth.h's
     * sim_auth_store_revoke_user), ctx lifecycle_ctx. NULL: 404. */
    void (*revoke_user)(void *ctx, const char *user_id);
    /* Adds what the app knows to /status: "services" and "breakers". */
    void (*describe)(void *ctx, cJSON *status, int64_t now_ms);
    void *describe_ctx;
    int ports[4];                /* backend, auth, redis; control's own is filled in */
    long max_conns;              /* clients at once (caps.h); over it a 503. 0: the default */
} sim_control_config;

/* The routes alone, on no socket (a harness, a test): answers through
 * sim_control_handle; sim_control_free undoes it. */
sim_control *sim_control_new(const sim_control_config *cfg);
void sim_control_free(sim_control *ctl);
/* The same, served by libmicrohttpd on cfg->port; NULL with err. */
sim_control *sim_control_start(struct ev_loop *loop, const sim_control_config *cfg, char *err,
                               size_t errlen);
int sim_control_port(const sim_control *ctl);
void sim_control_stop(sim_control *ctl);   /* the service and the routes */

/* Answers one control request (the service's handler, also for tests).
 * Long polls (/journal/wait) set resp->retry_ms until their condition holds
 * or they time out. */
void sim_control_handle(sim_control *ctl, const sim_http_request *req, sim_http_response *resp);

#endif
