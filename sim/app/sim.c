/* sim.c -- one simulator: loads the scenario, starts the fault engine and the
 * services on the caller's loop in dependency order, and stops them in the
 * order that leaves no callback pointing at freed state. */
#include "sim.h"

#include <cjson/cJSON.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "backend.h"
#include "caps.h"
#include "control.h"
#include "fault.h"
#include "history.h"
#include "redis_server.h"
#include "scenario.h"
#include "tls_cert.h"
#include "auth_remote.h"
#include "lifecycle.h"
#include "sim_int.h"
#include "tls_front.h"
#include "util.h"

#define SHUTDOWN_GRACE_MS 2000
#define TLS_CERT_DAYS 3


void sim_options_default(sim_options *opt) {
    memset(opt, 0, sizeof(*opt));
    opt->bind = "127.0.0.1";
    opt->backend_port = 8000;
    opt->auth_port = 8081;
    opt->redis_port = 6380;
    opt->control_port = 8090;
    opt->time_scale = 1.0;
}

/* Frees whatever has been started. The history client goes before the
 * backend: freeing it runs its pending callbacks (a thread history read),
 * which land in backend requests that must still exist; nothing runs on the
 * loop between the two, so no run can reach the freed client. It also goes
 * before the Redis server, so its disconnect is a clean one. */
static void teardown(sim *s) {
    if (s->control) sim_control_stop(s->control);
    s->control = NULL;
    sim_lifecycle_free(s->lifecycle);
    s->lifecycle = NULL;
    if (s->auth) sim_auth_store_on_revoke(s->auth, NULL, NULL);
    if (s->history) sim_history_free(s->history);
    s->history = NULL;
    if (s->backend) sim_backend_free(s->backend);
    sim_auth_remote_free(s->auth_remote);   /* after the backend, whose checks it holds */
    s->auth_remote = NULL;
    /* After the backend: its last frames (1001) went out through the front. */
    sim_tls_front_free(s->tls_front);
    s->tls_front = NULL;
    if (s->tls) sim_tls_cert_free(&s->cert);
    s->tls = 0;
    if (s->redis) sim_redis_server_stop(s->redis);
    if (s->auth_svc) sim_auth_service_stop(s->auth_svc);
    if (s->auth) sim_auth_store_free(s->auth);
    if (s->faults) {
        sim_faults_flush(s->faults);
        sim_faults_free(s->faults);
    }
    s->backend = NULL;
    s->history = NULL;
    s->redis = NULL;
    s->auth_svc = NULL;
    s->auth = NULL;
    s->faults = NULL;
}

/* The control API's view of the backend's Redis client. */
static void history_info(void *ctx, sim_control_redis_info *out) {
    const sim *s = ctx;
    out->up = sim_history_connected(s->history);
    out->status = sim_history_status(s->history);
    out->failures = sim_history_failures(s->history);
}

static int lifecycle_apply(void *ctx, const sim_lifecycle_step *st, char *err, size_t errlen) {
    sim *s = ctx;
    return sim_lifecycle_apply(s->lifecycle, st, err, errlen);
}

/* The auth service revoked a token (a logout) or a user's tokens: the
 * backend's WebSockets that rode on them close 1008. */
static void revoked(void *ctx, const char *user_id, const char *jti, int64_t now_ms) {
    (void)now_ms;
    sim *s = ctx;
    if (s->backend) sim_backend_revoked(s->backend, user_id, jti);
}

static void revoke_user(void *ctx, const char *user_id) {
    sim *s = ctx;
    sim_auth_store_revoke_user(s->auth, user_id, sim_clock_now_ms(&s->clock, ev_now(s->loop)));
}

static cJSON *lifecycle_state(void *ctx) {
    const sim *s = ctx;
    return sim_lifecycle_json(s->lifecycle);
}

/* What /status adds for the live view: each service's port and state (its
 * life cycle's, or the backend's own start-up and shutdown while its life
 * cycle says running), the backend's Redis client, and its breakers. */
static void describe(void *ctx, cJSON *status, int64_t now_ms) {
    const sim *s = ctx;
    cJSON *life = sim_lifecycle_json(s->lifecycle);
    cJSON *svc = cJSON_DetachItemFromObject(life, "services");
    cJSON_Delete(life);
    cJSON_AddItemToObject(status, "services", svc);
    cJSON *backend = sim_backend_describe(s->backend, now_ms);
    cJSON_AddItemToObject(status, "breakers", cJSON_DetachItemFromObject(backend, "breakers"));
    cJSON *b = cJSON_GetObjectItem(svc, "backend");
    if (b && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(b, "state")), "running") == 0)
        cJSON_ReplaceItemInObject(b, "state", cJSON_DetachItemFromObject(backend, "state"));
    cJSON_AddItemToObject(b, "phase", cJSON_DetachItemFromObject(backend, "phase"));
    cJSON_AddItemToObject(b, "websockets", cJSON_DetachItemFromObject(backend, "websockets"));
    cJSON_Delete(backend);
    cJSON *control = cJSON_AddObjectToObject(svc, "control");
    cJSON_AddStringToObject(control, "state", s->stopping ? "stopping" : "running");
    static const char *const names[] = {"backend", "auth", "redis", "control"};
    for (size_t i = 0; i < 4; i++) {
        cJSON *o = cJSON_GetObjectItem(svc, names[i]);
        if (o) cJSON_AddNumberToObject(o, "port", sim_port(s, names[i]));
    }
    cJSON *h = cJSON_AddObjectToObject(svc, "redis_client");
    cJSON_AddStringToObject(h, "state", sim_history_connected(s->history) ? "connected" : "failed");
    cJSON_AddStringToObject(h, "detail", sim_history_status(s->history));
}

