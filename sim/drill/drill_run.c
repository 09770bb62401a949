/* drill_run.c -- one drill on one loop: the simulator, then each step's probe
 * runs on the simulator's clock as its schedule says, the step breakers fed
 * with every verdict; once all steps have ended and a short settle has
 * passed, the simulator stops and its journal is read back. */
#include "drill_run.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "drill_breaker.h"
#include "probe.h"
#include "sim.h"
#include "util.h"

/* Real time after the last step, so that the lines of closing connections
 * (the server's side of a close the probe started) reach the journal. */
#define SETTLE_S 0.1

typedef struct drill drill;

typedef struct step_state {
    drill *d;
    size_t index;
    const sim_expect_step *spec;
    sim_drill_step_outcome *out;
    sim_probe_options opt;
    sim_health_field *fields;
    char url[320];              /* health */
    ev_timer start;
    int runs_started, runs_live;
    int no_more;                /* every run that will start has started */
    int ended;
    sim_drill_breaker *breaker;
} step_state;

/* One probe run of a step. */
typedef struct step_run {
    step_state *st;
    sim_probe_run *run;
    int offset;                 /* attempts of the step's earlier runs */
} step_run;

struct drill {
    struct ev_loop *loop;
    sim *s;
    sim_clock clock;            /* the simulator's (see sim_drill_run) */
    const sim_expect *e;
    step_state *steps;
    size_t ended;
    ev_timer settle;
    char backend[80], auth[80], redis[80];
    char cert[4096];            /* the certificate to trust when serving TLS, or "" */
};

static int64_t elapsed_now(const drill *d) {
    return sim_clock_elapsed_ms(&d->clock, sim_clock_now_ms(&d->clock, ev_now(d->loop)));
}

/* Arms a step's start timer for `at_ms` from the simulator's start. */
static void arm_at(step_state *st, int64_t at_ms) {
    ev_timer_set(&st->start, sim_clock_wait_s(&st->d->clock, at_ms - elapsed_now(st->d)), 0.0);
    ev_timer_start(st->d->loop, &st->start);
}

static void on_settled(struct ev_loop *loop, ev_timer *t, int revents);

/* A step has ended once every run it will start has reported its summary.
 * Steps waiting for it start from their timers, never from inside the
 * probe's callback this is called from. */
static void maybe_end(step_state *st) {
    drill *d = st->d;
    if (st->ended || !st->no_more || st->runs_live) return;
    st->ended = 1;
    d->ended++;
    for (size_t i = 0; i < d->e->nsteps; i++) {
        step_state *w = &d->steps[i];
        if (w->spec->when == SIM_STEP_AFTER && w->spec->after == st->index)
            arm_at(w, elapsed_now(d) + w->spec->delay_ms);
    }
    if (d->ended == d->e->nsteps) ev_timer_start(d->loop, &d->settle);
}

static void on_result(void *ctx, const sim_probe_result *r) {
    step_run *sr = ctx;
    step_state *st = sr->st;
    sim_drill_step_outcome *o = st->out;
    o->attempts = sim_xrealloc(o->attempts, (o->n + 1) * sizeof(sim_probe_result));
    o->attempts[o->n] = *r;
    o->attempts[o->n++].attempt = sr->offset + r->attempt;
    if (st->breaker)
        sim_drill_breaker_outcome(st->breaker, sim_clock_now_ms(&st->d->clock, ev_now(st->d->loop)),
                                  r->ok, r->latency_ms);
}

static void on_done(void *ctx, const sim_probe_summary *s) {
    (void)s;
    step_run *sr = ctx;
    step_state *st = sr->st;
    sim_probe_free(sr->run);   /* allowed from inside done (probe.h) */
    free(sr);
    st->runs_live--;
    maybe_end(st);
}

static void start_run(step_state *st) {
    drill *d = st->d;
    step_run *sr = sim_xcalloc(1, sizeof(*sr));
    sr->st = st;
    sr->offset = st->runs_started * st->spec->count;
    char err[sizeof(st->out->error)];
    int code;
    sr->run = sim_probe_start(d->loop, &st->opt, on_result, on_done, sr, err, sizeof(err), &code);
    if (!sr->run) {
        free(sr);
        if (!st->out->error[0]) memcpy(st->out->error, err, sizeof(err));
        st->no_more = 1;
        return;
    }
    if (!st->out->started) st->out->start_ms = elapsed_now(d);
    st->out->started = 1;
    st->runs_started++;
    st->runs_live++;
}

