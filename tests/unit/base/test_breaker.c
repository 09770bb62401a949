/* test_breaker.c -- the circuit breaker, time driven by hand through every
 * transition and each boundary docs/breaker.md documents. */
#include <stdlib.h>
#include <string.h>

#include "stagesim_breaker.h"
#include "tap.h"

/* ---- a journal of transitions, and short hands ---- */

typedef struct event {
    stagesim_breaker_state from, to;
    int64_t eligible, observed;
    stagesim_breaker_reason why;
} event;

typedef struct journal {
    event ev[16];
    int n;
} journal;

static void on_change(void *ctx, stagesim_breaker_state from, stagesim_breaker_state to,
                      int64_t eligible_ms, int64_t observed_ms, stagesim_breaker_reason why) {
    journal *j = ctx;
    if (j->n < 16) j->ev[j->n] = (event){from, to, eligible_ms, observed_ms, why};
    j->n++;
}

/* A breaker from a spec that must parse; the test stops if it does not. */
static stagesim_breaker *make(const char *spec, journal *j) {
    stagesim_breaker_config cfg;
    char err[128];
    if (stagesim_breaker_config_parse(spec, &cfg, err, sizeof(err)) != 0) {
        printf("Bail out! spec \"%s\": %s\n", spec, err);
        exit(1);
    }
    memset(j, 0, sizeof(*j));
    return stagesim_breaker_new(&cfg, "test", on_change, j);
}

/* One call made and finished at now_ms; returns whether it was permitted. */
static int call(stagesim_breaker *b, int64_t now_ms, stagesim_breaker_outcome o,
                int64_t took_ms) {
    stagesim_breaker_permit p;
    if (!stagesim_breaker_acquire(b, now_ms, &p)) return 0;
    stagesim_breaker_record(b, &p, o, took_ms, now_ms);
    return 1;
}

static void fails(stagesim_breaker *b, int64_t now_ms, int n) {
    for (int i = 0; i < n; i++) call(b, now_ms, STAGESIM_BREAKER_FAILURE, 1);
}

static stagesim_breaker_state state(stagesim_breaker *b, int64_t now_ms) {
    return stagesim_breaker_state_at(b, now_ms);
}

static stagesim_breaker_metrics metrics(stagesim_breaker *b, int64_t now_ms) {
    stagesim_breaker_metrics m;
    stagesim_breaker_metrics_at(b, now_ms, &m);
    return m;
}

/* The journal's event i is exactly this one. */
static void is_event(const journal *j, int i, stagesim_breaker_state from,
                     stagesim_breaker_state to, int64_t eligible, int64_t observed,
                     stagesim_breaker_reason why, const char *what) {
    const event *e = &j->ev[i];
    int same = i < j->n && e->from == from && e->to == to && e->eligible == eligible &&
               e->observed == observed && e->why == why;
    if (!ok(same, "%s: event %d is %s -> %s (%lld, %lld, %s)", what, i,
            stagesim_breaker_state_name(from), stagesim_breaker_state_name(to),
            (long long)eligible, (long long)observed, stagesim_breaker_reason_name(why)) &&
        i < j->n)
        printf("#   got %s -> %s (%lld, %lld, %s)\n", stagesim_breaker_state_name(e->from),
               stagesim_breaker_state_name(e->to), (long long)e->eligible,
               (long long)e->observed, stagesim_breaker_reason_name(e->why));
}

#define CLOSED STAGESIM_BREAKER_CLOSED
#define OPEN STAGESIM_BREAKER_OPEN
#define HALF_OPEN STAGESIM_BREAKER_HALF_OPEN
#define SUCCESS STAGESIM_BREAKER_SUCCESS
#define FAILURE STAGESIM_BREAKER_FAILURE
#define IGNORED STAGESIM_BREAKER_IGNORED

/* staging's Redis breaker (docs/contract.md §4.2) */
#define REDIS "consecutiveFailures=5,waitDurationInOpenState=60000,successThreshold=2"

/* ---- the tests ---- */

static void test_defaults(void) {
    stagesim_breaker_config c;
    stagesim_breaker_config_init(&c);
    ok(c.failure_rate_threshold == 50, "default failureRateThreshold 50");
    ok(c.slow_call_rate_threshold == 100, "default slowCallRateThreshold 100");
    is_int(c.slow_call_duration_threshold_ms, 60000, "default slowCallDurationThreshold 60 s");
    is_int(c.sliding_window_type, STAGESIM_BREAKER_COUNT_BASED, "default COUNT_BASED");
    is_int(c.sliding_window_size, 100, "default slidingWindowSize 100");
    is_int(c.minimum_number_of_calls, 100, "default minimumNumberOfCalls 100");
    is_int(c.wait_duration_in_open_state_ms, 60000, "default waitDurationInOpenState 60 s");
    is_int(c.permitted_number_of_calls_in_half_open_state, 10, "default permitted 10");
    is_int(c.max_wait_duration_in_half_open_state_ms, 0, "default maxWait 0");
    is_int(c.automatic_transition_from_open_to_half_open_enabled, 0, "default lazy");
    is_int(c.consecutive_failures, 0, "default: rate mode");
    is_int(c.success_threshold, 1, "default successThreshold 1");
}

