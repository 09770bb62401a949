/* probe_auth.c -- the auth probe: the auth service's token life cycle
 * (docs/contract.md §3.1), one request at a time: log in (password, and/or
 * the E2E bypass), refresh, validate the refreshed access token, and ask
 * /auth/me whose it is. Each step is a row of a table: its request, and
 * the check of its answer. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_check.h"
#include "probe_login.h"
#include "util.h"

typedef struct auth_state {
    probe_attempt *a;
    probe_http *http;         /* the step's request; NULL between steps */
    int step;                 /* index into steps[] */
    int have_tokens;
    probe_tokens tokens;      /* from the first login; access is replaced by the refresh */
    char path[1100];
    char body[8400];
} auth_state;

typedef struct auth_step {
    const char *stage;
    /* Fills rq for this step; returns 0, or 1 to skip the step. */
    int (*request)(auth_state *st, probe_http_request *rq);
    /* 0 when the answer holds, else -1 with the failure in res. */
    int (*check)(auth_state *st, const char *stage, const probe_http_reply *reply,
                 sim_probe_result *res);
} auth_step;

static int prepare(const sim_probe_options *o, probe_target *t, char *err, size_t errlen) {
    return sim_probe_url_option("--auth", o->auth, &t->auth, err, errlen);
}

/* ---- requests ---------------------------------------------------------- */

static int login_request(auth_state *st, probe_http_request *rq) {
    const sim_probe_options *o = &st->a->run->opt;
    if (o->e2e_key && !o->password) return 1;
    probe_login_request(st->a->run, 0, rq, st->path, sizeof(st->path), st->body, sizeof(st->body));
    return 0;
}

static int e2e_request(auth_state *st, probe_http_request *rq) {
    if (!st->a->run->opt.e2e_key) return 1;
    probe_login_request(st->a->run, 1, rq, st->path, sizeof(st->path), st->body, sizeof(st->body));
    return 0;
}

/* rel on the auth service: a GET with the access token, or a POST of
 * {"key": value}. */
static void auth_request(auth_state *st, probe_http_request *rq, const char *rel,
                         const char *key, const char *value) {
    sim_probe_url_join(&st->a->run->target.auth, rel, st->path, sizeof(st->path));
    rq->url = &st->a->run->target.auth;
    rq->path = st->path;
    if (!key) {
        rq->method = "GET";
        rq->bearer = st->tokens.access;
        return;
    }
    snprintf(st->body, sizeof(st->body), "{\"%s\":\"%s\"}", key, value);
    rq->method = "POST";
    rq->body = st->body;
}

static int refresh_request(auth_state *st, probe_http_request *rq) {
    auth_request(st, rq, "/auth/refresh", "refresh_token", st->tokens.refresh);
    return 0;
}

static int validate_request(auth_state *st, probe_http_request *rq) {
    auth_request(st, rq, "/auth/validate", "token", st->tokens.access);
    return 0;
}

static int me_request(auth_state *st, probe_http_request *rq) {
    auth_request(st, rq, "/auth/me", NULL, NULL);
    return 0;
}

/* ---- checks ------------------------------------------------------------ */

/* The answer's JSON object when it came with 200, else NULL with the
 * failure in res. The caller deletes it. */
static cJSON *answer_json(const probe_http_reply *reply, const char *stage, sim_probe_result *res) {
    if (probe_reply_check(reply, 200, stage, res) < 0) return NULL;
    cJSON *j = cJSON_ParseWithLength(reply->body, reply->body_len);
    if (cJSON_IsObject(j)) return j;
    cJSON_Delete(j);
    sim_probe_fail(res, stage, "body", "the answer is not a JSON object");
    SIM_PROBE_SET(res->expected, "a JSON object");
    return NULL;
}

/* The answer's field at path must read want. */
static int expect_field(const cJSON *answer, const char *path, const char *want,
                        const char *stage, sim_probe_result *res) {
    char got[128];
    int found = sim_health_field_text(answer, path, got, sizeof(got)) == 0;
    if (found && strcmp(got, want) == 0) return 0;
    sim_probe_fail(res, stage, "field", found ? "%s is \"%s\"" : "%s missing", path, got);
    SIM_PROBE_SET(res->field, path);
    SIM_PROBE_SET(res->expected, want);
    SIM_PROBE_SET(res->got, found ? got : "");
    return -1;
}