sim *sim_start(struct ev_loop *loop, const sim_options *opt, char *err, size_t errlen,
               int *exit_code) {
    *exit_code = 2;
    sim_scenario *sc = sim_scenario_load(opt->scenario_path, err, errlen);
    if (!sc) return NULL;
    if (opt->seed_set) sc->seed = opt->seed;

    *exit_code = 1;
    sim *s = sim_xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->bind = sim_xstrdup(opt->bind ? opt->bind : "127.0.0.1");
    s->sc = sc;
    ev_now_update(loop);
    sim_clock_init(&s->clock, ev_now(loop), opt->time_scale);
    if (s->clock.scale != 1.0)
        sim_info("time runs %g times faster (durations stagesim owns; not clients' own)",
                 s->clock.scale);
    int64_t now_ms = sim_clock_now_ms(&s->clock, ev_now(loop));
    s->faults = sim_faults_new(sc->seed, opt->journal_path, now_ms);
    if (!s->faults) {
        snprintf(err, errlen, "cannot open journal %s", opt->journal_path);
        goto fail;
    }
    if (sc->faults && sim_faults_add_all(s->faults, sc->faults, now_ms, err, errlen)) {
        *exit_code = 2; /* validated at load: only a bug gets here */
        goto fail;
    }
    sim_faults_set_network(s->faults, &sc->network);
    if (opt->tls || sc->tls) {
        int rc = opt->tls_cert ? sim_tls_cert_load(&s->cert, opt->tls_cert, opt->tls_key, err, errlen)
                               : sim_tls_cert_generate(&s->cert, opt->tls_dir, now_ms, TLS_CERT_DAYS,
                                                       err, errlen);
        if (rc) goto fail;
        s->tls = 1;
    }
    s->auth = sim_auth_store_new(sc, sc->seed);
    sim_auth_store_set_faults(s->auth, s->faults);

    /* Every service's cap from the descriptors the process has, so that a
     * client within one always finds a descriptor (caps.h). */
    sim_caps caps;
    sim_caps_size(&caps, sim_caps_fd_limit(), s->tls, opt->max_clients);
    char line[320];
    sim_caps_describe(&caps, line, sizeof(line));
    if (opt->fds_before && opt->fds_before != caps.fds)
        sim_info("open files: limit raised from %ld to %ld", opt->fds_before, caps.fds);
    if (caps.fits) sim_info("%s", line);
    else sim_warn("%s", line);

    sim_redis_server_config rc = {.bind = s->bind, .port = opt->redis_port, .faults = s->faults,
                                  .clock = &s->clock, .maxclients = caps.redis};
    s->redis = sim_redis_server_start(loop, &rc, err, errlen);
    if (!s->redis) goto fail;
    sim_auth_config ac = {.bind = s->bind, .port = opt->auth_port, .store = s->auth,
                          .faults = s->faults, .clock = &s->clock, .tls = s->tls ? &s->cert : NULL,
                          .front_end = sc->front_end == SIM_FRONT_END_GOOGLE, .seed = sc->seed,
                          .max_conns = caps.auth};
    s->auth_svc = sim_auth_service_start(loop, &ac, err, errlen);
    if (!s->auth_svc) goto fail;

    /* The backend talks to stagesim's own Redis unless the scenario names
     * another one (an external Redis, or a dead address for outages). */
    const char *rhost = sc->redis_host ? sc->redis_host : s->bind;
    int rport = sc->redis_host ? sc->redis_port : sim_redis_server_port(s->redis);
    if (strcmp(rhost, "0.0.0.0") == 0) rhost = "127.0.0.1";
    sim_history_config hc = {.host = rhost, .port = rport,
                             .connect_timeout_ms = sc->redis_connect_timeout_ms,
                             .command_timeout_ms = sc->redis_command_timeout_ms,
                             .breaker = &sc->redis_breaker, .faults = s->faults};
    s->history = sim_history_new(loop, &s->clock, &hc);

    /* With TLS the backend listens on a loopback port of its own, and the
     * front takes the public one (tls_front.h). */
    /* Before the backend, which tells clients the front's port; the front
     * learns the backend's inner port right after (no client knows the port
     * before READY). */
    if (s->tls) {
        sim_tls_front_config fc = {.bind = s->bind, .port = opt->backend_port, .cert = &s->cert,
                                   .max_conns = caps.backend + SIM_CAPS_REFUSING};
        s->tls_front = sim_tls_front_start(loop, &fc, err, errlen);
        if (!s->tls_front) goto fail;
    }
    if (sc->remote_validation) {
        sim_auth_remote_config arc = {.port = sim_auth_service_port(s->auth_svc),
                                      .cacert = s->tls ? s->cert.cert_path : NULL,
                                      .timeout_ms = sc->validation_timeout_ms,
                                      .breaker = &sc->auth_breaker, .faults = s->faults,
                                      .clock = &s->clock};
        s->auth_remote = sim_auth_remote_new(loop, &arc);
    }
    sim_backend_config bc = {
        .bind = s->tls ? "127.0.0.1" : s->bind,
        .port = s->tls ? 0 : opt->backend_port,
        .auth_port = sim_auth_service_port(s->auth_svc),
        .sc = sc,
        .auth = s->auth,
        .history = s->history,
        .faults = s->faults,
        .seed = sc->seed,
        .clock = &s->clock,
        .public_host = s->bind,
        .public_port = s->tls ? sim_tls_front_port(s->tls_front) : 0,
        .tls = s->tls,
        .remote = s->auth_remote,
        .max_conns = caps.backend,
    };
    s->backend = sim_backend_start(loop, &bc, err, errlen);
    if (!s->backend) goto fail;
    if (s->tls) sim_tls_front_set_inner_port(s->tls_front, sim_backend_port(s->backend));
    s->lifecycle = sim_lifecycle_new(s);
    sim_auth_store_on_revoke(s->auth, revoked, s);

    sim_control_config cc = {
        .bind = s->bind, .port = opt->control_port, .token = opt->control_token,
        .faults = s->faults, .sc = sc, .clock = &s->clock,
        .redis_info = history_info, .redis_info_ctx = s,
        .lifecycle = lifecycle_apply, .lifecycle_state = lifecycle_state, .lifecycle_ctx = s,
        .revoke_user = revoke_user,
        .describe = describe, .describe_ctx = s,
        .ports = {sim_port(s, "backend"), sim_auth_service_port(s->auth_svc),
                  sim_redis_server_port(s->redis)},
        .max_conns = caps.control,
    };
    s->control = sim_control_start(loop, &cc, err, errlen);
    if (!s->control) goto fail;
    sim_info("scenario %s (%s), seed %llu", sc->name, sc->path, (unsigned long long)sc->seed);
    return s;

fail:
    teardown(s);
    sim_scenario_free(s->sc);
    free(s->bind);
    free(s);
    return NULL;
}