static void test_consecutive_trip(void) {
    journal j;
    stagesim_breaker *b = make(REDIS, &j);
    fails(b, 100, 4);
    call(b, 100, SUCCESS, 1);
    fails(b, 200, 4);
    is_int(state(b, 200), CLOSED, "4 failures after a success: still CLOSED");
    is_int(metrics(b, 200).consecutive_failures, 4, "the success reset the run");
    fails(b, 300, 1);
    is_int(state(b, 300), OPEN, "the 5th consecutive failure opens it");
    is_int(j.n, 1, "one transition");
    is_event(&j, 0, CLOSED, OPEN, 300, 300, STAGESIM_BREAKER_REASON_CONSECUTIVE_FAILURES,
             "trip");
    stagesim_breaker_free(b);
}

static void test_rate_trip(void) {
    journal j;
    stagesim_breaker *b = make("slidingWindowSize=10,minimumNumberOfCalls=4", &j);
    fails(b, 0, 3);
    is_int(state(b, 0), CLOSED, "3 failures of 3, below minimumNumberOfCalls: CLOSED");
    ok(metrics(b, 0).failure_rate == -1, "no failure rate below the minimum");
    call(b, 0, SUCCESS, 1);
    is_int(state(b, 0), OPEN, "the 4th call makes 75%% >= 50%%: OPEN");
    is_event(&j, 0, CLOSED, OPEN, 0, 0, STAGESIM_BREAKER_REASON_FAILURE_RATE, "rate trip");
    stagesim_breaker_free(b);

    /* The threshold itself trips: 50% of 6. */
    b = make("slidingWindowSize=10,minimumNumberOfCalls=4", &j);
    call(b, 0, FAILURE, 1);
    for (int i = 0; i < 3; i++) call(b, 0, SUCCESS, 1);
    call(b, 0, FAILURE, 1);
    is_int(state(b, 0), CLOSED, "2 of 5 failed (40%%): CLOSED");
    ok(metrics(b, 0).failure_rate == 40, "failure rate 40");
    call(b, 0, FAILURE, 1);
    is_int(state(b, 0), OPEN, "3 of 6 failed (exactly 50%%): OPEN");
    stagesim_breaker_free(b);

    /* A count window caps the minimum at its size (resilience4j). */
    b = make("slidingWindowSize=3", &j);
    fails(b, 0, 2);
    is_int(state(b, 0), CLOSED, "minimum 100 over 3 slots: 2 failures not enough");
    fails(b, 0, 1);
    is_int(state(b, 0), OPEN, "minimum 100 over 3 slots: the 3rd trips");
    stagesim_breaker_free(b);
}

static void test_count_window(void) {
    journal j;
    stagesim_breaker *b =
        make("slidingWindowSize=4,minimumNumberOfCalls=4,failureRateThreshold=75", &j);
    fails(b, 0, 2);
    for (int i = 0; i < 4; i++) call(b, 0, SUCCESS, 1);
    stagesim_breaker_metrics m = metrics(b, 0);
    is_int(m.buffered_calls, 4, "the window holds the last 4");
    is_int(m.failed_calls, 0, "the 2 early failures slid out");
    is_int(m.successful_calls, 4, "4 successes in it");
    fails(b, 0, 2);
    is_int(state(b, 0), CLOSED, "S S F F is 50%%: CLOSED (5 of 8 overall would not matter)");
    fails(b, 0, 1);
    is_int(state(b, 0), OPEN, "S F F F is 75%%: OPEN");
    stagesim_breaker_free(b);
}

static void test_time_window(void) {
    journal j;
    const char *spec = "slidingWindowType=TIME_BASED,slidingWindowSize=3,minimumNumberOfCalls=3";
    stagesim_breaker *b = make(spec, &j);
    call(b, 500, FAILURE, 1);
    call(b, 1000, FAILURE, 1);
    is_int(metrics(b, 2999).buffered_calls, 2, "at 2.999 s both are in the last 3 s");
    is_int(metrics(b, 3000).buffered_calls, 1, "at 3 s second 0's bucket expired");
    call(b, 3000, FAILURE, 1);
    is_int(state(b, 3000), CLOSED, "3 failures, never 3 within 3 s: CLOSED");
    is_int(metrics(b, 3000).failed_calls, 2, "seconds 1 and 3 hold 2 failures");
    call(b, 3500, SUCCESS, 1);
    is_int(state(b, 3500), OPEN, "2 of 3 within the window (67%%): OPEN");
    stagesim_breaker_free(b);

    b = make(spec, &j);
    call(b, 0, FAILURE, 1);
    call(b, 1000, SUCCESS, 1);
    is_int(metrics(b, 100000).buffered_calls, 0, "a long gap empties every bucket");
    fails(b, 100000, 2);
    is_int(state(b, 100000), CLOSED, "after the gap only 2 calls count");
    stagesim_breaker_free(b);
}

