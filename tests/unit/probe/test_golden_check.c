/* test_golden_check.c -- the golden path checker fed synthetic frames, one
 * table row per stream: the healthy run (current and legacy shapes), each
 * event missing, duplicated and out of order, a wrong run id, malformed
 * fields, unequal tool counts, an event for another user, closes and
 * timeouts mid-run, keep-alive frames interleaved, error frames. */
#include <string.h>

#include "golden_check.h"
#include "tap.h"

#define USER "user-alice"
#define RUN "run_1"
#define TS "2025-09-17T11:54:56.500000+00:00"
#define TOOL "\"tool_name\":\"search_knowledge_base\","
#define OK_DATA "{\"status\":\"ok\"}"
#define ANSWER "{\"status\":\"completed\",\"result\":{\"response\":\"the answer\"}}"

/* An event of the current profile with every field chosen. */
#define EVENT_AS(type, tool, run, user, ts, data)                                             \
    "{\"type\":\"" type "\",\"run_id\":\"" run "\",\"user_id\":\"" user                         \
    "\",\"agent_name\":\"supervisor\"," tool "\"timestamp\":\"" ts "\",\"data\":" data "}"
#define STARTED EVENT_AS("agent_started", "", RUN, USER, TS, OK_DATA)
#define THINKING EVENT_AS("agent_thinking", "", RUN, USER, TS, OK_DATA)
#define EXECUTING EVENT_AS("tool_executing", TOOL, RUN, USER, TS, OK_DATA)
#define TOOL_DONE EVENT_AS("tool_completed", TOOL, RUN, USER, TS, OK_DATA)
#define COMPLETED EVENT_AS("agent_completed", "", RUN, USER, TS, ANSWER)

/* The legacy profile: "payload" holds user_id and tool_name. */
#define LEGACY(type, tool)                                                                    \
    "{\"type\":\"" type "\",\"run_id\":\"" RUN "\",\"agent_name\":\"supervisor\",\"timestamp\":\"" \
    TS "\",\"payload\":{\"user_id\":\"" USER "\"," tool                                        \
    "\"status\":\"s\",\"result\":{\"response\":\"legacy answer\"}}}"

#define WELCOME \
    "{\"type\":\"connection_established\",\"data\":{\"mode\":\"main\",\"user_id\":\"" USER "\"}}"
#define LEGACY_WELCOME                                                                       \
    "{\"type\":\"system_message\",\"data\":{\"event\":\"connection_established\",\"user_id\":\"" \
    USER "\",\"connection_ready\":true}}"
#define HEARTBEAT "{\"type\":\"heartbeat\",\"timestamp\":1.5}"

enum { END_NONE, END_CLOSE, END_TIMEOUT };
#define MAX_FRAMES 12

/* A stream and the verdict it must get. failure NULL: it passes. Text
 * fields NULL are expected empty, except detail (NULL: not checked). */
typedef struct golden_case {
    const char *desc;
    const char *frames[MAX_FRAMES];   /* the last one decides, unless the stream ends */
    int end;                          /* after the frames: a close or the timeout */
    int close_code;
    const char *close_reason;
    const char *stage, *failure, *expected, *got, *field;
    int ordinal;
    const char *detail;
} golden_case;