/* A login or E2E answer; the first pair is kept, and must have a refresh
 * token for the next step. */
static int login_check(auth_state *st, const char *stage, const probe_http_reply *reply,
                       sim_probe_result *res) {
    probe_tokens t;
    if (probe_login_parse(reply, stage, &t, res) < 0) return -1;
    if (st->have_tokens) return 0;
    st->tokens = t;
    st->have_tokens = 1;
    if (t.refresh[0]) return 0;
    sim_probe_fail(res, stage, "field", "no refresh_token in the answer");
    SIM_PROBE_SET(res->field, "refresh_token");
    SIM_PROBE_SET(res->expected, "a non-empty string");
    return -1;
}

/* A new pair: its access token is the one validated and shown to /me. */
static int refresh_check(auth_state *st, const char *stage, const probe_http_reply *reply,
                         sim_probe_result *res) {
    cJSON *j = answer_json(reply, stage, res);
    if (!j) return -1;
    int rc = probe_token_member(j, "access_token", st->tokens.access, sizeof(st->tokens.access));
    cJSON_Delete(j);
    if (rc == 0) return 0;
    sim_probe_fail(res, stage, "field", "no access_token in the answer");
    SIM_PROBE_SET(res->field, "access_token");
    SIM_PROBE_SET(res->expected, "a non-empty string");
    return -1;
}

/* 200, a JSON object whose user_id is the logged-in user's, and whose
 * valid is true when want_valid. */
static int user_check(auth_state *st, const char *stage, const probe_http_reply *reply,
                      sim_probe_result *res, int want_valid) {
    cJSON *j = answer_json(reply, stage, res);
    if (!j) return -1;
    int rc = want_valid ? expect_field(j, "valid", "true", stage, res) : 0;
    if (rc == 0) rc = expect_field(j, "user_id", st->tokens.user_id, stage, res);
    cJSON_Delete(j);
    return rc;
}

static int validate_check(auth_state *st, const char *stage, const probe_http_reply *reply,
                          sim_probe_result *res) {
    return user_check(st, stage, reply, res, 1);
}

static int me_check(auth_state *st, const char *stage, const probe_http_reply *reply,
                    sim_probe_result *res) {
    return user_check(st, stage, reply, res, 0);
}

static const auth_step steps[] = {
    {"login", login_request, login_check},
    {"e2e", e2e_request, login_check},
    {"refresh", refresh_request, refresh_check},
    {"validate", validate_request, validate_check},
    {"me", me_request, me_check},
};
#define NSTEPS (sizeof(steps) / sizeof(*steps))

/* ---- the sequence ------------------------------------------------------ */

static void next_step(auth_state *st);

static void on_reply(void *ctx, const probe_http_reply *reply) {
    auth_state *st = ctx;
    st->http = NULL;
    if (st->a->finished) return;   /* the timeout came first */
    const auth_step *s = &steps[st->step];
    if (s->check(st, s->stage, reply, &st->a->res) < 0) {
        probe_attempt_finish(st->a);
        return;
    }
    st->step++;
    next_step(st);
}

/* Starts the next step that applies, or passes the attempt after the last. */
static void next_step(auth_state *st) {
    for (; st->step < (int)NSTEPS; st->step++) {
        probe_http_request rq;
        memset(&rq, 0, sizeof(rq));
        if (steps[st->step].request(st, &rq)) continue;
        st->http = probe_http_start(st->a->run->net, &rq, on_reply, st);
        return;
    }
    st->a->res.ok = 1;
    probe_attempt_finish(st->a);
}

static void *start(probe_attempt *a) {
    auth_state *st = sim_xcalloc(1, sizeof(*st));
    st->a = a;
    next_step(st);
    return st;
}

static void timed_out(void *state, sim_probe_result *r) {
    auth_state *st = state;
    sim_probe_fail(r, "timeout", "timeout", "no answer to %s within %lld ms",
                   steps[st->step].stage, (long long)st->a->run->opt.timeout_ms);
    SIM_PROBE_SET(r->expected, steps[st->step].stage);
}

static void release(void *state) {
    auth_state *st = state;
    if (st->http) probe_http_cancel(st->http);
    free(st);
}

const probe_kind sim_probe_kind_auth = {"auth", 1, prepare, start, timed_out, release};
