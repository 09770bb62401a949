/* stagesim_breaker.h -- a circuit breaker with the names and states of
 * resilience4j, plus the consecutive-failures trip of staging's breakers.
 *
 * A pure state machine: it never reads a clock, never allocates after
 * creation and never blocks. The owner passes the time (`now_ms`,
 * milliseconds, never decreasing) into every call, so tests and drills drive
 * time synthetically and two runs with the same inputs give the same
 * transitions. Usable from any C program; docs/breaker.md has the model and
 * where resilience4j, pybreaker, gobreaker and Polly disagree.
 *
 *     stagesim_breaker_config cfg;
 *     char err[128];
 *     if (stagesim_breaker_config_parse("consecutiveFailures=5,"
 *             "waitDurationInOpenState=60s,successThreshold=2", &cfg, err, sizeof(err)))
 *         die(err);
 *     stagesim_breaker *b = stagesim_breaker_new(&cfg, "redis", on_change, journal);
 *     stagesim_breaker_permit p;
 *     if (!stagesim_breaker_acquire(b, now_ms, &p))
 *         return fail_fast();                 // not permitted: OPEN or half-open full
 *     ... the call, later ...
 *     stagesim_breaker_record(b, &p, ok ? STAGESIM_BREAKER_SUCCESS : STAGESIM_BREAKER_FAILURE,
 *                             took_ms, now_ms);
 *     stagesim_breaker_free(b);
 *
 * Not thread-safe: one owner (one event loop) per breaker. Misuse (a NULL
 * breaker, time going backwards, a permit recorded twice, a call into the
 * breaker from its own callback) is a programmer error and aborts. */
#ifndef STAGESIM_BREAKER_H
#define STAGESIM_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct stagesim_breaker stagesim_breaker;

/* resilience4j's six states. */
typedef enum stagesim_breaker_state {
    STAGESIM_BREAKER_CLOSED,       /* calls pass; outcomes fill the sliding window */
    STAGESIM_BREAKER_OPEN,         /* calls refused until open + waitDurationInOpenState */
    STAGESIM_BREAKER_HALF_OPEN,    /* a few trial calls decide: back to CLOSED or OPEN */
    STAGESIM_BREAKER_FORCED_OPEN,  /* manual: every call refused, never leaves by itself */
    STAGESIM_BREAKER_DISABLED,     /* manual: every call passes, nothing recorded */
    STAGESIM_BREAKER_METRICS_ONLY  /* manual: every call passes, recorded, never trips */
} stagesim_breaker_state;

typedef enum stagesim_breaker_window {
    STAGESIM_BREAKER_COUNT_BASED,  /* the last slidingWindowSize outcomes */
    STAGESIM_BREAKER_TIME_BASED    /* the outcomes of the last slidingWindowSize seconds */
} stagesim_breaker_window;

typedef enum stagesim_breaker_outcome {
    STAGESIM_BREAKER_SUCCESS,
    STAGESIM_BREAKER_FAILURE,
    STAGESIM_BREAKER_IGNORED       /* neither: frees the permit, counts nowhere */
} stagesim_breaker_outcome;

/* Why a transition happened (the callback's last argument). */
typedef enum stagesim_breaker_reason {
    STAGESIM_BREAKER_REASON_MANUAL,               /* stagesim_breaker_transition */
    STAGESIM_BREAKER_REASON_CONSECUTIVE_FAILURES, /* CLOSED -> OPEN */
    STAGESIM_BREAKER_REASON_FAILURE_RATE,         /* CLOSED or HALF_OPEN -> OPEN */
    STAGESIM_BREAKER_REASON_SLOW_CALL_RATE,       /* CLOSED or HALF_OPEN -> OPEN */
    STAGESIM_BREAKER_REASON_HALF_OPEN_FAILURE,    /* HALF_OPEN -> OPEN, consecutive mode */
    STAGESIM_BREAKER_REASON_SUCCESS_THRESHOLD,    /* HALF_OPEN -> CLOSED, consecutive mode */
    STAGESIM_BREAKER_REASON_BELOW_THRESHOLDS,     /* HALF_OPEN -> CLOSED, rate mode */
    STAGESIM_BREAKER_REASON_WAIT_ELAPSED,         /* OPEN -> HALF_OPEN */
    STAGESIM_BREAKER_REASON_MAX_WAIT_ELAPSED      /* HALF_OPEN -> OPEN */
} stagesim_breaker_reason;