static void test_slow_calls(void) {
    journal j;
    stagesim_breaker *b = make("slidingWindowSize=4,minimumNumberOfCalls=4,"
                               "failureRateThreshold=100,slowCallRateThreshold=50,"
                               "slowCallDurationThreshold=100", &j);
    call(b, 0, SUCCESS, 100);
    call(b, 0, FAILURE, 101);
    call(b, 0, SUCCESS, 50);
    stagesim_breaker_metrics m = metrics(b, 0);
    is_int(m.slow_calls, 1, "100 ms is not slow, 101 ms is");
    is_int(m.slow_failed_calls, 1, "the slow one failed");
    is_int(m.slow_successful_calls, 0, "no slow success yet");
    call(b, 0, SUCCESS, 200);
    is_int(state(b, 0), OPEN, "2 slow of 4 (50%%) opens it while failures are at 25%%");
    is_event(&j, 0, CLOSED, OPEN, 0, 0, STAGESIM_BREAKER_REASON_SLOW_CALL_RATE, "slow trip");
    stagesim_breaker_free(b);
}

static void test_open_boundary_lazy(void) {
    journal j;
    stagesim_breaker_permit p;
    stagesim_breaker *b = make("consecutiveFailures=1,waitDurationInOpenState=1000", &j);
    fails(b, 10, 1);
    is_int(stagesim_breaker_deadline(b), -1, "lazy: no deadline while OPEN");
    ok(!stagesim_breaker_acquire(b, 1009, &p), "open + wait - 1 ms: refused");
    is_int(metrics(b, 1009).not_permitted_calls, 1, "the refusal is counted");
    stagesim_breaker_tick(b, 5000);
    is_int(j.n, 1, "lazy: a tick does not half-open it");
    ok(stagesim_breaker_acquire(b, 5000, &p), "a call after open + wait: admitted");
    is_int(state(b, 5000), HALF_OPEN, "and the breaker is HALF_OPEN");
    is_event(&j, 1, OPEN, HALF_OPEN, 1010, 5000, STAGESIM_BREAKER_REASON_WAIT_ELAPSED,
             "eligible at open + wait, observed by the call");
    stagesim_breaker_free(b);

    b = make("consecutiveFailures=1,waitDurationInOpenState=1000", &j);
    fails(b, 10, 1);
    ok(stagesim_breaker_acquire(b, 1010, &p), "exactly open + wait: admitted");
    is_event(&j, 1, OPEN, HALF_OPEN, 1010, 1010, STAGESIM_BREAKER_REASON_WAIT_ELAPSED,
             "at the boundary");
    stagesim_breaker_free(b);

    b = make("consecutiveFailures=1,waitDurationInOpenState=1000", &j);
    fails(b, 10, 1);
    is_int(state(b, 1009), OPEN, "a state query before the boundary: OPEN");
    is_int(state(b, 1010), HALF_OPEN, "a state query at the boundary observes HALF_OPEN");
    is_int(j.n, 2, "the query made the one transition");
    stagesim_breaker_free(b);
}

static void test_open_boundary_eager(void) {
    journal j;
    const char *spec = "consecutiveFailures=1,waitDurationInOpenState=1000,"
                       "automaticTransitionFromOpenToHalfOpenEnabled=true";
    stagesim_breaker *b = make(spec, &j);
    is_int(stagesim_breaker_deadline(b), -1, "CLOSED: no deadline");
    fails(b, 10, 1);
    is_int(stagesim_breaker_deadline(b), 1010, "OPEN: the deadline is open + wait");
    stagesim_breaker_tick(b, 1009);
    is_int(j.n, 1, "a tick 1 ms early does nothing");
    stagesim_breaker_tick(b, 1010);
    is_int(j.n, 2, "the tick at the deadline transitions");
    is_event(&j, 1, OPEN, HALF_OPEN, 1010, 1010, STAGESIM_BREAKER_REASON_WAIT_ELAPSED,
             "eager, on time");
    is_int(stagesim_breaker_deadline(b), -1, "HALF_OPEN without maxWait: no deadline");
    stagesim_breaker_free(b);

    b = make(spec, &j);
    fails(b, 10, 1);
    stagesim_breaker_tick(b, 1250);
    is_event(&j, 1, OPEN, HALF_OPEN, 1010, 1250, STAGESIM_BREAKER_REASON_WAIT_ELAPSED,
             "eager, a late timer: both times");
    stagesim_breaker_free(b);
}

/* Opens b with one failure at 0 and half-opens it at 1000 (wait 1000). */
static void to_half_open(stagesim_breaker *b) {
    fails(b, 0, 1);
    state(b, 1000);
}

