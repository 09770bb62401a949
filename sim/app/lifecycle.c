/* lifecycle.c -- a service's life cycle carried out (lifecycle.h). What a
 * client sees in each state is decided by the services (down: nothing
 * listens, connections were cut) and by the decision point (draining,
 * redeploying, cannot start: fault.h's service modes); this file moves the
 * services between the states, on time, and journals each move. */
#include "lifecycle.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define NSVC 3   /* backend, auth, redis: the services with a life cycle */

typedef enum { ST_RUNNING, ST_DOWN, ST_DRAINING, ST_REDEPLOYING, ST_CANNOT_START } state;

static const char *const state_names[] = {"running", "down", "draining", "redeploying",
                                          "cannot_start"};

typedef struct svc {
    sim_lifecycle *lc;
    sim_service service;
    state st;
    int64_t since_ms;
    int keep_state;           /* down: what the next start keeps */
    ev_timer until;           /* back to running after the step's ms */
} svc;

struct sim_lifecycle {
    sim *s;
    svc svc[NSVC];
    ev_timer timeline;
    size_t next;              /* the timeline's next step */
};

static int64_t now_ms(const sim_lifecycle *lc) {
    return sim_clock_now_ms(&lc->s->clock, ev_now(lc->s->loop));
}

static void journal(sim_lifecycle *lc, const svc *v, sim_lc_action a, uint32_t ms) {
    char members[128];
    int n = snprintf(members, sizeof(members), "\"action\":\"%s\",\"state\":\"%s\"",
                     sim_lc_action_name(a), state_names[v->st]);
    if (ms && n > 0 && (size_t)n < sizeof(members))
        snprintf(members + n, sizeof(members) - (size_t)n, ",\"ms\":%u", ms);
    sim_faults_journal_event(lc->s->faults, now_ms(lc), v->service, "lifecycle", members);
    sim_info("%s: %s, now %s", sim_service_name(v->service), sim_lc_action_name(a),
             state_names[v->st]);
}

/* ---- what each move does to the service ----------------------------------- */

static void crash(sim *s, sim_service service) {
    switch (service) {
    case SIM_SVC_BACKEND:
        if (s->tls_front) sim_tls_front_crash(s->tls_front);
        sim_backend_crash(s->backend);
        break;
    case SIM_SVC_AUTH: sim_auth_service_crash(s->auth_svc); break;
    case SIM_SVC_REDIS: sim_redis_server_crash(s->redis); break;
    default: break;
    }
}

/* Listening again (idempotent for a service that never stopped); the
 * backend goes through its start-up phases anew, as a new instance does. */
static int come_back(sim *s, sim_service service, int keep_state, char *err, size_t errlen) {
    switch (service) {
    case SIM_SVC_BACKEND:
        if (sim_backend_restart(s->backend, keep_state, err, errlen)) return -1;
        return s->tls_front ? sim_tls_front_restart(s->tls_front, err, errlen) : 0;
    case SIM_SVC_AUTH:
        if (!keep_state)
            sim_auth_store_forget(s->auth, sim_clock_now_ms(&s->clock, ev_now(s->loop)));
        return sim_auth_service_restart(s->auth_svc, err, errlen);
    case SIM_SVC_REDIS: return sim_redis_server_restart(s->redis, keep_state, err, errlen);
    default: return 0;
    }
}

static void set_state(svc *v, state st) {
    sim_lifecycle *lc = v->lc;
    v->st = st;
    v->since_ms = now_ms(lc);
    static const sim_service_mode modes[] = {
        [ST_RUNNING] = SIM_MODE_RUNNING, [ST_DOWN] = SIM_MODE_RUNNING,
        [ST_DRAINING] = SIM_MODE_DRAINING, [ST_REDEPLOYING] = SIM_MODE_REDEPLOYING,
        [ST_CANNOT_START] = SIM_MODE_CANNOT_START};
    sim_faults_set_mode(lc->s->faults, v->service, modes[st]);
}

static int start(svc *v, char *err, size_t errlen) {
    sim_lifecycle *lc = v->lc;
    ev_timer_stop(lc->s->loop, &v->until);
    if (come_back(lc->s, v->service, v->st == ST_DOWN ? v->keep_state : 1, err, errlen)) {
        sim_warn("%s cannot come back: %s", sim_service_name(v->service), err);
        return 500;
    }
    set_state(v, ST_RUNNING);
    return 0;
}

static void on_until(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    svc *v = t->data;
    char err[256];
    if (start(v, err, sizeof(err)) == 0) journal(v->lc, v, SIM_LC_START, 0);
}

static void back_after(svc *v, uint32_t ms) {
    if (!ms) return;
    sim_lifecycle *lc = v->lc;
    ev_timer_set(&v->until, sim_clock_wait_s(&lc->s->clock, ms), 0.);
    ev_timer_start(lc->s->loop, &v->until);
}

