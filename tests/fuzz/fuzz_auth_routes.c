/* fuzz_auth_routes.c -- libFuzzer harness: the auth service's routes
 * (sim_auth_handle) on a store made from a small scenario, fed requests
 * framed as in fuzz_common.h. Every reply must be valid UTF-8 JSON with
 * clean headers; tokens the routes hand out are used by later requests of
 * the same input, so refresh rotation, logout and revocation are reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth_int.h"
#include "fuzz_common.h"

#define NOW_MS 1700000000000LL

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sim_scenario *sc;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_scenario_decides();
    char err[256];
    sc = sim_scenario_parse(
        "{\"name\":\"fuzz\",\"seed\":7,\"auth\":{\"jwt_secret\":\"fuzz-secret-0123456789abcdef01234567\","
        "\"e2e_key\":\"e2e-fuzz-key\",\"leeway_s\":5},\"users\":["
        "{\"id\":\"user-alice\",\"email\":\"alice@example.com\",\"password\":\"alice-password\","
        "\"permissions\":[\"chat\",\"admin\"]},"
        "{\"id\":\"user-bob\",\"email\":\"bob@example.com\",\"password\":\"bob-password\"}]}",
        "fuzz", err, sizeof err);
    FZ_CHECK(sc != NULL);
    return 0;
}

typedef struct run {
    sim_auth_store *st;
    char *tokens[3];   /* $A, $R, $E of fuzz_common.h */
} run;

/* Keeps the newest token of a kind a reply handed out. */
static void take_token(run *rn, const cJSON *reply, const char *name, int slot) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(reply, name);
    if (!cJSON_IsString(t)) return;
    free(rn->tokens[slot]);
    rn->tokens[slot] = sim_xstrdup(t->valuestring);
}

static void handle(void *ctx, fz_request *f, sim_http_response *r) {
    run *rn = ctx;
    sim_auth_handle(rn->st, &f->req, r);
    cJSON *j = r->body.data ? cJSON_Parse(r->body.data) : NULL;
    take_token(rn, j, "access_token", 0);
    take_token(rn, j, "refresh_token", 1);
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A fresh store per input: registrations and revocations would
     * otherwise carry over and a crash would not replay on its own. */
    run rn = {.st = sim_auth_store_new(sc, sc->seed)};
    cJSON *perms = cJSON_CreateStringArray((const char *[]){"chat"}, 1);
    rn.tokens[0] = sim_auth_store_issue(rn.st, "access", "user-alice", "alice@example.com", perms,
                                        NOW_MS);
    rn.tokens[1] = sim_auth_store_issue(rn.st, "refresh", "user-alice", "alice@example.com", perms,
                                        NOW_MS);
    rn.tokens[2] = sim_auth_store_issue(rn.st, "access", "user-bob", "bob@example.com", NULL,
                                        NOW_MS - 3600 * 1000);
    cJSON_Delete(perms);
    fz_run_requests(data, size, NOW_MS, (const char *const *)rn.tokens, handle, &rn);
    for (int i = 0; i < 3; i++) free(rn.tokens[i]);
    sim_auth_store_free(rn.st);
    return 0;
}
