/* fuzz_scenario.c -- libFuzzer harness: arbitrary bytes through
 * sim_scenario_parse, which also checks every fault rule with the engine's
 * own parser. A refusal must name the origin; a scenario that loads must be
 * one the runtime takes whole (issue 10: validation limits equal runtime
 * limits): the engine adds all its rules, and every user it declares can
 * log in and holds a token the store accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth_int.h"
#include "fault.h"
#include "fuzz_common.h"
#include "scenario.h"

#define NOW_MS 1700000000000LL

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One engine for the whole run, cleared after each scenario: a new one
 * costs its 512 KB journal ring, most of an input's time. */
static sim_faults *f;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_scenario_decides();
    f = sim_faults_new(1, NULL, NOW_MS);
    return 0;
}

/* What runs from a scenario that loaded. */
static void check_runs(const sim_scenario *sc) {
    char err[512];
    if (sc->faults) {
        FZ_CHECK(sim_faults_add_all(f, sc->faults, NOW_MS, err, sizeof err) == 0);
        FZ_CHECK(sim_faults_count(f) == (size_t)cJSON_GetArraySize(sc->faults));
        sim_faults_clear(f);
    }
    sim_auth_store *st = sim_auth_store_new(sc, sc->seed);
    for (size_t i = 0; i < sc->nusers; i++) {
        const sim_user *u = &sc->users[i];
        const sim_auth_user *au = sim_auth_store_by_email(st, u->email);
        FZ_CHECK(au && strcmp(au->id, u->id) == 0 && sim_auth_password_ok(au, u->password));
        char *tok = sim_auth_issue_access(st, u->id, u->email, NOW_MS);
        FZ_CHECK(tok && sim_auth_store_check(st, tok, "access", NOW_MS, NULL) == SIM_AUTH_OK);
        free(tok);
    }
    sim_auth_store_free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = sim_xstrndup((const char *)data, size);
    char err[512] = "";
    sim_scenario *sc = sim_scenario_parse(text, "fuzz.json", err, sizeof err);
    if (sc)
        check_runs(sc);
    else
        FZ_CHECK(strncmp(err, "fuzz.json: ", 11) == 0 && err[11]);
    sim_scenario_free(sc);
    free(text);
    return 0;
}
