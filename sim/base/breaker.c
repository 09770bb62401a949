/* breaker.c -- the circuit breaker of include/stagesim_breaker.h: a table of
 * the six states, two kinds of sliding window, and the spec parser. Pure:
 * time comes in as now_ms, and the breaker is its only allocation.
 * docs/breaker.md explains each rule and where the other libraries differ. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stagesim_breaker.h"

/* ---------------------------------------------------------------- config */

#define MAX_MS INT32_MAX    /* ~24.8 days: now_ms + any wait stays far from overflow */
#define MAX_WINDOW 1000000  /* slots or buckets: bounds the one allocation */

void stagesim_breaker_config_init(stagesim_breaker_config *c) {
    *c = (stagesim_breaker_config){
        .failure_rate_threshold = 50,
        .slow_call_rate_threshold = 100,
        .slow_call_duration_threshold_ms = 60000,
        .sliding_window_type = STAGESIM_BREAKER_COUNT_BASED,
        .sliding_window_size = 100,
        .minimum_number_of_calls = 100,
        .wait_duration_in_open_state_ms = 60000,
        .permitted_number_of_calls_in_half_open_state = 10,
        .max_wait_duration_in_half_open_state_ms = 0,
        .automatic_transition_from_open_to_half_open_enabled = 0,
        .consecutive_failures = 0,
        .success_threshold = 1,
    };
}

/* How a key's value is written and stored. */
typedef enum { K_PERCENT, K_INT, K_MS, K_BOOL, K_WINDOW } key_kind;

static const char *const bool_names[] = {"false", "true"};
static const char *const window_names[] = {"COUNT_BASED", "TIME_BASED"};

static const struct key {
    const char *name;
    key_kind kind;
    size_t off;
    int64_t min, max;           /* K_INT, K_MS */
    const char *const *names;   /* K_BOOL, K_WINDOW: value i is written names[i] */
} keys[] = {
#define FIELD(f) offsetof(stagesim_breaker_config, f)
#define PERCENT(key, f) {key, K_PERCENT, FIELD(f), 0, 0, NULL}
#define INT(key, f, min, max) {key, K_INT, FIELD(f), min, max, NULL}
#define MS(key, f, min) {key, K_MS, FIELD(f), min, MAX_MS, NULL}
#define CHOICE(key, kind, f, names) {key, kind, FIELD(f), 0, 0, names}
    PERCENT("failureRateThreshold", failure_rate_threshold),
    PERCENT("slowCallRateThreshold", slow_call_rate_threshold),
    MS("slowCallDurationThreshold", slow_call_duration_threshold_ms, 1),
    CHOICE("slidingWindowType", K_WINDOW, sliding_window_type, window_names),
    INT("slidingWindowSize", sliding_window_size, 1, MAX_WINDOW),
    INT("minimumNumberOfCalls", minimum_number_of_calls, 1, INT32_MAX),
    MS("waitDurationInOpenState", wait_duration_in_open_state_ms, 1),
    INT("permittedNumberOfCallsInHalfOpenState", permitted_number_of_calls_in_half_open_state,
        1, INT32_MAX),
    MS("maxWaitDurationInHalfOpenState", max_wait_duration_in_half_open_state_ms, 0),
    CHOICE("automaticTransitionFromOpenToHalfOpenEnabled", K_BOOL,
           automatic_transition_from_open_to_half_open_enabled, bool_names),
    INT("consecutiveFailures", consecutive_failures, 0, INT32_MAX),
    INT("successThreshold", success_threshold, 1, INT32_MAX),
#undef FIELD
#undef PERCENT
#undef INT
#undef MS
#undef CHOICE
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* A key's value on its way between text, check and struct. */
typedef union { double d; int64_t i; } value;

/* Writes "key: reason" (or just the reason) into err and returns -1. */
__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static value load(const struct key *k, const stagesim_breaker_config *c) {
    const char *p = (const char *)c + k->off;
    switch (k->kind) {
    case K_PERCENT: return (value){.d = *(const double *)p};
    case K_MS: return (value){.i = *(const int64_t *)p};
    case K_WINDOW: return (value){.i = *(const stagesim_breaker_window *)p};
    case K_INT:
    case K_BOOL: break;
    }
    return (value){.i = *(const int *)p};  /* the int fields */
}

static void store(const struct key *k, stagesim_breaker_config *c, value v) {
    char *p = (char *)c + k->off;
    switch (k->kind) {
    case K_PERCENT: *(double *)p = v.d; return;
    case K_MS: *(int64_t *)p = v.i; return;
    case K_WINDOW: *(stagesim_breaker_window *)p = (stagesim_breaker_window)v.i; return;
    case K_INT:
    case K_BOOL: break;
    }
    *(int *)p = (int)v.i;  /* checked to fit before it is stored */
}

/* The range rule of one key. Returns 0, or -1 with "key: must be ..." */
static int check(const struct key *k, value v, char *err, size_t errlen) {
    switch (k->kind) {
    case K_PERCENT:
        if (!(v.d > 0 && v.d <= 100))  /* NaN fails too */
            return fail(err, errlen, "%s: must be > 0 and <= 100", k->name);
        return 0;
    case K_BOOL:
    case K_WINDOW:
        if (v.i != 0 && v.i != 1)
            return fail(err, errlen, "%s: must be %s or %s", k->name, k->names[0], k->names[1]);
        return 0;
    case K_INT:
    case K_MS: break;
    }
    if (v.i < k->min) return fail(err, errlen, "%s: must be >= %lld", k->name, (long long)k->min);
    if (v.i > k->max) return fail(err, errlen, "%s: must be <= %lld", k->name, (long long)k->max);
    return 0;
}

/* Reads a decimal integer at the start of text; *rest is what follows.
 * Returns -1 if there is none. Out-of-range text saturates, so that the
 * range check names the bound. */
static int read_int(const char *text, int64_t *out, const char **rest) {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text) return -1;
    *out = v;
    *rest = end;
    return 0;
}