static void test_half_open_admission(void) {
    journal j;
    stagesim_breaker_permit p1, p2, p3;
    stagesim_breaker *b = make("consecutiveFailures=1,waitDurationInOpenState=1000,"
                               "permittedNumberOfCallsInHalfOpenState=2,successThreshold=3", &j);
    to_half_open(b);
    ok(stagesim_breaker_acquire(b, 1000, &p1), "half-open: 1st call admitted");
    ok(stagesim_breaker_acquire(b, 1000, &p2), "half-open: 2nd call admitted");
    ok(!stagesim_breaker_acquire(b, 1000, &p3), "half-open: a 3rd in flight is refused");
    stagesim_breaker_metrics m = metrics(b, 1000);
    is_int(m.in_flight, 2, "2 in flight");
    is_int(m.not_permitted_calls, 1, "1 not permitted");
    stagesim_breaker_record(b, &p1, SUCCESS, 1, 1001);
    ok(stagesim_breaker_acquire(b, 1001, &p3), "one finished: a new one is admitted");
    stagesim_breaker_record(b, &p2, SUCCESS, 1, 1002);
    is_int(state(b, 1002), HALF_OPEN, "2 successes of 3 needed: HALF_OPEN");
    stagesim_breaker_record(b, &p3, SUCCESS, 1, 1003);
    is_int(state(b, 1003), CLOSED, "the 3rd consecutive success closes it");
    is_event(&j, 2, HALF_OPEN, CLOSED, 1003, 1003, STAGESIM_BREAKER_REASON_SUCCESS_THRESHOLD,
             "closed by successes");
    stagesim_breaker_free(b);
}

static void test_half_open_consecutive(void) {
    journal j;
    stagesim_breaker_permit p;
    stagesim_breaker *b = make(REDIS, &j);
    fails(b, 0, 5);
    ok(!stagesim_breaker_acquire(b, 59999, &p), "Redis breaker: refused at 59.999 s");
    call(b, 60000, SUCCESS, 1);
    is_int(state(b, 60000), HALF_OPEN, "one success of 2: HALF_OPEN");
    call(b, 60001, SUCCESS, 1);
    is_int(state(b, 60001), CLOSED, "the 2nd success closes it");
    fails(b, 70000, 5);
    call(b, 130000, FAILURE, 1);
    is_int(state(b, 130000), OPEN, "a failure in half-open reopens it");
    is_event(&j, 5, HALF_OPEN, OPEN, 130000, 130000,
             STAGESIM_BREAKER_REASON_HALF_OPEN_FAILURE, "reopened");
    ok(!stagesim_breaker_acquire(b, 189999, &p), "the new wait counts from the reopening");
    ok(stagesim_breaker_acquire(b, 190000, &p), "and ends 60 s after it");
    stagesim_breaker_free(b);
}

static void test_half_open_rate(void) {
    journal j;
    const char *spec = "slidingWindowSize=4,minimumNumberOfCalls=4,waitDurationInOpenState=1000,"
                       "permittedNumberOfCallsInHalfOpenState=3";
    stagesim_breaker *b = make(spec, &j);
    fails(b, 0, 4);
    call(b, 1000, SUCCESS, 1);
    call(b, 1000, FAILURE, 1);
    is_int(state(b, 1000), HALF_OPEN, "2 of 3 trial calls: undecided");
    call(b, 1000, SUCCESS, 1);
    is_int(state(b, 1000), CLOSED, "the 3rd: 33%% failed, below 50%%: CLOSED");
    is_event(&j, 2, HALF_OPEN, CLOSED, 1000, 1000, STAGESIM_BREAKER_REASON_BELOW_THRESHOLDS,
             "closed by rate");
    stagesim_breaker_free(b);

    b = make(spec, &j);
    fails(b, 0, 4);
    call(b, 1000, SUCCESS, 1);
    fails(b, 1000, 2);
    is_int(state(b, 1000), OPEN, "the 3rd: 67%% failed: OPEN");
    is_event(&j, 2, HALF_OPEN, OPEN, 1000, 1000, STAGESIM_BREAKER_REASON_FAILURE_RATE,
             "reopened by rate");
    stagesim_breaker_free(b);

    /* resilience4j's trial needs min(minimumNumberOfCalls, permitted) calls. */
    b = make("slidingWindowSize=2,minimumNumberOfCalls=2,waitDurationInOpenState=1000,"
             "permittedNumberOfCallsInHalfOpenState=3", &j);
    fails(b, 0, 2);
    call(b, 1000, SUCCESS, 1);
    call(b, 1000, SUCCESS, 1);
    is_int(state(b, 1000), CLOSED, "minimum 2 < permitted 3: decided after 2");
    stagesim_breaker_free(b);
}

