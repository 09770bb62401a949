/* golden_check.c -- the golden path checker (see golden_check.h): the
 * welcome, then each event's type, user, fields, run id and place in the
 * sequence, in that order, so that the most telling failure is the one
 * reported (an event of another user is that, even when it is also out of
 * sequence). */
#include "golden_check.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

enum { EV_STARTED, EV_THINKING, EV_TOOL_EXECUTING, EV_TOOL_COMPLETED, EV_COMPLETED };

static const char *const event_names[SIM_GOLDEN_EVENTS] = {
    "agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"};

/* Frames the contract allows at any time that belong to no run. */
static const char *const keepalive_types[] = {"heartbeat", "heartbeat_ack", "ping", "pong"};

/* Frames that report a failure instead of an event (contract §2.6). */
static const char *const error_types[] = {"error_message", "agent_error", "agent_death"};

#define WELCOME "connection_established"

const char *sim_golden_event_name(int i) {
    return i >= 0 && i < SIM_GOLDEN_EVENTS ? event_names[i] : NULL;
}

static int in_list(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return 1;
    return 0;
}

static int event_index(const char *type) {
    for (int i = 0; i < SIM_GOLDEN_EVENTS; i++)
        if (strcmp(type, event_names[i]) == 0) return i;
    return -1;
}

