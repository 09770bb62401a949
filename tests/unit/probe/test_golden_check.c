/* test_golden_check.c -- the golden path checker fed synthetic frames: the
 * healthy run (current and legacy shapes), each event missing, duplicated
 * and out of order, a wrong run id, malformed fields, unequal tool counts,
 * an event for another user, closes and timeouts mid-run, keep-alive frames
 * interleaved, error frames. */
#include <stdio.h>
#include <string.h>

#include "golden_check.h"
#include "tap.h"

#define USER "user-alice"
#define RUN "run_1"
#define TS "2025-09-17T11:54:56.500000+00:00"

static const char *const five[5] = {"agent_started", "agent_thinking", "tool_executing",
                                    "tool_completed", "agent_completed"};
static const char welcome[] =
    "{\"type\":\"connection_established\",\"data\":{\"mode\":\"main\",\"user_id\":\"" USER "\"}}";
static const char legacy_welcome[] =
    "{\"type\":\"system_message\",\"data\":{\"event\":\"connection_established\",\"user_id\":\"" USER
    "\",\"connection_ready\":true}}";

/* A well-formed event of the current profile; a few rotating buffers so a
 * test can hold several at once. */
static const char *event_as(const char *type, const char *run, const char *user, const char *ts) {
    static char bufs[8][1024];
    static int next;
    char *b = bufs[next++ % 8];
    int tool = strncmp(type, "tool_", 5) == 0;
    const char *data = strcmp(type, "agent_completed") == 0
                           ? "{\"status\":\"completed\",\"result\":{\"response\":\"the answer\"}}"
                           : "{\"status\":\"ok\"}";
    snprintf(b, 1024,
             "{\"type\":\"%s\",\"run_id\":\"%s\",\"user_id\":\"%s\",\"agent_name\":\"supervisor\",%s"
             "\"timestamp\":\"%s\",\"data\":%s}",
             type, run, user, tool ? "\"tool_name\":\"search_knowledge_base\"," : "", ts, data);
    return b;
}

static const char *event(int i) {
    return event_as(five[i], RUN, USER, TS);
}

/* Feeds frames after the welcome; returns the last step. Every frame but
 * the last must leave the checker reading. */
static sim_golden_step feed(sim_golden_check *c, const char *const *frames, size_t n,
                            sim_probe_result *r) {
    sim_golden_step step = SIM_GOLDEN_MORE;
    for (size_t i = 0; i < n; i++) {
        step = sim_golden_check_frame(c, frames[i], strlen(frames[i]), r);
        if (step != SIM_GOLDEN_MORE && i + 1 < n) return step;
    }
    return step;
}

/* A checker that has had the welcome, and a fresh result. */
static void welcomed(sim_golden_check *c, sim_probe_result *r) {
    sim_golden_check_init(c, USER);
    sim_probe_result_init(r, 1);
    sim_golden_step s = sim_golden_check_frame(c, welcome, strlen(welcome), r);
    if (s != SIM_GOLDEN_WELCOMED) printf("# the welcome was not taken\n");
}

static void test_in_order(void) {
    sim_golden_check c;
    sim_probe_result r;
    welcomed(&c, &r);
    const char *frames[5] = {event(0), event(1), event(2), event(3), event(4)};
    is_int(feed(&c, frames, 5, &r), SIM_GOLDEN_PASS, "the five in order pass");
    is_int(r.event_ordinal, 0, "a pass carries no event ordinal");
    is_str(r.stage, "", "a pass carries no stage");
}

static void test_legacy_shapes(void) {
    sim_golden_check c;
    sim_probe_result r;
    sim_golden_check_init(&c, USER);
    sim_probe_result_init(&r, 1);
    is_int(sim_golden_check_frame(&c, legacy_welcome, strlen(legacy_welcome), &r),
           SIM_GOLDEN_WELCOMED, "the legacy system_message welcome is a welcome");
    char frames[5][512];
    const char *ptrs[5];
    for (int i = 0; i < 5; i++) {
        int tool = i == 2 || i == 3;
        snprintf(frames[i], sizeof(frames[i]),
                 "{\"type\":\"%s\",\"run_id\":\"" RUN "\",\"agent_name\":\"supervisor\","
                 "\"timestamp\":\"" TS "\",\"payload\":{\"user_id\":\"" USER "\",%s"
                 "\"status\":\"s\",\"result\":{\"response\":\"legacy answer\"}}}",
                 five[i], tool ? "\"tool_name\":\"analyze_data\"," : "");
        ptrs[i] = frames[i];
    }
    is_int(feed(&c, ptrs, 5, &r), SIM_GOLDEN_PASS,
           "legacy events (payload holding user_id and tool_name) pass");
}

