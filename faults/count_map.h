/* count_map.h -- per-connection match counts of a rule: connection
 * ordinal -> count. Entries of closed connections are deleted, so memory
 * follows the connections that are open, not every one ever accepted. */
#ifndef SIM_COUNT_MAP_H
#define SIM_COUNT_MAP_H
#ifndef SIM_IN_FAULTS
#error "count_map.h is private to faults/"
#endif

#include <stddef.h>
#include <stdint.h>

/* Zero-initialise for an empty map. */
typedef struct sim_count_map {
    uint64_t *keys;          /* conn + 1; 0 marks an empty slot */
    uint64_t *vals;
    size_t cap, n;           /* cap: 0 or a power of two */
} sim_count_map;

/* Adds one to conn's count and returns it. */
uint64_t sim_count_map_incr(sim_count_map *m, uint64_t conn);
void sim_count_map_del(sim_count_map *m, uint64_t conn);
void sim_count_map_free(sim_count_map *m);

#endif
