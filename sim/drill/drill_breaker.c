/* drill_breaker.c -- a step's breaker: attempt outcomes in, journal lines of
 * its transitions out, in the form the backend's breakers write. */
#include "drill_breaker.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stagesim_breaker.h"
#include "utf8.h"
#include "util.h"

struct sim_drill_breaker {
    stagesim_breaker *b;
    char *name;
    int64_t start_ms;
    char **lines;
    size_t n;
};

/* "HALF_OPEN" -> "half_open", the journal's spelling. */
static void lower_name(stagesim_breaker_state s, char *out, size_t outlen) {
    snprintf(out, outlen, "%s", stagesim_breaker_state_name(s));
    for (char *p = out; *p; p++) *p = (char)tolower((unsigned char)*p);
}

static void on_change(void *ctx, stagesim_breaker_state from, stagesim_breaker_state to,
                      int64_t eligible_ms, int64_t observed_ms, stagesim_breaker_reason reason) {
    sim_drill_breaker *d = ctx;
    char f[16], t[16];
    lower_name(from, f, sizeof(f));
    lower_name(to, t, sizeof(t));
    sim_buf line = {0};
    sim_buf_printf(&line, "{\"t_ms\":%lld,\"svc\":\"drill\",\"event\":\"breaker\"",
                   (long long)(observed_ms - d->start_ms));
    sim_json_member(&line, "breaker", d->name);
    sim_buf_printf(&line, ",\"from\":\"%s\",\"to\":\"%s\",\"eligible_ms\":%lld,\"reason\":\"%s\"}",
                   f, t, (long long)(eligible_ms - d->start_ms), stagesim_breaker_reason_name(reason));
    d->lines = sim_xrealloc(d->lines, (d->n + 1) * sizeof(char *));
    d->lines[d->n++] = line.data;
}

sim_drill_breaker *sim_drill_breaker_new(const char *spec, const char *name, int64_t start_ms) {
    stagesim_breaker_config cfg;
    char err[160];
    sim_assert(stagesim_breaker_config_parse(spec, &cfg, err, sizeof(err)) == 0);
    sim_drill_breaker *d = sim_xcalloc(1, sizeof(*d));
    d->name = sim_xstrdup(name);
    d->start_ms = start_ms;
    d->b = stagesim_breaker_new(&cfg, name, on_change, d);
    sim_assert(d->b);
    return d;
}

void sim_drill_breaker_free(sim_drill_breaker *d) {
    if (!d) return;
    stagesim_breaker_free(d->b);
    for (size_t i = 0; i < d->n; i++) free(d->lines[i]);
    free(d->lines);
    free(d->name);
    free(d);
}

void sim_drill_breaker_outcome(sim_drill_breaker *d, int64_t now_ms, int ok, int64_t latency_ms) {
    stagesim_breaker_permit p;
    if (!stagesim_breaker_acquire(d->b, now_ms, &p)) return;   /* counted as not permitted */
    stagesim_breaker_record(d->b, &p, ok ? STAGESIM_BREAKER_SUCCESS : STAGESIM_BREAKER_FAILURE,
                            latency_ms > 0 ? latency_ms : 0, now_ms);
}

size_t sim_drill_breaker_lines(const sim_drill_breaker *d, char *const **lines) {
    *lines = d->lines;
    return d->n;
}
