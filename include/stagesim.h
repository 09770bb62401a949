/* stagesim.h -- embed a stagesim simulator in a C program (tests, mostly).
 *
 * The simulator runs in a background thread with its own libev loop, exactly
 * as `stagesim up` runs it, on free ports by default:
 *
 *     stagesim_config cfg;
 *     stagesim_config_init(&cfg);              // ports 0 = pick free ones
 *     cfg.scenario_path = "scenarios/golden-path.json";
 *     char err[256];
 *     stagesim *s = stagesim_start(&cfg, err, sizeof(err));
 *     if (!s) { fprintf(stderr, "%s\n", err); exit(1); }
 *     int ws_port = stagesim_port(s, "backend");
 *     ...
 *     stagesim_stop(s);                         // graceful; frees s
 *
 * Every function is called from the embedding thread, never from inside the
 * simulator. Several simulators may run at once in one process. */
#ifndef STAGESIM_H
#define STAGESIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct stagesim stagesim;

typedef struct stagesim_config {
    const char *scenario_path;   /* NULL: the built-in golden path */
    const char *bind;            /* NULL: 127.0.0.1 */
    int backend_port;            /* 0: a free port (the default for all three) */
    int auth_port;
    int redis_port;
    int control_port;
    int seed_set;                /* nonzero: seed overrides the scenario's */
    unsigned long long seed;
    const char *journal_path;    /* NULL: no journal file */
} stagesim_config;

/* Fills cfg with the defaults: built-in scenario, 127.0.0.1, free ports. */
void stagesim_config_init(stagesim_config *cfg);

/* Starts a simulator and returns once every listener accepts. Returns NULL
 * and writes the reason into err (like `stagesim up` would print it) on
 * failure. The config's strings are copied. */
stagesim *stagesim_start(const stagesim_config *cfg, char *err, size_t errlen);

/* The port a service listens on: "backend", "auth", "redis" or "control";
 * -1 otherwise. */
int stagesim_port(const stagesim *s, const char *service);

/* Stops gracefully (WebSocket clients get 1001), joins the thread and frees
 * s. Returns 0. */
int stagesim_stop(stagesim *s);

/* The library version, e.g. "0.1.0". */
const char *stagesim_version(void);

#ifdef __cplusplus
}
#endif

#endif
