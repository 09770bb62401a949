/* ruleset.c -- the rule set: an ordered list, an id table and a per-place
 * index, all kept up to date rule by rule (no rebuilds). */
#include "ruleset.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- lists ------------------------------------------------------------ */

static void list_push(sim_slot_list *l, sim_rule_slot *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = sim_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = s;
}

static uint64_t str_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int is_glob(const char *p) {
    return strpbrk(p, "*?[\\") != NULL;
}

static void bit_count(uint32_t counts[256], unsigned char mask[32], unsigned char c, int delta) {
    counts[c] = (uint32_t)((int64_t)counts[c] + delta);
    if (counts[c]) mask[c >> 3] |= (unsigned char)(1u << (c & 7));
    else mask[c >> 3] &= (unsigned char)~(1u << (c & 7));
}

/* ---- a place's index ---------------------------------------------------- */

static sim_name_bucket *bucket_probe(sim_name_bucket *b, size_t nb, const char *name) {
    size_t mask = nb - 1;
    for (size_t i = str_hash(name) & mask;; i = (i + 1) & mask)
        if (!b[i].name || strcmp(b[i].name, name) == 0) return &b[i];
}

/* Doubles the buckets when names would fill more than half of them. Used
 * buckets keep their name even when empty (a probe chain must not break);
 * an empty one is dropped when the table grows. */
static void buckets_reserve(sim_place *pi) {
    if ((pi->nnames + 1) * 2 <= pi->nbuckets) return;
    size_t nb = pi->nbuckets ? pi->nbuckets * 2 : 8;
    sim_name_bucket *nbk = sim_xcalloc(nb, sizeof(*nbk));
    size_t used = 0;
    for (size_t i = 0; i < pi->nbuckets; i++) {
        sim_name_bucket *old = &pi->buckets[i];
        if (!old->name) continue;
        if (!old->slots.n) {
            free(old->name);
            free(old->slots.v);
            continue;
        }
        *bucket_probe(nbk, nb, old->name) = *old;
        used++;
    }
    free(pi->buckets);
    pi->buckets = nbk;
    pi->nbuckets = nb;
    pi->nnames = used;
}

static void place_add(sim_place *pi, sim_rule_slot *s) {
    const char *name = s->rule->m_name;
    pi->count++;
    if (!name || is_glob(name)) {
        unsigned char c0 = name ? (unsigned char)name[0] : 0;
        if (!name || strchr("*?[\\", c0)) pi->any_first++;
        else bit_count(pi->first_count, pi->first, c0, 1);
        list_push(&pi->generic, s);
        return;
    }
    buckets_reserve(pi);
    sim_name_bucket *b = bucket_probe(pi->buckets, pi->nbuckets, name);
    if (!b->name) {
        b->name = sim_xstrdup(name);
        pi->nnames++;
    }
    list_push(&b->slots, s);
    bit_count(pi->named_count, pi->named_first, (unsigned char)name[0], 1);
}

static void place_free(sim_place *pi) {
    free(pi->generic.v);
    for (size_t i = 0; i < pi->nbuckets; i++) {
        free(pi->buckets[i].name);
        free(pi->buckets[i].slots.v);
    }
    free(pi->buckets);
    memset(pi, 0, sizeof(*pi));
}

const sim_place *sim_ruleset_place(const sim_ruleset *rs, int service, int point) {
    return &rs->places[service][point];
}

const sim_name_bucket *sim_place_named(const sim_place *pi, const char *name) {
    if (!pi->nbuckets || !name) return NULL;
    unsigned char c0 = (unsigned char)name[0];
    if (!(pi->named_first[c0 >> 3] & (1u << (c0 & 7)))) return NULL;
    const sim_name_bucket *b = bucket_probe(pi->buckets, pi->nbuckets, name);
    return b->name && b->slots.n ? b : NULL;
}

int sim_place_generic_may_match(const sim_place *pi, unsigned char c0) {
    return pi->generic.n && (pi->any_first || (pi->first[c0 >> 3] & (1u << (c0 & 7))));
}

/* ---- the id table --------------------------------------------------------- */

static sim_rule_slot **id_chain(const sim_ruleset *rs, const char *id) {
    return &rs->ids[str_hash(id) & (rs->nids - 1)];
}

static void ids_reserve(sim_ruleset *rs) {
    if (rs->all.n < rs->nids) return;
    size_t nb = rs->nids ? rs->nids * 2 : 16;
    sim_rule_slot **t = sim_xcalloc(nb, sizeof(*t));
    for (size_t i = 0; i < rs->all.n; i++) {
        sim_rule_slot *s = rs->all.v[i];
        sim_rule_slot **chain = &t[str_hash(s->rule->id) & (nb - 1)];
        s->id_next = *chain;
        *chain = s;
    }
    free(rs->ids);
    rs->ids = t;
    rs->nids = nb;
}

sim_rule_slot *sim_ruleset_find(const sim_ruleset *rs, const char *id) {
    if (!rs->nids) return NULL;
    for (sim_rule_slot *s = *id_chain(rs, id); s; s = s->id_next)
        if (strcmp(s->rule->id, id) == 0) return s;
    return NULL;
}