static const golden_case cases[] = {
    /* ---- passing streams ---- */
    {.desc = "the five in order",
     .frames = {WELCOME, STARTED, THINKING, EXECUTING, TOOL_DONE, COMPLETED}},
    {.desc = "the legacy welcome and events", .frames = {LEGACY_WELCOME,
     LEGACY("agent_started", ""), LEGACY("agent_thinking", ""), LEGACY("tool_executing", TOOL),
     LEGACY("tool_completed", TOOL), LEGACY("agent_completed", "")}},
    {.desc = "keep-alive frames anywhere are skipped", .frames = {HEARTBEAT, WELCOME, HEARTBEAT,
     STARTED, "{\"type\":\"ping\"}", THINKING, "{\"type\":\"pong\",\"data\":{}}", EXECUTING,
     "{\"type\":\"heartbeat_ack\"}", TOOL_DONE, COMPLETED}},

    /* ---- each event missing ---- */
    {.desc = "agent_started missing",
     .frames = {WELCOME, THINKING, EXECUTING, TOOL_DONE, COMPLETED}, .stage = "event",
     .failure = "missing", .expected = "agent_started", .got = "agent_thinking", .ordinal = 1,
     .detail = "agent_started missing"},
    {.desc = "agent_thinking missing",
     .frames = {WELCOME, STARTED, EXECUTING, TOOL_DONE, COMPLETED}, .stage = "event",
     .failure = "missing", .expected = "agent_thinking", .got = "tool_executing", .ordinal = 2},
    {.desc = "tool_executing missing", .frames = {WELCOME, STARTED, THINKING, TOOL_DONE, COMPLETED},
     .stage = "event", .failure = "tool_count", .expected = "tool_executing",
     .got = "tool_completed", .ordinal = 3,
     .detail = "agent_completed after 0 tool_executing and 1 tool_completed"},
    {.desc = "tool counts unequal (tool_completed dropped)",
     .frames = {WELCOME, STARTED, THINKING, EXECUTING, COMPLETED}, .stage = "event",
     .failure = "tool_count", .expected = "tool_completed", .got = "agent_completed", .ordinal = 4,
     .detail = "agent_completed after 1 tool_executing and 0 tool_completed"},
    {.desc = "agent_completed missing, then the timeout",
     .frames = {WELCOME, STARTED, THINKING, EXECUTING, TOOL_DONE}, .end = END_TIMEOUT,
     .stage = "timeout", .failure = "timeout", .expected = "agent_completed", .ordinal = 5,
     .detail = "timeout after 10000 ms"},
    {.desc = "agent_completed missing, then a normal close",
     .frames = {WELCOME, STARTED, THINKING, EXECUTING, TOOL_DONE}, .end = END_CLOSE,
     .close_code = 1000, .close_reason = "", .stage = "close", .failure = "closed",
     .expected = "agent_completed", .ordinal = 5, .detail = "close 1000 \"\""},

    /* ---- each event duplicated ---- */
    {.desc = "agent_started twice", .frames = {WELCOME, STARTED, STARTED}, .stage = "event",
     .failure = "duplicated", .expected = "agent_thinking", .got = "agent_started", .ordinal = 2,
     .detail = "agent_started duplicated (first at event 1)"},
    {.desc = "agent_thinking twice", .frames = {WELCOME, STARTED, THINKING, THINKING},
     .stage = "event", .failure = "duplicated", .expected = "tool_executing",
     .got = "agent_thinking", .ordinal = 3},
    {.desc = "tool_executing twice", .frames = {WELCOME, STARTED, THINKING, EXECUTING, EXECUTING},
     .stage = "event", .failure = "duplicated", .expected = "tool_completed",
     .got = "tool_executing", .ordinal = 4},
    {.desc = "tool_completed twice",
     .frames = {WELCOME, STARTED, THINKING, EXECUTING, TOOL_DONE, TOOL_DONE}, .stage = "event",
     .failure = "duplicated", .expected = "agent_completed", .got = "tool_completed", .ordinal = 5},

    /* ---- out of order ---- */
    {.desc = "agent_started and agent_thinking swapped", .frames = {WELCOME, THINKING, STARTED},
     .stage = "event", .failure = "out_of_order", .expected = "agent_started",
     .got = "agent_thinking", .ordinal = 1, .detail = "agent_started arrived late, at event 2"},
    {.desc = "agent_thinking and tool_executing swapped",
     .frames = {WELCOME, STARTED, EXECUTING, THINKING}, .stage = "event", .failure = "out_of_order",
     .expected = "agent_thinking", .got = "tool_executing", .ordinal = 2},
    {.desc = "tool_executing and tool_completed swapped",
     .frames = {WELCOME, STARTED, THINKING, TOOL_DONE, EXECUTING}, .stage = "event",
     .failure = "out_of_order", .expected = "tool_executing", .got = "tool_completed",
     .ordinal = 3},
    /* The run is over at agent_completed: a later tool_completed is not waited for. */
    {.desc = "agent_completed before tool_completed",
     .frames = {WELCOME, STARTED, THINKING, EXECUTING, COMPLETED}, .stage = "event",
     .failure = "tool_count", .expected = "tool_completed", .got = "agent_completed", .ordinal = 4},
    {.desc = "an earlier event again", .frames = {WELCOME, STARTED, THINKING, EXECUTING, STARTED},
     .stage = "event", .failure = "out_of_order", .expected = "tool_completed",
     .got = "agent_started", .ordinal = 4, .detail = "agent_started again (first at event 1)"},

    /* ---- run id fields answer ---- */
    {.desc = "another run id", .frames = {WELCOME, STARTED, THINKING,
     EVENT_AS("tool_executing", TOOL, "run_2", USER, TS, OK_DATA)}, .stage = "event",
     .failure = "run_id", .expected = RUN, .got = "run_2", .field = "run_id", .ordinal = 3},
    {.desc = "a timestamp that is not ISO-8601",
     .frames = {WELCOME, EVENT_AS("agent_started", "", RUN, USER, "yesterday", OK_DATA)},
     .stage = "event", .failure = "malformed", .expected = "an ISO-8601 time", .got = "yesterday",
     .field = "timestamp", .ordinal = 1,
     .detail = "agent_started: timestamp is not an ISO-8601 time"},
    {.desc = "no agent_name", .frames = {WELCOME,
     "{\"type\":\"agent_started\",\"run_id\":\"" RUN "\",\"user_id\":\"" USER
     "\",\"timestamp\":\"" TS "\",\"data\":{}}"},
     .stage = "event", .failure = "malformed", .expected = "a non-empty string",
     .field = "agent_name", .ordinal = 1},
    {.desc = "an empty run_id",
     .frames = {WELCOME, EVENT_AS("agent_started", "", "", USER, TS, OK_DATA)}, .stage = "event",
     .failure = "malformed", .expected = "a non-empty string", .field = "run_id", .ordinal = 1},
    {.desc = "data not an object",
     .frames = {WELCOME, EVENT_AS("agent_started", "", RUN, USER, TS, "\"x\"")}, .stage = "event",
     .failure = "malformed", .expected = "an object", .field = "data", .ordinal = 1},
    {.desc = "no user_id", .frames = {WELCOME,
     "{\"type\":\"agent_started\",\"run_id\":\"" RUN "\",\"agent_name\":\"a\","
     "\"timestamp\":\"" TS "\",\"data\":{}}"},
     .stage = "event", .failure = "malformed", .expected = "a non-empty string", .field = "user_id",
     .ordinal = 1},
    {.desc = "a tool event without tool_name", .frames = {WELCOME, STARTED, THINKING,
     EVENT_AS("tool_executing", "", RUN, USER, TS, OK_DATA)}, .stage = "event",
     .failure = "malformed", .expected = "a non-empty string", .field = "tool_name", .ordinal = 3},
    {.desc = "a frame without a type", .frames = {WELCOME, "{\"run_id\":\"" RUN "\"}"},
     .stage = "event", .failure = "malformed", .expected = "a non-empty string", .field = "type",
     .ordinal = 1},
    {.desc = "a frame that is not JSON", .frames = {WELCOME, "not json at all"}, .stage = "event",
     .failure = "malformed", .expected = "a JSON object", .got = "not json at all", .ordinal = 1,
     .detail = "frame is not a JSON object"},
    {.desc = "an empty answer", .frames = {WELCOME, STARTED, THINKING, EXECUTING, TOOL_DONE,
     EVENT_AS("agent_completed", "", RUN, USER, TS, "{\"result\":{\"response\":\"\"}}")},
     .stage = "event", .failure = "no_answer", .expected = "a non-empty string",
     .field = "data.result.response", .ordinal = 5},

    /* ---- another user ---- */
    {.desc = "an event for another user (isolation breach)", .frames = {WELCOME, STARTED, THINKING,
     EVENT_AS("tool_executing", TOOL, RUN, "user-bob", TS, OK_DATA)}, .stage = "event",
     .failure = "foreign_user", .expected = USER, .got = "user-bob", .field = "user_id",
     .ordinal = 3, .detail = "tool_executing for another user"},
    {.desc = "a welcome for another user (demo mode)",
     .frames = {"{\"type\":\"connection_established\",\"data\":{\"user_id\":\"demo-user-001\"}}"},
     .stage = "welcome", .failure = "foreign_user", .expected = USER, .got = "demo-user-001",
     .field = "data.user_id"},

    /* ---- closes ---- */
    {.desc = "a close mid-run (ws-1011-mid-run)", .frames = {WELCOME, STARTED, THINKING},
     .end = END_CLOSE, .close_code = 1011, .close_reason = "Internal error", .stage = "close",
     .failure = "closed", .expected = "tool_executing", .ordinal = 3,
     .detail = "close 1011 \"Internal error\""},
    {.desc = "a close right after the welcome", .frames = {WELCOME}, .end = END_CLOSE,
     .close_code = 1011, .close_reason = "Internal error", .stage = "close", .failure = "closed",
     .expected = "agent_started", .ordinal = 1},
    {.desc = "a close before the welcome", .frames = {NULL}, .end = END_CLOSE, .close_code = 1008,
     .close_reason = "Authentication failed", .stage = "close", .failure = "closed",
     .expected = "connection_established"},
    {.desc = "a close after a skipped event", .frames = {WELCOME, STARTED, EXECUTING},
     .end = END_CLOSE, .close_code = 1006, .close_reason = "", .stage = "event",
     .failure = "missing", .expected = "agent_thinking", .got = "tool_executing", .ordinal = 2,
     .detail = "agent_thinking missing, then close 1006 \"\""},
    {.desc = "keep-alive frames are not counted in ordinals", .frames = {HEARTBEAT, WELCOME,
     HEARTBEAT, STARTED, "{\"type\":\"ping\"}", THINKING, "{\"type\":\"pong\"}", EXECUTING,
     "{\"type\":\"heartbeat_ack\"}", TOOL_DONE}, .end = END_CLOSE, .close_code = 1011,
     .close_reason = "Internal error", .stage = "close", .failure = "closed",
     .expected = "agent_completed", .ordinal = 5},

    /* ---- error and other frames ---- */
    {.desc = "an error instead of the welcome",
     .frames = {"{\"type\":\"error_message\",\"error_code\":\"AUTH_FAILED\",\"error_message\":"
                "\"Authentication failed: Invalid token\",\"details\":{}}"},
     .stage = "welcome", .failure = "welcome", .expected = "connection_established",
     .got = "error_message",
     .detail = "first frame is error_message AUTH_FAILED: Authentication failed: Invalid token, "
               "not the welcome"},
    {.desc = "agent_error mid-run", .frames = {WELCOME, STARTED,
     "{\"type\":\"agent_error\",\"data\":{\"error_message\":\"boom\"}}"}, .stage = "event",
     .failure = "error_frame", .expected = "agent_thinking", .got = "agent_error", .ordinal = 2,
     .detail = "agent_error: boom"},
    {.desc = "a frame of another type mid-run",
     .frames = {WELCOME, "{\"type\":\"system_message\",\"data\":{}}"}, .stage = "event",
     .failure = "unexpected", .expected = "agent_started", .got = "system_message", .ordinal = 1},
};