static void test_max_wait(void) {
    journal j;
    stagesim_breaker_permit p, q;
    const char *spec = "consecutiveFailures=1,waitDurationInOpenState=1000,"
                       "permittedNumberOfCallsInHalfOpenState=1,maxWaitDurationInHalfOpenState=500";
    stagesim_breaker *b = make(spec, &j);
    to_half_open(b);
    ok(stagesim_breaker_acquire(b, 1000, &p), "the one trial call");
    is_int(stagesim_breaker_deadline(b), 1500, "the deadline is half-open + max wait");
    ok(!stagesim_breaker_acquire(b, 1200, &q), "a second is refused while it hangs");
    stagesim_breaker_tick(b, 1499);
    is_int(state(b, 1499), HALF_OPEN, "1 ms before the max wait: HALF_OPEN");
    stagesim_breaker_tick(b, 1500);
    is_event(&j, 2, HALF_OPEN, OPEN, 1500, 1500, STAGESIM_BREAKER_REASON_MAX_WAIT_ELAPSED,
             "max wait, by the tick");
    is_int(stagesim_breaker_record(b, &p, SUCCESS, 600, 1600), 0,
           "the hung call's late success is stale");
    is_int(state(b, 1600), OPEN, "and changes nothing");
    stagesim_breaker_free(b);

    b = make(spec, &j);
    to_half_open(b);
    ok(stagesim_breaker_acquire(b, 1000, &p), "the one trial call, again");
    ok(!stagesim_breaker_acquire(b, 1700, &q), "a call after the max wait: refused");
    is_event(&j, 2, HALF_OPEN, OPEN, 1500, 1700, STAGESIM_BREAKER_REASON_MAX_WAIT_ELAPSED,
             "max wait, observed by a call");
    ok(!stagesim_breaker_acquire(b, 2699, &q), "this OPEN started when it was observed");
    ok(stagesim_breaker_acquire(b, 2700, &q), "and lasts the wait from then");
    stagesim_breaker_free(b);
}

static void test_stale(void) {
    journal j;
    stagesim_breaker_permit early, late;
    stagesim_breaker *b = make("consecutiveFailures=2,waitDurationInOpenState=1000", &j);
    ok(stagesim_breaker_acquire(b, 0, &early), "a slow call starts while CLOSED");
    ok(stagesim_breaker_acquire(b, 0, &late), "and another");
    fails(b, 10, 2);
    is_int(stagesim_breaker_record(b, &early, SUCCESS, 20, 20), 0, "its success in OPEN: stale");
    is_int(metrics(b, 20).stale_calls, 1, "counted as stale");
    is_int(metrics(b, 20).buffered_calls, 0, "and nowhere else");
    state(b, 1010);
    is_int(stagesim_breaker_record(b, &late, FAILURE, 1010, 1010), 0,
           "a CLOSED call's failure in HALF_OPEN: stale");
    is_int(state(b, 1010), HALF_OPEN, "it does not reopen the breaker");
    is_int(metrics(b, 1010).stale_calls, 2, "stale calls are cumulative");
    is_int(j.n, 2, "no transition from stale results");
    stagesim_breaker_free(b);
}

static void test_ignored(void) {
    journal j;
    stagesim_breaker_permit p;
    stagesim_breaker *b = make("consecutiveFailures=3", &j);
    fails(b, 0, 2);
    call(b, 0, IGNORED, 1);
    is_int(metrics(b, 0).consecutive_failures, 2, "an ignored outcome keeps the run");
    is_int(metrics(b, 0).buffered_calls, 2, "and is not buffered");
    fails(b, 0, 1);
    is_int(state(b, 0), OPEN, "F F ignored F: the 3rd failure opens it");
    stagesim_breaker_free(b);

    b = make("consecutiveFailures=1,waitDurationInOpenState=1000,"
             "permittedNumberOfCallsInHalfOpenState=1", &j);
    to_half_open(b);
    ok(stagesim_breaker_acquire(b, 1000, &p), "the one trial call");
    is_int(stagesim_breaker_record(b, &p, IGNORED, 1, 1000), 1, "ignored, taken");
    is_int(state(b, 1000), HALF_OPEN, "ignored decides nothing");
    ok(stagesim_breaker_acquire(b, 1000, &p), "it gave its place back");
    stagesim_breaker_free(b);
}

