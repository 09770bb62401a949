/* embed.c -- the public embedding API (include/stagesim.h): a simulator on
 * its own libev loop in a background thread. The embedding thread talks to
 * it only through an ev_async (stop) and a start-up handshake. */
#include "stagesim.h"

#include <ev.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util.h"

struct stagesim {
    pthread_t thread;
    struct ev_loop *loop;
    ev_async stop_async;
    sim_options opt;
    char *scenario_path, *bind, *journal_path;
    sim *s;
    int ports[4];

    pthread_mutex_t lock;
    pthread_cond_t cond;
    int started;        /* 1 ready, -1 failed */
    char err[512];
};

void stagesim_config_init(stagesim_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
}

const char *stagesim_version(void) {
    return STAGESIM_VERSION;
}

static void stopped(void *ctx) {
    stagesim *st = ctx;
    ev_async_stop(st->loop, &st->stop_async);
    ev_break(st->loop, EVBREAK_ALL);
}

static void on_stop(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    stagesim *st = w->data;
    sim_stop(st->s, stopped, st);
}

static void announce(stagesim *st, int started) {
    pthread_mutex_lock(&st->lock);
    st->started = started;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

static void *run(void *arg) {
    stagesim *st = arg;
    int code;
    st->s = sim_start(st->loop, &st->opt, st->err, sizeof(st->err), &code);
    if (!st->s) {
        announce(st, -1);
        return NULL;
    }
    st->ports[0] = sim_port(st->s, "backend");
    st->ports[1] = sim_port(st->s, "auth");
    st->ports[2] = sim_port(st->s, "redis");
    st->ports[3] = sim_port(st->s, "control");
    ev_async_init(&st->stop_async, on_stop);
    st->stop_async.data = st;
    ev_async_start(st->loop, &st->stop_async);
    announce(st, 1);
    ev_run(st->loop, 0);
    sim_free(st->s);
    st->s = NULL;
    return NULL;
}

static void destroy(stagesim *st) {
    if (st->loop) ev_loop_destroy(st->loop);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    free(st->scenario_path);
    free(st->bind);
    free(st->journal_path);
    free(st);
}

stagesim *stagesim_start(const stagesim_config *cfg, char *err, size_t errlen) {
    stagesim *st = sim_xcalloc(1, sizeof(*st));
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    sim_options_default(&st->opt);
    st->scenario_path = cfg->scenario_path ? sim_xstrdup(cfg->scenario_path) : NULL;
    st->bind = sim_xstrdup(cfg->bind ? cfg->bind : "127.0.0.1");
    st->journal_path = cfg->journal_path ? sim_xstrdup(cfg->journal_path) : NULL;
    st->opt.scenario_path = st->scenario_path;
    st->opt.bind = st->bind;
    st->opt.journal_path = st->journal_path;
    st->opt.backend_port = cfg->backend_port;
    st->opt.auth_port = cfg->auth_port;
    st->opt.redis_port = cfg->redis_port;
    st->opt.control_port = cfg->control_port;
    st->opt.seed_set = cfg->seed_set;
    st->opt.seed = cfg->seed;

    st->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!st->loop) {
        snprintf(err, errlen, "cannot create an event loop");
        destroy(st);
        return NULL;
    }
    if (pthread_create(&st->thread, NULL, run, st) != 0) {
        snprintf(err, errlen, "cannot start the simulator thread");
        destroy(st);
        return NULL;
    }
    pthread_mutex_lock(&st->lock);
    while (!st->started) pthread_cond_wait(&st->cond, &st->lock);
    pthread_mutex_unlock(&st->lock);
    if (st->started < 0) {
        pthread_join(st->thread, NULL);
        snprintf(err, errlen, "%s", st->err);
        destroy(st);
        return NULL;
    }
    return st;
}

int stagesim_port(const stagesim *st, const char *service) {
    static const char *names[] = {"backend", "auth", "redis", "control"};
    for (int i = 0; i < 4; i++)
        if (strcmp(service, names[i]) == 0) return st->ports[i];
    return -1;
}

int stagesim_stop(stagesim *st) {
    ev_async_send(st->loop, &st->stop_async);
    pthread_join(st->thread, NULL);
    destroy(st);
    return 0;
}