int sim_lifecycle_apply(sim_lifecycle *lc, const sim_lifecycle_step *st, char *err,
                        size_t errlen) {
    svc *v = &lc->svc[st->service];
    const char *name = sim_service_name(st->service);
    if (st->action == SIM_LC_START) {
        if (v->st == ST_RUNNING) {
            snprintf(err, errlen, "%s is already running", name);
            return 409;
        }
        int rc = start(v, err, errlen);
        if (!rc) journal(lc, v, st->action, 0);
        return rc;
    }
    if (v->st != ST_RUNNING) {
        snprintf(err, errlen, "%s is %s: only start applies", name, state_names[v->st]);
        return 409;
    }
    switch (st->action) {
    case SIM_LC_CRASH:
    case SIM_LC_RESTART:
        crash(lc->s, st->service);
        v->keep_state = st->keep_state;
        set_state(v, ST_DOWN);
        journal(lc, v, st->action, st->ms);
        if (st->action == SIM_LC_RESTART && !st->ms) {
            /* Down for no time at all still cuts every connection, and the
             * clients that come back find it listening. */
            int rc = start(v, err, errlen);
            if (!rc) journal(lc, v, SIM_LC_START, 0);
            return rc;
        }
        back_after(v, st->ms);
        return 0;
    case SIM_LC_DRAIN:
        sim_backend_drain(lc->s->backend);
        set_state(v, ST_DRAINING);
        break;
    case SIM_LC_REDEPLOY:
        set_state(v, ST_REDEPLOYING);
        break;
    case SIM_LC_CANNOT_START:
        set_state(v, ST_CANNOT_START);
        /* What Cloud Run's log said of staging's container (S25). */
        sim_warn("%s: Container called exit(3).", name);
        break;
    case SIM_LC_START:
        break;
    }
    journal(lc, v, st->action, st->ms);
    back_after(v, st->ms);
    return 0;
}

/* ---- the scenario's timeline ---------------------------------------------- */

static void arm_timeline(sim_lifecycle *lc) {
    const sim_scenario *sc = lc->s->sc;
    if (lc->next >= sc->nlifecycle) return;
    int64_t due = sc->lifecycle[lc->next].at_ms - sim_clock_elapsed_ms(&lc->s->clock, now_ms(lc));
    ev_timer_set(&lc->timeline, sim_clock_wait_s(&lc->s->clock, due), 0.);
    ev_timer_start(lc->s->loop, &lc->timeline);
}

static void on_timeline(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    sim_lifecycle *lc = t->data;
    const sim_scenario *sc = lc->s->sc;
    int64_t elapsed = sim_clock_elapsed_ms(&lc->s->clock, now_ms(lc));
    while (lc->next < sc->nlifecycle && sc->lifecycle[lc->next].at_ms <= elapsed) {
        char err[256];
        const sim_lifecycle_step *st = &sc->lifecycle[lc->next++];
        if (sim_lifecycle_apply(lc, st, err, sizeof(err)))
            sim_warn("lifecycle[%zu]: %s", lc->next - 1, err);
    }
    arm_timeline(lc);
}

sim_lifecycle *sim_lifecycle_new(sim *s) {
    sim_lifecycle *lc = sim_xcalloc(1, sizeof(*lc));
    lc->s = s;
    for (int i = 0; i < NSVC; i++) {
        svc *v = &lc->svc[i];
        v->lc = lc;
        v->service = (sim_service)i;
        v->st = ST_RUNNING;
        v->since_ms = now_ms(lc);
        ev_timer_init(&v->until, on_until, 0., 0.);
        v->until.data = v;
    }
    ev_timer_init(&lc->timeline, on_timeline, 0., 0.);
    lc->timeline.data = lc;
    arm_timeline(lc);
    return lc;
}

void sim_lifecycle_free(sim_lifecycle *lc) {
    if (!lc) return;
    for (int i = 0; i < NSVC; i++) ev_timer_stop(lc->s->loop, &lc->svc[i].until);
    ev_timer_stop(lc->s->loop, &lc->timeline);
    free(lc);
}

cJSON *sim_lifecycle_json(const sim_lifecycle *lc) {
    cJSON *j = cJSON_CreateObject();
    cJSON *svcs = cJSON_AddObjectToObject(j, "services");
    int64_t start = sim_faults_start_ms(lc->s->faults);
    for (int i = 0; i < NSVC; i++) {
        const svc *v = &lc->svc[i];
        cJSON *o = cJSON_AddObjectToObject(svcs, sim_service_name(v->service));
        cJSON_AddStringToObject(o, "state", state_names[v->st]);
        cJSON_AddNumberToObject(o, "since_ms", (double)(v->since_ms - start));
    }
    return j;
}