static void test_forced_open(void) {
    journal j;
    stagesim_breaker_permit p;
    stagesim_breaker *b = make(REDIS ",automaticTransitionFromOpenToHalfOpenEnabled=true", &j);
    ok(stagesim_breaker_acquire(b, 0, &p), "a call in flight");
    stagesim_breaker_transition(b, STAGESIM_BREAKER_FORCED_OPEN, 100);
    is_event(&j, 0, CLOSED, STAGESIM_BREAKER_FORCED_OPEN, 100, 100,
             STAGESIM_BREAKER_REASON_MANUAL, "forced open");
    ok(!stagesim_breaker_acquire(b, 100, &p), "FORCED_OPEN refuses");
    ok(!stagesim_breaker_acquire(b, 1000000000, &p), "and still refuses much later");
    is_int(stagesim_breaker_deadline(b), -1, "it has no deadline");
    stagesim_breaker_tick(b, 2000000000);
    is_int(state(b, 2000000000), STAGESIM_BREAKER_FORCED_OPEN, "it never leaves by itself");
    is_int(metrics(b, 2000000000).not_permitted_calls, 2, "refusals counted");
    is_int(j.n, 1, "one transition only");
    stagesim_breaker_transition(b, CLOSED, 2000000001);
    is_event(&j, 1, STAGESIM_BREAKER_FORCED_OPEN, CLOSED, 2000000001, 2000000001,
             STAGESIM_BREAKER_REASON_MANUAL, "reset to CLOSED");
    stagesim_breaker_free(b);
}

static void test_disabled(void) {
    journal j;
    stagesim_breaker *b = make(REDIS, &j);
    stagesim_breaker_transition(b, STAGESIM_BREAKER_DISABLED, 0);
    int permitted = 0;
    for (int i = 0; i < 100; i++) permitted += call(b, i, FAILURE, 1);
    is_int(permitted, 100, "DISABLED permits every call");
    is_int(state(b, 1000000), STAGESIM_BREAKER_DISABLED, "100 failures: still DISABLED");
    is_int(metrics(b, 1000000).buffered_calls, 0, "DISABLED records nothing");
    is_int(metrics(b, 1000000).stale_calls, 0, "and its results are not stale");
    is_int(j.n, 1, "only the manual transition");
    stagesim_breaker_free(b);
}

static void test_metrics_only(void) {
    journal j;
    stagesim_breaker *b = make("minimumNumberOfCalls=2", &j);
    stagesim_breaker_transition(b, STAGESIM_BREAKER_METRICS_ONLY, 0);
    int permitted = 0;
    for (int i = 0; i < 10; i++) permitted += call(b, 0, FAILURE, 1);
    is_int(permitted, 10, "METRICS_ONLY permits every call");
    stagesim_breaker_metrics m = metrics(b, 0);
    is_int(m.buffered_calls, 10, "METRICS_ONLY records");
    is_int(m.failed_calls, 10, "10 failed");
    ok(m.failure_rate == 100, "failure rate 100%%");
    is_int(state(b, 0), STAGESIM_BREAKER_METRICS_ONLY, "and never trips");
    is_int(j.n, 1, "only the manual transition");
    stagesim_breaker_free(b);
}

static void test_reset_on_transition(void) {
    journal j;
    stagesim_breaker_permit p;
    stagesim_breaker *b = make("slidingWindowSize=4,minimumNumberOfCalls=4,"
                               "waitDurationInOpenState=1000", &j);
    call(b, 0, SUCCESS, 1);
    fails(b, 0, 3);
    stagesim_breaker_metrics m = metrics(b, 0);
    is_int(m.buffered_calls, 0, "the window starts again in OPEN");
    ok(m.failure_rate == -1, "no rate in OPEN");
    is_int(m.consecutive_failures, 0, "the run starts again");
    stagesim_breaker_acquire(b, 10, &p);
    stagesim_breaker_acquire(b, 20, &p);
    is_int(metrics(b, 20).not_permitted_calls, 2, "refusals add up within OPEN");
    is_int(metrics(b, 1000).not_permitted_calls, 0, "and start again in HALF_OPEN");
    is_int(metrics(b, 1000).transitions, 2, "transitions are cumulative");

    ok(stagesim_breaker_acquire(b, 1000, &p), "a trial call in flight");
    stagesim_breaker_transition(b, HALF_OPEN, 1001);
    is_int(j.n, 2, "a transition to the same state calls nobody");
    is_int(metrics(b, 1001).in_flight, 0, "but starts it again");
    is_int(stagesim_breaker_record(b, &p, SUCCESS, 1, 1002), 0, "its permits go stale");
    stagesim_breaker_free(b);
}

static void test_callback_cycle(void) {
    journal j;
    stagesim_breaker *b = make(REDIS, &j);
    fails(b, 1000, 5);
    call(b, 61000, FAILURE, 1);
    call(b, 121000, SUCCESS, 1);
    call(b, 121500, SUCCESS, 1);
    is_int(j.n, 5, "five transitions, each reported once");
    is_event(&j, 0, CLOSED, OPEN, 1000, 1000, STAGESIM_BREAKER_REASON_CONSECUTIVE_FAILURES,
             "cycle");
    is_event(&j, 1, OPEN, HALF_OPEN, 61000, 61000, STAGESIM_BREAKER_REASON_WAIT_ELAPSED, "cycle");
    is_event(&j, 2, HALF_OPEN, OPEN, 61000, 61000, STAGESIM_BREAKER_REASON_HALF_OPEN_FAILURE,
             "cycle");
    is_event(&j, 3, OPEN, HALF_OPEN, 121000, 121000, STAGESIM_BREAKER_REASON_WAIT_ELAPSED,
             "cycle");
    is_event(&j, 4, HALF_OPEN, CLOSED, 121500, 121500,
             STAGESIM_BREAKER_REASON_SUCCESS_THRESHOLD, "cycle");
    is_int(metrics(b, 121500).transitions, 5, "the metric agrees");
    stagesim_breaker_free(b);
}