int sim_port(const sim *s, const char *service) {
    if (strcmp(service, "backend") == 0)
        return s->tls_front ? sim_tls_front_port(s->tls_front)
               : s->backend ? sim_backend_port(s->backend) : -1;
    if (strcmp(service, "auth") == 0) return s->auth_svc ? sim_auth_service_port(s->auth_svc) : -1;
    if (strcmp(service, "redis") == 0) return s->redis ? sim_redis_server_port(s->redis) : -1;
    if (strcmp(service, "control") == 0) return s->control ? sim_control_port(s->control) : -1;
    return -1;
}

void sim_ready_json(const sim *s, char *out, size_t outlen) {
    cJSON *j = cJSON_CreateObject();
    static const char *const names[] = {"backend", "auth", "redis", "control"};
    for (size_t i = 0; i < 4; i++) cJSON_AddNumberToObject(j, names[i], sim_port(s, names[i]));
    if (s->tls) cJSON_AddStringToObject(j, "cert", s->cert.cert_path);
    char *text = cJSON_PrintUnformatted(j);
    snprintf(out, outlen, "%s", text ? text : "{}");
    free(text);
    cJSON_Delete(j);
}

static void history_drained(void *ctx) {
    sim *s = ctx;
    s->draining = 0;
    teardown(s);
    if (s->done) s->done(s->done_ctx);
}

/* The backend is closed: no run adds to the history now. The appends of
 * the runs that completed may still be on their way to Redis (thousands,
 * when many runs end at once): wait for their answers before Redis stops,
 * so that none is lost; the history's command timeout bounds the wait. */
static void backend_closed(void *ctx) {
    sim *s = ctx;
    if (!s->history) {
        history_drained(s);
        return;
    }
    s->draining = 1;
    sim_history_drain(s->history, history_drained, s);
}

void sim_stop(sim *s, void (*done)(void *ctx), void *ctx) {
    sim_tls_front_stop_listening(s->tls_front);
    if (s->stopping) {
        /* A second request: skip the grace period, and the history's wait. */
        if (s->draining) {
            sim_history_drain(s->history, NULL, NULL);
            history_drained(s);
        } else if (s->backend) {
            sim_backend_shutdown(s->backend, 0, backend_closed, s);
        }
        return;
    }
    s->stopping = 1;
    s->done = done;
    s->done_ctx = ctx;
    sim_info("shutting down");
    sim_faults_flush(s->faults);
    if (s->backend)
        sim_backend_shutdown(s->backend, SHUTDOWN_GRACE_MS, backend_closed, s);
    else
        backend_closed(s);
}

void sim_free(sim *s) {
    if (!s) return;
    teardown(s);
    sim_scenario_free(s->sc);
    free(s->bind);
    free(s);
}
