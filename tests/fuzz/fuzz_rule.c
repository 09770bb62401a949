/* fuzz_rule.c -- libFuzzer harness: fault rules from arbitrary JSON (one
 * rule or an array) through the engine's parser and its incremental rule
 * index. Engine A gets every rule, then loses two thirds of them again: one
 * third by id (sim_faults_remove), one third by /reset (sim_faults_reset
 * drops the run-time ones). Engine B gets only the rules A kept, in the
 * same order. However A's index looks after those removals, both must then
 * decide every crossing alike (names taken from the input's strings) and
 * list the same rules; clearing A must leave nothing (ASan and
 * LeakSanitizer see anything freed twice or never).
 *
 * The two engines live for the whole run and are cleared after each input:
 * a new engine costs its journal ring (SIM_JOURNAL_RING slots, 512 KB to
 * allocate and sweep), which held fresh engines to ~380 inputs/s. What
 * carries over is only counters, the journal and the index's empty tables,
 * never a rule; an input starts on a cleared index, which is itself worth
 * testing. Their journal rings are filled first, so that each line an input
 * writes frees one: allocations then balance per input, and libFuzzer's
 * leak check, which scans the whole heap after any input that does not
 * balance, stays cheap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "fuzz_common.h"
#include "journal.h"

#define NOW_MS 1700000000000LL
#define MAX_RULES 64
#define MAX_NAMES 6

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sim_faults *a, *b;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    sim_log_set_level(SIM_LOG_ERROR);   /* ttl_ms expiries are logged */
    a = sim_faults_new(42, NULL, NOW_MS);
    b = sim_faults_new(42, NULL, NOW_MS);
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_ACCEPT, .proto = "ws"};
    sim_action x;
    while (sim_faults_journal_count(a) < SIM_JOURNAL_RING) {
        sim_faults_cross(a, &w, NOW_MS, &x);
        sim_faults_cross(b, &w, NOW_MS, &x);
    }
    return 0;
}

/* The places rules can name (rule.c's `wheres`). */
static const struct place {
    sim_service svc;
    sim_wire_point point;
    const char *proto;
} places[] = {
    {SIM_SVC_BACKEND, SIM_WIRE_REQUEST, "http"}, {SIM_SVC_BACKEND, SIM_WIRE_ACCEPT, "ws"},
    {SIM_SVC_BACKEND, SIM_WIRE_REQUEST, "ws"},   {SIM_SVC_BACKEND, SIM_WIRE_SEND, "ws"},
    {SIM_SVC_AUTH, SIM_WIRE_REQUEST, "http"},    {SIM_SVC_AUTH, SIM_WIRE_REQUEST, "jwt"},
    {SIM_SVC_REDIS, SIM_WIRE_ACCEPT, "resp"},    {SIM_SVC_REDIS, SIM_WIRE_REQUEST, "resp"},
    {SIM_SVC_REDIS, SIM_WIRE_SEND, "resp"},
};

/* The input's string values (match names, keys, users...): crossings with
 * them are the ones the rules may match. */
static void collect(const cJSON *j, const char **names, size_t *n) {
    for (; j && *n < MAX_NAMES; j = j->next) {
        if (cJSON_IsString(j)) names[(*n)++] = j->valuestring;
        collect(j->child, names, n);
    }
}

static int same(const char *s, const char *t) {
    return s == t || (s && t && strcmp(s, t) == 0);
}

/* The same crossings on both engines, each name at each place on one of
 * two connections, a quarter second apart so time windows and ttl_ms open
 * and close; then connection 1 closes everywhere. */