static void on_start(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    step_state *st = t->data;
    const sim_expect_step *sp = st->spec;
    start_run(st);
    if (sp->when != SIM_STEP_EVERY) st->no_more = 1;
    if (!st->no_more) {
        int64_t next = sp->start_ms + (int64_t)st->runs_started * sp->every_ms;
        if (next <= sp->until_ms)
            arm_at(st, next);
        else
            st->no_more = 1;
    }
    maybe_end(st);
}

/* The probe's options from the step, with the simulator's own URLs. */
static void step_options(drill *d, step_state *st) {
    const sim_expect_step *sp = st->spec;
    sim_probe_options *o = &st->opt;
    sim_probe_options_default(o);
    o->probe = sp->probe;
    o->count = sp->count;
    o->concurrency = sp->concurrency;
    o->interval_ms = sp->interval_ms;
    o->timeout_ms = sp->timeout_ms;
    o->clock = &d->clock;
    o->cacert = d->cert[0] ? d->cert : NULL;
    if (sp->email) o->email = sp->email;
    o->e2e_key = sp->e2e_key;
    if (sp->token_source) o->token_source = sp->token_source;
    if (sp->ws_path) o->ws_path = sp->ws_path;
    if (strcmp(sp->probe, "redis") == 0) {
        o->redis = d->redis;
        o->redis_password = sp->password;
    } else if (strcmp(sp->probe, "health") == 0) {
        snprintf(st->url, sizeof(st->url), "%s%s", sp->health_auth ? d->auth : d->backend,
                 sp->path ? sp->path : "/health");
        o->url = st->url;
        o->status = sp->status;
        o->max_latency_ms = sp->max_latency_ms;
        st->fields = sim_xcalloc(sp->nfields + 1, sizeof(sim_health_field));
        for (size_t i = 0; i < sp->nfields; i++)
            st->fields[i] = (sim_health_field){sp->field_paths[i], sp->field_values[i]};
        o->fields = st->fields;
        o->nfields = sp->nfields;
    } else {
        o->password = sp->password;
        o->auth = d->auth;
        if (strcmp(sp->probe, "golden-path") == 0) o->backend = d->backend;
    }
}

/* The simulator's URLs and, when it serves TLS, its certificate. */
static void read_ports(drill *d) {
    char ready[8192];
    sim_ready_json(d->s, ready, sizeof(ready));
    cJSON *j = cJSON_Parse(ready);
    const cJSON *cert = cJSON_GetObjectItemCaseSensitive(j, "cert");
    if (cJSON_IsString(cert)) snprintf(d->cert, sizeof(d->cert), "%s", cert->valuestring);
    cJSON_Delete(j);
    const char *scheme = d->cert[0] ? "https" : "http";
    snprintf(d->backend, sizeof(d->backend), "%s://127.0.0.1:%d", scheme, sim_port(d->s, "backend"));
    snprintf(d->auth, sizeof(d->auth), "%s://127.0.0.1:%d", scheme, sim_port(d->s, "auth"));
    snprintf(d->redis, sizeof(d->redis), "127.0.0.1:%d", sim_port(d->s, "redis"));
}

static void on_stopped(void *ctx) {
    drill *d = ctx;
    ev_break(d->loop, EVBREAK_ALL);
}

static void on_settled(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    drill *d = t->data;
    sim_stop(d->s, on_stopped, d);
}

/* A fresh file for the journal: sim_start writes it and closes it on stop,
 * after which every line is in it (the in-memory ring keeps only the last
 * 65536, and sim.h gives no access to it). */
static int journal_file(char *path, size_t len, char *err, size_t errlen) {
    const char *tmp = getenv("TMPDIR");
    snprintf(path, len, "%s/stagesim-drill-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot make a journal file in %s: %s", tmp && *tmp ? tmp : "/tmp",
                 strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

static int read_journal(const char *path, sim_drill_journal *j, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read the journal %s: %s", path, strerror(errno));
        return -1;
    }
    sim_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) sim_buf_append(&b, chunk, n);
    fclose(f);
    int rc = b.data ? sim_drill_journal_parse(j, b.data, err, errlen) : 0;
    sim_buf_free(&b);
    return rc;
}

