/* probe_result.h -- one probe attempt's verdict, in the fields drills assert
 * on, and its two renderings: a line for humans and a JSON object. The field
 * meanings and vocabularies are docs/probes.md; they are stable. Pure. */
#ifndef SIM_PROBE_RESULT_H
#define SIM_PROBE_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "stagesim_breaker.h"
#include "util.h"

/* Every text field is "" when it does not apply (JSON null); every number
 * is 0 then. Text is cut to fit, never overflowed. */
typedef struct sim_probe_result {
    int attempt;              /* 1-based, in the order attempts start */
    int ok;
    char stage[16];           /* where it failed: login, upgrade, event, close, timeout, ... */
    char failure[16];         /* what failed: status, missing, closed, timeout, ... */
    char expected[128];
    char got[128];
    char field[64];           /* a malformed or mismatched field, as a dotted path */
    int http_status;
    int close_code;
    char close_reason[124];   /* a WebSocket close reason is at most 123 bytes */
    int event_ordinal;        /* 1-based, server frames after the welcome, skipped ones not counted */
    int64_t latency_ms;
    char detail[256];         /* the failure in words, for the human line */
    int refused;              /* not sent: the run's breaker refused it (stage "breaker") */
} sim_probe_result;

void sim_probe_result_init(sim_probe_result *r, int attempt);

/* Marks r failed at stage with failure kind and a printf detail. Leaves the
 * other fields alone, so callers fill expected, got, ... around it. */
void sim_probe_fail(sim_probe_result *r, const char *stage, const char *failure,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Copies src into a fixed field, cut to fit (dst_size includes the NUL). */
void sim_probe_set(char *dst, size_t dst_size, const char *src);
#define SIM_PROBE_SET(field, src) sim_probe_set((field), sizeof(field), (src))

/* Marks r refused by the run's breaker, in state s: stage "breaker",
 * failure "not_permitted", not sent. */
void sim_probe_refuse(sim_probe_result *r, stagesim_breaker_state s);

/* "attempt 3: ok (212 ms)",
 * "attempt 3: FAIL at event 3: close 1011 \"Internal error\" (expected tool_executing)" or
 * "attempt 3: REFUSED by the breaker (open): not sent". */
void sim_probe_result_line(const sim_probe_result *r, sim_buf *out);
/* One JSON object, no newline: {"type":"attempt","probe":...,"attempt":3,"ok":false,...}. */
void sim_probe_result_json(const sim_probe_result *r, const char *probe, sim_buf *out);

/* A transition of the run's breaker, times in ms from the run's start. */
typedef struct sim_probe_transition {
    const char *breaker;                 /* its name: the probe's */
    stagesim_breaker_state from, to;
    stagesim_breaker_reason reason;
    int64_t t_ms;                        /* when it was carried out (observed) */
    int64_t eligible_ms;                 /* when it became due */
    const stagesim_breaker_config *cfg;  /* the breaker's, for the words of the reason */
} sim_probe_transition;

/* "breaker closed -> open at 312 ms (3 consecutive failures)" */
void sim_probe_transition_line(const sim_probe_transition *t, sim_buf *out);
/* The journal's breaker line (docs/drills.md §4.4) with a type and a probe:
 * {"type":"breaker","probe":P,"t_ms":N,"svc":"probe","event":"breaker",
 *  "breaker":P,"from":"closed","to":"open","eligible_ms":N,"reason":"consecutive_failures"} */
void sim_probe_transition_json(const sim_probe_transition *t, const char *probe, sim_buf *out);

/* The summary of a run of attempts. */
typedef struct sim_probe_summary {
    int attempts, passed, failed;     /* failed includes refused */
    int refused;                      /* not sent: the breaker refused them */
    int64_t p50_ms, p95_ms, max_ms;   /* latency over every attempt sent, nearest rank */
    int64_t elapsed_ms;               /* first start to last verdict */
    /* With a breaker (the run's caller fills these in): */
    int breaker;                      /* 1: the run had one */
    stagesim_breaker_state breaker_state;  /* after the last attempt */
    int transitions;
} sim_probe_summary;

/* Fills s from the n results (any order); the breaker fields stay 0. */
void sim_probe_summarize(const sim_probe_result *results, size_t n, int64_t elapsed_ms,
                         sim_probe_summary *s);
/* "golden-path: 998 passed, 2 failed of 1000; latency p50 212 ms, p95 260 ms, max 301 ms; 3.1 s",
 * with a breaker a second line:
 * "breaker: closed at the end; 9 attempts sent, 6 refused; 4 transitions" */
void sim_probe_summary_line(const sim_probe_summary *s, const char *probe, sim_buf *out);
/* {"type":"summary","probe":...,"attempts":...,"passed":...,"failed":...,
 *  "latency_ms":{"p50":...,"p95":...,"max":...},"elapsed_ms":...,"breaker":null}, with a
 * breaker "breaker":{"state":"closed","permitted":9,"refused":6,"transitions":4} */
void sim_probe_summary_json(const sim_probe_summary *s, const char *probe, sim_buf *out);

#endif
