/* test_ws_session.c -- the pure WebSocket session without sockets: synthetic
 * now_ms, and a fake service whose decision point returns scripted actions.
 * Every frame the session lets out is written down with its time, as the
 * glue would write it, and compared whole. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util.h"
#include "ws_session.h"

#define T0 1700000000000LL   /* the simulator's start */
#define HEADROOM 16

/* A scripted answer of the fake decision point: `act` for the nth crossing
 * at (point, name) (nth 0: every one). */
typedef struct rule {
    sim_wire_point point;
    const char *name;
    uint64_t nth;
    sim_action act;
    uint64_t seen;
} rule;

typedef struct fixture {
    sim_scenario *sc;
    sim_ws_session_config cfg;
    sim_ws_session_env env;
    sim_ws_session *s;
    rule rules[4];
    size_t nrules;
    sim_buf crossings;    /* "send:agent_started#2/1 " ... (point:name#msg/run) */
    sim_buf out;          /* "10 agent_started, 60 agent_thinking, ..." (ms after T0) */
    sim_buf misrouted;    /* "user:type " */
    int runs_done;
    int64_t run_done_at;
    uint64_t user_runs;
    int misplaced;        /* frames whose text is not right after the headroom */
    int64_t now;
} fixture;

static const char *point_name(sim_wire_point p) {
    return p == SIM_WIRE_SEND ? "send" : p == SIM_WIRE_REQUEST ? "msg"
           : p == SIM_WIRE_CLOSE ? "close" : "accept";
}

static void fake_cross(void *ctx, const sim_wire *w, int64_t now_ms, sim_action *act) {
    fixture *f = ctx;
    (void)now_ms;
    sim_buf_printf(&f->crossings, "%s:%s#%llu/%llu ", point_name(w->point), w->name,
                   (unsigned long long)w->msg, (unsigned long long)w->run);
    memset(act, 0, sizeof(*act));
    for (size_t i = 0; i < f->nrules; i++) {
        rule *r = &f->rules[i];
        if (r->point != w->point || strcmp(r->name, w->name) != 0) continue;
        r->seen++;
        if (!r->nth || r->nth == r->seen) {
            *act = r->act;
            return;
        }
    }
}

static uint64_t fake_user_run(void *ctx, const char *user_id) {
    (void)user_id;
    return ++((fixture *)ctx)->user_runs;
}

static const char *type_of(const char *json, char *buf, size_t len) {
    cJSON *j = cJSON_Parse(json);
    cJSON *t = cJSON_GetObjectItem(j, "type");
    snprintf(buf, len, "%s", cJSON_IsString(t) ? t->valuestring : "(not json)");
    cJSON_Delete(j);
    return buf;
}

static void fake_misroute(void *ctx, const char *user_id, const char *json, int64_t now_ms) {
    fixture *f = ctx;
    char type[64];
    (void)now_ms;
    sim_buf_printf(&f->misrouted, "%s:%s ", user_id, type_of(json, type, sizeof(type)));
}

static void fake_run_done(void *ctx, const sim_run *run, int64_t now_ms) {
    fixture *f = ctx;
    (void)run;
    f->runs_done++;
    f->run_done_at = now_ms - T0;
}

/* Writes down every frame the session has ready, as the glue would. */
static void drain(fixture *f) {
    sim_ws_frame *fr;
    while ((fr = sim_ws_session_pop(f->s))) {
        char type[64];
        if (f->out.len) sim_buf_puts(&f->out, ", ");
        if (fr->close_code)
            sim_buf_printf(&f->out, "%lld close %d %s", (long long)(f->now - T0), fr->close_code,
                           (char *)fr->text);
        else
            sim_buf_printf(&f->out, "%lld %s", (long long)(f->now - T0),
                           type_of((char *)fr->text, type, sizeof(type)));
        if (fr->text != fr->data + HEADROOM) f->misplaced++;
        sim_ws_frame_free(fr);
    }
}