/* The run with event `drop` left out, then agent_completed's verdict. */
static void test_missing(void) {
    static const struct {
        const char *failure, *expected, *got;
        int ordinal;
    } want[4] = {
        {"missing", "agent_started", "agent_thinking", 1},
        {"missing", "agent_thinking", "tool_executing", 2},
        {"tool_count", "tool_executing", "tool_completed", 3},
        {"tool_count", "tool_completed", "agent_completed", 4},
    };
    for (int drop = 0; drop < 4; drop++) {
        sim_golden_check c;
        sim_probe_result r;
        welcomed(&c, &r);
        const char *frames[4];
        for (int i = 0, n = 0; i < 5; i++)
            if (i != drop) frames[n++] = event(i);
        is_int(feed(&c, frames, 4, &r), SIM_GOLDEN_FAIL, "%s left out fails", five[drop]);
        is_str(r.stage, "event", "%s missing: stage", five[drop]);
        is_str(r.failure, want[drop].failure, "%s missing: failure", five[drop]);
        is_str(r.expected, want[drop].expected, "%s missing: expected", five[drop]);
        is_str(r.got, want[drop].got, "%s missing: got", five[drop]);
        is_int(r.event_ordinal, want[drop].ordinal, "%s missing: where it was due", five[drop]);
    }
    /* agent_completed never comes: the run ends by a close or the timeout. */
    sim_golden_check c;
    sim_probe_result r;
    welcomed(&c, &r);
    const char *frames[4] = {event(0), event(1), event(2), event(3)};
    is_int(feed(&c, frames, 4, &r), SIM_GOLDEN_MORE, "without agent_completed it keeps reading");
    sim_golden_check_timeout(&c, 10000, &r);
    is_str(r.stage, "timeout", "agent_completed missing: a timeout");
    is_str(r.expected, "agent_completed", "the timeout names the awaited event");
    is_int(r.event_ordinal, 5, "at ordinal 5");
    is_str(r.detail, "timeout after 10000 ms", "timeout detail");
}

static void test_tool_counts_unequal(void) {
    /* dropped-events: tool_completed lost, the run still completes. */
    sim_golden_check c;
    sim_probe_result r;
    welcomed(&c, &r);
    const char *frames[4] = {event(0), event(1), event(2), event(4)};
    is_int(feed(&c, frames, 4, &r), SIM_GOLDEN_FAIL, "1 tool_executing, 0 tool_completed fails");
    is_str(r.failure, "tool_count", "failure tool_count");
    is_str(r.detail, "agent_completed after 1 tool_executing and 0 tool_completed",
           "the counts are named");
}

static void test_duplicated(void) {
    for (int dup = 0; dup < 4; dup++) {
        const char *name = five[dup], *after = five[dup + 1];
        sim_golden_check c;
        sim_probe_result r;
        welcomed(&c, &r);
        const char *frames[6];
        int n = 0;
        for (int i = 0; i < 5; i++) {
            frames[n++] = event(i);
            if (i == dup) frames[n++] = event(i);
        }
        is_int(feed(&c, frames, (size_t)n, &r), SIM_GOLDEN_FAIL, "%s twice fails", name);
        is_str(r.failure, "duplicated", "%s twice: duplicated", name);
        is_str(r.got, name, "event %d twice: got it", dup + 1);
        is_str(r.expected, after, "%s twice: expected the next one", name);
        is_int(r.event_ordinal, dup + 2, "%s twice: at the copy", name);
    }
}

