/* probe_int.h -- what the probe runner (probe_run.c, probe_attempt.c) and
 * the four probe kinds (probe_health.c, probe_golden.c, probe_auth.c,
 * probe_redis.c) share: the run, one attempt, and the table row a kind
 * provides. Not a public header. */
#ifndef SIM_PROBE_INT_H
#define SIM_PROBE_INT_H
#ifndef SIM_IN_PROBE
#error "probe_int.h is private to sim/probe/"
#endif

#include <ev.h>

#include "probe.h"
#include "probe_breaker.h"
#include "probe_net.h"
#include "probe_url.h"

/* The run's addresses, parsed once by the kind's prepare. */
typedef struct probe_target {
    sim_probe_url url;          /* health */
    sim_probe_url backend;      /* golden-path */
    sim_probe_url auth;         /* golden-path, auth */
    char redis_host[256];       /* redis */
    int redis_port;
} probe_target;

typedef struct probe_attempt probe_attempt;

/* One row of the kind table. start begins an attempt and returns its state;
 * the kind calls probe_attempt_finish exactly once with a->res filled, or
 * the runner's timeout calls timed_out first (which fills a->res with what
 * was awaited). release stops whatever is still running and frees the
 * state; it runs from the loop, never inside a library callback. */
typedef struct probe_kind {
    const char *name;
    int uses_lws;                  /* needs the lws client context */
    int (*prepare)(const sim_probe_options *o, probe_target *t, char *err, size_t errlen);
    void *(*start)(probe_attempt *a);
    void (*timed_out)(void *state, sim_probe_result *r);
    void (*release)(void *state);
} probe_kind;

extern const probe_kind sim_probe_kind_health;
extern const probe_kind sim_probe_kind_golden;
extern const probe_kind sim_probe_kind_auth;
extern const probe_kind sim_probe_kind_redis;

struct sim_probe_run {
    struct ev_loop *loop;
    sim_probe_options opt;
    sim_clock own_clock;           /* when the options bring none */
    const sim_clock *clock;
    const probe_kind *kind;
    probe_target target;
    probe_net *net;                /* NULL for kinds without lws */
    probe_breaker *breaker;        /* NULL without opt.breaker */
    sim_probe_result_fn on_result;
    sim_probe_done_fn done;
    void *ctx;
    struct probe_slot *slots;      /* opt.concurrency of them */
    sim_probe_result *results;     /* opt.count, filled as verdicts come */
    int started, finished;
    int64_t first_start_ms, last_verdict_ms;
    ev_timer drain;                /* after the last verdict: connections closing */
    int draining;
};

struct probe_attempt {
    sim_probe_run *run;
    struct probe_slot *slot;
    sim_probe_result res;
    int64_t start_ms;
    void *state;                   /* the kind's; NULL when the breaker refused it */
    stagesim_breaker_permit permit;
    int permitted;                 /* the breaker let it through: its outcome goes there */
    int finished;
    ev_timer timeout;
    ev_timer reap;                 /* releases the state after the verdict */
};

/* The verdict in a->res is final: reported now, the state released from
 * the loop soon after. Calls after the first are ignored. */
void probe_attempt_finish(probe_attempt *a);
/* The loop's time on the run's clock. */
int64_t probe_now_ms(const sim_probe_run *run);

#endif