static void cross_both(const char **names, size_t n) {
    int64_t now = NOW_MS;
    for (size_t i = 0; i <= n; i++)   /* i == n: a crossing without a name */
        for (size_t p = 0; p < sizeof places / sizeof places[0]; p++) {
            const char *other = n ? names[(i + 1) % n] : NULL;
            uint64_t conn = 1 + ((i + p) & 1);
            sim_wire w = {.service = places[p].svc, .point = places[p].point,
                          .proto = places[p].proto, .name = i < n ? names[i] : NULL,
                          .method = other, .key = other, .user_id = other, .conn = conn,
                          .msg = i + 1, .run = 1, .user_run = conn};
            sim_action x, y;
            sim_faults_cross(a, &w, now, &x);
            sim_faults_cross(b, &w, now, &y);
            FZ_CHECK(x.kind == y.kind && x.code == y.code && x.delay_ms == y.delay_ms &&
                     x.mode == y.mode && same(x.rule_id, y.rule_id) && same(x.text, y.text) &&
                     same(x.field, y.field) && same(x.error_code, y.error_code));
            now += 250;
        }
    for (int s = SIM_SVC_BACKEND; s <= SIM_SVC_REDIS; s++) {
        sim_wire w = {.service = s, .point = SIM_WIRE_CLOSE,
                      .proto = s == SIM_SVC_REDIS ? "resp" : "ws", .conn = 1};
        sim_action x;
        sim_faults_cross(a, &w, now, &x);
        sim_faults_cross(b, &w, now, &x);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (!root) return 0;
    const cJSON *kept[MAX_RULES], *by_id[MAX_RULES];
    size_t nkept = 0, nby_id = 0, i = 0;
    char err[512];
    int arr = cJSON_IsArray(root);
    for (const cJSON *it = arr ? root->child : root; it && i < MAX_RULES;
         it = arr ? it->next : NULL, i++) {
        int cls = (int)(i % 3);   /* 0 kept, 1 removed by id, 2 removed by reset */
        err[0] = '\0';
        if (sim_faults_add(a, it, "rule", cls != 0, NOW_MS, err, sizeof err)) {
            FZ_CHECK(err[0]);
            continue;
        }
        if (cls == 0) kept[nkept++] = it;
        if (cls == 1) by_id[nby_id++] = it;
    }
    for (size_t k = 0; k < nby_id; k++) {
        const char *id = cJSON_GetObjectItemCaseSensitive(by_id[k], "id")->valuestring;
        FZ_CHECK(sim_faults_remove(a, id) == 0 && sim_faults_remove(a, id) == -1);
        FZ_CHECK(sim_faults_get(a, id, NOW_MS) == NULL);
    }
    sim_faults_reset(a);
    for (size_t k = 0; k < nkept; k++)
        FZ_CHECK(sim_faults_add(b, kept[k], "rule", 0, NOW_MS, err, sizeof err) == 0);
    FZ_CHECK(sim_faults_count(a) == nkept && sim_faults_count(b) == nkept);

    const char *names[MAX_NAMES];
    size_t nnames = 0;
    collect(root, names, &nnames);
    cross_both(names, nnames);
    cJSON *la = sim_faults_list(a, NOW_MS), *lb = sim_faults_list(b, NOW_MS);
    char *ta = cJSON_PrintUnformatted(la), *tb = cJSON_PrintUnformatted(lb);
    FZ_CHECK(strcmp(ta, tb) == 0);
    cJSON_free(ta);
    cJSON_free(tb);
    cJSON_Delete(la);
    cJSON_Delete(lb);

    sim_faults_clear(a);
    FZ_CHECK(sim_faults_count(a) == 0);
    for (size_t k = 0; k < nkept; k++)
        FZ_CHECK(sim_faults_remove(a, cJSON_GetObjectItemCaseSensitive(kept[k], "id")->valuestring) == -1);
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_SEND, .proto = "ws",
                  .name = nnames ? names[0] : NULL, .conn = 3};
    sim_action x;
    sim_faults_cross(a, &w, NOW_MS, &x);
    FZ_CHECK(x.kind == SIM_ACT_PASS && !x.rule_id);
    sim_faults_clear(b);
    cJSON_Delete(root);
    return 0;
}
