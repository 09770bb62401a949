/* redis_table.h -- the command set: a core that serves the one command
 * table of redis_table.c. */
#ifndef SIM_REDIS_TABLE_H
#define SIM_REDIS_TABLE_H
#ifndef SIM_IN_REDIS
#error "redis_table.h is private to sim/redis/"
#endif

#include "redis_core.h"

/* Creates the command layer with an empty keyspace. `seed` drives every
 * random choice (SPOP, RANDOMKEY...). Free with sim_redis_core_free after
 * every client was finished. */
sim_redis_core *sim_redis_core_new(uint64_t seed, const sim_redis_hooks *hooks, int64_t now_ms);

#endif