static const struct { const char *suffix; int64_t ms; } units[] = {
    {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}};

/* Reads one value of k's kind from text. Returns 0, or -1 with the reason. */
static int read_value(const struct key *k, const char *text, value *v, char *err,
                      size_t errlen) {
    const char *rest;
    switch (k->kind) {
    case K_PERCENT: {
        char *end;
        v->d = strtod(text, &end);
        if (end == text || *end) return fail(err, errlen, "%s: not a number: \"%s\"", k->name, text);
        return 0;
    }
    case K_INT:
        if (read_int(text, &v->i, &rest) || *rest)
            return fail(err, errlen, "%s: not an integer: \"%s\"", k->name, text);
        return 0;
    case K_MS:
        if (read_int(text, &v->i, &rest) == 0) {
            for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
                if (strcmp(rest, units[u].suffix) != 0) continue;
                int64_t lim = INT64_MAX / units[u].ms;
                v->i = v->i > lim ? INT64_MAX : v->i < -lim ? INT64_MIN : v->i * units[u].ms;
                return 0;
            }
        }
        return fail(err, errlen, "%s: not a duration: \"%s\"", k->name, text);
    case K_BOOL:
    case K_WINDOW: break;
    }
    v->i = strcmp(text, k->names[0]) == 0 ? 0 : strcmp(text, k->names[1]) == 0 ? 1 : -1;
    return 0;  /* -1 is for check() to name the choices */
}

int stagesim_breaker_config_validate(const stagesim_breaker_config *c, char *err,
                                     size_t errlen) {
    for (size_t i = 0; i < NKEYS; i++)
        if (check(&keys[i], load(&keys[i], c), err, errlen)) return -1;
    /* A value that would change nothing is a mistake worth naming. */
    if (c->success_threshold != 1 && c->consecutive_failures == 0)
        return fail(err, errlen, "successThreshold: applies only with consecutiveFailures");
    return 0;
}

/* Narrows [*p, *end) to leave out the blanks around it. */
static void trim(const char **p, const char **end) {
    while (*p < *end && (**p == ' ' || **p == '\t')) (*p)++;
    while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t')) (*end)--;
}

static int find_key(const char *name, size_t len) {
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0) return (int)i;
    return -1;
}

/* Applies one "key=value" entry, [p, end), to c. seen has a bit per key
 * already given. Returns 0, or -1 with the reason. */
