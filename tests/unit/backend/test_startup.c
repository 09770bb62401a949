/* test_startup.c -- the backend's simulated start-up phases, a pure function
 * of the time since start. */
#include "scenario.h"
#include "startup.h"
#include "tap.h"

static void test_startup(void) {
    char err[512] = "";
    sim_scenario *none = sim_scenario_load(NULL, err, sizeof(err));
    is_int(sim_startup_phase(none, 0), SIM_PHASE_COMPLETE, "no start-up: complete at once");
    sim_scenario_free(none);
    sim_scenario *sc = sim_scenario_parse(
        "{\"startup\":{\"app_state_ms\":700,\"complete_ms\":1400}}", "t.json", err, sizeof(err));
    ok(sc != NULL, "startup parses (%s)", err);
    if (!sc) return;
    is_int(sc->startup_ws_wait_ms, 3000, "staging waited 3 s by default");
    is_int(sim_startup_phase(sc, 0), SIM_PHASE_NO_APP_STATE, "no_app_state first");
    is_int(sim_startup_phase(sc, 699), SIM_PHASE_NO_APP_STATE, "until app_state_ms");
    is_int(sim_startup_phase(sc, 700), SIM_PHASE_INIT, "then init");
    is_int(sim_startup_phase(sc, 1100), SIM_PHASE_SERVICES, "services at 700 + 4/7 of 700 ms");
    is_int(sim_startup_phase(sc, 1399), SIM_PHASE_FINALIZE, "finalize last");
    is_int(sim_startup_phase(sc, 1400), SIM_PHASE_COMPLETE, "complete at complete_ms");
    is_int((long long)sim_startup_phase_start_ms(sc, SIM_PHASE_SERVICES), 1100, "services start");
    is_str(sim_phase_name(SIM_PHASE_NO_APP_STATE), "no_app_state", "phase name");
    is_str(sim_phase_name(SIM_PHASE_DEPENDENCIES), "dependencies", "phase name");
    sim_scenario_free(sc);
}

int main(void) {
    test_startup();
    return tap_done();
}