static int digits(const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int num2(const char *s) {
    return (s[0] - '0') * 10 + (s[1] - '0');
}

int sim_golden_iso_time(const char *s) {
    /* 0123456789012345678
     * YYYY-MM-DDTHH:MM:SS */
    if (strlen(s) < 19 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return 0;
    if (num2(s + 5) < 1 || num2(s + 5) > 12 || num2(s + 8) < 1 || num2(s + 8) > 31 ||
        num2(s + 11) > 23 || num2(s + 14) > 59 || num2(s + 17) > 60)
        return 0;
    const char *p = s + 19;
    if (*p == '.') {
        const char *f = ++p;
        while (isdigit((unsigned char)*p)) p++;
        if (p == f) return 0;
    }
    if (*p == 'Z') return p[1] == '\0';
    if (*p == '+' || *p == '-')
        return digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) && p[6] == '\0' &&
               num2(p + 1) <= 23 && num2(p + 4) <= 59;
    return *p == '\0';
}

void sim_golden_check_init(sim_golden_check *c, const char *user_id) {
    memset(c, 0, sizeof(*c));
    c->last = -1;
    SIM_PROBE_SET(c->user_id, user_id);
}

static const char *str_member(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *obj_member(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsObject(v) ? v : NULL;
}

/* "error_message AUTH_FAILED: Authentication failed: Invalid token": the
 * code and text of an error frame, top level or under data (staging sent
 * both, contract §2.6). */
static void describe_error(const cJSON *j, const char *type, char *out, size_t outlen) {
    const cJSON *data = obj_member(j, "data");
    const char *code = str_member(j, "error_code");
    if (!code && data) code = str_member(data, "error_code");
    const char *text = str_member(j, "error_message");
    if (!text && data) text = str_member(data, "error_message");
    if (!text && data) text = str_member(data, "death_cause");
    snprintf(out, outlen, "%s%s%s%s%s", type, code ? " " : "", code ? code : "",
             text ? ": " : "", text ? text : "");
}

static sim_golden_step fail_malformed(sim_probe_result *r, const char *stage, const char *type,
                                      const char *field, const char *want, const char *value) {
    sim_probe_fail(r, stage, "malformed", "%s: %s is not %s", type, field, want);
    SIM_PROBE_SET(r->field, field);
    SIM_PROBE_SET(r->expected, want);
    SIM_PROBE_SET(r->got, value);
    return SIM_GOLDEN_FAIL;
}

/* ---- the welcome ---------------------------------------------------------- */

static sim_golden_step on_welcome(sim_golden_check *c, const cJSON *j, const char *type,
                                  sim_probe_result *r) {
    const cJSON *data = obj_member(j, "data");
    const char *event = data ? str_member(data, "event") : NULL;
    int current = strcmp(type, WELCOME) == 0;
    int legacy = strcmp(type, "system_message") == 0 && event && strcmp(event, WELCOME) == 0;
    if (!current && !legacy) {
        char what[192];
        if (in_list(type, error_types, sizeof(error_types) / sizeof(*error_types)))
            describe_error(j, type, what, sizeof(what));
        else
            snprintf(what, sizeof(what), "%s", type);
        sim_probe_fail(r, "welcome", "welcome", "first frame is %s, not the welcome", what);
        SIM_PROBE_SET(r->expected, WELCOME);
        SIM_PROBE_SET(r->got, type);
        return SIM_GOLDEN_FAIL;
    }
    /* The welcome names the user the backend took the token for: another
     * one means the token went unread (demo mode) or to the wrong user. */
    const char *user = data ? str_member(data, "user_id") : NULL;
    if (user && strcmp(user, c->user_id) != 0) {
        sim_probe_fail(r, "welcome", "foreign_user", "welcome for user %s", user);
        SIM_PROBE_SET(r->field, "data.user_id");
        SIM_PROBE_SET(r->expected, c->user_id);
        SIM_PROBE_SET(r->got, user);
        return SIM_GOLDEN_FAIL;
    }
    c->welcomed = 1;
    return SIM_GOLDEN_WELCOMED;
}

/* ---- events ----------------------------------------------------------------- */

static const char *expected_next(const sim_golden_check *c) {
    return c->next < SIM_GOLDEN_EVENTS ? event_names[c->next] : "no more events";
}

/* Puts the recorded gap (the first event that came before its turn) into r. */
static void report_gap(const sim_golden_check *c, sim_probe_result *r) {
    r->event_ordinal = c->gap_ordinal;
    SIM_PROBE_SET(r->expected, event_names[c->gap_expected]);
    SIM_PROBE_SET(r->got, event_names[c->gap_got]);
}

/* Type, user, required fields and run id of event k; SIM_GOLDEN_MORE when
 * all hold. The legacy shape keeps user_id and tool_name in "payload". */
static sim_golden_step check_fields(sim_golden_check *c, const cJSON *j, int k,
                                    const cJSON **inner_out, sim_probe_result *r) {
    const char *type = event_names[k];
    const cJSON *inner = obj_member(j, "data");
    int legacy = !inner && !cJSON_GetObjectItemCaseSensitive(j, "data") && obj_member(j, "payload");
    if (legacy) inner = obj_member(j, "payload");
    if (!inner) return fail_malformed(r, "event", type, "data", "an object", "");
    *inner_out = inner;
    const cJSON *holder = legacy ? inner : j;   /* where user_id and tool_name live */
    const char *user_field = legacy ? "payload.user_id" : "user_id";
    const char *user = str_member(holder, "user_id");
    if (!user || !*user) return fail_malformed(r, "event", type, user_field, "a non-empty string", "");
    if (strcmp(user, c->user_id) != 0) {
        sim_probe_fail(r, "event", "foreign_user", "%s for another user", type);
        SIM_PROBE_SET(r->field, user_field);
        SIM_PROBE_SET(r->expected, c->user_id);
        SIM_PROBE_SET(r->got, user);
        return SIM_GOLDEN_FAIL;
    }
    static const char *const required[] = {"run_id", "agent_name"};
    for (size_t i = 0; i < sizeof(required) / sizeof(*required); i++) {
        const char *v = str_member(j, required[i]);
        if (!v || !*v) return fail_malformed(r, "event", type, required[i], "a non-empty string", "");
    }
    const char *ts = str_member(j, "timestamp");
    if (!ts || !sim_golden_iso_time(ts))
        return fail_malformed(r, "event", type, "timestamp", "an ISO-8601 time", ts ? ts : "");
    if (k == EV_TOOL_EXECUTING || k == EV_TOOL_COMPLETED) {
        const char *tool = str_member(holder, "tool_name");
        if (!tool || !*tool)
            return fail_malformed(r, "event", type, legacy ? "payload.tool_name" : "tool_name",
                                  "a non-empty string", "");
    }
    const char *run_id = str_member(j, "run_id");
    if (!c->run_id[0]) {
        SIM_PROBE_SET(c->run_id, run_id);
    } else if (strcmp(run_id, c->run_id) != 0) {
        sim_probe_fail(r, "event", "run_id", "%s of another run", type);
        SIM_PROBE_SET(r->field, "run_id");
        SIM_PROBE_SET(r->expected, c->run_id);
        SIM_PROBE_SET(r->got, run_id);
        return SIM_GOLDEN_FAIL;
    }
    return SIM_GOLDEN_MORE;
}

/* agent_completed arrived: the run is over, so an event skipped earlier is
 * now known to be missing. */
static sim_golden_step on_completed(sim_golden_check *c, const cJSON *inner, int legacy,
                                    sim_probe_result *r) {
    if (c->gap_ordinal) {
        report_gap(c, r);
        int tool_gap = c->gap_expected == EV_TOOL_EXECUTING || c->gap_expected == EV_TOOL_COMPLETED;
        if (tool_gap && c->tool_executing != c->tool_completed)
            sim_probe_fail(r, "event", "tool_count",
                           "agent_completed after %d tool_executing and %d tool_completed",
                           c->tool_executing, c->tool_completed);
        else
            sim_probe_fail(r, "event", "missing", "%s missing", event_names[c->gap_expected]);
        return SIM_GOLDEN_FAIL;
    }
    const cJSON *result = obj_member(inner, "result");
    const char *answer = result ? str_member(result, "response") : NULL;
    if (!answer || !*answer) {
        sim_probe_fail(r, "event", "no_answer", "agent_completed without an answer");
        SIM_PROBE_SET(r->field, legacy ? "payload.result.response" : "data.result.response");
        SIM_PROBE_SET(r->expected, "a non-empty string");
        return SIM_GOLDEN_FAIL;
    }
    return SIM_GOLDEN_PASS;
}

/* Event k's place in the sequence. */
static sim_golden_step check_order(sim_golden_check *c, int k, sim_probe_result *r) {
    const char *type = event_names[k];
    if (c->seen[k]) {
        int dup = k == c->last;
        sim_probe_fail(r, "event", dup ? "duplicated" : "out_of_order",
                       dup ? "%s duplicated (first at event %d)" : "%s again (first at event %d)",
                       type, c->seen[k]);
        SIM_PROBE_SET(r->expected, expected_next(c));
        SIM_PROBE_SET(r->got, type);
        return SIM_GOLDEN_FAIL;
    }
    if (k < c->next) {
        /* Skipped earlier and here now: late, not missing. */
        report_gap(c, r);
        sim_probe_fail(r, "event", "out_of_order", "%s arrived late, at event %d", type, c->ordinal);
        return SIM_GOLDEN_FAIL;
    }
    if (k > c->next && !c->gap_ordinal) {
        c->gap_ordinal = c->ordinal;
        c->gap_expected = c->next;
        c->gap_got = k;
    }
    c->seen[k] = c->ordinal;
    c->last = k;
    c->next = k + 1;
    if (k == EV_TOOL_EXECUTING) c->tool_executing++;
    if (k == EV_TOOL_COMPLETED) c->tool_completed++;
    return SIM_GOLDEN_MORE;
}

static sim_golden_step on_event(sim_golden_check *c, const cJSON *j, const char *type,
                                sim_probe_result *r) {
    if (in_list(type, error_types, sizeof(error_types) / sizeof(*error_types))) {
        char what[192];
        describe_error(j, type, what, sizeof(what));
        sim_probe_fail(r, "event", "error_frame", "%s", what);
        SIM_PROBE_SET(r->expected, expected_next(c));
        SIM_PROBE_SET(r->got, type);
        return SIM_GOLDEN_FAIL;
    }
    int k = event_index(type);
    if (k < 0) {
        sim_probe_fail(r, "event", "unexpected", "unexpected frame %s", type);
        SIM_PROBE_SET(r->expected, expected_next(c));
        SIM_PROBE_SET(r->got, type);
        return SIM_GOLDEN_FAIL;
    }
    const cJSON *inner = NULL;
    sim_golden_step step = check_fields(c, j, k, &inner, r);
    if (step == SIM_GOLDEN_MORE) step = check_order(c, k, r);
    if (step == SIM_GOLDEN_MORE && k == EV_COMPLETED)
        step = on_completed(c, inner, !obj_member(j, "data"), r);
    return step;
}

sim_golden_step sim_golden_check_frame(sim_golden_check *c, const char *text, size_t len,
                                       sim_probe_result *r) {
    sim_assert(!c->finished);
    const char *stage = c->welcomed ? "event" : "welcome";
    cJSON *j = cJSON_ParseWithLength(text, len);
    const char *type = cJSON_IsObject(j) ? str_member(j, "type") : NULL;
    sim_golden_step step;
    if (type && in_list(type, keepalive_types, sizeof(keepalive_types) / sizeof(*keepalive_types))) {
        cJSON_Delete(j);
        return SIM_GOLDEN_MORE;
    }
    if (c->welcomed) r->event_ordinal = ++c->ordinal;
    if (!cJSON_IsObject(j)) {
        char start[48];
        snprintf(start, sizeof(start), "%.*s", (int)(len < 40 ? len : 40), text);
        sim_probe_fail(r, stage, "malformed", "frame is not a JSON object");
        SIM_PROBE_SET(r->expected, "a JSON object");
        SIM_PROBE_SET(r->got, start);
        step = SIM_GOLDEN_FAIL;
    } else if (!type || !*type) {
        step = fail_malformed(r, stage, "frame", "type", "a non-empty string", "");
    } else {
        step = c->welcomed ? on_event(c, j, type, r) : on_welcome(c, j, type, r);
    }
    cJSON_Delete(j);
    if (step != SIM_GOLDEN_FAIL) r->event_ordinal = 0;
    if (step == SIM_GOLDEN_PASS || step == SIM_GOLDEN_FAIL) c->finished = 1;
    return step;
}

/* The stream ended before agent_completed, as `how` says ("close 1011
 * \"Internal error\"", "timeout after 10000 ms"): an event skipped before
 * is missing; else the failure is the end itself, at the frame that was due. */
static void cut_short(sim_golden_check *c, const char *stage, const char *failure,
                      const char *how, sim_probe_result *r) {
    c->finished = 1;
    if (c->gap_ordinal) {
        report_gap(c, r);
        sim_probe_fail(r, "event", "missing", "%s missing, then %s", event_names[c->gap_expected],
                       how);
        return;
    }
    sim_probe_fail(r, stage, failure, "%s", how);
    r->event_ordinal = c->welcomed ? c->ordinal + 1 : 0;
    SIM_PROBE_SET(r->expected, c->welcomed ? expected_next(c) : WELCOME);
}

void sim_golden_check_closed(sim_golden_check *c, int code, const char *reason,
                             sim_probe_result *r) {
    r->close_code = code;
    SIM_PROBE_SET(r->close_reason, reason);
    char how[160];
    snprintf(how, sizeof(how), "close %d \"%s\"", code, r->close_reason);
    cut_short(c, "close", "closed", how, r);
}

void sim_golden_check_timeout(sim_golden_check *c, int64_t timeout_ms, sim_probe_result *r) {
    char how[64];
    snprintf(how, sizeof(how), "timeout after %lld ms", (long long)timeout_ms);
    cut_short(c, "timeout", "timeout", how, r);
}