static int same_config(const stagesim_breaker_config *a, const stagesim_breaker_config *b) {
    return a->failure_rate_threshold == b->failure_rate_threshold &&
           a->slow_call_rate_threshold == b->slow_call_rate_threshold &&
           a->slow_call_duration_threshold_ms == b->slow_call_duration_threshold_ms &&
           a->sliding_window_type == b->sliding_window_type &&
           a->sliding_window_size == b->sliding_window_size &&
           a->minimum_number_of_calls == b->minimum_number_of_calls &&
           a->wait_duration_in_open_state_ms == b->wait_duration_in_open_state_ms &&
           a->permitted_number_of_calls_in_half_open_state ==
               b->permitted_number_of_calls_in_half_open_state &&
           a->max_wait_duration_in_half_open_state_ms == b->max_wait_duration_in_half_open_state_ms &&
           a->automatic_transition_from_open_to_half_open_enabled ==
               b->automatic_transition_from_open_to_half_open_enabled &&
           a->consecutive_failures == b->consecutive_failures &&
           a->success_threshold == b->success_threshold;
}

/* Parses spec and expects it to fail with exactly `want`. */
static void rejects(const char *spec, const char *want) {
    stagesim_breaker_config c;
    stagesim_breaker_config before;
    memset(&c, 0x5a, sizeof(c));
    memcpy(&before, &c, sizeof(c));
    char err[160] = "";
    is_int(stagesim_breaker_config_parse(spec, &c, err, sizeof(err)), -1, "rejects \"%s\"", spec);
    is_str(err, want, "with the reason");
    ok(memcmp(&c, &before, sizeof(c)) == 0, "and leaves the config as it was");
}

static void test_parse(void) {
    stagesim_breaker_config c, d;
    char err[160];
    stagesim_breaker_config_init(&d);
    is_int(stagesim_breaker_config_parse("", &c, err, sizeof(err)), 0, "\"\" parses");
    ok(same_config(&c, &d), "to the defaults");

    is_int(stagesim_breaker_config_parse(
               "failureRateThreshold=12.5,slowCallRateThreshold=80,slowCallDurationThreshold=2s,"
               "slidingWindowType=TIME_BASED,slidingWindowSize=30,minimumNumberOfCalls=7,"
               "waitDurationInOpenState=1m,permittedNumberOfCallsInHalfOpenState=3,"
               "maxWaitDurationInHalfOpenState=250ms,"
               "automaticTransitionFromOpenToHalfOpenEnabled=true,"
               "consecutiveFailures=4,successThreshold=2", &c, err, sizeof(err)),
           0, "every key parses");
    ok(c.failure_rate_threshold == 12.5, "failureRateThreshold 12.5");
    ok(c.slow_call_rate_threshold == 80, "slowCallRateThreshold 80");
    is_int(c.slow_call_duration_threshold_ms, 2000, "2s is 2000 ms");
    is_int(c.sliding_window_type, STAGESIM_BREAKER_TIME_BASED, "TIME_BASED");
    is_int(c.sliding_window_size, 30, "slidingWindowSize 30");
    is_int(c.minimum_number_of_calls, 7, "minimumNumberOfCalls 7");
    is_int(c.wait_duration_in_open_state_ms, 60000, "1m is 60000 ms");
    is_int(c.permitted_number_of_calls_in_half_open_state, 3, "permitted 3");
    is_int(c.max_wait_duration_in_half_open_state_ms, 250, "250ms");
    is_int(c.automatic_transition_from_open_to_half_open_enabled, 1, "true");
    is_int(c.consecutive_failures, 4, "consecutiveFailures 4");
    is_int(c.success_threshold, 2, "successThreshold 2");

    is_int(stagesim_breaker_config_parse(" consecutiveFailures = 5 , waitDurationInOpenState=60000",
                                         &c, err, sizeof(err)), 0, "blanks around are fine");
    is_int(c.wait_duration_in_open_state_ms, 60000, "a bare number is ms");

    rejects("waitDurationInOpenState=0", "waitDurationInOpenState: must be >= 1");
    rejects("maxWaitDurationInHalfOpenState=-1", "maxWaitDurationInHalfOpenState: must be >= 0");
    rejects("waitDurationInOpenState=40000m", "waitDurationInOpenState: must be <= 2147483647");
    rejects("waitDurationInOpenState=99999999999999999999",
            "waitDurationInOpenState: must be <= 2147483647");
    rejects("waitDurationInOpenState=5h", "waitDurationInOpenState: not a duration: \"5h\"");
    rejects("failureRateThreshold=0", "failureRateThreshold: must be > 0 and <= 100");
    rejects("failureRateThreshold=100.5", "failureRateThreshold: must be > 0 and <= 100");
    rejects("slowCallRateThreshold=abc", "slowCallRateThreshold: not a number: \"abc\"");
    rejects("slidingWindowSize=ten", "slidingWindowSize: not an integer: \"ten\"");
    rejects("slidingWindowSize=", "slidingWindowSize: not an integer: \"\"");
    rejects("slidingWindowSize=2000000", "slidingWindowSize: must be <= 1000000");
    rejects("minimumNumberOfCalls=-1", "minimumNumberOfCalls: must be >= 1");
    rejects("permittedNumberOfCallsInHalfOpenState=0",
            "permittedNumberOfCallsInHalfOpenState: must be >= 1");
    rejects("slidingWindowType=SESSION", "slidingWindowType: must be COUNT_BASED or TIME_BASED");
    rejects("automaticTransitionFromOpenToHalfOpenEnabled=yes",
            "automaticTransitionFromOpenToHalfOpenEnabled: must be false or true");
    rejects("fooBar=1", "fooBar: unknown key");
    rejects("consecutiveFailures", "consecutiveFailures: expected key=value");
    rejects("consecutiveFailures=1,consecutiveFailures=2", "consecutiveFailures: given twice");
    rejects("consecutiveFailures=1,,successThreshold=2", "empty entry");
    rejects("consecutiveFailures=1,", "empty entry");
    rejects("=5", "missing key before \"=\"");
    rejects("successThreshold=2", "successThreshold: applies only with consecutiveFailures");
    rejects("slidingWindowSize=1234567890123456789012345678901234567890123456789012345678901234567890",
            "slidingWindowSize: value too long");

    char small[8];
    stagesim_breaker_config_parse("waitDurationInOpenState=0", &c, small, sizeof(small));
    is_str(small, "waitDur", "a short buffer gets the start of the reason");

    stagesim_breaker_config_init(&c);
    c.permitted_number_of_calls_in_half_open_state = 0;
    is_int(stagesim_breaker_config_validate(&c, err, sizeof(err)), -1, "validate on code's config");
    is_str(err, "permittedNumberOfCallsInHalfOpenState: must be >= 1", "names the key");
    ok(stagesim_breaker_new(&c, "bad", NULL, NULL) == NULL, "new refuses an invalid config");
    c.permitted_number_of_calls_in_half_open_state = 10;
    c.sliding_window_type = (stagesim_breaker_window)7;
    stagesim_breaker_config_validate(&c, err, sizeof(err));
    is_str(err, "slidingWindowType: must be COUNT_BASED or TIME_BASED", "an enum out of range");
}