static int apply_entry(stagesim_breaker_config *c, unsigned *seen, const char *p,
                       const char *end, char *err, size_t errlen) {
    const char *eq = memchr(p, '=', (size_t)(end - p));
    const char *name = p, *name_end = eq ? eq : end;
    trim(&name, &name_end);
    int len = (int)(name_end - name);
    if (len == 0) return fail(err, errlen, eq ? "missing key before \"=\"" : "empty entry");
    int i = find_key(name, (size_t)len);
    if (i < 0) return fail(err, errlen, "%.*s: unknown key", len, name);
    const struct key *k = &keys[i];
    if (!eq) return fail(err, errlen, "%s: expected key=value", k->name);
    if (*seen & 1u << i) return fail(err, errlen, "%s: given twice", k->name);
    *seen |= 1u << i;
    const char *v = eq + 1, *v_end = end;
    trim(&v, &v_end);
    char text[64];
    if ((size_t)(v_end - v) >= sizeof(text)) return fail(err, errlen, "%s: value too long", k->name);
    memcpy(text, v, (size_t)(v_end - v));
    text[v_end - v] = '\0';
    value val = {0};
    if (read_value(k, text, &val, err, errlen) || check(k, val, err, errlen)) return -1;
    store(k, c, val);
    return 0;
}

int stagesim_breaker_config_parse(const char *spec, stagesim_breaker_config *out,
                                  char *err, size_t errlen) {
    stagesim_breaker_config c;
    stagesim_breaker_config_init(&c);
    unsigned seen = 0;
    for (const char *p = spec, *end; *spec; p = end + 1) {  /* "" is the defaults */
        end = p + strcspn(p, ",");
        if (apply_entry(&c, &seen, p, end, err, errlen)) return -1;
        if (!*end) break;
    }
    if (stagesim_breaker_config_validate(&c, err, errlen)) return -1;
    *out = c;
    return 0;
}

/* --------------------------------------------------------------- breaker */

/* The sums of a window's outcomes. */
typedef struct tally {
    int64_t calls, failed, slow, slow_failed;
} tally;

enum { SLOT_FAILED = 1, SLOT_SLOW = 2 };  /* a count window slot: one outcome */

typedef enum { ADMIT_ALL, ADMIT_NONE, ADMIT_LIMITED } admission;
/* SLIDING: the configured window; TRIAL: the half-open trial, a plain count
 * that never slides (it decides before it could). */
typedef enum { WINDOW_NONE, WINDOW_SLIDING, WINDOW_TRIAL } window_use;

/* Everything that starts again at every transition. */
typedef struct per_state {
    tally sum;                 /* the window's outcomes */
    int ring_len, ring_next;   /* COUNT_BASED: filled slots, the next one to write */
    int64_t head_second;       /* TIME_BASED: the newest bucket's second */
    int64_t consecutive_failures, consecutive_successes;
    int64_t in_flight;         /* HALF_OPEN: permitted, not yet recorded */
    int64_t not_permitted;
} per_state;

struct stagesim_breaker {
    stagesim_breaker_config cfg;
    stagesim_breaker_cb cb;
    void *ctx;
    const char *name;          /* in this allocation, after the ring */
    stagesim_breaker_state state;
    uint64_t generation;       /* bumped by every transition; permits carry it */
    int64_t since_ms;          /* when the current state was entered */
    int64_t last_ms;           /* the latest now_ms seen */
    int in_callback;
    per_state cur;
    int64_t stale, transitions;  /* cumulative */
    /* The ring follows: sliding_window_size slots (uint8_t) or buckets (tally). */
};

_Static_assert(_Alignof(struct stagesim_breaker) >= _Alignof(tally),
               "the buckets follow the struct");

static uint8_t *slots(stagesim_breaker *b) { return (uint8_t *)(b + 1); }
static tally *buckets(stagesim_breaker *b) { return (tally *)(b + 1); }

static size_t ring_bytes(const stagesim_breaker_config *c) {
    size_t one = c->sliding_window_type == STAGESIM_BREAKER_COUNT_BASED ? 1 : sizeof(tally);
    return (size_t)c->sliding_window_size * one;
}

static void judge_closed(stagesim_breaker *b, int64_t now_ms);
static void judge_half_open(stagesim_breaker *b, int64_t now_ms);