/* The glue's timer: ticks at each deadline up to T0 + ms. */
static void run_until(fixture *f, int64_t ms) {
    for (;;) {
        int64_t d = sim_ws_session_deadline(f->s);
        if (d == SIM_WS_NO_DEADLINE || d > T0 + ms) break;
        f->now = d;
        sim_ws_session_tick(f->s, d);
        drain(f);
    }
    f->now = T0 + ms;
}

/* A client message at T0 + ms (after running everything due before). */
static void client(fixture *f, int64_t ms, const char *text) {
    run_until(f, ms);
    sim_ws_session_receive(f->s, text, strlen(text), 1, f->now);
    drain(f);
}

static void chat(fixture *f, int64_t ms) {
    client(f, ms, "{\"type\":\"user_message\",\"message\":\"hello\",\"thread_id\":\"t1\"}");
}

static void add_rule(fixture *f, sim_wire_point point, const char *name, uint64_t nth,
                     sim_action act) {
    f->rules[f->nrules++] = (rule){point, name, nth, act, 0};
}

/* A scenario without heartbeats or start-up unless a test sets them. */
static void setup(fixture *f) {
    char err[256];
    memset(f, 0, sizeof(*f));
    f->sc = sim_scenario_load(NULL, err, sizeof(err));
    sim_assert(f->sc);
    f->sc->agent.gap_ms = 50;
    f->sc->heartbeat_ms = f->sc->heartbeat_timeout_ms = 0;
    f->sc->startup_complete_ms = 0;
    f->cfg = (sim_ws_session_config){.sc = f->sc, .seed = 1, .start_ms = T0, .headroom = HEADROOM};
    f->env = (sim_ws_session_env){.ctx = f, .cross = fake_cross, .user_run = fake_user_run,
                                  .misroute = fake_misroute, .run_done = fake_run_done};
}

/* The session of an upgrade to /ws with these subprotocols and query. */
static void open_with(fixture *f, const char *subprotocols, const char *query, int64_t ms) {
    f->now = T0 + ms;
    sim_ws_handshake *hs = sim_ws_handshake_new(f->sc, NULL, "/ws", subprotocols, NULL, query,
                                                f->now);
    f->s = sim_ws_session_new(&f->cfg, &f->env, hs, 1);
    sim_ws_session_open(f->s, f->now);
    drain(f);
}

static void open_session(fixture *f) {
    open_with(f, NULL, NULL, 0);
}

static void teardown(fixture *f) {
    is_int(f->misplaced, 0, "every frame's text right after its headroom");
    sim_ws_session_free(f->s);
    sim_buf_free(&f->crossings);
    sim_buf_free(&f->out);
    sim_buf_free(&f->misrouted);
    sim_scenario_free(f->sc);
}

/* Forgets the frames seen so far. */
static void reset_out(fixture *f) {
    f->out.len = 0;
    if (f->out.data) f->out.data[0] = '\0';
}

static const char *out(fixture *f) {
    return f->out.data ? f->out.data : "";
}

static int count(const char *text, const char *what) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what)) n++;
    return n;
}

static sim_action action(sim_action_kind kind) {
    return (sim_action){.kind = kind};
}

/* ---- runs ---------------------------------------------------------------- */

static void test_golden_path(void) {
    fixture f;
    setup(&f);
    open_session(&f);
    is_str(out(&f), "0 connection_established", "welcome at once");
    chat(&f, 10);
    run_until(&f, 1000);
    is_str(out(&f),
           "0 connection_established, 10 agent_started, 60 agent_thinking, 110 tool_executing, "
           "160 tool_completed, 210 agent_completed",
           "five events in order at the script's gaps");
    is_int(f.runs_done, 1, "run_done once");
    is_int(f.run_done_at, 210, "run_done after agent_completed");
    is_str(f.crossings.data,
           "send:connection_established#1/0 msg:user_message#1/1 send:agent_started#2/1 "
           "send:agent_thinking#3/1 send:tool_executing#4/1 send:tool_completed#5/1 "
           "send:agent_completed#6/1 ",
           "crossings with message and run ordinals");
    is_int(sim_ws_session_deadline(f.s), SIM_WS_NO_DEADLINE, "nothing left to do");
    teardown(&f);
}

