/* probe_result.c -- an attempt's verdict as a human line and as JSON, and
 * the summary of a run (docs/probes.md). */
#include "probe_result.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaker_line.h"
#include "utf8.h"

void sim_probe_result_init(sim_probe_result *r, int attempt) {
    memset(r, 0, sizeof(*r));
    r->attempt = attempt;
}

void sim_probe_set(char *dst, size_t dst_size, const char *src) {
    snprintf(dst, dst_size, "%s", src ? src : "");
}

void sim_probe_fail(sim_probe_result *r, const char *stage, const char *failure,
                    const char *fmt, ...) {
    r->ok = 0;
    SIM_PROBE_SET(r->stage, stage);
    SIM_PROBE_SET(r->failure, failure);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
}

void sim_probe_refuse(sim_probe_result *r, stagesim_breaker_state s) {
    if (s == STAGESIM_BREAKER_HALF_OPEN)
        sim_probe_fail(r, "breaker", "not_permitted",
                       "not sent, the breaker is half_open with its trial calls in flight");
    else
        sim_probe_fail(r, "breaker", "not_permitted", "not sent, the breaker is %s",
                       sim_breaker_state_lower(s));
    r->refused = 1;
}

void sim_probe_result_line(const sim_probe_result *r, sim_buf *out) {
    if (r->ok) {
        sim_buf_printf(out, "attempt %d: ok (%lld ms)", r->attempt, (long long)r->latency_ms);
        return;
    }
    if (r->refused) {
        sim_buf_printf(out, "attempt %d: REFUSED: %s", r->attempt, r->detail);
        return;
    }
    sim_buf_printf(out, "attempt %d: FAIL at ", r->attempt);
    if (r->event_ordinal) sim_buf_printf(out, "event %d", r->event_ordinal);
    else sim_buf_puts(out, r->stage);
    sim_buf_printf(out, ": %s", r->detail);
    if (r->expected[0]) {
        sim_buf_printf(out, " (expected %s", r->expected);
        if (r->got[0]) sim_buf_printf(out, ", got %s", r->got);
        sim_buf_puts(out, ")");
    }
}

/* A text member, null when empty: absent and empty mean the same here. */
static void add_text(cJSON *j, const char *key, const char *s) {
    if (s[0]) cJSON_AddStringToObject(j, key, s);
    else cJSON_AddNullToObject(j, key);
}

static void add_count(cJSON *j, const char *key, int v) {
    if (v) cJSON_AddNumberToObject(j, key, v);
    else cJSON_AddNullToObject(j, key);
}

static void print_json(cJSON *j, sim_buf *out) {
    char *s = cJSON_PrintUnformatted(j);
    sim_assert(s);
    sim_buf_puts(out, s);
    free(s);
    cJSON_Delete(j);
}

/* {"type": type, "probe": probe}, to add to. */
static cJSON *new_object(const char *type, const char *probe) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", type);
    cJSON_AddStringToObject(j, "probe", probe);
    return j;
}

void sim_probe_result_json(const sim_probe_result *r, const char *probe, sim_buf *out) {
    cJSON *j = new_object("attempt", probe);
    cJSON_AddNumberToObject(j, "attempt", r->attempt);
    cJSON_AddBoolToObject(j, "ok", r->ok);
    add_text(j, "stage", r->stage);
    add_text(j, "failure", r->failure);
    add_text(j, "expected", r->expected);
    add_text(j, "got", r->got);
    add_text(j, "field", r->field);
    add_count(j, "http_status", r->http_status);
    add_count(j, "close_code", r->close_code);
    /* A close with no reason has "" as its reason, not null. */
    if (r->close_code) cJSON_AddStringToObject(j, "close_reason", r->close_reason);
    else cJSON_AddNullToObject(j, "close_reason");
    add_count(j, "event_ordinal", r->event_ordinal);
    cJSON_AddNumberToObject(j, "latency_ms", (double)r->latency_ms);
    add_text(j, "detail", r->detail);
    print_json(j, out);
}

/* The reason in words, with the numbers of the rule that applied. */
static void reason_words(const sim_probe_transition *t, sim_buf *out) {
    const stagesim_breaker_config *c = t->cfg;
    switch (t->reason) {
    case STAGESIM_BREAKER_REASON_CONSECUTIVE_FAILURES:
        sim_buf_printf(out, "%d consecutive failure%s", c->consecutive_failures,
                       c->consecutive_failures == 1 ? "" : "s");
        return;
    case STAGESIM_BREAKER_REASON_FAILURE_RATE:
        sim_buf_printf(out, "failure rate >= %g %%", c->failure_rate_threshold);
        return;
    case STAGESIM_BREAKER_REASON_SLOW_CALL_RATE:
        sim_buf_printf(out, "slow-call rate >= %g %%, slow meaning > %lld ms",
                       c->slow_call_rate_threshold, (long long)c->slow_call_duration_threshold_ms);
        return;
    case STAGESIM_BREAKER_REASON_HALF_OPEN_FAILURE:
        sim_buf_puts(out, "a trial call failed");
        return;
    case STAGESIM_BREAKER_REASON_SUCCESS_THRESHOLD:
        if (c->success_threshold == 1) sim_buf_puts(out, "a trial call passed");
        else sim_buf_printf(out, "%d trial calls passed in a row", c->success_threshold);
        return;
    case STAGESIM_BREAKER_REASON_BELOW_THRESHOLDS:
        sim_buf_puts(out, "the trial calls' rates below the thresholds");
        return;
    case STAGESIM_BREAKER_REASON_WAIT_ELAPSED:
        sim_buf_printf(out, "waited %lld ms, due at %lld ms",
                       (long long)c->wait_duration_in_open_state_ms, (long long)t->eligible_ms);
        return;
    case STAGESIM_BREAKER_REASON_MAX_WAIT_ELAPSED:
        sim_buf_printf(out, "%lld ms half-open without a verdict, due at %lld ms",
                       (long long)c->max_wait_duration_in_half_open_state_ms,
                       (long long)t->eligible_ms);
        return;
    case STAGESIM_BREAKER_REASON_MANUAL:
        break;
    }
    sim_buf_puts(out, stagesim_breaker_reason_name(t->reason));
}

