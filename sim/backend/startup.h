/* startup.h -- the backend's simulated start-up (docs/contract.md §1.3): the
 * phases a freshly deployed backend goes through, as a pure function of the
 * time since start. A WebSocket that arrives before phase `services` waits
 * (up to ws_wait_ms), then is closed 1011 "Service not ready: ..." -- the
 * staging "startup race". */
#ifndef SIM_STARTUP_H
#define SIM_STARTUP_H
#ifndef SIM_IN_BACKEND
#error "startup.h is private to sim/backend/"
#endif

#include <stdint.h>

#include "scenario.h"

typedef enum {
    SIM_PHASE_NO_APP_STATE,
    SIM_PHASE_INIT,
    SIM_PHASE_DEPENDENCIES,
    SIM_PHASE_DATABASE,
    SIM_PHASE_CACHE,
    SIM_PHASE_SERVICES,
    SIM_PHASE_WEBSOCKET,
    SIM_PHASE_FINALIZE,
    SIM_PHASE_COMPLETE,
} sim_phase;

/* "no_app_state", "init", ..., "complete". */
const char *sim_phase_name(sim_phase p);

/* The phase elapsed_ms after start. Without a start-up in the scenario
 * (startup.complete_ms == 0) it is always complete. */
sim_phase sim_startup_phase(const sim_scenario *sc, int64_t elapsed_ms);

/* When phase p begins, in ms after start. */
int64_t sim_startup_phase_start_ms(const sim_scenario *sc, sim_phase p);

#endif