static void test_names(void) {
    static const struct { stagesim_breaker_state s; const char *name, *health; } want[] = {
        {STAGESIM_BREAKER_CLOSED, "CLOSED", "closed"},
        {STAGESIM_BREAKER_OPEN, "OPEN", "open"},
        {STAGESIM_BREAKER_HALF_OPEN, "HALF_OPEN", "half_open"},
        {STAGESIM_BREAKER_FORCED_OPEN, "FORCED_OPEN", "open"},
        {STAGESIM_BREAKER_DISABLED, "DISABLED", "closed"},
        {STAGESIM_BREAKER_METRICS_ONLY, "METRICS_ONLY", "closed"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        is_str(stagesim_breaker_state_name(want[i].s), want[i].name, "state name %s", want[i].name);
        is_str(stagesim_breaker_state_health(want[i].s), want[i].health, "health of %s",
               want[i].name);
    }
    is_str(stagesim_breaker_reason_name(STAGESIM_BREAKER_REASON_WAIT_ELAPSED), "wait_elapsed",
           "reason name");
    is_str(stagesim_breaker_reason_name(STAGESIM_BREAKER_REASON_MAX_WAIT_ELAPSED),
           "max_wait_elapsed", "the last reason has a name");

    char name[] = "redis";
    stagesim_breaker_config c;
    stagesim_breaker_config_init(&c);
    stagesim_breaker *b = stagesim_breaker_new(&c, name, NULL, NULL);
    name[0] = 'X';
    is_str(stagesim_breaker_name(b), "redis", "the name is a copy");
    stagesim_breaker_free(b);
    stagesim_breaker_free(NULL);
}

int main(void) {
    test_defaults();
    test_consecutive_trip();
    test_rate_trip();
    test_count_window();
    test_time_window();
    test_slow_calls();
    test_open_boundary_lazy();
    test_open_boundary_eager();
    test_half_open_admission();
    test_half_open_consecutive();
    test_half_open_rate();
    test_max_wait();
    test_stale();
    test_ignored();
    test_forced_open();
    test_disabled();
    test_metrics_only();
    test_reset_on_transition();
    test_callback_cycle();
    test_parse();
    test_names();
    return tap_done();
}