/* What each state does with a call and with its outcome. */
static const struct state_def {
    const char *name;    /* resilience4j's */
    const char *health;  /* docs/contract.md §1.2 */
    admission admit;
    window_use window;   /* where taken outcomes go */
    void (*judge)(stagesim_breaker *b, int64_t now_ms);  /* after one; NULL: never trips */
} states[] = {
    [STAGESIM_BREAKER_CLOSED] = {"CLOSED", "closed", ADMIT_ALL, WINDOW_SLIDING, judge_closed},
    [STAGESIM_BREAKER_OPEN] = {"OPEN", "open", ADMIT_NONE, WINDOW_NONE, NULL},
    [STAGESIM_BREAKER_HALF_OPEN] = {"HALF_OPEN", "half_open", ADMIT_LIMITED, WINDOW_TRIAL,
                                    judge_half_open},
    [STAGESIM_BREAKER_FORCED_OPEN] = {"FORCED_OPEN", "open", ADMIT_NONE, WINDOW_NONE, NULL},
    [STAGESIM_BREAKER_DISABLED] = {"DISABLED", "closed", ADMIT_ALL, WINDOW_NONE, NULL},
    [STAGESIM_BREAKER_METRICS_ONLY] = {"METRICS_ONLY", "closed", ADMIT_ALL, WINDOW_SLIDING,
                                       NULL},
};
#define NSTATES (sizeof(states) / sizeof(states[0]))

static const char *const reason_names[] = {
    [STAGESIM_BREAKER_REASON_MANUAL] = "manual",
    [STAGESIM_BREAKER_REASON_CONSECUTIVE_FAILURES] = "consecutive_failures",
    [STAGESIM_BREAKER_REASON_FAILURE_RATE] = "failure_rate",
    [STAGESIM_BREAKER_REASON_SLOW_CALL_RATE] = "slow_call_rate",
    [STAGESIM_BREAKER_REASON_HALF_OPEN_FAILURE] = "half_open_failure",
    [STAGESIM_BREAKER_REASON_SUCCESS_THRESHOLD] = "success_threshold",
    [STAGESIM_BREAKER_REASON_BELOW_THRESHOLDS] = "below_thresholds",
    [STAGESIM_BREAKER_REASON_WAIT_ELAPSED] = "wait_elapsed",
    [STAGESIM_BREAKER_REASON_MAX_WAIT_ELAPSED] = "max_wait_elapsed",
};

/* ---- the sliding windows ---- */

static void tally_add(tally *t, const tally *d) {
    t->calls += d->calls, t->failed += d->failed;
    t->slow += d->slow, t->slow_failed += d->slow_failed;
}

static void tally_sub(tally *t, const tally *d) {
    t->calls -= d->calls, t->failed -= d->failed;
    t->slow -= d->slow, t->slow_failed -= d->slow_failed;
}

static tally outcome_tally(int failed, int slow) {
    return (tally){1, failed, slow, failed && slow};
}

/* Moves the time window's head to now_ms's second: the buckets of the
 * seconds that left the last sliding_window_size are subtracted from the sum
 * and emptied (resilience4j's subtract-on-evict). */
static void window_advance(stagesim_breaker *b, int64_t now_ms) {
    int64_t n = b->cfg.sliding_window_size, second = now_ms / 1000;
    int64_t from = b->cur.head_second + 1;
    if (from < second - n + 1) from = second - n + 1;  /* each bucket once */
    for (int64_t s = from; s <= second; s++) {
        tally *bucket = &buckets(b)[s % n];
        tally_sub(&b->cur.sum, bucket);
        *bucket = (tally){0};
    }
    b->cur.head_second = second;
}