/* ---- the set ---------------------------------------------------------- */

sim_rule_slot *sim_ruleset_add(sim_ruleset *rs, sim_rule *rule, int runtime, int64_t expires_ms) {
    sim_rule_slot *s = sim_xcalloc(1, sizeof(*s));
    s->rule = rule;
    s->order = ++rs->next_order;
    s->runtime = runtime;
    s->expires_ms = expires_ms;
    ids_reserve(rs);
    list_push(&rs->all, s);
    sim_rule_slot **chain = id_chain(rs, rule->id);
    s->id_next = *chain;
    *chain = s;
    place_add(&rs->places[rule->service][rule->point], s);
    return s;
}

/* Drops the marked slots from a list in one pass. */
static void list_sweep(sim_slot_list *l) {
    size_t kept = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!l->v[i]->dropping) l->v[kept++] = l->v[i];
    l->n = kept;
}

/* The place's lists after some of its slots were marked: one pass over
 * each, so removing many rules at once costs O(rules), not O(rules^2). */
static void place_sweep(sim_place *pi) {
    list_sweep(&pi->generic);
    for (size_t i = 0; i < pi->nbuckets; i++)
        if (pi->buckets[i].name) list_sweep(&pi->buckets[i].slots);
}

static void uncount(sim_place *pi, const sim_rule_slot *s) {
    const char *name = s->rule->m_name;
    pi->count--;
    if (!name || is_glob(name)) {
        unsigned char c0 = name ? (unsigned char)name[0] : 0;
        if (!name || strchr("*?[\\", c0)) pi->any_first--;
        else bit_count(pi->first_count, pi->first, c0, -1);
    } else {
        bit_count(pi->named_count, pi->named_first, (unsigned char)name[0], -1);
    }
}

size_t sim_ruleset_remove_if(sim_ruleset *rs, int (*drop)(void *ctx, const sim_rule_slot *s),
                             void *ctx) {
    int touched[SIM_NSVC][SIM_NPOINT] = {{0}};
    size_t kept = 0, n = rs->all.n;
    for (size_t i = 0; i < n; i++) {
        sim_rule_slot *s = rs->all.v[i];
        if (drop(ctx, s)) {
            s->dropping = 1;
            uncount(&rs->places[s->rule->service][s->rule->point], s);
            touched[s->rule->service][s->rule->point] = 1;
        } else {
            rs->all.v[kept++] = s;
        }
    }
    if (kept == n) return 0;
    for (int sv = 0; sv < SIM_NSVC; sv++)
        for (int pt = 0; pt < SIM_NPOINT; pt++)
            if (touched[sv][pt]) place_sweep(&rs->places[sv][pt]);
    for (size_t b = 0; b < rs->nids; b++) {
        sim_rule_slot **p = &rs->ids[b];
        while (*p) {
            sim_rule_slot *s = *p;
            if (!s->dropping) {
                p = &s->id_next;
                continue;
            }
            *p = s->id_next;
            sim_rule_free(s->rule);
            sim_count_map_free(&s->conn_counts);
            free(s);
        }
    }
    rs->all.n = kept;
    return n - kept;
}

static void list_remove(sim_slot_list *l, const sim_rule_slot *s) {
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == s) {
            l->v[i] = l->v[--l->n];   /* order in a place's lists does not matter */
            return;
        }
}

/* One rule: only the lists it is in, not every list of its place. */
void sim_ruleset_remove(sim_ruleset *rs, sim_rule_slot *s) {
    sim_place *pi = &rs->places[s->rule->service][s->rule->point];
    const char *name = s->rule->m_name;
    uncount(pi, s);
    if (!name || is_glob(name)) list_remove(&pi->generic, s);
    else list_remove(&bucket_probe(pi->buckets, pi->nbuckets, name)->slots, s);
    for (sim_rule_slot **p = id_chain(rs, s->rule->id); *p; p = &(*p)->id_next)
        if (*p == s) {
            *p = s->id_next;
            break;
        }
    for (size_t i = 0; i < rs->all.n; i++)
        if (rs->all.v[i] == s) {
            memmove(&rs->all.v[i], &rs->all.v[i + 1], (rs->all.n - i - 1) * sizeof(*rs->all.v));
            rs->all.n--;
            break;
        }
    sim_rule_free(s->rule);
    sim_count_map_free(&s->conn_counts);
    free(s);
}

static int always(void *ctx, const sim_rule_slot *s) {
    (void)ctx, (void)s;
    return 1;
}

void sim_ruleset_free(sim_ruleset *rs) {
    sim_ruleset_remove_if(rs, always, NULL);
    free(rs->all.v);
    free(rs->ids);
    for (int sv = 0; sv < SIM_NSVC; sv++)
        for (int pt = 0; pt < SIM_NPOINT; pt++) place_free(&rs->places[sv][pt]);
    memset(rs, 0, sizeof(*rs));
}
