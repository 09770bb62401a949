/* sim.h -- one simulator: a scenario, the fault engine and the services
 * (backend, auth, Redis) on one libev loop. main.c and the embedding API in
 * include/stagesim.h both drive this. */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;

typedef struct sim_options {
    const char *bind;           /* default 127.0.0.1 */
    int backend_port;           /* default 8000; 0 picks a free port */
    int auth_port;              /* default 8081 */
    int redis_port;             /* default 6380 */
    int control_port;           /* default 8090 */
    const char *control_token;  /* NULL: control API on loopback only */
    const char *scenario_path;  /* NULL: built-in default */
    int seed_set;               /* --seed given: overrides the scenario's */
    uint64_t seed;
    const char *journal_path;   /* NULL: no journal file */
    int tls;                    /* https/wss and https on the backend and auth ports; the
                                   scenario's network.tls turns it on too */
    const char *tls_cert;       /* PEM pair to serve; NULL: generate one */
    const char *tls_key;
    const char *tls_dir;        /* where a generated pair goes; NULL: a fresh private directory */
    double time_scale;          /* every duration stagesim owns runs this many times faster (1) */
    long fds_before;            /* the descriptor limit before stagesim up raised it (logged
                                   with the caps); 0: not raised here */
    long max_clients;           /* every service's connection cap; 0: from the descriptor
                                   limit (caps.h) */
} sim_options;

void sim_options_default(sim_options *opt);

typedef struct sim sim;

/* Loads the scenario and starts every service on loop. Returns NULL with a
 * message in err on failure; *exit_code is 2 for a bad scenario, 1 for any
 * other start-up failure (a port in use). */
sim *sim_start(struct ev_loop *loop, const sim_options *opt, char *err, size_t errlen,
               int *exit_code);

/* Writes the READY line's JSON object:
 * {"backend":P,"auth":P,"redis":P,"control":P}, with "cert":"/path" when
 * serving TLS. */
void sim_ready_json(const sim *s, char *out, size_t outlen);
int sim_port(const sim *s, const char *service);

/* Graceful stop: WebSocket clients get 1001, writes flush, services close;
 * then done(ctx) runs from the loop. Calling it twice skips the grace. */
void sim_stop(sim *s, void (*done)(void *ctx), void *ctx);
/* Frees everything. Only after sim_stop's done. */
void sim_free(sim *s);

#endif