static const char *or_empty(const char *s) {
    return s ? s : "";
}

static void run_case(const golden_case *k) {
    sim_golden_check c;
    sim_probe_result r;
    sim_golden_check_init(&c, USER);
    sim_probe_result_init(&r, 1);
    size_t n = 0;
    while (n < MAX_FRAMES && k->frames[n]) n++;
    sim_golden_step step = SIM_GOLDEN_MORE;
    size_t fed = 0;
    while (fed < n && (step == SIM_GOLDEN_MORE || step == SIM_GOLDEN_WELCOMED)) {
        step = sim_golden_check_frame(&c, k->frames[fed], strlen(k->frames[fed]), &r);
        fed++;
    }
    is_int(fed, n, "%s: the verdict comes at the last frame", k->desc);
    if (k->end != END_NONE) {
        ok(step == SIM_GOLDEN_MORE || step == SIM_GOLDEN_WELCOMED, "%s: still reading", k->desc);
        if (k->end == END_CLOSE) sim_golden_check_closed(&c, k->close_code, k->close_reason, &r);
        else sim_golden_check_timeout(&c, 10000, &r);
        step = SIM_GOLDEN_FAIL;
    }
    if (!k->failure) {
        is_int(step, SIM_GOLDEN_PASS, "%s: passes", k->desc);
        ok(!r.stage[0] && !r.event_ordinal, "%s: no stage, no ordinal", k->desc);
        return;
    }
    is_int(step, SIM_GOLDEN_FAIL, "%s: fails", k->desc);
    is_str(r.stage, k->stage, "%s: stage", k->desc);
    is_str(r.failure, k->failure, "%s: failure", k->desc);
    is_str(r.expected, or_empty(k->expected), "%s: expected", k->desc);
    is_str(r.got, or_empty(k->got), "%s: got", k->desc);
    is_str(r.field, or_empty(k->field), "%s: field", k->desc);
    is_int(r.event_ordinal, k->ordinal, "%s: event ordinal", k->desc);
    if (k->detail) is_str(r.detail, k->detail, "%s: detail", k->desc);
    if (k->end == END_CLOSE) {
        is_int(r.close_code, k->close_code, "%s: close code", k->desc);
        is_str(r.close_reason, k->close_reason, "%s: close reason", k->desc);
    }
}

static void test_human_line(void) {
    sim_golden_check c;
    sim_probe_result r;
    sim_golden_check_init(&c, USER);
    sim_probe_result_init(&r, 3);
    static const char *const frames[] = {WELCOME, STARTED, THINKING};
    for (size_t i = 0; i < 3; i++) sim_golden_check_frame(&c, frames[i], strlen(frames[i]), &r);
    sim_golden_check_closed(&c, 1011, "Internal error", &r);
    sim_buf line = {0};
    sim_probe_result_line(&r, &line);
    is_str(line.data,
           "attempt 3: FAIL at event 3: close 1011 \"Internal error\" (expected tool_executing)",
           "the human line of a close mid-run");
    sim_buf_free(&line);
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
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) run_case(&cases[i]);
    test_human_line();
    test_iso_time();
    return tap_done();
}
