/* lifecycle_step.h -- one step of a service's life cycle (docs/lifecycle.md):
 * a crash, a restart, a drain, a cold redeploy, a failed start, or a start.
 * The same JSON object comes from the scenario's `lifecycle` timeline (with
 * `at_ms`) and from POST /lifecycle on the control API (without):
 *   {"service":"backend","action":"crash","ms":2000,"keep_state":false}
 * Parsing is pure; carrying a step out is the app's (sim/app/lifecycle.c). */
#ifndef SIM_LIFECYCLE_STEP_H
#define SIM_LIFECYCLE_STEP_H

#include <stdint.h>

#include "jcheck.h"
#include "wire.h"

typedef enum {
    SIM_LC_CRASH,         /* down: port closed, connections cut; back after ms, or on start */
    SIM_LC_RESTART,       /* down for ms (0: at once), then back */
    SIM_LC_DRAIN,         /* backend: 1001 to every WebSocket, then 503; back after ms, or on start */
    SIM_LC_REDEPLOY,      /* backend, S16: ms (10 s) of redeploy answers, then a fresh start */
    SIM_LC_CANNOT_START,  /* backend or auth, S25: 503 from the front end until ms or start */
    SIM_LC_START,         /* back to running from any other state */
} sim_lc_action;

typedef struct sim_lifecycle_step {
    int64_t at_ms;        /* timeline only: ms from the simulator's start */
    sim_service service;  /* backend, auth or redis */
    sim_lc_action action;
    uint32_t ms;          /* 0: no time limit (crash, drain, cannot_start), at once (restart) */
    int keep_state;       /* crash, restart: the service keeps its data (1) */
} sim_lifecycle_step;

#define SIM_LC_REDEPLOY_MS 10000

/* Parses the object at path. timeline: at_ms is required, else not
 * allowed. 0, or -1 with the error recorded in c. */
int sim_lifecycle_step_parse(sim_jcheck *c, const cJSON *obj, const char *path, int timeline,
                             sim_lifecycle_step *out);

/* "crash", "restart", ... */
const char *sim_lc_action_name(sim_lc_action a);

#endif
