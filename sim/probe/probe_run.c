/* probe_run.c -- a probe run: `count` attempts of one kind, `concurrency`
 * of them in flight on the loop, each bounded by an ev_timer, each verdict
 * reported as it comes, and the summary once every connection has closed.
 *
 * An attempt's life: started by its slot, finished by its kind (or by its
 * timeout) through probe_attempt.c, reaped from a 0 s timer after the
 * verdict (the kind's state is released outside the library callback the
 * verdict came from), then its slot starts the next one `interval` after
 * the previous start. Behind a breaker (probe_breaker.c) an attempt asks
 * it first; a refused one is not started and has its verdict at once. */
#include "probe_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define DRAIN_GRACE_MS 2000   /* closing connections waited for at the end */

static const probe_kind *const kinds[] = {
    &sim_probe_kind_health, &sim_probe_kind_golden, &sim_probe_kind_auth, &sim_probe_kind_redis,
};

typedef struct probe_slot {
    sim_probe_run *run;
    probe_attempt *current;   /* NULL between attempts */
    int64_t last_start_ms;
    ev_timer wait;            /* until the next start is due */
} probe_slot;

void sim_probe_options_default(sim_probe_options *o) {
    memset(o, 0, sizeof(*o));
    o->count = 1;
    o->concurrency = 1;
    o->timeout_ms = 10000;
    o->status = 200;
    o->max_latency_ms = -1;
    o->email = "alice@example.com";
    o->token_source = "query";
    o->ws_path = "/ws";
}

static void slot_next(probe_slot *slot);

static void on_drained(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    sim_probe_run *run = t->data;
    ev_timer_stop(loop, t);
    if (!run->draining) return;   /* both the grace and the idle feed came */
    run->draining = 0;
    if (run->net) probe_net_when_idle(run->net, NULL);   /* the grace came first */
    sim_probe_summary s;
    sim_probe_summarize(run->results, (size_t)run->finished,
                        run->last_verdict_ms - run->first_start_ms, &s);
    if (run->breaker) probe_breaker_summarize(run->breaker, &s);
    run->done(run->ctx, &s);
}

/* Every attempt is reaped: wait for the connections still closing (polite
 * WebSocket closes), at most DRAIN_GRACE_MS, then report the summary. */
static void begin_drain(sim_probe_run *run) {
    run->draining = 1;
    ev_timer_set(&run->drain, sim_clock_wait_s(run->clock, DRAIN_GRACE_MS), 0.0);
    ev_timer_start(run->loop, &run->drain);
    if (run->net) probe_net_when_idle(run->net, &run->drain);
    else ev_feed_event(run->loop, &run->drain, EV_TIMER);
}

static void attempt_free(probe_attempt *a) {
    ev_timer_stop(a->run->loop, &a->timeout);
    ev_timer_stop(a->run->loop, &a->reap);
    if (a->state) a->run->kind->release(a->state);
    a->slot->current = NULL;
    free(a);
}

static void on_reap(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    probe_attempt *a = t->data;
    probe_slot *slot = a->slot;
    attempt_free(a);
    slot_next(slot);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    probe_attempt *a = t->data;
    a->run->kind->timed_out(a->state, &a->res);
    probe_attempt_finish(a);
}

static void attempt_start(probe_slot *slot) {
    sim_probe_run *run = slot->run;
    probe_attempt *a = sim_xcalloc(1, sizeof(*a));
    a->run = run;
    a->slot = slot;
    sim_probe_result_init(&a->res, ++run->started);
    a->start_ms = slot->last_start_ms = probe_now_ms(run);
    if (run->started == 1) run->first_start_ms = a->start_ms;
    slot->current = a;
    ev_timer_init(&a->timeout, on_timeout, sim_clock_wait_s(run->clock, run->opt.timeout_ms), 0.0);
    a->timeout.data = a;
    ev_timer_init(&a->reap, on_reap, 0.0, 0.0);
    a->reap.data = a;
    if (run->breaker) {
        stagesim_breaker_state state;
        if (!probe_breaker_acquire(run->breaker, &a->permit, &state)) {
            /* Not sent: the verdict now, the slot's next attempt from the
             * reap timer, as after any other verdict. */
            sim_probe_refuse(&a->res, state);
            probe_attempt_finish(a);
            return;
        }
        a->permitted = 1;
    }
    ev_timer_start(run->loop, &a->timeout);
    a->state = run->kind->start(a);
}

static void on_slot_due(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    attempt_start(t->data);
}

/* The slot is free: its next attempt now or when the interval says, or
 * the end of the run when every attempt has been started and reaped. */