static void test_runs_one_at_a_time(void) {
    fixture f;
    setup(&f);
    f.sc->agent.gap_ms = 10;
    open_session(&f);
    chat(&f, 0);
    chat(&f, 5);
    run_until(&f, 1000);
    is_str(out(&f),
           "0 connection_established, 0 agent_started, 10 agent_thinking, 20 tool_executing, "
           "30 tool_completed, 40 agent_completed, 40 agent_started, 50 agent_thinking, "
           "60 tool_executing, 70 tool_completed, 80 agent_completed",
           "the second run starts when the first ends");
    is_int(f.runs_done, 2, "two runs done");
    ok(strstr(f.crossings.data, "msg:user_message#2/2 ") != NULL, "second message: run 2");
    teardown(&f);
}

/* ---- ws.send actions ------------------------------------------------------ */

/* One ws.send rule on one event of a chat message's run (events at 0, 50,
 * 100, 150 and 200 ms, then a client heartbeat at 1000), every frame that
 * goes out, and whether the run completed. */
static const struct {
    const char *event;
    sim_action act;
    const char *want;
    int runs_done;
    const char *desc;
} send_cases[] = {
    {"agent_thinking", {.kind = SIM_ACT_DELAY, .delay_ms = 100},
     "0 connection_established, 0 agent_started, 150 agent_thinking, 150 tool_executing, "
     "150 tool_completed, 200 agent_completed, 1000 heartbeat_ack",
     1, "delay: the delayed event holds back the later ones; the run's schedule stays"},
    {"agent_thinking", {.kind = SIM_ACT_HOLD},
     "0 connection_established, 0 agent_started, 100 tool_executing, 100 agent_thinking, "
     "150 tool_completed, 200 agent_completed, 1000 heartbeat_ack",
     1, "hold: the held event goes right after the next one"},
    {"tool_executing", {.kind = SIM_ACT_DUPLICATE},
     "0 connection_established, 0 agent_started, 50 agent_thinking, 100 tool_executing, "
     "100 tool_executing, 150 tool_completed, 200 agent_completed, 1000 heartbeat_ack",
     1, "duplicate: sent twice"},
    {"tool_completed", {.kind = SIM_ACT_DROP},
     "0 connection_established, 0 agent_started, 50 agent_thinking, 100 tool_executing, "
     "200 agent_completed, 1000 heartbeat_ack",
     1, "drop: not sent, the run goes on"},
    {"agent_completed", {.kind = SIM_ACT_MALFORM, .mode = SIM_MALFORM_INVALID_JSON},
     "0 connection_established, 0 agent_started, 50 agent_thinking, 100 tool_executing, "
     "150 tool_completed, 200 (not json), 1000 heartbeat_ack",
     1, "malform: sent broken"},
    {"tool_executing", {.kind = SIM_ACT_REPLACE, .field = "agent_error", .text = "boom"},
     "0 connection_established, 0 agent_started, 50 agent_thinking, 100 agent_error, "
     "150 tool_completed, 200 agent_completed, 1000 heartbeat_ack",
     1, "replace: another message instead, the run goes on"},
    {"tool_executing", {.kind = SIM_ACT_STALL},
     "0 connection_established, 0 agent_started, 50 agent_thinking, 1000 heartbeat_ack", 0,
     "stall: the run stops for good"},
    {"tool_executing",
     {.kind = SIM_ACT_CLOSE, .code = 1011, .text = "Internal error", .mode = SIM_CLOSE_AFTER_SEND},
     "0 connection_established, 0 agent_started, 50 agent_thinking, 100 tool_executing, "
     "100 close 1011 Internal error",
     0, "close send_first: the event, then the close, then nothing"},
    {"tool_executing", {.kind = SIM_ACT_CLOSE},
     "0 connection_established, 0 agent_started, 50 agent_thinking, 100 close 1011 ", 0,
     "close: instead of the event, 1011 by default"},
    {"agent_thinking", {.kind = SIM_ACT_HANG}, "0 connection_established, 0 agent_started", 0,
     "hang: nothing more, not even to the client"},
};

