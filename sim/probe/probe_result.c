/* probe_result.c -- an attempt's verdict as a human line and as JSON, and
 * the summary of a run (docs/probes.md). */
#include "probe_result.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void sim_probe_result_line(const sim_probe_result *r, sim_buf *out) {
    if (r->ok) {
        sim_buf_printf(out, "attempt %d: ok (%lld ms)", r->attempt, (long long)r->latency_ms);
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
    int64_t *ms = sim_xmalloc(n * sizeof(*ms));
    for (size_t i = 0; i < n; i++) {
        ms[i] = results[i].latency_ms;
        if (results[i].ok) s->passed++;
        else s->failed++;
    }
    qsort(ms, n, sizeof(*ms), cmp_ms);
    s->p50_ms = rank(ms, n, 50);
    s->p95_ms = rank(ms, n, 95);
    s->max_ms = ms[n - 1];
    free(ms);
}

void sim_probe_summary_line(const sim_probe_summary *s, const char *probe, sim_buf *out) {
    sim_buf_printf(out, "%s: %d passed, %d failed of %d; latency p50 %lld ms, p95 %lld ms, "
                        "max %lld ms; %.1f s",
                   probe, s->passed, s->failed, s->attempts, (long long)s->p50_ms,
                   (long long)s->p95_ms, (long long)s->max_ms, (double)s->elapsed_ms / 1000.0);
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
    print_json(j, out);
}