static void test_out_of_order(void) {
    /* Two neighbours swapped: known when the skipped one arrives. */
    for (int first = 0; first < 3; first++) {
        sim_golden_check c;
        sim_probe_result r;
        welcomed(&c, &r);
        const char *frames[5];
        for (int i = 0; i < 5; i++) frames[i] = event(i);
        frames[first] = event(first + 1);
        frames[first + 1] = event(first);
        is_int(feed(&c, frames, 5, &r), SIM_GOLDEN_FAIL, "%s and %s swapped fail", five[first],
               five[first + 1]);
        is_str(r.failure, "out_of_order", "swapped: out_of_order");
        is_str(r.expected, five[first], "swapped: expected the first");
        is_str(r.got, five[first + 1], "swapped: got the second");
        is_int(r.event_ordinal, first + 1, "swapped: where it began");
    }
    /* tool_completed after agent_completed: the run was over without it. */
    sim_golden_check c;
    sim_probe_result r;
    welcomed(&c, &r);
    const char *late[5] = {event(0), event(1), event(2), event(4), event(3)};
    is_int(feed(&c, late, 5, &r), SIM_GOLDEN_FAIL, "agent_completed before tool_completed fails");
    is_str(r.failure, "tool_count", "judged at agent_completed: the tool counts");
    /* An earlier event again, not next to its first. */
    welcomed(&c, &r);
    const char *again[4] = {event(0), event(1), event(2), event(0)};
    is_int(feed(&c, again, 4, &r), SIM_GOLDEN_FAIL, "agent_started again fails");
    is_str(r.failure, "out_of_order", "an earlier event again: out_of_order");
    is_str(r.detail, "agent_started again (first at event 1)", "names the first one");
}

static void test_run_id(void) {
    sim_golden_check c;
    sim_probe_result r;
    welcomed(&c, &r);
    const char *frames[3] = {event(0), event(1), event_as("tool_executing", "run_2", USER, TS)};
    is_int(feed(&c, frames, 3, &r), SIM_GOLDEN_FAIL, "another run id fails");
    is_str(r.failure, "run_id", "failure run_id");
    is_str(r.field, "run_id", "field run_id");
    is_str(r.expected, RUN, "expected the first event's run id");
    is_str(r.got, "run_2", "got the other");
    is_int(r.event_ordinal, 3, "at the third event");
}