static void test_send_actions(void) {
    for (size_t i = 0; i < sizeof(send_cases) / sizeof(send_cases[0]); i++) {
        fixture f;
        setup(&f);
        open_session(&f);
        add_rule(&f, SIM_WIRE_SEND, send_cases[i].event, 0, send_cases[i].act);
        chat(&f, 0);
        client(&f, 1000, "{\"type\":\"heartbeat\"}");
        run_until(&f, 10000);
        is_str(out(&f), send_cases[i].want, "%s", send_cases[i].desc);
        is_int(f.runs_done, send_cases[i].runs_done, "%s: run_done", send_cases[i].desc);
        teardown(&f);
    }
}

static void test_message_delay_keeps_order(void) {
    fixture f;
    setup(&f);
    open_session(&f);
    add_rule(&f, SIM_WIRE_REQUEST, "ping", 0, (sim_action){.kind = SIM_ACT_DELAY, .delay_ms = 100});
    client(&f, 0, "{\"type\":\"ping\"}");
    client(&f, 10, "{\"type\":\"heartbeat\"}");
    is_str(out(&f), "0 connection_established", "nothing answered before the delay");
    run_until(&f, 1000);
    is_str(out(&f), "0 connection_established, 100 pong, 100 heartbeat_ack",
           "a later message waits behind the delayed one");
    teardown(&f);
}

/* A held last event goes when its run ends: before the next run. */
static void test_hold_last_event(void) {
    fixture f;
    setup(&f);
    f.sc->agent.gap_ms = 10;
    open_session(&f);
    add_rule(&f, SIM_WIRE_SEND, "agent_completed", 0, action(SIM_ACT_HOLD));
    chat(&f, 0);
    chat(&f, 0);
    run_until(&f, 1000);
    is_str(out(&f),
           "0 connection_established, 0 agent_started, 10 agent_thinking, 20 tool_executing, "
           "30 tool_completed, 40 agent_completed, 40 agent_started, 50 agent_thinking, "
           "60 tool_executing, 70 tool_completed, 80 agent_completed",
           "a held last event goes when the run ends");
    teardown(&f);
}

/* A dropped event still counts; remove_field, seen on the frame's text. */
static void test_dropped_counted_and_field_removed(void) {
    fixture f;
    setup(&f);
    open_session(&f);
    add_rule(&f, SIM_WIRE_SEND, "tool_completed", 0, action(SIM_ACT_DROP));
    add_rule(&f, SIM_WIRE_SEND, "agent_started", 0,
             (sim_action){.kind = SIM_ACT_MALFORM, .mode = SIM_MALFORM_REMOVE_FIELD,
                          .field = "run_id"});
    chat(&f, 0);
    sim_ws_session_tick(f.s, f.now);
    sim_ws_frame *fr = sim_ws_session_pop(f.s);
    ok(fr && strstr((char *)fr->text, "\"agent_started\"") && !strstr((char *)fr->text, "run_id"),
       "malform remove_field: agent_started without run_id");
    sim_ws_frame_free(fr);
    run_until(&f, 1000);
    ok(strstr(f.crossings.data, "send:tool_completed#5/1 send:agent_completed#6/1 ") != NULL,
       "a dropped event still counts as a message");
    teardown(&f);
}

static void test_message_replace(void) {
    fixture f;
    setup(&f);
    open_session(&f);
    add_rule(&f, SIM_WIRE_REQUEST, "ping", 0,
             (sim_action){.kind = SIM_ACT_REPLACE, .error_code = "AGENT_ERROR",
                          .text = "'AgentWebSocketBridge' object has no attribute"});
    chat(&f, 0);
    client(&f, 20, "{\"type\":\"ping\"}");
    run_until(&f, 60);
    is_str(out(&f), "0 connection_established, 0 agent_started, 20 error_message, 50 agent_thinking",
           "a replaced client message is answered with the rule's message");
    ok(strstr(f.crossings.data, "send:error_message#3/1") != NULL,
       "the replacement crosses ws.send under its own type");
    teardown(&f);
}

