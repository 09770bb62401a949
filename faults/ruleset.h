/* ruleset.h -- the rules the engine holds: in the order they were added,
 * found by id, and indexed by the place (service, point) they apply to.
 * Every change updates the index incrementally: adding a rule costs O(1)
 * (amortised), removing one O(rules), so thousands of rules come and go
 * without freezing the loop. */
#ifndef SIM_RULESET_H
#define SIM_RULESET_H
#ifndef SIM_IN_FAULTS
#error "ruleset.h is private to faults/"
#endif

#include <stddef.h>
#include <stdint.h>

#include "count_map.h"
#include "rule.h"

#define SIM_NSVC 4     /* sim_service values */
#define SIM_NPOINT 5   /* sim_wire_point values */

/* One rule and its counters. Its address is stable while it is held. */
typedef struct sim_rule_slot {
    sim_rule *rule;
    uint64_t order;          /* when it was added: the earliest rule that fires wins */
    int runtime;             /* added at run time: ttl_ms applies, /reset removes it */
    int64_t expires_ms;      /* 0: never */
    uint64_t fired;
    uint64_t matched;        /* service-scope count */
    sim_count_map conn_counts; /* connection-scope counts, open connections only */
    struct sim_rule_slot *id_next;   /* chain in the id table */
    int dropping;            /* being removed (sim_ruleset_remove_if) */
} sim_rule_slot;

/* A growable list of slots. */
typedef struct sim_slot_list {
    sim_rule_slot **v;
    size_t n, cap;
} sim_slot_list;

/* Rules whose match.name is a plain word sit under that word, so a crossing
 * with another name costs one lookup; the rest (no name, a glob) are
 * `generic` and checked one by one. The first-byte masks let a name that no
 * rule can match skip both; the counts keep the masks right as rules go. */
typedef struct sim_name_bucket {
    char *name;              /* NULL: never used; a used bucket keeps its name */
    sim_slot_list slots;
} sim_name_bucket;

typedef struct sim_place {
    size_t count;            /* rules at this place: 0 is the fast path */
    sim_slot_list generic;
    int any_first;           /* generic rules with no name or a leading wildcard */
    uint32_t first_count[256], named_count[256];
    unsigned char first[32], named_first[32];   /* bit set: count > 0 */
    sim_name_bucket *buckets;   /* open addressing, power of two */
    size_t nbuckets, nnames;
} sim_place;

typedef struct sim_ruleset {
    sim_slot_list all;       /* in the order added */
    sim_rule_slot **ids;     /* chained hash table by id */
    size_t nids;             /* buckets, a power of two */
    sim_place places[SIM_NSVC][SIM_NPOINT];
    uint64_t next_order;
} sim_ruleset;

/* Zero-initialise for an empty set. */
void sim_ruleset_free(sim_ruleset *rs);

sim_rule_slot *sim_ruleset_find(const sim_ruleset *rs, const char *id);
/* Adds a rule (takes it; its id must be new). Returns its slot. */
sim_rule_slot *sim_ruleset_add(sim_ruleset *rs, sim_rule *rule, int runtime, int64_t expires_ms);
/* Removes and frees every slot for which drop(ctx, slot) is true, in one
 * pass over the rules and the lists they are in; returns how many. */
size_t sim_ruleset_remove_if(sim_ruleset *rs, int (*drop)(void *ctx, const sim_rule_slot *s),
                             void *ctx);
/* Removes and frees one slot. */
void sim_ruleset_remove(sim_ruleset *rs, sim_rule_slot *s);

/* The rules that may apply at a place and, with a name, the bucket of the
 * rules naming it exactly (NULL when none). */
const sim_place *sim_ruleset_place(const sim_ruleset *rs, int service, int point);
const sim_name_bucket *sim_place_named(const sim_place *pi, const char *name);
/* 1 when a generic rule of the place may match a name starting with c0. */
int sim_place_generic_may_match(const sim_place *pi, unsigned char c0);

#endif