void sim_probe_transition_line(const sim_probe_transition *t, sim_buf *out) {
    sim_buf_printf(out, "breaker %s -> %s at %lld ms (", sim_breaker_state_lower(t->from),
                   sim_breaker_state_lower(t->to), (long long)t->t_ms);
    reason_words(t, out);
    sim_buf_puts(out, ")");
}

void sim_probe_transition_json(const sim_probe_transition *t, const char *probe, sim_buf *out) {
    sim_buf_puts(out, "{\"type\":\"breaker\"");
    sim_json_member(out, "probe", probe);
    sim_buf_printf(out, ",\"t_ms\":%lld,\"svc\":\"probe\",\"event\":\"breaker\"",
                   (long long)t->t_ms);
    sim_breaker_line_members(out, t->breaker, t->from, t->to, t->eligible_ms, t->reason);
    sim_buf_puts(out, "}");
}

static int cmp_ms(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least pct % of values at or below it. */
static int64_t rank(const int64_t *sorted, size_t n, int pct) {
    size_t k = (n * (size_t)pct + 99) / 100;
    return sorted[k ? k - 1 : 0];
}

void sim_probe_summarize(const sim_probe_result *results, size_t n, int64_t elapsed_ms,
                         sim_probe_summary *s) {
    memset(s, 0, sizeof(*s));
    s->attempts = (int)n;
    s->elapsed_ms = elapsed_ms;
    if (!n) return;
    /* A refused attempt took no time: its 0 would only hide the sent ones'. */
    int64_t *ms = sim_xmalloc(n * sizeof(*ms));
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (results[i].ok) s->passed++;
        else s->failed++;
        if (results[i].refused) s->refused++;
        else ms[sent++] = results[i].latency_ms;
    }
    if (sent) {
        qsort(ms, sent, sizeof(*ms), cmp_ms);
        s->p50_ms = rank(ms, sent, 50);
        s->p95_ms = rank(ms, sent, 95);
        s->max_ms = ms[sent - 1];
    }
    free(ms);
}

void sim_probe_summary_line(const sim_probe_summary *s, const char *probe, sim_buf *out) {
    sim_buf_printf(out, "%s: %d passed, %d failed of %d; latency p50 %lld ms, p95 %lld ms, "
                        "max %lld ms; %.1f s",
                   probe, s->passed, s->failed, s->attempts, (long long)s->p50_ms,
                   (long long)s->p95_ms, (long long)s->max_ms, (double)s->elapsed_ms / 1000.0);
    if (s->breaker)
        sim_buf_printf(out, "\nbreaker: %s at the end; %d attempt%s sent, %d refused; "
                            "%d transition%s",
                       sim_breaker_state_lower(s->breaker_state), s->attempts - s->refused,
                       s->attempts - s->refused == 1 ? "" : "s", s->refused, s->transitions,
                       s->transitions == 1 ? "" : "s");
}

void sim_probe_summary_json(const sim_probe_summary *s, const char *probe, sim_buf *out) {
    cJSON *j = new_object("summary", probe);
    cJSON_AddNumberToObject(j, "attempts", s->attempts);
    cJSON_AddNumberToObject(j, "passed", s->passed);
    cJSON_AddNumberToObject(j, "failed", s->failed);
    cJSON *lat = cJSON_AddObjectToObject(j, "latency_ms");
    cJSON_AddNumberToObject(lat, "p50", (double)s->p50_ms);
    cJSON_AddNumberToObject(lat, "p95", (double)s->p95_ms);
    cJSON_AddNumberToObject(lat, "max", (double)s->max_ms);
    cJSON_AddNumberToObject(j, "elapsed_ms", (double)s->elapsed_ms);
    if (s->breaker) {
        cJSON *b = cJSON_AddObjectToObject(j, "breaker");
        cJSON_AddStringToObject(b, "state", sim_breaker_state_lower(s->breaker_state));
        cJSON_AddNumberToObject(b, "permitted", s->attempts - s->refused);
        cJSON_AddNumberToObject(b, "refused", s->refused);
        cJSON_AddNumberToObject(b, "transitions", s->transitions);
    } else {
        cJSON_AddNullToObject(j, "breaker");
    }
    print_json(j, out);
}
