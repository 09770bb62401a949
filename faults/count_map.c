/* count_map.c -- open addressing with linear probing and backward-shift
 * deletion (no tombstones: a busy map does not fill up with them). */
#include "count_map.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void sim_count_map_free(sim_count_map *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static size_t count_slot(uint64_t key, size_t mask) {
    return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 17) & mask;
}

static void count_map_grow(sim_count_map *m) {
    sim_count_map old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->keys = sim_xcalloc(m->cap, sizeof(uint64_t));
    m->vals = sim_xcalloc(m->cap, sizeof(uint64_t));
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.keys[i]) continue;
        size_t j = count_slot(old.keys[i], m->cap - 1);
        while (m->keys[j]) j = (j + 1) & (m->cap - 1);
        m->keys[j] = old.keys[i];
        m->vals[j] = old.vals[i];
        m->n++;
    }
    free(old.keys);
    free(old.vals);
}

uint64_t sim_count_map_incr(sim_count_map *m, uint64_t conn) {
    if ((m->n + 1) * 4 > m->cap * 3) count_map_grow(m);
    uint64_t key = conn + 1;
    size_t mask = m->cap - 1, i = count_slot(key, mask);
    while (m->keys[i] && m->keys[i] != key) i = (i + 1) & mask;
    if (!m->keys[i]) {
        m->keys[i] = key;
        m->vals[i] = 0;
        m->n++;
    }
    return ++m->vals[i];
}

void sim_count_map_del(sim_count_map *m, uint64_t conn) {
    if (!m->cap) return;
    uint64_t key = conn + 1;
    size_t mask = m->cap - 1, i = count_slot(key, mask);
    while (m->keys[i] && m->keys[i] != key) i = (i + 1) & mask;
    if (!m->keys[i]) return;
    /* Backward shift: pull later entries of the probe run into the hole. */
    for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = count_slot(m->keys[j], mask);
        /* j's entry may move to i unless its home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->n--;
}