/* Adds one taken outcome to the current state's window. */
static void window_add(stagesim_breaker *b, int64_t now_ms, int failed, int slow) {
    tally one = outcome_tally(failed, slow);
    if (states[b->state].window == WINDOW_SLIDING) {
        int n = b->cfg.sliding_window_size;
        if (b->cfg.sliding_window_type == STAGESIM_BREAKER_TIME_BASED) {
            window_advance(b, now_ms);
            tally_add(&buckets(b)[b->cur.head_second % n], &one);
        } else {
            uint8_t *slot = &slots(b)[b->cur.ring_next];
            if (b->cur.ring_len == n) {  /* full: the oldest outcome leaves */
                tally old = outcome_tally(*slot & SLOT_FAILED, (*slot & SLOT_SLOW) != 0);
                tally_sub(&b->cur.sum, &old);
            } else {
                b->cur.ring_len++;
            }
            *slot = (uint8_t)((failed ? SLOT_FAILED : 0) | (slow ? SLOT_SLOW : 0));
            b->cur.ring_next = (b->cur.ring_next + 1) % n;
        }
    }
    tally_add(&b->cur.sum, &one);
}

/* The outcomes the current window needs before its rates count. resilience4j
 * caps the minimum at a count window's size, and its half-open trial is a
 * count window of permittedNumberOfCallsInHalfOpenState. */
static int64_t min_calls(const stagesim_breaker *b) {
    const stagesim_breaker_config *c = &b->cfg;
    int64_t cap = INT64_MAX;
    if (states[b->state].window == WINDOW_TRIAL)
        cap = c->permitted_number_of_calls_in_half_open_state;
    else if (c->sliding_window_type == STAGESIM_BREAKER_COUNT_BASED)
        cap = c->sliding_window_size;
    return c->minimum_number_of_calls < cap ? c->minimum_number_of_calls : cap;
}

/* part as a percentage of the window's outcomes, or -1 below the minimum. */
static double rate(const stagesim_breaker *b, int64_t part) {
    int64_t calls = b->cur.sum.calls;
    return calls < min_calls(b) ? -1 : (double)part * 100.0 / (double)calls;
}

/* The rate rules on the current window: 0 while it is below the minimum;
 * else 1 with the verdict in *why. Both rates trip at >= their threshold,
 * the failure rate named first when both do (resilience4j). */
static int rate_verdict(const stagesim_breaker *b, stagesim_breaker_reason *why) {
    double failed = rate(b, b->cur.sum.failed), slow = rate(b, b->cur.sum.slow);
    if (failed < 0) return 0;
    *why = failed >= b->cfg.failure_rate_threshold ? STAGESIM_BREAKER_REASON_FAILURE_RATE
         : slow >= b->cfg.slow_call_rate_threshold ? STAGESIM_BREAKER_REASON_SLOW_CALL_RATE
         : STAGESIM_BREAKER_REASON_BELOW_THRESHOLDS;
    return 1;
}

/* ---- transitions ---- */

/* Starts state `to` at now_ms: a new generation (so permits in flight go stale),
 * and the windows and per-state counters start again. */
static void start_state(stagesim_breaker *b, stagesim_breaker_state to, int64_t now_ms) {
    b->state = to;
    b->since_ms = now_ms;
    b->generation++;
    b->cur = (per_state){.head_second = now_ms / 1000};
    memset(b + 1, 0, ring_bytes(&b->cfg));
}

/* Moves to `to`, then tells the owner. The callback runs with the transition
 * complete, so it sees a consistent breaker; it must not call back in,
 * because a transition from inside it would reach the owner out of order. */
static void transition(stagesim_breaker *b, stagesim_breaker_state to,
                       stagesim_breaker_reason why, int64_t eligible_ms, int64_t now_ms) {
    stagesim_breaker_state from = b->state;
    start_state(b, to, now_ms);
    b->transitions++;
    if (b->cb) {
        b->in_callback = 1;
        b->cb(b->ctx, from, to, eligible_ms, now_ms, why);
        b->in_callback = 0;
    }
}

static void judge_closed(stagesim_breaker *b, int64_t now_ms) {
    stagesim_breaker_reason why;
    if (b->cfg.consecutive_failures > 0) {
        if (b->cur.consecutive_failures >= b->cfg.consecutive_failures)
            transition(b, STAGESIM_BREAKER_OPEN, STAGESIM_BREAKER_REASON_CONSECUTIVE_FAILURES,
                       now_ms, now_ms);
    } else if (rate_verdict(b, &why) && why != STAGESIM_BREAKER_REASON_BELOW_THRESHOLDS) {
        transition(b, STAGESIM_BREAKER_OPEN, why, now_ms, now_ms);
    }
}

