/* redis_server.h -- the Redis impersonation: RESP2 on its own port, served
 * from the libev loop. */
#ifndef SIM_REDIS_SERVER_H
#define SIM_REDIS_SERVER_H

#include <stddef.h>

#include "clock.h"

struct ev_loop;
typedef struct sim_faults sim_faults;
typedef struct sim_redis_server sim_redis_server;

typedef struct sim_redis_server_config {
    const char *bind;
    int port;                   /* 0 picks a free port */
    sim_faults *faults;         /* borrowed */
    const sim_clock *clock;     /* borrowed */
    long long maxclients;       /* 0: Redis's default, 10000; else the cap of caps.h */
} sim_redis_server_config;

/* Listens on bind:port. NULL with err on failure. */
sim_redis_server *sim_redis_server_start(struct ev_loop *loop, const sim_redis_server_config *cfg,
                                         char *err, size_t errlen);
int sim_redis_server_port(const sim_redis_server *srv);
/* The process dies (docs/lifecycle.md): the port stops listening and every
 * client's connection closes. */
void sim_redis_server_crash(sim_redis_server *srv);
/* It comes back on the same port, with its data or (keep_data 0) empty,
 * as after a restart without persistence. 0, or -1 with err. */
int sim_redis_server_restart(sim_redis_server *srv, int keep_data, char *err, size_t errlen);
/* Closes the listener and every client, frees everything. */
void sim_redis_server_stop(sim_redis_server *srv);

#endif
