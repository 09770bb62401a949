/* control.h -- the control API: rules at run time, the journal, metrics,
 * status. Pure routes over sim_http; served by sim/mhd.c on its own port. */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include <stdint.h>

#include "fault.h"
#include "http.h"
#include "scenario.h"

/* The backend's Redis client as /status and /metrics show it. Control sits
 * beside the backend, not above it: the app fills this in on request. */
typedef struct sim_control_redis_info {
    int up;                      /* connected and answering */
    const char *status;          /* "connected" or the last error (borrowed) */
    uint64_t failures;
} sim_control_redis_info;

typedef struct sim_control_env {
    sim_faults *faults;          /* borrowed */
    const sim_scenario *sc;      /* borrowed */
    void (*redis_info)(void *ctx, sim_control_redis_info *out);
    void *redis_info_ctx;
    const char *token;           /* bearer token required when non-NULL */
    double start_time;           /* loop time at start */
    int ports[4];                /* backend, auth, redis, control */
} sim_control_env;

/* Answers one control request. Long polls (/journal/wait) set
 * resp->retry_ms until their condition holds or they time out. */
void sim_control_handle(void *env, const sim_http_request *req, sim_http_response *resp);

#endif
