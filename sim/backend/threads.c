/* threads.c -- thread ownership: a chained hash table, grown by doubling. */
#include "threads.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct entry {
    struct entry *next;
    char *owner;         /* points into the same allocation as the id */
    char id[];
} entry;

struct sim_threads {
    entry **b;
    size_t nb, n;
};

static size_t bucket(const sim_threads *t, const char *id) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = id; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return (size_t)h & (t->nb - 1);
}

sim_threads *sim_threads_new(void) {
    sim_threads *t = sim_xcalloc(1, sizeof(*t));
    t->nb = 64;
    t->b = sim_xcalloc(t->nb, sizeof(*t->b));
    return t;
}

void sim_threads_free(sim_threads *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nb; i++)
        for (entry *e = t->b[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(t->b);
    free(t);
}

static entry *find(const sim_threads *t, const char *id) {
    for (entry *e = t->b[bucket(t, id)]; e; e = e->next)
        if (strcmp(e->id, id) == 0) return e;
    return NULL;
}

const char *sim_threads_owner(const sim_threads *t, const char *thread_id) {
    const entry *e = find(t, thread_id);
    return e ? e->owner : NULL;
}

static void grow(sim_threads *t) {
    size_t nb = t->nb * 2;
    entry **b = sim_xcalloc(nb, sizeof(*b));
    sim_threads old = *t;
    t->b = b;
    t->nb = nb;
    for (size_t i = 0; i < old.nb; i++)
        for (entry *e = old.b[i], *next; e; e = next) {
            next = e->next;
            size_t k = bucket(t, e->id);
            e->next = b[k];
            b[k] = e;
        }
    free(old.b);
}

int sim_threads_claim(sim_threads *t, const char *thread_id, const char *owner) {
    const entry *e = find(t, thread_id);
    if (e) return strcmp(e->owner, owner) == 0 ? 0 : -1;
    if (t->n + 1 > t->nb) grow(t);
    size_t il = strlen(thread_id) + 1, ol = strlen(owner) + 1;
    entry *ne = sim_xmalloc(sizeof(*ne) + il + ol);
    memcpy(ne->id, thread_id, il);
    ne->owner = ne->id + il;
    memcpy(ne->owner, owner, ol);
    size_t k = bucket(t, thread_id);
    ne->next = t->b[k];
    t->b[k] = ne;
    t->n++;
    return 0;
}
