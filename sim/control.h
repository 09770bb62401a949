/* control.h -- the control API: rules at run time, the journal, metrics,
 * status. Pure routes over sim_http; served by sim/mhd.c on its own port. */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include "fault.h"
#include "history.h"
#include "http.h"
#include "scenario.h"

typedef struct sim_control_env {
    sim_faults *faults;          /* borrowed */
    const sim_scenario *sc;      /* borrowed */
    sim_history *history;        /* borrowed, may be NULL */
    const char *token;           /* bearer token required when non-NULL */
    double start_time;           /* loop time at start */
    int ports[4];                /* backend, auth, redis, control */
} sim_control_env;

/* Answers one control request. Long polls (/journal/wait) set
 * resp->retry_ms until their condition holds or they time out. */
void sim_control_handle(void *env, const sim_http_request *req, sim_http_response *resp);

#endif