/* The step breakers' lines among the simulator's, by time. */
static void merge_breaker_lines(drill *d, sim_drill_journal *j) {
    for (size_t i = 0; i < d->e->nsteps; i++) {
        if (!d->steps[i].breaker) continue;
        char *const *lines;
        size_t n = sim_drill_breaker_lines(d->steps[i].breaker, &lines);
        for (size_t k = 0; k < n; k++) sim_assert(sim_drill_journal_insert_by_time(j, lines[k]) == 0);
    }
}

static void start_steps(drill *d) {
    for (size_t i = 0; i < d->e->nsteps; i++) {
        step_state *st = &d->steps[i];
        if (st->spec->when != SIM_STEP_AFTER) arm_at(st, st->spec->start_ms);
    }
    if (!d->e->nsteps) ev_timer_start(d->loop, &d->settle);
}

int sim_drill_run(const sim_drill_run_options *o, sim_drill_evidence *ev, char *err,
                  size_t errlen, int *exit_code) {
    memset(ev, 0, sizeof(*ev));
    char journal[4096];
    *exit_code = 1;
    if (journal_file(journal, sizeof(journal), err, errlen)) return -1;
    sim_options so;
    sim_options_default(&so);
    so.backend_port = so.auth_port = so.redis_port = so.control_port = 0;
    so.scenario_path = o->path;
    so.seed_set = o->seed_set;
    so.seed = o->seed;
    so.time_scale = o->time_scale;
    so.journal_path = journal;

    drill d = {.loop = ev_loop_new(EVFLAG_AUTO), .e = o->expect};
    double real_start = ev_time();
    d.s = sim_start(d.loop, &so, err, errlen, exit_code);
    if (!d.s) {
        ev_loop_destroy(d.loop);
        unlink(journal);
        return -1;
    }
    /* sim_start set its clock from ev_now() after its last ev_now_update,
     * and nothing has run on the loop since: this clock is the same one. */
    sim_clock_init(&d.clock, ev_now(d.loop), o->time_scale);
    read_ports(&d);
    ev->nsteps = o->expect->nsteps;
    ev->steps = sim_xcalloc(ev->nsteps + 1, sizeof(sim_drill_step_outcome));
    d.steps = sim_xcalloc(ev->nsteps + 1, sizeof(step_state));
    for (size_t i = 0; i < ev->nsteps; i++) {
        step_state *st = &d.steps[i];
        *st = (step_state){.d = &d, .index = i, .spec = &o->expect->steps[i], .out = &ev->steps[i]};
        step_options(&d, st);
        ev_timer_init(&st->start, on_start, 0.0, 0.0);
        st->start.data = st;
        if (st->spec->breaker)
            st->breaker = sim_drill_breaker_new(st->spec->breaker, st->spec->id, d.clock.start_ms);
    }
    ev_timer_init(&d.settle, on_settled, SETTLE_S, 0.0);
    d.settle.data = &d;
    start_steps(&d);
    ev_run(d.loop, 0);
    sim_free(d.s);
    ev_loop_destroy(d.loop);
    ev->elapsed_ms = (int64_t)((ev_time() - real_start) * 1000.0);

    int rc = read_journal(journal, &ev->journal, err, errlen);
    unlink(journal);
    if (!rc) merge_breaker_lines(&d, &ev->journal);
    for (size_t i = 0; i < ev->nsteps; i++) {
        sim_drill_breaker_free(d.steps[i].breaker);
        free(d.steps[i].fields);
    }
    free(d.steps);
    if (rc) sim_drill_evidence_free(ev);
    return rc;
}

void sim_drill_evidence_free(sim_drill_evidence *ev) {
    for (size_t i = 0; i < ev->nsteps; i++) free(ev->steps[i].attempts);
    free(ev->steps);
    sim_drill_journal_free(&ev->journal);
    memset(ev, 0, sizeof(*ev));
}