static void test_stall_queues_later_runs(void) {
    fixture f;
    setup(&f);
    open_session(&f);
    add_rule(&f, SIM_WIRE_SEND, "tool_executing", 0, action(SIM_ACT_STALL));
    chat(&f, 0);
    chat(&f, 500);
    client(&f, 600, "{\"type\":\"ping\"}");
    run_until(&f, 10000);
    is_str(out(&f), "0 connection_established, 0 agent_started, 50 agent_thinking, 600 pong",
           "pings are answered, the next run waits");
    is_int(sim_ws_session_deadline(f.s), SIM_WS_NO_DEADLINE, "nothing scheduled");
    teardown(&f);
}

static void test_abort_and_goodbye(void) {
    fixture f;
    setup(&f);
    open_session(&f);
    add_rule(&f, SIM_WIRE_REQUEST, "ping", 0, action(SIM_ACT_ABORT));
    is_int(sim_ws_session_wants(f.s), 0, "nothing wanted after the welcome is written");
    client(&f, 10, "{\"type\":\"ping\"}");
    is_int(sim_ws_session_wants(f.s), SIM_WS_WANT_ABORT, "abort: cut TCP");
    teardown(&f);

    setup(&f);
    open_session(&f);
    add_rule(&f, SIM_WIRE_SEND, "agent_thinking", 0, action(SIM_ACT_HANG));
    chat(&f, 0);
    run_until(&f, 1000);
    sim_ws_session_shutdown(f.s, f.now);
    drain(&f);
    is_str(out(&f), "0 connection_established, 0 agent_started, 1000 close 1001 Server shutting down",
           "a hung session still gets the goodbye");
    teardown(&f);
}

static void test_misroute(void) {
    fixture f;
    setup(&f);
    open_session(&f);
    add_rule(&f, SIM_WIRE_SEND, "agent_started", 0,
             (sim_action){.kind = SIM_ACT_MISROUTE, .field = "user-bob"});
    chat(&f, 0);
    run_until(&f, 1000);
    is_str(f.misrouted.data, "user-bob:agent_started ", "handed to the service for user-bob");
    ok(!strstr(out(&f), "agent_started"), "not sent here");
    /* This session is the demo user's: a frame for user-bob is not its. */
    sim_ws_session_deliver(f.s, "user-bob", "{\"type\":\"agent_started\"}", f.now);
    sim_ws_session_deliver(f.s, "demo-user-001", "{\"type\":\"agent_thinking\"}", f.now);
    drain(&f);
    ok(strstr(out(&f), "1000 agent_thinking") != NULL && !strstr(out(&f), "agent_started"),
       "delivered only to the user's session: %s", out(&f));
    teardown(&f);
}

/* ---- the caps --------------------------------------------------------------- */

static void test_pending_runs_cap(void) {
    fixture f;
    setup(&f);
    open_session(&f);
    /* The first run stalls: every later chat message waits for it. */
    add_rule(&f, SIM_WIRE_SEND, "agent_started", 0, action(SIM_ACT_STALL));
    chat(&f, 0);
    run_until(&f, 10);
    for (int i = 0; i < SIM_WS_MAX_PENDING_RUNS; i++) chat(&f, 10);
    is_str(out(&f), "0 connection_established", "100 waiting runs: still open");
    client(&f, 20, "{\"type\":\"ping\"}");
    is_str(out(&f), "0 connection_established, 20 pong", "and answering");
    chat(&f, 30);
    is_str(out(&f), "0 connection_established, 20 pong, 30 close 1013 Too many pending messages",
           "one over: 1013");
    client(&f, 40, "{\"type\":\"ping\"}");
    run_until(&f, 100000);
    is_str(out(&f), "0 connection_established, 20 pong, 30 close 1013 Too many pending messages",
           "later input ignored, nothing left to run");
    is_int(sim_ws_session_deadline(f.s), SIM_WS_NO_DEADLINE, "queues dropped");
    teardown(&f);
}