static void slot_next(probe_slot *slot) {
    sim_probe_run *run = slot->run;
    if (run->started >= run->opt.count) {
        for (int i = 0; i < run->opt.concurrency; i++)
            if (run->slots[i].current) return;
        begin_drain(run);
        return;
    }
    int64_t wait = slot->last_start_ms + run->opt.interval_ms - probe_now_ms(run);
    if (wait > 0) {
        ev_timer_set(&slot->wait, sim_clock_wait_s(run->clock, wait), 0.0);
        ev_timer_start(run->loop, &slot->wait);
        return;
    }
    attempt_start(slot);
}

static const probe_kind *find_kind(const char *name) {
    for (size_t i = 0; name && i < sizeof(kinds) / sizeof(*kinds); i++)
        if (strcmp(kinds[i]->name, name) == 0) return kinds[i];
    return NULL;
}

static int check_options(const sim_probe_options *o, char *err, size_t errlen) {
    if (o->count < 1) snprintf(err, errlen, "--count: must be >= 1");
    else if (o->concurrency < 1) snprintf(err, errlen, "--concurrency: must be >= 1");
    else if (o->interval_ms < 0) snprintf(err, errlen, "--interval: must be >= 0");
    else if (o->timeout_ms < 1) snprintf(err, errlen, "--timeout-ms: must be >= 1");
    else if (o->cacert && access(o->cacert, R_OK) != 0)
        snprintf(err, errlen, "--cacert: cannot read %s", o->cacert);
    else if (!o->breaker || probe_breaker_check(o->breaker, err, errlen) == 0) return 0;
    return -1;
}

sim_probe_run *sim_probe_start(struct ev_loop *loop, const sim_probe_options *o,
                               sim_probe_result_fn on_result, sim_probe_done_fn done, void *ctx,
                               char *err, size_t errlen, int *exit_code) {
    *exit_code = 2;
    const probe_kind *kind = find_kind(o->probe);
    if (!kind) {
        snprintf(err, errlen, "unknown probe '%s' (health, golden-path, auth or redis)",
                 o->probe ? o->probe : "");
        return NULL;
    }
    probe_target target;
    memset(&target, 0, sizeof(target));
    if (check_options(o, err, errlen) < 0 || kind->prepare(o, &target, err, errlen) < 0)
        return NULL;
    *exit_code = 1;
    probe_net *net = NULL;
    if (kind->uses_lws && !(net = probe_net_new(loop, o->cacert, err, errlen))) return NULL;

    sim_probe_run *run = sim_xmalloc(sizeof(*run));
    /* Making the lws context takes tens of milliseconds (its plugin, TLS):
     * the first attempt's clock must not start before that. */
    ev_now_update(loop);
    *run = (sim_probe_run){.loop = loop, .opt = *o, .kind = kind, .target = target, .net = net,
                           .on_result = on_result, .done = done, .ctx = ctx};
    if (run->opt.concurrency > run->opt.count) run->opt.concurrency = run->opt.count;
    sim_clock_init(&run->own_clock, ev_now(loop), 1.0);
    run->clock = o->clock ? o->clock : &run->own_clock;
    if (o->breaker)
        run->breaker = probe_breaker_new(o->breaker, kind->name, loop, run->clock,
                                         probe_now_ms(run), o->on_breaker, ctx);
    run->results = sim_xcalloc((size_t)run->opt.count, sizeof(*run->results));
    run->slots = sim_xcalloc((size_t)run->opt.concurrency, sizeof(*run->slots));
    ev_init(&run->drain, on_drained);
    run->drain.data = run;
    /* Every slot starts from the loop, so that no callback runs before
     * this returns. */
    for (int i = 0; i < run->opt.concurrency; i++) {
        probe_slot *slot = &run->slots[i];
        slot->run = run;
        ev_timer_init(&slot->wait, on_slot_due, 0.0, 0.0);
        slot->wait.data = slot;
        ev_timer_start(loop, &slot->wait);
    }
    return run;
}

void sim_probe_free(sim_probe_run *run) {
    if (!run) return;
    for (int i = 0; i < run->opt.concurrency; i++) {
        probe_slot *slot = &run->slots[i];
        ev_timer_stop(run->loop, &slot->wait);
        if (slot->current) attempt_free(slot->current);
    }
    /* The context's destroy may still feed the drain timer (the last
     * connection gone): stop it, which also clears that, afterwards. */
    probe_net_free(run->net);
    ev_timer_stop(run->loop, &run->drain);
    probe_breaker_free(run->breaker);
    free(run->slots);
    free(run->results);
    free(run);
}
