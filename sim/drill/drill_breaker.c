/* drill_breaker.c -- a step's breaker: attempt outcomes in, journal lines of
 * its transitions out, in the form the backend's breakers write. */
#include "drill_breaker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaker_line.h"
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

static void on_change(void *ctx, stagesim_breaker_state from, stagesim_breaker_state to,
                      int64_t eligible_ms, int64_t observed_ms, stagesim_breaker_reason reason) {
    sim_drill_breaker *d = ctx;
    sim_buf line = {0};
    sim_buf_printf(&line, "{\"t_ms\":%lld,\"svc\":\"drill\",\"event\":\"breaker\"",
                   (long long)(observed_ms - d->start_ms));
    sim_breaker_line_members(&line, d->name, from, to, eligible_ms - d->start_ms, reason);
    sim_buf_printf(&line, "}");
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
