/* probe_attempt.c -- what a probe kind calls on its attempt: the verdict,
 * and the time. Apart from probe_run.c so that the kinds, which the runner
 * starts from its table, do not call back into the runner. */
#include "probe_int.h"

int64_t probe_now_ms(const sim_probe_run *run) {
    return sim_clock_now_ms(run->clock, ev_now(run->loop));
}

void probe_attempt_finish(probe_attempt *a) {
    if (a->finished) return;
    sim_probe_run *run = a->run;
    a->finished = 1;
    ev_timer_stop(run->loop, &a->timeout);
    int64_t now = probe_now_ms(run);
    a->res.latency_ms = now - a->start_ms;
    run->results[run->finished++] = a->res;
    run->last_verdict_ms = now;
    run->on_result(run->ctx, &a->res);
    /* After the verdict, so that a transition it causes reads after it. */
    if (a->permitted) probe_breaker_record(run->breaker, &a->permit, a->res.ok, a->res.latency_ms);
    if (run->breaker && run->finished == run->opt.count) probe_breaker_stop(run->breaker);
    /* The runner's reap timer releases the kind's state from the loop. */
    ev_timer_start(run->loop, &a->reap);
}
