/* fuzz_control.c -- libFuzzer harness: the control API's routes
 * (sim_control_handle on a sim_control_new, no socket), fed requests framed
 * as in fuzz_common.h. An input that starts with '!' goes to a controller
 * guarded by a bearer token, any other to an open one. Here the markers
 * stand for what the routes want and the fuzzer would not find: "$A" the
 * control token, "$R" a whole valid scenario, "$E" an array of valid rules.
 * After each request the harness makes three wire crossings, so that the
 * journal grows and rules fire for /journal and /journal/wait.
 *
 * Checks besides fz_check_response: a guarded controller answers 401 to a
 * request without its token and nothing else does; POST /faults is all or
 * nothing (201 adds exactly what it lists, any refusal adds nothing); a
 * journal page's X-Journal-First/Last/Total headers agree with its lines
 * and the engine; a long poll that is still waiting answers once its
 * longest wait has passed.
 *
 * As in fuzz_rule, the engine lives for the whole run, its journal ring
 * filled at start (so allocations balance per input), and is cleared after
 * each input. The harness is built with a ring of 64 lines (meson.build):
 * with the 65,536 of a real build, every GET /journal?since=0 formatted and
 * checked the whole ring, 12 inputs/s. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "fuzz_common.h"
#include "journal.h"

#define NOW_MS 1700000000000LL
#define TOKEN "fuzz-control-token"
#define LONGEST_WAIT_MS 600001   /* past /journal/wait's and /journal's caps */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char scenario_text[] =
    "{\"name\":\"fuzz-control\",\"seed\":3,\"users\":[{\"id\":\"u1\",\"email\":\"u1@example.com\","
    "\"password\":\"pw\"}],\"faults\":[{\"id\":\"send-delay\",\"on\":\"ws.send\","
    "\"match\":{\"name\":\"agent_started\"},\"action\":{\"kind\":\"delay\",\"ms\":5}}]}";
static const char rules_text[] =
    "[{\"id\":\"r-get\",\"on\":\"redis.command\",\"match\":{\"name\":\"get\"},"
    "\"action\":{\"kind\":\"error\",\"text\":\"ERR fuzz\"},\"times\":2},"
    "{\"id\":\"r-login\",\"on\":\"auth.request\",\"action\":{\"kind\":\"status\",\"status\":503}}]";

static sim_faults *faults;
static sim_scenario *sc;
static sim_clock clock_;
static sim_control *open_ctl, *guarded_ctl;

static int lifecycle(void *ctx, const sim_lifecycle_step *st, char *err, size_t errlen) {
    (void)ctx;
    FZ_CHECK(st->service == SIM_SVC_BACKEND || st->service == SIM_SVC_AUTH ||
             st->service == SIM_SVC_REDIS);
    if (st->action == SIM_LC_CANNOT_START) {   /* the app's refusals are 409s */
        snprintf(err, errlen, "%s", "refused by the harness");
        return 409;
    }
    return 0;
}

static cJSON *lifecycle_state(void *ctx) {
    (void)ctx;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "backend", "running");
    return j;
}

static void revoke_user(void *ctx, const char *user_id) {
    (void)ctx;
    size_t n = strlen(user_id);
    FZ_CHECK(n >= 1 && n <= SIM_MAX_USER_ID);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_scenario_decides();
    char err[256];
    sc = sim_scenario_parse(scenario_text, "fuzz", err, sizeof err);
    FZ_CHECK(sc != NULL);
    sim_clock_init(&clock_, NOW_MS / 1000.0, 1);
    faults = sim_faults_new(sc->seed, NULL, NOW_MS);
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_ACCEPT, .proto = "ws"};
    sim_action x;
    while (sim_faults_journal_count(faults) < SIM_JOURNAL_RING) sim_faults_cross(faults, &w, NOW_MS, &x);
    sim_control_config cfg = {.faults = faults, .sc = sc, .clock = &clock_,
                              .lifecycle = lifecycle, .lifecycle_state = lifecycle_state,
                              .revoke_user = revoke_user, .ports = {8000, 8081, 6379}};
    open_ctl = sim_control_new(&cfg);
    cfg.token = TOKEN;
    guarded_ctl = sim_control_new(&cfg);
    return 0;
}

