/* dep_breaker.c -- a dependency's breaker on the loop (dep_breaker.h). The
 * breaker decides; this file gives it the time, a timer for the
 * transitions it makes by itself, and the journal. */
#include "dep_breaker.h"

#include <ev.h>
#include <stdlib.h>

#include "breaker_line.h"
#include "fault.h"
#include "util.h"

struct sim_dep_breaker {
    struct ev_loop *loop;
    const sim_clock *clock;
    sim_faults *faults;
    stagesim_breaker *b;
    stagesim_breaker_config cfg;
    ev_timer deadline;          /* a transition the breaker makes by itself */
    ev_timer tell;              /* the owner hears of a transition from here */
    stagesim_breaker_state told;
    int64_t last_ms;            /* the latest now_ms handed to the breaker */
    sim_dep_breaker_cb cb;
    void *ctx;
};

/* Never behind the last time the breaker saw: the loop's time follows the
 * wall clock, which can be stepped back, and the breaker's windows and
 * waits only count forward (breaker.c asserts it). */
static int64_t now_ms(sim_dep_breaker *d) {
    int64_t now = sim_clock_now_ms(d->clock, ev_now(d->loop));
    if (now < d->last_ms) now = d->last_ms;
    return d->last_ms = now;
}

static void on_change(void *ctx, stagesim_breaker_state from, stagesim_breaker_state to,
                      int64_t eligible_ms, int64_t observed_ms, stagesim_breaker_reason reason) {
    sim_dep_breaker *d = ctx;
    sim_buf m = {0};
    sim_breaker_line_members(&m, stagesim_breaker_name(d->b), from, to,
                             eligible_ms - (d->faults ? sim_faults_start_ms(d->faults) : 0), reason);
    sim_faults_journal_event(d->faults, observed_ms, SIM_SVC_BACKEND, "breaker", m.data + 1);
    free(m.data);
    sim_info("backend: %s breaker %s -> %s (%s)", stagesim_breaker_name(d->b),
             sim_breaker_state_lower(from), sim_breaker_state_lower(to),
             stagesim_breaker_reason_name(reason));
    d->told = to;
    /* Inside the breaker's call: the owner may not call back in now. */
    if (d->cb) ev_feed_event(d->loop, &d->tell, EV_TIMER);
}

static void arm(sim_dep_breaker *d) {
    int64_t due = stagesim_breaker_deadline(d->b);
    ev_timer_stop(d->loop, &d->deadline);
    if (due < 0) return;
    ev_timer_set(&d->deadline, sim_clock_wait_s(d->clock, due - now_ms(d)), 0.);
    ev_timer_start(d->loop, &d->deadline);
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    sim_dep_breaker *d = t->data;
    stagesim_breaker_tick(d->b, now_ms(d));
    arm(d);
}

static void on_tell(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    sim_dep_breaker *d = t->data;
    d->cb(d->ctx, d->told);
}

sim_dep_breaker *sim_dep_breaker_new(struct ev_loop *loop, const sim_clock *clock,
                                     sim_faults *faults, const char *name,
                                     const stagesim_breaker_config *cfg, sim_dep_breaker_cb cb,
                                     void *ctx) {
    sim_dep_breaker *d = sim_xcalloc(1, sizeof(*d));
    d->loop = loop;
    d->clock = clock;
    d->faults = faults;
    d->cfg = *cfg;
    d->cb = cb;
    d->ctx = ctx;
    d->b = stagesim_breaker_new(cfg, name, on_change, d);
    sim_assert(d->b);
    ev_timer_init(&d->deadline, on_deadline, 0., 0.);
    ev_init(&d->tell, on_tell);
    d->deadline.data = d->tell.data = d;
    return d;
}

void sim_dep_breaker_free(sim_dep_breaker *d) {
    if (!d) return;
    ev_timer_stop(d->loop, &d->deadline);
    ev_clear_pending(d->loop, &d->tell);
    stagesim_breaker_free(d->b);
    free(d);
}

int sim_dep_breaker_acquire(sim_dep_breaker *d, stagesim_breaker_permit *p) {
    int ok = stagesim_breaker_acquire(d->b, now_ms(d), p);
    arm(d);
    return ok;
}

void sim_dep_breaker_record(sim_dep_breaker *d, stagesim_breaker_permit *p, int ok,
                            int64_t started_ms) {
    int64_t now = now_ms(d);
    stagesim_breaker_record(d->b, p, ok ? STAGESIM_BREAKER_SUCCESS : STAGESIM_BREAKER_FAILURE,
                            now > started_ms ? now - started_ms : 0, now);
    arm(d);
}

stagesim_breaker_state sim_dep_breaker_state(sim_dep_breaker *d) {
    stagesim_breaker_state s = stagesim_breaker_state_at(d->b, now_ms(d));
    arm(d);
    return s;
}

cJSON *sim_dep_breaker_json(sim_dep_breaker *d) {
    stagesim_breaker_metrics m;
    stagesim_breaker_state s = sim_dep_breaker_state(d);
    stagesim_breaker_metrics_at(d->b, now_ms(d), &m);
    const stagesim_breaker_config *c = &d->cfg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", stagesim_breaker_name(d->b));
    cJSON_AddStringToObject(o, "state", stagesim_breaker_state_health(s));
    cJSON_AddNumberToObject(o, "failure_count",
                            (double)(c->consecutive_failures ? m.consecutive_failures
                                                             : m.failed_calls));
    if (c->consecutive_failures)
        cJSON_AddNumberToObject(o, "failure_threshold", c->consecutive_failures);
    else
        cJSON_AddNumberToObject(o, "failure_rate_threshold", c->failure_rate_threshold);
    cJSON_AddNumberToObject(o, "recovery_timeout", (double)c->wait_duration_in_open_state_ms / 1000.0);
    cJSON_AddNumberToObject(o, "success_threshold", c->success_threshold);
    cJSON_AddNumberToObject(o, "half_open_max_calls", c->permitted_number_of_calls_in_half_open_state);
    cJSON_AddNumberToObject(o, "not_permitted_calls", (double)m.not_permitted_calls);
    return o;
}