static void test_malformed(void) {
    static const struct {
        const char *frame, *field, *desc;
    } cases[] = {
        {"{\"type\":\"agent_started\",\"run_id\":\"" RUN "\",\"user_id\":\"" USER
         "\",\"agent_name\":\"a\",\"timestamp\":\"yesterday\",\"data\":{}}",
         "timestamp", "a timestamp that is not ISO-8601"},
        {"{\"type\":\"agent_started\",\"run_id\":\"" RUN "\",\"user_id\":\"" USER
         "\",\"timestamp\":\"" TS "\",\"data\":{}}",
         "agent_name", "no agent_name"},
        {"{\"type\":\"agent_started\",\"run_id\":\"\",\"user_id\":\"" USER
         "\",\"agent_name\":\"a\",\"timestamp\":\"" TS "\",\"data\":{}}",
         "run_id", "an empty run_id"},
        {"{\"type\":\"agent_started\",\"run_id\":\"" RUN "\",\"user_id\":\"" USER
         "\",\"agent_name\":\"a\",\"timestamp\":\"" TS "\",\"data\":\"x\"}",
         "data", "data not an object"},
        {"{\"type\":\"agent_started\",\"run_id\":\"" RUN "\",\"agent_name\":\"a\",\"timestamp\":\"" TS
         "\",\"data\":{}}",
         "user_id", "no user_id"},
        {"{\"type\":\"tool_executing\",\"run_id\":\"" RUN "\",\"user_id\":\"" USER
         "\",\"agent_name\":\"a\",\"timestamp\":\"" TS "\",\"data\":{}}",
         "tool_name", "a tool event without tool_name"},
        {"{\"run_id\":\"" RUN "\"}", "type", "no type"},
        {"not json at all", "", "a frame that is not JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        sim_golden_check c;
        sim_probe_result r;
        welcomed(&c, &r);
        is_int(sim_golden_check_frame(&c, cases[i].frame, strlen(cases[i].frame), &r),
               SIM_GOLDEN_FAIL, "%s fails", cases[i].desc);
        is_str(r.failure, "malformed", "%s: malformed", cases[i].desc);
        is_str(r.field, cases[i].field, "%s: the field", cases[i].desc);
        is_int(r.event_ordinal, 1, "%s: at event 1", cases[i].desc);
    }
    /* An agent_completed without an answer. */
    sim_golden_check c;
    sim_probe_result r;
    welcomed(&c, &r);
    const char *frames[5] = {event(0), event(1), event(2), event(3),
                             "{\"type\":\"agent_completed\",\"run_id\":\"" RUN "\",\"user_id\":\"" USER
                             "\",\"agent_name\":\"a\",\"timestamp\":\"" TS
                             "\",\"data\":{\"result\":{\"response\":\"\"}}}"};
    is_int(feed(&c, frames, 5, &r), SIM_GOLDEN_FAIL, "an empty answer fails");
    is_str(r.failure, "no_answer", "failure no_answer");
    is_str(r.field, "data.result.response", "the answer's field");
}

static void test_other_user(void) {
    sim_golden_check c;
    sim_probe_result r;
    welcomed(&c, &r);
    /* isolation-breach: another user's tool event, in its place in the run. */
    const char *frames[3] = {event(0), event(1), event_as("tool_executing", RUN, "user-bob", TS)};
    is_int(feed(&c, frames, 3, &r), SIM_GOLDEN_FAIL, "an event for another user fails");
    is_str(r.failure, "foreign_user", "failure foreign_user");
    is_str(r.expected, USER, "expected the logged-in user");
    is_str(r.got, "user-bob", "got the other");
    is_int(r.event_ordinal, 3, "at event 3");
    /* Demo mode: the backend took no token and welcomed someone else. */
    sim_golden_check_init(&c, USER);
    sim_probe_result_init(&r, 1);
    const char demo[] = "{\"type\":\"connection_established\",\"data\":{\"user_id\":\"demo-user-001\"}}";
    is_int(sim_golden_check_frame(&c, demo, strlen(demo), &r), SIM_GOLDEN_FAIL,
           "a welcome for another user fails");
    is_str(r.stage, "welcome", "at the welcome");
    is_str(r.got, "demo-user-001", "naming the user it was for");
}

static void test_close_mid_run(void) {
    sim_golden_check c;
    sim_probe_result r;
    welcomed(&c, &r);
    const char *frames[2] = {event(0), event(1)};
    is_int(feed(&c, frames, 2, &r), SIM_GOLDEN_MORE, "two events, still reading");
    sim_golden_check_closed(&c, 1011, "Internal error", &r);
    is_str(r.stage, "close", "stage close");
    is_str(r.failure, "closed", "failure closed");
    is_int(r.close_code, 1011, "close code");
    is_str(r.close_reason, "Internal error", "close reason");
    is_int(r.event_ordinal, 3, "at event 3, the one that did not come");
    is_str(r.expected, "tool_executing", "expected tool_executing");
    sim_buf line = {0};
    sim_probe_result_line(&r, &line);
    is_str(line.data, "attempt 1: FAIL at event 3: close 1011 \"Internal error\" (expected tool_executing)",
           "the human line");
    sim_buf_free(&line);
    /* Closed right after the welcome, and before it. */
    welcomed(&c, &r);
    sim_golden_check_closed(&c, 1011, "Internal error", &r);
    is_int(r.event_ordinal, 1, "closed after the welcome: at event 1");
    sim_golden_check_init(&c, USER);
    sim_probe_result_init(&r, 1);
    sim_golden_check_closed(&c, 1008, "Authentication failed", &r);
    is_int(r.event_ordinal, 0, "closed before the welcome: no event ordinal");
    is_str(r.expected, "connection_established", "expected the welcome");
    /* A close after a skip reports the skip, with the close. */
    welcomed(&c, &r);
    const char *skipped[2] = {event(0), event(2)};
    feed(&c, skipped, 2, &r);
    sim_golden_check_closed(&c, 1006, "", &r);
    is_str(r.failure, "missing", "close after a skipped event: missing");
    is_int(r.event_ordinal, 2, "where the skip was");
    is_int(r.close_code, 1006, "and the close code");
}

static void test_keepalive_frames(void) {
    sim_golden_check c;
    sim_probe_result r;
    sim_golden_check_init(&c, USER);
    sim_probe_result_init(&r, 1);
    const char hb[] = "{\"type\":\"heartbeat\",\"timestamp\":1.5}";
    const char pong[] = "{\"type\":\"pong\",\"data\":{}}";
    is_int(sim_golden_check_frame(&c, hb, strlen(hb), &r), SIM_GOLDEN_MORE,
           "a heartbeat before the welcome is skipped");
    is_int(sim_golden_check_frame(&c, welcome, strlen(welcome), &r), SIM_GOLDEN_WELCOMED,
           "then the welcome");
    const char *frames[8] = {hb, event(0), "{\"type\":\"ping\"}", event(1), pong, event(2),
                             "{\"type\":\"heartbeat_ack\"}", event(3)};
    is_int(feed(&c, frames, 8, &r), SIM_GOLDEN_MORE, "keep-alive frames between events are skipped");
    sim_golden_check_closed(&c, 1011, "Internal error", &r);
    is_int(r.event_ordinal, 5, "skipped frames are not counted in ordinals");
}

static void test_error_frames(void) {
    sim_golden_check c;
    sim_probe_result r;
    sim_golden_check_init(&c, USER);
    sim_probe_result_init(&r, 1);
    const char auth[] = "{\"type\":\"error_message\",\"error_code\":\"AUTH_FAILED\",\"error_message\":"
                        "\"Authentication failed: Invalid token\",\"details\":{}}";
    is_int(sim_golden_check_frame(&c, auth, strlen(auth), &r), SIM_GOLDEN_FAIL,
           "an error instead of the welcome fails");
    is_str(r.failure, "welcome", "failure welcome");
    is_str(r.detail, "first frame is error_message AUTH_FAILED: Authentication failed: Invalid token, "
                     "not the welcome", "the code and text are named");
    welcomed(&c, &r);
    const char agent_err[] = "{\"type\":\"agent_error\",\"data\":{\"error_message\":\"boom\"}}";
    const char *frames[2] = {event(0), agent_err};
    is_int(feed(&c, frames, 2, &r), SIM_GOLDEN_FAIL, "agent_error mid-run fails");
    is_str(r.failure, "error_frame", "failure error_frame");
    is_str(r.detail, "agent_error: boom", "with its reason");
    welcomed(&c, &r);
    const char other[] = "{\"type\":\"system_message\",\"data\":{}}";
    is_int(sim_golden_check_frame(&c, other, strlen(other), &r), SIM_GOLDEN_FAIL,
           "a frame of another type mid-run fails");
    is_str(r.failure, "unexpected", "failure unexpected");
    is_str(r.got, "system_message", "naming its type");
}

static void test_iso_time(void) {
    ok(sim_golden_iso_time("2025-09-17T11:54:56.500000+00:00"), "FastAPI's isoformat");
    ok(sim_golden_iso_time("2025-09-17T11:54:56Z"), "Z, no fraction");
    ok(sim_golden_iso_time("2025-09-17T11:54:56.1"), "no zone");
    ok(!sim_golden_iso_time("2025-09-17 11:54:56"), "a space instead of T");
    ok(!sim_golden_iso_time("2025-13-17T11:54:56Z"), "month 13");
    ok(!sim_golden_iso_time("2025-09-17T11:54:56."), "an empty fraction");
    ok(!sim_golden_iso_time("2025-09-17T11:54:56+0000"), "a zone without a colon");
    ok(!sim_golden_iso_time("1758110096.5"), "epoch seconds");
}

int main(void) {
    test_in_order();
    test_legacy_shapes();
    test_missing();
    test_tool_counts_unequal();
    test_duplicated();
    test_out_of_order();
    test_run_id();
    test_malformed();
    test_other_user();
    test_close_mid_run();
    test_keepalive_frames();
    test_error_frames();
    test_iso_time();
    return tap_done();
}