static void judge_half_open(stagesim_breaker *b, int64_t now_ms) {
    stagesim_breaker_reason why;
    if (b->cfg.consecutive_failures > 0) {
        if (b->cur.consecutive_failures > 0)
            transition(b, STAGESIM_BREAKER_OPEN, STAGESIM_BREAKER_REASON_HALF_OPEN_FAILURE,
                       now_ms, now_ms);
        else if (b->cur.consecutive_successes >= b->cfg.success_threshold)
            transition(b, STAGESIM_BREAKER_CLOSED, STAGESIM_BREAKER_REASON_SUCCESS_THRESHOLD,
                       now_ms, now_ms);
    } else if (rate_verdict(b, &why)) {
        transition(b, why == STAGESIM_BREAKER_REASON_BELOW_THRESHOLDS ? STAGESIM_BREAKER_CLOSED
                                                                      : STAGESIM_BREAKER_OPEN,
                   why, now_ms, now_ms);
    }
}

/* The transition the current state makes once time passes: returns when it
 * is due (-1: none) and fills where to and why. OPEN -> HALF_OPEN is due for
 * a timer (by_timer) only with automatic transition; any call observes it. */
static int64_t due(const stagesim_breaker *b, int by_timer, stagesim_breaker_state *to,
                   stagesim_breaker_reason *why) {
    const stagesim_breaker_config *c = &b->cfg;
    if (b->state == STAGESIM_BREAKER_OPEN &&
        (!by_timer || c->automatic_transition_from_open_to_half_open_enabled)) {
        *to = STAGESIM_BREAKER_HALF_OPEN;
        *why = STAGESIM_BREAKER_REASON_WAIT_ELAPSED;
        return b->since_ms + c->wait_duration_in_open_state_ms;
    }
    if (b->state == STAGESIM_BREAKER_HALF_OPEN && c->max_wait_duration_in_half_open_state_ms > 0) {
        *to = STAGESIM_BREAKER_OPEN;
        *why = STAGESIM_BREAKER_REASON_MAX_WAIT_ELAPSED;
        return b->since_ms + c->max_wait_duration_in_half_open_state_ms;
    }
    return -1;
}

/* Every entry point that changes the breaker starts here. */
static void check_call(stagesim_breaker *b, int64_t now_ms) {
    assert(!b->in_callback);
    assert(now_ms >= b->last_ms);
    b->last_ms = now_ms;
}

/* Carries out the timed transition due by now_ms, if any. The boundary is
 * inclusive: at exactly the due time it happens. The new state starts at
 * now_ms (when it was observed), so at most one is ever due at once. */
static void observe(stagesim_breaker *b, int64_t now_ms, int by_timer) {
    check_call(b, now_ms);
    stagesim_breaker_state to;
    stagesim_breaker_reason why;
    int64_t at = due(b, by_timer, &to, &why);
    if (at >= 0 && now_ms >= at) transition(b, to, why, at, now_ms);
}

/* ---- the API ---- */

stagesim_breaker *stagesim_breaker_new(const stagesim_breaker_config *cfg, const char *name,
                                       stagesim_breaker_cb cb, void *ctx) {
    assert(cfg && name);
    if (stagesim_breaker_config_validate(cfg, NULL, 0)) return NULL;
    size_t ring = ring_bytes(cfg), len = strlen(name) + 1;
    stagesim_breaker *b = calloc(1, sizeof(*b) + ring + len);
    if (!b) return NULL;
    b->cfg = *cfg;
    b->cb = cb;
    b->ctx = ctx;
    b->name = memcpy((char *)(b + 1) + ring, name, len);
    b->state = STAGESIM_BREAKER_CLOSED;
    b->generation = 1;  /* 0 marks a spent permit */
    return b;
}

void stagesim_breaker_free(stagesim_breaker *b) {
    if (!b) return;
    assert(!b->in_callback);
    free(b);
}

const char *stagesim_breaker_name(const stagesim_breaker *b) { return b->name; }

