/* probe.h -- stagesim's probes: health, golden-path, auth and redis, each
 * against any deployment (stagesim or the real staging), as many attempts
 * as asked, several at once on one libev loop, every attempt checked and
 * its verdict given in the fields of probe_result.h (docs/probes.md).
 *
 * `stagesim probe ...` is sim_probe_main; a drill runs probes in-process
 * with sim_probe_start on its own loop. */
#ifndef SIM_PROBE_H
#define SIM_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "health_check.h"
#include "probe_result.h"

struct ev_loop;

/* A transition of the run's breaker, as soon as it happens; t is borrowed
 * for the call. Must not free the run. */
typedef void (*sim_probe_breaker_fn)(void *ctx, const sim_probe_transition *t);

/* What to probe and how. Strings are borrowed for the life of the run. */
typedef struct sim_probe_options {
    const char *probe;            /* "health", "golden-path", "auth" or "redis" */
    int count;                    /* attempts in all; default 1 */
    int concurrency;              /* attempts in flight at once; default 1 */
    int64_t interval_ms;          /* between two starts of one slot; default 0 */
    int64_t timeout_ms;           /* per attempt; default 10000 */
    const char *cacert;           /* PEM CA for https/wss; NULL: the system store */
    const sim_clock *clock;       /* NULL: real time; a drill passes the simulator's */
    const char *breaker;          /* a breaker spec (docs/breaker.md): every attempt asks it
                                   * first and is refused, not sent, when it says no; NULL:
                                   * none */
    sim_probe_breaker_fn on_breaker; /* its transitions, with the run's ctx; may be NULL */
    /* health */
    const char *url;
    int status;                   /* default 200 */
    const sim_health_field *fields;
    size_t nfields;
    int64_t max_latency_ms;       /* < 0 (the default): no bound */
    /* golden-path and auth */
    const char *backend;          /* golden-path: the backend's base URL */
    const char *auth;             /* the auth service's base URL */
    const char *email;            /* default alice@example.com (stagesim's scenarios) */
    const char *password;         /* NULL: alice-password, unless e2e_key is set */
    const char *e2e_key;          /* log in through POST /auth/e2e/test-auth */
    const char *token_source;     /* "query" (default), "header" or "subprotocol" */
    const char *ws_path;          /* default "/ws" */
    /* redis */
    const char *redis;            /* HOST:PORT */
    const char *redis_password;   /* sent with AUTH first; NULL: none */
} sim_probe_options;

void sim_probe_options_default(sim_probe_options *o);

typedef struct sim_probe_run sim_probe_run;

/* Each attempt's verdict, as soon as it is reached (in any order under
 * concurrency); r is borrowed for the call. Must not free the run. */
typedef void (*sim_probe_result_fn)(void *ctx, const sim_probe_result *r);
/* After the last verdict, once the run's connections are closed. The run
 * touches nothing after calling it, so done may free it. */
typedef void (*sim_probe_done_fn)(void *ctx, const sim_probe_summary *s);

/* Checks o and starts the run on loop; the attempts begin once the loop
 * runs, and no callback comes before this returns. NULL with the reason in
 * err when o is invalid (*exit_code 2; the reason names the option:
 * "--backend: unsupported scheme 'ftp'") or the client context cannot be
 * made (*exit_code 1). */
sim_probe_run *sim_probe_start(struct ev_loop *loop, const sim_probe_options *o,
                               sim_probe_result_fn on_result, sim_probe_done_fn done, void *ctx,
                               char *err, size_t errlen, int *exit_code);
/* Stops the attempts still running (no more callbacks) and frees the run.
 * Not from inside on_result. */
void sim_probe_free(sim_probe_run *r);

/* `stagesim probe KIND [options]`: argv[0] is "probe". Returns the exit
 * code: 0 every attempt passed, 1 one failed, 2 usage error. */
int sim_probe_main(int argc, char **argv);

#endif