/* The value of header `name` in r's extra headers, or -1 when absent. */
static int64_t extra_u64(const sim_http_response *r, const char *name) {
    const char *h = strstr(r->extra_headers, name);
    return h ? (int64_t)strtoull(h + strlen(name), NULL, 10) : -1;
}

static void check_journal_page(const sim_http_response *r) {
    int64_t first = extra_u64(r, "X-Journal-First: "), last = extra_u64(r, "X-Journal-Last: "),
            total = extra_u64(r, "X-Journal-Total: ");
    FZ_CHECK(first >= 1 && last >= 0 && total >= 0);
    FZ_CHECK((uint64_t)total == sim_faults_journal_count(faults) && last <= total);
    size_t lines = 0;
    for (size_t i = 0; i < r->body.len; i++) lines += r->body.data[i] == '\n';
    FZ_CHECK(lines ? last - first + 1 == (int64_t)lines : last == first - 1);
}

static void handle(void *ctx, fz_request *f, sim_http_response *r) {
    sim_control *ctl = ctx;
    /* Every request first drops the rules whose ttl_ms ran out: counted
     * after that, the rules before are what the request itself changes. */
    sim_faults_expire(faults, f->req.now_ms);
    size_t rules_before = sim_faults_count(faults);
    sim_control_handle(ctl, &f->req, r);
    if (r->retry_ms) {   /* a long poll: call again once its longest wait has passed */
        sim_http_response_free(r);
        sim_http_response_init(r);
        f->req.now_ms = f->req.arrived_ms + LONGEST_WAIT_MS;
        sim_control_handle(ctl, &f->req, r);
        FZ_CHECK(!r->retry_ms);
    }
    const char *bearer = sim_http_bearer(&f->req);
    int authorised = ctl == open_ctl || (bearer && strcmp(bearer, TOKEN) == 0);
    FZ_CHECK((r->status == 401) == !authorised);
    if (!authorised) FZ_CHECK(sim_faults_count(faults) == rules_before);
    int add = strcmp(f->req.method, "POST") == 0 && strcmp(f->req.path, "/faults") == 0;
    if (add && r->status == 201) {
        cJSON *j = cJSON_Parse(r->body.data);
        int added = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "added"));
        cJSON_Delete(j);
        FZ_CHECK(sim_faults_count(faults) == rules_before + (size_t)added);
    } else if (add) {
        FZ_CHECK(sim_faults_count(faults) == rules_before);
    }
    if (r->status == 200 && r->content_type && strstr(r->content_type, "ndjson"))
        check_journal_page(r);

    static const sim_wire crossings[] = {
        {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_SEND, .proto = "ws", .name = "agent_started",
         .conn = 1, .msg = 1, .run = 1, .user_run = 1},
        {.service = SIM_SVC_REDIS, .point = SIM_WIRE_REQUEST, .proto = "resp", .name = "get",
         .key = "k", .conn = 2},
        {.service = SIM_SVC_AUTH, .point = SIM_WIRE_REQUEST, .proto = "http", .name = "/auth/login",
         .method = "POST", .conn = 3},
    };
    for (size_t i = 0; i < sizeof crossings / sizeof crossings[0]; i++) {
        sim_action x;
        sim_faults_cross(faults, &crossings[i], f->req.now_ms, &x);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sim_control *ctl = open_ctl;
    if (size && data[0] == '!') {
        ctl = guarded_ctl;
        data++, size--;
    }
    const char *const markers[3] = {TOKEN, scenario_text, rules_text};
    fz_run_requests(data, size, NOW_MS, markers, handle, ctl);
    sim_faults_clear(faults);
    return 0;
}
