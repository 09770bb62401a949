/* sim_int.h -- the simulator's parts, for the app's own files (sim.c wires
 * them, lifecycle.c drives them through a crash or a redeploy). */
#ifndef SIM_SIM_INT_H
#define SIM_SIM_INT_H
#ifndef SIM_IN_APP
#error "sim_int.h is private to sim/app/"
#endif

#include "auth.h"
#include "backend.h"
#include "clock.h"
#include "control.h"
#include "fault.h"
#include "history.h"
#include "redis_server.h"
#include "scenario.h"
#include "tls_cert.h"
#include "tls_front.h"

typedef struct sim sim;   /* sim.h's, without depending on it */
typedef struct sim_lifecycle sim_lifecycle;

struct sim {
    struct ev_loop *loop;
    sim_clock clock;             /* every service's, from the start */
    char *bind;
    sim_scenario *sc;
    sim_faults *faults;
    sim_auth_store *auth;
    sim_auth_service *auth_svc;
    sim_redis_server *redis;
    sim_history *history;
    sim_backend *backend;
    struct sim_auth_remote *auth_remote;   /* the backend's validator when remote */
    int tls;
    sim_tls_cert cert;
    sim_tls_front *tls_front;    /* the backend's public port when serving TLS */
    sim_control *control;
    sim_lifecycle *lifecycle;
    int stopping;
    int draining;                /* stopping: waiting for the history's last appends */
    void (*done)(void *ctx);
    void *done_ctx;
};

#endif
