/* expect.h -- a scenario's `expect` section: the steps a drill runs and the
 * checks it makes (docs/drills.md). Parsed and validated completely with the
 * scenario, so `stagesim validate` and the loader report its errors with
 * file and JSON path; pure (no loop, no clock). */
#ifndef SIM_EXPECT_H
#define SIM_EXPECT_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "jcheck.h"

/* A value a matcher compares: a result field or a journal member. */
typedef enum { SIM_VAL_NULL, SIM_VAL_BOOL, SIM_VAL_NUM, SIM_VAL_STR } sim_value_type;

typedef struct sim_value {
    sim_value_type type;
    double num;          /* SIM_VAL_NUM; SIM_VAL_BOOL: 0 or 1 */
    const char *str;     /* SIM_VAL_STR; owned by the matcher inside one, else borrowed */
} sim_value;

typedef enum { SIM_MATCH_EQ, SIM_MATCH_IN, SIM_MATCH_RANGE, SIM_MATCH_REGEX } sim_match_kind;

typedef struct sim_matcher {
    sim_match_kind kind;
    sim_value *values;   /* eq: 1, in: n >= 1, range: lo and hi (numbers) */
    size_t nvalues;
    regex_t re;          /* regex: compiled from values[0].str */
} sim_matcher;

/* A member name with the matcher its value must satisfy: a result field of
 * a step check, a member of a journal filter. */
typedef struct sim_expect_field {
    char *name;
    sim_matcher *m;
} sim_expect_field;

typedef struct sim_expect_fields {
    sim_expect_field *v;
    size_t n;
} sim_expect_fields;

typedef enum { SIM_STEP_AT, SIM_STEP_AFTER, SIM_STEP_EVERY } sim_step_when;

typedef struct sim_expect_step {
    char *id;
    char *probe;              /* "golden-path", "health", "auth" or "redis" */
    int count, concurrency;
    int64_t interval_ms, timeout_ms;
    sim_step_when when;
    int64_t start_ms;         /* AT and EVERY: the (first) start */
    size_t after;             /* AFTER: index of an earlier step */
    int64_t delay_ms;         /* AFTER */
    int64_t every_ms, until_ms; /* EVERY */
    char *breaker;            /* a breaker spec (stagesim_breaker.h), or NULL */
    char *email, *password, *e2e_key;   /* golden-path, auth; password: redis too */
    char *token_source, *ws_path;       /* golden-path */
    int health_auth;          /* health: the auth service rather than the backend */
    char *path;               /* health: default "/health" */
    int status;               /* health: default 200 */
    char **field_paths, **field_values; /* health: the body fields wanted */
    size_t nfields;
    int64_t max_latency_ms;   /* health: < 0 none */
} sim_expect_step;

typedef enum { SIM_CHECK_STEP, SIM_CHECK_RULE, SIM_CHECK_JOURNAL, SIM_CHECK_BREAKER } sim_check_kind;
typedef enum { SIM_ATTEMPTS_ALL, SIM_ATTEMPTS_ANY, SIM_ATTEMPTS_LIST } sim_attempts_mode;

/* One entry of a breaker's expected sequence of states. */
typedef struct sim_breaker_entry {
    char *state;              /* lower case: closed, open, half_open, ... */
    int eligible;             /* the bounds use eligible_ms rather than t_ms */
    sim_matcher *at_ms;       /* NULL: no bound; from the check's origin */
    sim_matcher *after_prev_ms; /* NULL: no bound; from the previous entry's t_ms */
} sim_breaker_entry;

typedef struct sim_expect_check {
    char *id;
    sim_check_kind kind;
    /* step */
    size_t step;
    sim_matcher *passed, *failed;
    sim_attempts_mode attempts;
    int *ordinals;
    size_t nordinals;
    sim_expect_fields result;
    /* rule */
    char *rule;
    sim_matcher *fired;
    /* journal */
    sim_expect_fields filter, from, until;
    int has_from, has_until;
    sim_matcher *count;
    /* breaker */
    char *breaker, *svc;      /* svc NULL: any */
    sim_breaker_entry *seq;
    size_t nseq;
    int has_seq;
    char **never;
    size_t nnever;
    int since_step;           /* the origin of at_ms: a step's start ... */
    size_t since_step_index;
    char *since_rule;         /* ... or a rule's first firing; neither: the start */
} sim_expect_check;

typedef struct sim_expect {
    double time_scale;        /* 1 unless given */
    sim_expect_step *steps;
    size_t nsteps;
    sim_expect_check *checks;
    size_t nchecks;
} sim_expect;

/* The check id the digest comparison reports under (docs/drills.md §7). */
#define SIM_EXPECT_DIGEST_CHECK "expect-digest"

/* Parses and validates v (the "expect" member, a cJSON *) against the
 * scenario's fault rules (a cJSON array or NULL: rule ids must be theirs).
 * Returns the section, which the caller frees with sim_expect_free, or NULL
 * with the error in c ("file: expect.checks[2].close_code: ..."). */
sim_expect *sim_expect_parse(sim_jcheck *c, const cJSON *v, const cJSON *faults);
void sim_expect_free(sim_expect *e);

/* The state names breaker checks use, lower case; NULL-terminated. */
extern const char *const sim_expect_breaker_states[];

#endif