static void test_queued_messages_cap(void) {
    fixture f;
    setup(&f);
    open_session(&f);
    add_rule(&f, SIM_WIRE_REQUEST, "ping", 1, (sim_action){.kind = SIM_ACT_DELAY, .delay_ms = 5000});
    for (int i = 0; i < SIM_WS_MAX_QUEUED_MSGS; i++) client(&f, 10, "{\"type\":\"ping\"}");
    is_str(out(&f), "0 connection_established", "1000 queued behind the delayed one: open");
    is_int(sim_ws_session_deadline(f.s), T0 + 5010, "the delayed one is due");
    client(&f, 20, "{\"type\":\"ping\"}");
    is_str(out(&f), "0 connection_established, 20 close 1013 Too many pending messages",
           "one over: 1013");
    run_until(&f, 100000);
    ok(!strstr(out(&f), "pong"), "the queued messages are dropped, not answered");
    teardown(&f);

    /* Exactly at the cap, the queue drains in order when the delay ends. */
    setup(&f);
    open_session(&f);
    add_rule(&f, SIM_WIRE_REQUEST, "ping", 1, (sim_action){.kind = SIM_ACT_DELAY, .delay_ms = 100});
    for (int i = 0; i < SIM_WS_MAX_QUEUED_MSGS - 1; i++) client(&f, 10, "{\"type\":\"ping\"}");
    client(&f, 10, "{\"type\":\"heartbeat\"}");
    run_until(&f, 1000);
    is_int(count(out(&f), "110 pong"), SIM_WS_MAX_QUEUED_MSGS - 1, "999 pongs at the delay's end");
    const char *last = ", 110 pong, 110 heartbeat_ack";
    ok(strlen(out(&f)) > strlen(last) &&
           strcmp(out(&f) + strlen(out(&f)) - strlen(last), last) == 0,
       "the last message answered last");
    teardown(&f);
}

/* ---- establishment, gate, heartbeat -------------------------------------- */

static void test_establishment(void) {
    fixture f;
    setup(&f);
    open_with(&f, "chat, superchat", NULL, 0);
    is_str(out(&f), "0 close 1003 No supported subprotocols", "unsupported subprotocols: 1003");
    teardown(&f);

    setup(&f);
    open_with(&f, NULL, "token=not.a.jwt", 0);
    is_str(out(&f), "0 error_message, 0 close 1008 Authentication failed",
           "bad token: AUTH_FAILED, then 1008");
    ok(strstr(f.crossings.data, "send:error_message#1/0") != NULL, "the error crosses ws.send");
    teardown(&f);

    setup(&f);
    f.now = T0;
    sim_ws_handshake *hs = sim_ws_handshake_new(f.sc, NULL, "/ws", NULL, NULL, NULL, f.now);
    sim_ws_handshake_accept_action(hs, &(sim_action){.kind = SIM_ACT_REPLACE,
                                                     .field = "agent_death", .text = "gone"},
                                   "supervisor", f.now);
    f.sc->heartbeat_ms = 1000;
    f.s = sim_ws_session_new(&f.cfg, &f.env, hs, 1);
    sim_ws_session_open(f.s, f.now);
    drain(&f);
    is_str(out(&f), "0 agent_death", "a ws.accept replacement instead of the welcome");
    is_int(sim_ws_session_deadline(f.s), SIM_WS_NO_DEADLINE, "and no heartbeat");
    teardown(&f);
}

/* A start-up that reaches `services` at 700 + (1400 - 700) * 4 / 7 = 1100
 * ms, and a session opened at its start. */
static void open_during_startup(fixture *f, uint32_t ws_wait_ms) {
    setup(f);
    f->sc->startup_app_state_ms = 700;
    f->sc->startup_complete_ms = 1400;
    f->sc->startup_ws_wait_ms = ws_wait_ms;
    open_session(f);
}

static void test_startup_gate(void) {
    fixture f;
    open_during_startup(&f, 3000);
    is_str(out(&f), "", "no welcome before `services`");
    client(&f, 100, "{\"type\":\"ping\"}");
    client(&f, 200, "{\"type\":\"heartbeat\"}");
    is_str(out(&f), "", "messages queue behind the gate");
    is_int(sim_ws_session_deadline(f.s), T0 + 1100, "the gate opens with `services`");
    run_until(&f, 5000);
    is_str(out(&f), "1100 connection_established, 1100 pong, 1100 heartbeat_ack",
           "welcome, then the queued messages in order");
    teardown(&f);

    open_during_startup(&f, 500);
    client(&f, 100, "{\"type\":\"ping\"}");
    run_until(&f, 5000);
    is_str(out(&f), "500 close 1011 Service not ready: startup phase no_app_state after 0.5 s",
           "the wait runs out: 1011, queued messages dropped");
    teardown(&f);
}

