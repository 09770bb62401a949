/* probe_breaker.c -- a probe run's breaker (probe_breaker.h): the pure
 * breaker of stagesim_breaker.h driven by the run's clock. */
#include "probe_breaker.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

struct probe_breaker {
    stagesim_breaker *b;
    stagesim_breaker_config cfg;
    const char *name;
    struct ev_loop *loop;
    const sim_clock *clock;
    int64_t start_ms;
    int64_t last_ms;            /* the breaker's time never goes back, even if the loop's does */
    stagesim_breaker_state state;  /* after the latest transition */
    int transitions;
    int finished;               /* the last verdict is in: the timer stays off */
    sim_probe_breaker_fn cb;
    void *ctx;
    ev_timer due;               /* the breaker's own deadline, when it has one */
};

int probe_breaker_check(const char *spec, char *err, size_t errlen) {
    stagesim_breaker_config cfg;
    char why[200];
    if (stagesim_breaker_config_parse(spec, &cfg, why, sizeof(why)) == 0) return 0;
    snprintf(err, errlen, "--breaker: %s", why);
    return -1;
}

static void on_change(void *ctx, stagesim_breaker_state from, stagesim_breaker_state to,
                      int64_t eligible_ms, int64_t observed_ms, stagesim_breaker_reason reason) {
    probe_breaker *pb = ctx;
    pb->state = to;
    pb->transitions++;
    if (!pb->cb) return;
    sim_probe_transition t = {.breaker = pb->name, .from = from, .to = to, .reason = reason,
                              .t_ms = observed_ms - pb->start_ms,
                              .eligible_ms = eligible_ms - pb->start_ms, .cfg = &pb->cfg};
    pb->cb(pb->ctx, &t);
}

static int64_t now_ms(probe_breaker *pb) {
    int64_t now = sim_clock_now_ms(pb->clock, ev_now(pb->loop));
    if (now > pb->last_ms) pb->last_ms = now;
    return pb->last_ms;
}

/* Arms the timer for the breaker's next change by itself, if it has one. */
static void rearm(probe_breaker *pb) {
    ev_timer_stop(pb->loop, &pb->due);
    int64_t deadline = stagesim_breaker_deadline(pb->b);
    if (deadline < 0 || pb->finished) return;
    ev_timer_set(&pb->due, sim_clock_wait_s(pb->clock, deadline - pb->last_ms), 0.0);
    ev_timer_start(pb->loop, &pb->due);
}

static void on_due(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    probe_breaker *pb = t->data;
    stagesim_breaker_tick(pb->b, now_ms(pb));
    rearm(pb);
}

probe_breaker *probe_breaker_new(const char *spec, const char *name, struct ev_loop *loop,
                                 const sim_clock *clock, int64_t start_ms,
                                 sim_probe_breaker_fn cb, void *ctx) {
    probe_breaker *pb = sim_xcalloc(1, sizeof(*pb));
    char err[200];
    sim_assert(stagesim_breaker_config_parse(spec, &pb->cfg, err, sizeof(err)) == 0);
    pb->b = stagesim_breaker_new(&pb->cfg, name, on_change, pb);
    sim_assert(pb->b);
    pb->name = name;
    pb->loop = loop;
    pb->clock = clock;
    pb->start_ms = pb->last_ms = start_ms;
    pb->state = STAGESIM_BREAKER_CLOSED;
    pb->cb = cb;
    pb->ctx = ctx;
    ev_timer_init(&pb->due, on_due, 0.0, 0.0);
    pb->due.data = pb;
    return pb;
}

void probe_breaker_free(probe_breaker *pb) {
    if (!pb) return;
    ev_timer_stop(pb->loop, &pb->due);
    stagesim_breaker_free(pb->b);
    free(pb);
}

int probe_breaker_acquire(probe_breaker *pb, stagesim_breaker_permit *permit,
                          stagesim_breaker_state *state) {
    int permitted = stagesim_breaker_acquire(pb->b, now_ms(pb), permit);
    *state = pb->state;
    rearm(pb);
    return permitted;
}

void probe_breaker_record(probe_breaker *pb, stagesim_breaker_permit *permit, int ok,
                          int64_t latency_ms) {
    stagesim_breaker_record(pb->b, permit, ok ? STAGESIM_BREAKER_SUCCESS : STAGESIM_BREAKER_FAILURE,
                            latency_ms > 0 ? latency_ms : 0, now_ms(pb));
    rearm(pb);
}

void probe_breaker_stop(probe_breaker *pb) {
    pb->finished = 1;
    ev_timer_stop(pb->loop, &pb->due);
}

void probe_breaker_summarize(const probe_breaker *pb, sim_probe_summary *s) {
    s->breaker = 1;
    s->breaker_state = pb->state;
    s->transitions = pb->transitions;
}
