/* backend.c -- the backend service's life cycle: start (listening socket,
 * lws context, routes), the graceful shutdown that sends 1001 to every
 * session before lws_context_destroy, which sends no close frames
 * (docs/libraries.md §2.12, §8), and free. */
#include "backend.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdlib.h>

#include "backend_accept.h"
#include "backend_lws.h"
#include "backend_routes.h"
#include "backend_ws.h"
#include "auth_remote.h"
#include "dep_breaker.h"
#include "listener.h"
#include "startup.h"
#include "threads.h"
#include "util.h"

static void done_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    sim_backend *b = (sim_backend *)((char *)t - offsetof(sim_backend, done_timer));
    ev_timer_stop(loop, &b->grace);
    ev_timer_stop(loop, &b->done_timer);
    if (b->done_called || !b->shutting_down) return;
    b->done_called = 1;
    if (b->done) b->done(b->done_ctx);
}

static void grace_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    sim_backend *b = (sim_backend *)((char *)t - offsetof(sim_backend, grace));
    if (b->nws) sim_warn("backend: %zu WebSocket client(s) still open after the grace period",
                         b->nws);
    ev_feed_event(loop, &b->done_timer, EV_TIMER);
}

/* Staging's WebSocket breaker (docs/contract.md §4). */
#define SIM_WS_BREAKER "consecutiveFailures=3,waitDurationInOpenState=15s,successThreshold=2"

static sim_dep_breaker *own_breaker(sim_backend *b, const char *name, const char *spec) {
    stagesim_breaker_config cfg;
    sim_assert(stagesim_breaker_config_parse(spec, &cfg, NULL, 0) == 0);
    return sim_dep_breaker_new(b->loop, b->cfg.clock, b->cfg.faults, name, &cfg, NULL, NULL);
}

sim_backend *sim_backend_start(struct ev_loop *loop, const sim_backend_config *cfg, char *err,
                               size_t errlen) {
    sim_backend *b = sim_xcalloc(1, sizeof(*b));
    b->loop = loop;
    b->fine_fd = -1;
    b->cfg = *cfg;
    b->bind = sim_xstrdup(cfg->bind ? cfg->bind : "127.0.0.1");
    b->cfg.bind = b->bind;
    if (sim_backend_accept_listen(b, err, errlen) < 0) {
        free(b->bind);
        free(b);
        return NULL;
    }
    if (sim_backend_lws_start(b, err, errlen) < 0) {
        sim_backend_accept_stop(b);
        free(b->bind);
        free(b);
        return NULL;
    }

    b->routes = (sim_backend_routes){.sc = cfg->sc, .auth = cfg->auth, .history = cfg->history,
                                     .host = cfg->public_host ? cfg->public_host : b->bind,
                                     .backend_port = cfg->public_port ? cfg->public_port : b->port,
                                     .auth_port = cfg->auth_port, .tls = cfg->tls,
                                     .seed = cfg->seed, .start_ms = cfg->clock->start_ms,
                                     .threads = sim_threads_new()};
    b->routes.ws_breaker = own_breaker(b, "websocket", SIM_WS_BREAKER);
    /* The auth breaker is the remote validator's, when there is one. */
    b->routes.auth_breaker = cfg->remote ? sim_auth_remote_breaker(cfg->remote)
                                         : own_breaker(b, "auth", SIM_AUTH_BREAKER);
    if (sim_backend_ws_setup(b, err, errlen) < 0) {
        sim_backend_free(b);
        return NULL;
    }

    sim_backend_accept_start(b);
    ev_init(&b->grace, grace_cb);
    ev_init(&b->done_timer, done_cb);
    sim_info("backend listening on %s:%d", b->bind, b->port);
    return b;
}

int sim_backend_port(const sim_backend *b) {
    return b->port;
}

/* Closes the sockets lws never saw. */
cJSON *sim_backend_describe(const sim_backend *b, int64_t now_ms) {
    sim_phase phase = sim_startup_phase(b->cfg.sc, now_ms - b->routes.start_ms);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "state", b->shutting_down ? "stopping"
                                        : phase == SIM_PHASE_COMPLETE ? "running" : "starting");
    cJSON_AddStringToObject(j, "phase", sim_phase_name(phase));
    cJSON_AddNumberToObject(j, "websockets", (double)b->nws);
    cJSON_AddItemToObject(j, "breakers", sim_backend_routes_breakers(&b->routes));
    return j;
}

static void close_pre_reads(sim_backend *b) {
    for (conn *c = b->conns, *next; c; c = next) {
        next = c->next;
        if (c->kind == C_PRE) sim_backend_accept_close(c);
    }
}

void sim_backend_crash(sim_backend *b) {
    sim_listener_close(b->listener);
    close_pre_reads(b);
    /* Cut, not closed: a dying process sends no close frame (clients see
     * 1006) and no HTTP reply. lws frees each as it notices. */
    for (conn *c = b->conns; c; c = c->next)
        if (!c->aborted) sim_backend_conn_abort(c);
}

int sim_backend_restart(sim_backend *b, int keep_state, char *err, size_t errlen) {
    if (!keep_state) {
        sim_threads_free(b->routes.threads);
        b->routes.threads = sim_threads_new();
    }
    /* A fresh process goes through the start-up phases again. */
    b->routes.start_ms = b->ws_cfg.start_ms = sim_backend_now_ms(b);
    return sim_listener_reopen(b->listener, err, errlen);
}

void sim_backend_revoked(sim_backend *b, const char *user_id, const char *jti) {
    for (conn *c = b->conns; c; c = c->next)
        if (c->kind == C_WS) sim_backend_ws_revoked(c, user_id, jti);
}

void sim_backend_drain(sim_backend *b) {
    for (conn *c = b->conns; c; c = c->next)
        if (c->kind == C_WS) sim_backend_ws_goodbye(c);
}

void sim_backend_shutdown(sim_backend *b, uint32_t grace_ms, void (*done)(void *ctx), void *ctx) {
    b->done = done;
    b->done_ctx = ctx;
    if (b->shutting_down) {
        /* Second call: skip the grace. */
        ev_feed_event(b->loop, &b->done_timer, EV_TIMER);
        return;
    }
    b->shutting_down = 1;
    sim_backend_accept_stop(b);
    close_pre_reads(b);
    for (conn *c = b->conns; c; c = c->next)
        if (c->kind == C_WS) sim_backend_ws_goodbye(c);
    if (b->nws == 0) {
        ev_feed_event(b->loop, &b->done_timer, EV_TIMER);
        return;
    }
    ev_timer_set(&b->grace, sim_backend_wait_s(b, grace_ms), 0.0);
    ev_timer_start(b->loop, &b->grace);
}

void sim_backend_free(sim_backend *b) {
    if (!b) return;
    b->done_called = 1;   /* no done() from the destroy below */
    sim_backend_accept_stop(b);
    ev_timer_stop(b->loop, &b->grace);
    ev_timer_stop(b->loop, &b->done_timer);
    close_pre_reads(b);
    sim_backend_lws_free(b);
    while (b->conns) {
        conn *c = b->conns;
        sim_backend_unlink(c);
        sim_backend_conn_free(c);
    }
    sim_backend_ws_teardown(b);
    sim_backend_user_runs_free(b);
    sim_threads_free(b->routes.threads);
    sim_dep_breaker_free(b->routes.ws_breaker);
    if (!b->cfg.remote) sim_dep_breaker_free(b->routes.auth_breaker);
    free(b->bind);
    free(b);
}
