/* startup.c -- start-up phases as a pure function of time: no_app_state until
 * app_state_ms, then init ... finalize evenly spaced, complete at
 * complete_ms. */
#include "startup.h"

static const char *const names[] = {"no_app_state", "init",     "dependencies",
                                    "database",     "cache",    "services",
                                    "websocket",    "finalize", "complete"};

const char *sim_phase_name(sim_phase p) {
    return p <= SIM_PHASE_COMPLETE ? names[p] : "unknown";
}

int64_t sim_startup_phase_start_ms(const sim_scenario *sc, sim_phase p) {
    if (!sc->startup_complete_ms || p == SIM_PHASE_NO_APP_STATE) return 0;
    if (p >= SIM_PHASE_COMPLETE) return sc->startup_complete_ms;
    /* Seven phases, init to finalize, share the time between the two marks. */
    int64_t span = (int64_t)sc->startup_complete_ms - sc->startup_app_state_ms;
    return sc->startup_app_state_ms + span * (p - SIM_PHASE_INIT) / 7;
}

sim_phase sim_startup_phase(const sim_scenario *sc, int64_t elapsed_ms) {
    if (!sc->startup_complete_ms) return SIM_PHASE_COMPLETE;
    sim_phase p = SIM_PHASE_NO_APP_STATE;
    while (p < SIM_PHASE_COMPLETE && elapsed_ms >= sim_startup_phase_start_ms(sc, p + 1)) p++;
    return p;
}