int stagesim_breaker_acquire(stagesim_breaker *b, int64_t now_ms,
                             stagesim_breaker_permit *permit) {
    observe(b, now_ms, 0);
    const struct state_def *s = &states[b->state];
    if (s->admit == ADMIT_NONE ||
        (s->admit == ADMIT_LIMITED &&
         b->cur.in_flight >= b->cfg.permitted_number_of_calls_in_half_open_state)) {
        b->cur.not_permitted++;
        return 0;
    }
    if (s->admit == ADMIT_LIMITED) b->cur.in_flight++;
    permit->generation = b->generation;
    return 1;
}

int stagesim_breaker_record(stagesim_breaker *b, stagesim_breaker_permit *permit,
                            stagesim_breaker_outcome outcome, int64_t duration_ms,
                            int64_t now_ms) {
    assert(permit->generation != 0);  /* recorded twice */
    assert((unsigned)outcome <= STAGESIM_BREAKER_IGNORED && duration_ms >= 0);
    observe(b, now_ms, 0);
    uint64_t issued = permit->generation;
    permit->generation = 0;
    if (issued != b->generation) {
        b->stale++;
        return 0;
    }
    const struct state_def *s = &states[b->state];
    if (s->admit == ADMIT_LIMITED) b->cur.in_flight--;
    if (outcome == STAGESIM_BREAKER_IGNORED || s->window == WINDOW_NONE) return 1;
    int failed = outcome == STAGESIM_BREAKER_FAILURE;
    window_add(b, now_ms, failed, duration_ms > b->cfg.slow_call_duration_threshold_ms);
    if (failed) {
        b->cur.consecutive_failures++;
        b->cur.consecutive_successes = 0;
    } else {
        b->cur.consecutive_successes++;
        b->cur.consecutive_failures = 0;
    }
    if (s->judge) s->judge(b, now_ms);
    return 1;
}

stagesim_breaker_state stagesim_breaker_state_at(stagesim_breaker *b, int64_t now_ms) {
    observe(b, now_ms, 0);
    return b->state;
}

int64_t stagesim_breaker_deadline(const stagesim_breaker *b) {
    stagesim_breaker_state to;
    stagesim_breaker_reason why;
    return due(b, 1, &to, &why);
}

void stagesim_breaker_tick(stagesim_breaker *b, int64_t now_ms) { observe(b, now_ms, 1); }

void stagesim_breaker_transition(stagesim_breaker *b, stagesim_breaker_state to,
                                 int64_t now_ms) {
    assert((unsigned)to < NSTATES);
    check_call(b, now_ms);
    if (to == b->state)
        start_state(b, to, now_ms);  /* a reset, not a transition: no callback */
    else
        transition(b, to, STAGESIM_BREAKER_REASON_MANUAL, now_ms, now_ms);
}

void stagesim_breaker_metrics_at(stagesim_breaker *b, int64_t now_ms,
                                 stagesim_breaker_metrics *m) {
    observe(b, now_ms, 0);
    if (states[b->state].window == WINDOW_SLIDING &&
        b->cfg.sliding_window_type == STAGESIM_BREAKER_TIME_BASED)
        window_advance(b, now_ms);
    const tally *t = &b->cur.sum;
    *m = (stagesim_breaker_metrics){
        .failure_rate = rate(b, t->failed),
        .slow_call_rate = rate(b, t->slow),
        .buffered_calls = t->calls,
        .failed_calls = t->failed,
        .successful_calls = t->calls - t->failed,
        .slow_calls = t->slow,
        .slow_failed_calls = t->slow_failed,
        .slow_successful_calls = t->slow - t->slow_failed,
        .not_permitted_calls = b->cur.not_permitted,
        .consecutive_failures = b->cur.consecutive_failures,
        .consecutive_successes = b->cur.consecutive_successes,
        .in_flight = b->cur.in_flight,
        .stale_calls = b->stale,
        .transitions = b->transitions,
    };
}

const char *stagesim_breaker_state_name(stagesim_breaker_state s) {
    assert((unsigned)s < NSTATES);
    return states[s].name;
}

const char *stagesim_breaker_state_health(stagesim_breaker_state s) {
    assert((unsigned)s < NSTATES);
    return states[s].health;
}

const char *stagesim_breaker_reason_name(stagesim_breaker_reason r) {
    assert((unsigned)r < sizeof(reason_names) / sizeof(reason_names[0]));
    return reason_names[r];
}