/* A session with a heartbeat after 1 s of silence and a timeout at 2.5 s. */
static void open_with_heartbeat(fixture *f) {
    setup(f);
    f->sc->heartbeat_ms = 1000;
    f->sc->heartbeat_timeout_ms = 2500;
    open_session(f);
}

static void test_heartbeat(void) {
    fixture f;
    open_with_heartbeat(&f);
    run_until(&f, 10000);
    is_str(out(&f), "0 connection_established, 1000 heartbeat, 2500 close 1011 Heartbeat timeout",
           "heartbeat after heartbeat_ms of silence, 1011 at the timeout");
    teardown(&f);

    open_with_heartbeat(&f);
    client(&f, 800, "{\"type\":\"pong\"}");
    client(&f, 2000, "{\"type\":\"ping\"}");
    run_until(&f, 10000);
    is_str(out(&f),
           "0 connection_established, 1800 heartbeat, 2000 pong, 3000 heartbeat, "
           "4500 close 1011 Heartbeat timeout",
           "a client frame resets both");
    teardown(&f);
}

/* ---- client frames ------------------------------------------------------------ */

static void test_fragments_and_size(void) {
    fixture f;
    setup(&f);
    open_session(&f);
    sim_ws_session_receive(f.s, "{\"type\":", 8, 0, f.now);
    sim_ws_session_receive(f.s, "\"ping\"}", 7, 1, f.now);
    drain(&f);
    is_str(out(&f), "0 connection_established, 0 pong", "fragments make one message");
    char *big = sim_xmalloc(SIM_WS_MAX_MESSAGE + 1);
    memset(big, ' ', SIM_WS_MAX_MESSAGE + 1);
    reset_out(&f);
    sim_ws_session_receive(f.s, big, SIM_WS_MAX_MESSAGE, 1, f.now);
    drain(&f);
    is_str(out(&f), "0 error_message", "8192 bytes pass (whitespace: invalid JSON, answered)");
    reset_out(&f);
    sim_ws_session_receive(f.s, big, SIM_WS_MAX_MESSAGE + 1, 1, f.now);
    drain(&f);
    is_str(out(&f), "0 close 1009 Message too big", "8193 bytes: close 1009 (current)");
    teardown(&f);

    /* In fragments: the rest of the message is read before the close, so
     * the client is not mid-send when it comes (a reset would lose it). */
    setup(&f);
    open_session(&f);
    reset_out(&f);
    for (int i = 0; i < 100; i++) {
        sim_ws_session_receive(f.s, big, 100, i == 99, f.now);
        drain(&f);
        if (i == 98) is_str(out(&f), "", "oversized after 82 fragments: nothing sent yet");
    }
    is_str(out(&f), "0 close 1009 Message too big", "close 1009 after the last fragment");
    teardown(&f);

    setup(&f);
    f.sc->profile = SIM_PROFILE_LEGACY;
    open_session(&f);
    sim_ws_session_receive(f.s, big, 5000, 0, f.now);
    sim_ws_session_receive(f.s, big, 5000, 0, f.now);   /* over the limit: dropped */
    sim_ws_session_receive(f.s, big, 10, 1, f.now);     /* its last fragment dropped */
    client(&f, 0, "{\"type\":\"ping\"}");
    ok(strstr(out(&f), "0 system_message, 0 pong") != NULL && !strstr(out(&f), "error_message"),
       "legacy: the oversized message is dropped, the next is answered: %s", out(&f));
    teardown(&f);
    free(big);
}


/* ---- the output: framed, one write for what is due at once ---------------- */

/* Walks RFC 6455 server frames (unmasked, final, text) back to back; returns
 * how many, or -1 when the bytes are not exactly that. texts gets the
 * payloads, one per line. */