/* The configuration. Each field is a resilience4j key in C spelling (the
 * camelCase name is what stagesim_breaker_config_parse takes), durations in
 * milliseconds. Two keys are not resilience4j's: consecutiveFailures and
 * successThreshold, the trip staging's breakers used. */
typedef struct stagesim_breaker_config {
    double failure_rate_threshold;        /* percent, (0, 100]: trip at >= this; 50 */
    double slow_call_rate_threshold;      /* percent, (0, 100]: trip at >= this; 100 */
    int64_t slow_call_duration_threshold_ms; /* a call longer than this is slow; 60000 */
    stagesim_breaker_window sliding_window_type;     /* COUNT_BASED */
    int sliding_window_size;              /* calls or seconds; 100 */
    int minimum_number_of_calls;          /* before a rate is computed; 100 */
    int64_t wait_duration_in_open_state_ms;          /* 60000 */
    int permitted_number_of_calls_in_half_open_state; /* at most this many in flight; 10 */
    int64_t max_wait_duration_in_half_open_state_ms; /* back to OPEN after; 0 = never */
    int automatic_transition_from_open_to_half_open_enabled; /* 0 or 1; 0 */
    int consecutive_failures;   /* N > 0: open after N consecutive failures, instead of
                                 * the rate rules; 0 (the default): the rate rules */
    int success_threshold;      /* consecutive mode: K consecutive half-open successes
                                 * close it; 1 */
} stagesim_breaker_config;

/* Fills c with resilience4j's defaults (rate mode, the values above). */
void stagesim_breaker_config_init(stagesim_breaker_config *c);

/* Parses a "key=value,key=value" spec (the camelCase keys above; blanks
 * around keys and values are skipped) on top of the defaults. Values:
 * integers; percentages (decimals allowed); durations in ms, or with a unit
 * "ms", "s" or "m" ("60s"); booleans "true"/"false"; COUNT_BASED or
 * TIME_BASED. The result is validated. Returns 0 and fills *out, or -1 with
 * the reason in err ("waitDurationInOpenState: must be >= 1") and *out
 * untouched. */
int stagesim_breaker_config_parse(const char *spec, stagesim_breaker_config *out,
                                  char *err, size_t errlen);

/* Checks every field's range (also for a config filled in by code). Returns
 * 0, or -1 with "key: reason" in err for the first bad field. */
int stagesim_breaker_config_validate(const stagesim_breaker_config *c, char *err,
                                     size_t errlen);

/* Called after every transition, once, with the state already changed.
 * eligible_ms is when the transition became due (open + wait for OPEN ->
 * HALF_OPEN, half-open start + max wait for the way back; now_ms for the
 * others), observed_ms when the breaker carried it out (the now_ms of the
 * call that saw it). The callback must not call into this breaker. */
typedef void (*stagesim_breaker_cb)(void *ctx, stagesim_breaker_state from,
                                    stagesim_breaker_state to, int64_t eligible_ms,
                                    int64_t observed_ms, stagesim_breaker_reason reason);

/* Creates a CLOSED breaker: one allocation holding the window (the count
 * window's slots, or the time window's one-second buckets) and a copy of
 * name. cb may be NULL; ctx is passed to it. Returns NULL if cfg does not
 * validate or memory runs out. The caller frees it with stagesim_breaker_free. */
stagesim_breaker *stagesim_breaker_new(const stagesim_breaker_config *cfg, const char *name,
                                       stagesim_breaker_cb cb, void *ctx);
/* Frees b (NULL is fine). Outstanding permits become meaningless. */
void stagesim_breaker_free(stagesim_breaker *b);

/* The name given at creation, valid until the breaker is freed. */
const char *stagesim_breaker_name(const stagesim_breaker *b);

/* A permission to make one call. It remembers the state generation it was
 * issued in (every transition starts a new one), so that a result arriving
 * after a transition is recognised as stale. Filled by acquire, spent by
 * record; opaque to the caller. */
typedef struct stagesim_breaker_permit {
    uint64_t generation;
} stagesim_breaker_permit;

/* Asks to make a call at now_ms, after carrying out any transition due by
 * then. Returns 1 and fills *permit if the call may go ahead; 0 if it is not
 * permitted (OPEN, FORCED_OPEN, or HALF_OPEN with
 * permittedNumberOfCallsInHalfOpenState calls in flight), which is counted:
 * the caller fails fast, as resilience4j's CallNotPermittedException. */
int stagesim_breaker_acquire(stagesim_breaker *b, int64_t now_ms,
                             stagesim_breaker_permit *permit);

/* Records the outcome of the call *permit allowed, which took duration_ms
 * (>= 0; slow if > slowCallDurationThreshold), at now_ms, after carrying out
 * any transition due by then, and spends the permit. A result whose permit
 * was issued before the breaker's latest transition is stale: it is counted
 * and changes nothing else. Returns 1 if the result was taken, 0 if it was
 * stale. May transition (and so call the callback). */
int stagesim_breaker_record(stagesim_breaker *b, stagesim_breaker_permit *permit,
                            stagesim_breaker_outcome outcome, int64_t duration_ms,
                            int64_t now_ms);

/* The state at now_ms. Observing is enough for a due OPEN -> HALF_OPEN (or
 * a max wait in HALF_OPEN) to happen, so this may call the callback. */
stagesim_breaker_state stagesim_breaker_state_at(stagesim_breaker *b, int64_t now_ms);

/* The next time the breaker changes by itself: open + wait while OPEN with
 * automaticTransitionFromOpenToHalfOpenEnabled, half-open start +
 * maxWaitDurationInHalfOpenState while HALF_OPEN with one; -1 otherwise. The
 * owner calls stagesim_breaker_tick then. */
int64_t stagesim_breaker_deadline(const stagesim_breaker *b);

/* Carries out the transition stagesim_breaker_deadline announced if now_ms
 * has reached it; nothing otherwise (in particular, no OPEN -> HALF_OPEN
 * without automatic transition: that one waits for a call to observe it). */
void stagesim_breaker_tick(stagesim_breaker *b, int64_t now_ms);

/* Moves b to state `to` at now_ms (resilience4j's transitionTo...State and
 * reset()), with reason MANUAL. To the state it is already in: no callback,
 * but windows and counters start again and permits in flight become stale
 * (so CLOSED -> CLOSED is resilience4j's reset()). */
void stagesim_breaker_transition(stagesim_breaker *b, stagesim_breaker_state to,
                                 int64_t now_ms);

/* resilience4j's Metrics, plus what this breaker adds. Everything above the
 * line starts again at every transition; the last two count over the
 * breaker's life. */
typedef struct stagesim_breaker_metrics {
    double failure_rate;        /* percent of the buffered calls; -1 below the minimum */
    double slow_call_rate;      /* percent of the buffered calls; -1 below the minimum */
    int64_t buffered_calls;     /* outcomes in the window (CLOSED, METRICS_ONLY) or in
                                 * the half-open trial */
    int64_t failed_calls;
    int64_t successful_calls;
    int64_t slow_calls;
    int64_t slow_failed_calls;
    int64_t slow_successful_calls;
    int64_t not_permitted_calls;
    int64_t consecutive_failures;
    int64_t consecutive_successes;
    int64_t in_flight;          /* HALF_OPEN: permitted, not yet recorded */
    /* ---- cumulative ---- */
    int64_t stale_calls;        /* results that arrived after a transition */
    int64_t transitions;
} stagesim_breaker_metrics;

/* Fills *m as of now_ms (the time window drops its expired buckets; a due
 * transition is carried out first, as by stagesim_breaker_state_at). */
void stagesim_breaker_metrics_at(stagesim_breaker *b, int64_t now_ms,
                                 stagesim_breaker_metrics *m);

/* "CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "DISABLED", "METRICS_ONLY". */
const char *stagesim_breaker_state_name(stagesim_breaker_state s);
/* The /health/circuit-breakers spelling (docs/contract.md §1.2): "closed",
 * "open" or "half_open"; FORCED_OPEN reads "open", DISABLED and METRICS_ONLY
 * "closed", as that is what a client of the dependency sees. */
const char *stagesim_breaker_state_health(stagesim_breaker_state s);
/* "manual", "consecutive_failures", "failure_rate", ... (the enum's names). */
const char *stagesim_breaker_reason_name(stagesim_breaker_reason r);

#ifdef __cplusplus
}
#endif

#endif