static int parse_frames(const unsigned char *p, size_t len, sim_buf *texts) {
    int n = 0;
    size_t at = 0;
    while (at < len) {
        if (len - at < 2 || p[at] != 0x81 || (p[at + 1] & 0x80)) return -1;
        size_t hl = 2, plen = p[at + 1] & 0x7f;
        if (plen == 126) {
            if (len - at < 4) return -1;
            plen = (size_t)p[at + 2] << 8 | p[at + 3];
            hl = 4;
            if (plen < 126) return -1;   /* the shortest form only */
        } else if (plen == 127) {
            if (len - at < 10) return -1;
            plen = 0;
            for (int i = 0; i < 8; i++) plen = plen << 8 | p[at + 2 + i];
            hl = 10;
            if (plen < 65536) return -1;
        }
        if (len - at - hl < plen) return -1;
        sim_buf_append(texts, p + at + hl, plen);
        sim_buf_append(texts, "\n", 1);
        at += hl + plen;
        n++;
    }
    return n;
}

static void test_output_is_one_write(void) {
    fixture f;
    setup(&f);
    f.sc->agent.gap_ms = 0;
    open_session(&f);
    reset_out(&f);
    /* A chat at gap 0: all five events are due at once, and are one write. */
    const char *chat_msg = "{\"type\":\"user_message\",\"message\":\"hi\"}";
    sim_ws_session_receive(f.s, chat_msg, strlen(chat_msg), 1, f.now);
    ok(sim_ws_session_deadline(f.s) <= f.now, "the run is due now");
    sim_ws_session_tick(f.s, f.now);
    ok(sim_ws_session_wants(f.s) & SIM_WS_WANT_WRITE, "output wanted");
    size_t len;
    const unsigned char *o = sim_ws_session_out(f.s, &len);
    sim_buf texts = {0};
    is_int(parse_frames(o, len, &texts), 5, "five text frames back to back in one buffer");
    is_int(count(texts.data, "\"type\":\"agent_"), 3, "agent_started, _thinking, _completed");
    is_int(count(texts.data, "\"type\":\"tool_"), 2, "tool_executing, _completed");
    ok(strstr(texts.data, "\"type\":\"agent_completed\"") > strstr(texts.data, "agent_started"),
       "in order");
    sim_ws_session_out_done(f.s);
    o = sim_ws_session_out(f.s, &len);
    ok(!o && len == 0, "nothing after out_done");
    ok(!(sim_ws_session_wants(f.s) & SIM_WS_WANT_WRITE), "no write wanted when empty");
    ok(sim_ws_session_close_next(f.s) == NULL, "no close");
    sim_buf_free(&texts);

    /* An answer of 126+ bytes gets the longer header; a close waits until
     * the frames before it are taken. */
    char msg[300];
    snprintf(msg, sizeof(msg), "{\"type\":\"%0200d\"}", 7);
    sim_ws_session_receive(f.s, msg, strlen(msg), 1, f.now);
    sim_ws_session_shutdown(f.s, f.now);
    o = sim_ws_session_out(f.s, &len);
    texts = (sim_buf){0};
    is_int(parse_frames(o, len, &texts), 1, "the ack, framed with a 16-bit length");
    ok(len > 126 + 4 && o[1] == 126, "its header says so");
    ok(sim_ws_session_close_next(f.s) == NULL, "the close waits for the frames before it");
    sim_ws_session_out_done(f.s);
    sim_ws_frame *c = sim_ws_session_close_next(f.s);
    ok(c && c->close_code == 1001, "then the close");
    sim_ws_frame_free(c);
    sim_buf_free(&texts);
    teardown(&f);
}

int main(void) {
    sim_log_set_level(SIM_LOG_ERROR);
    test_golden_path();
    test_runs_one_at_a_time();
    test_send_actions();
    test_message_delay_keeps_order();
    test_hold_last_event();
    test_dropped_counted_and_field_removed();
    test_message_replace();
    test_stall_queues_later_runs();
    test_abort_and_goodbye();
    test_misroute();
    test_pending_runs_cap();
    test_queued_messages_cap();
    test_establishment();
    test_startup_gate();
    test_heartbeat();
    test_fragments_and_size();
    test_output_is_one_write();
    return tap_done();
}
