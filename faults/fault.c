/* fault.c -- the decision point every wire crossing goes through: evaluates
 * the rules, writes the journal, counts the metrics.
 *
 * Determinism: whether a rule fires is a pure function of the seed, the rule
 * id and the subject's ordinals (connection ordinal, the rule's own match
 * count on that connection or service). Rules keep their own counters, so
 * adding a rule never changes another rule's decisions; the first rule (in
 * the order added) that fires gives the action. Only time windows (after_ms,
 * until_ms, ttl_ms) and service-scoped counts under concurrency depend on
 * timing, by their nature. */
#include "fault.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "rule.h"
#include "utf8.h"
#include "util.h"

#define NSVC 4
#define NPOINT 4

/* Per-connection match counts: connection ordinal -> count, open
 * addressing with linear probing and backward-shift deletion, so that a
 * closed connection's entry goes away and memory follows the connections
 * that are open, not every connection ever accepted. */
typedef struct count_map {
    uint64_t *keys;          /* conn + 1; 0 marks an empty slot */
    uint64_t *vals;
    size_t cap, n;           /* cap: 0 or a power of two */
} count_map;

static void count_map_free(count_map *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static size_t count_slot(uint64_t key, size_t mask) {
    return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 17) & mask;
}

static void count_map_grow(count_map *m) {
    count_map old = *m;
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

/* Adds one to conn's count and returns it. */
static uint64_t count_map_incr(count_map *m, uint64_t conn) {
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

static void count_map_del(count_map *m, uint64_t conn) {
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

typedef struct rule_slot {
    sim_rule *rule;
    int runtime;
    int64_t expires_ms;      /* 0: never */
    uint64_t fired;
    uint64_t matched;        /* service-scope count */
    count_map conn_counts;   /* connection-scope counts, open connections only */
} rule_slot;

/* The rules of one place (service, point), as indexes into f->rules in the
 * order added. Rules whose match.name is a plain word sit in a small hash
 * table under that word, so rules for other names cost one hash lookup and
 * nothing else; the rest (no name, or a glob) are checked one by one. */
typedef struct name_bucket {
    char *name;               /* NULL: empty slot */
    size_t *idx;
    size_t n;
} name_bucket;

typedef struct place_index {
    size_t count;             /* rules at this place: 0 is the fast path */
    size_t *generic;
    size_t ngeneric;
    /* First bytes the generic rules' names can start with, so that a name
     * none of them can match skips the list; any_first when some generic
     * rule has no name or starts with a wildcard. */
    unsigned char first[32];
    int any_first;
    name_bucket *buckets;     /* open addressing, power of two */
    size_t nbuckets;
    unsigned char named_first[32]; /* first bytes of the names in buckets */
} place_index;

struct sim_faults {
    uint64_t seed;
    int64_t start_ms;
    sim_journal *journal;
    rule_slot *rules;
    size_t nrules, caprules;
    place_index places[NSVC][NPOINT]; /* which rules can match where */
    uint64_t crossings[NSVC][NPOINT];
    uint64_t ws_dropped;
    uint64_t fired_total;
    sim_fault_listener listener;
    void *listener_ctx;
    sim_network net;
    sim_buf line;            /* scratch for one journal line */
};

sim_faults *sim_faults_new(uint64_t seed, const char *journal_path, int64_t start_ms) {
    sim_faults *f = sim_xcalloc(1, sizeof(*f));
    f->seed = seed;
    f->start_ms = start_ms;
    f->journal = sim_journal_open(journal_path);
    if (!f->journal) {
        free(f);
        return NULL;
    }
    return f;
}

static void place_free(place_index *pi);

int64_t sim_faults_start_ms(const sim_faults *f) {
    return f->start_ms;
}

static void slot_free(rule_slot *s) {
    sim_rule_free(s->rule);
    count_map_free(&s->conn_counts);
}

void sim_faults_free(sim_faults *f) {
    if (!f) return;
    sim_journal_free(f->journal);
    for (size_t i = 0; i < f->nrules; i++) slot_free(&f->rules[i]);
    free(f->rules);
    for (int sv = 0; sv < NSVC; sv++)
        for (int pt = 0; pt < NPOINT; pt++) place_free(&f->places[sv][pt]);
    sim_buf_free(&f->line);
    free(f);
}

/* ---- journal ---------------------------------------------------------- */

static void journal_crossing(sim_faults *f, const sim_wire *w, int64_t now_ms, const sim_action *a) {
    sim_buf *b = &f->line;
    b->len = 0;
    sim_buf_printf(b, "{\"t_ms\":%lld,\"svc\":\"%s\",\"proto\":\"%s\",\"point\":\"%s\",\"conn\":%llu",
                   (long long)(now_ms - f->start_ms), sim_service_name(w->service),
                   w->proto ? w->proto : "", sim_wire_point_name(w->point), (unsigned long long)w->conn);
    if (w->msg) sim_buf_printf(b, ",\"msg\":%llu", (unsigned long long)w->msg);
    if (w->run) sim_buf_printf(b, ",\"run\":%llu", (unsigned long long)w->run);
    if (w->method) sim_json_member(b, "method", w->method);
    if (w->name) sim_json_member(b, "name", w->name);
    if (w->key) sim_json_member(b, "key", w->key);
    if (w->user_id) sim_json_member(b, "user", w->user_id);
    if (w->status) sim_buf_printf(b, ",\"status\":%d", w->status);
    if (a->rule_id) {
        sim_json_member(b, "rule", a->rule_id);
        sim_json_member(b, "action", sim_action_name(a->kind));
        if (a->delay_ms) sim_buf_printf(b, ",\"delay_ms\":%u", a->delay_ms);
        if (a->kind == SIM_ACT_CLOSE) sim_buf_printf(b, ",\"code\":%d", a->code);
    }
    if (a->latency_ms) sim_buf_printf(b, ",\"latency_ms\":%u", a->latency_ms);
    sim_buf_append(b, "}", 1);
    sim_journal_add(f->journal, b->data, b->len);
}

uint64_t sim_faults_journal_count(const sim_faults *f) {
    return f ? sim_journal_count(f->journal) : 0;
}

uint64_t sim_faults_journal_oldest(const sim_faults *f) {
    return sim_journal_oldest(f->journal);
}

size_t sim_faults_journal_since(const sim_faults *f, uint64_t since, size_t limit, void *out) {
    return sim_journal_since(f->journal, since, limit, out);
}

void sim_faults_flush(sim_faults *f) {
    if (f) sim_journal_flush(f->journal);
}

/* ---- decisions -------------------------------------------------------- */

static int glob_ok(const char *pattern, const char *s) {
    return !pattern || (s && fnmatch(pattern, s, 0) == 0);
}

/* A pattern with its literal prefix known: the first byte, then the
 * prefix, then (only for a glob) fnmatch. */
static inline int pattern_ok(const char *pattern, size_t lit, int glob, const char *s) {
    if (!pattern) return 1;
    if (!s || (lit && s[0] != pattern[0]) || strncmp(pattern, s, lit) != 0) return 0;
    return glob ? fnmatch(pattern, s, 0) == 0 : s[lit] == '\0';
}

/* Cheapest tests first: on hot paths most rules fail on the name. The
 * place (service, point) is already given by the index. */
static int matches(const sim_rule *r, const sim_wire *w) {
    if (!pattern_ok(r->m_name, r->name_lit, r->name_glob, w->name)) return 0;
    if (r->m_conn && r->m_conn != w->conn) return 0;
    if (r->m_run && r->m_run != w->run) return 0;
    if (r->m_msg && r->m_msg != w->msg) return 0;
    if (r->m_user_run && r->m_user_run != w->user_run) return 0;
    if (!w->proto || r->proto[0] != w->proto[0] || strcmp(r->proto, w->proto) != 0) return 0;
    return pattern_ok(r->m_key, r->key_lit, r->key_glob, w->key) &&
           glob_ok(r->m_method, w->method) && glob_ok(r->m_user, w->user_id);
}

/* Counts this match for the rule and returns its ordinal (from 1) within
 * the rule's scope. */
static uint64_t count_match(rule_slot *s, const sim_wire *w) {
    s->matched++;
    if (s->rule->scope == SIM_SCOPE_SERVICE) return s->matched;
    return count_map_incr(&s->conn_counts, w->conn);
}

/* A connection closed: its counts go. Connection ordinals never come back. */
static void forget_connection(sim_faults *f, const sim_wire *w) {
    for (size_t i = 0; i < f->nrules; i++) {
        rule_slot *s = &f->rules[i];
        const sim_rule *r = s->rule;
        if (r->scope == SIM_SCOPE_CONNECTION && r->service == w->service && w->proto &&
            strcmp(r->proto, w->proto) == 0)
            count_map_del(&s->conn_counts, w->conn);
    }
}

static int fires(const sim_faults *f, const rule_slot *s, const sim_wire *w, uint64_t ord, int64_t t_ms) {
    const sim_rule *r = s->rule;
    if (r->nth && ord != r->nth) return 0;
    if (r->every && ord % r->every != 0) return 0;
    if (r->first && ord > r->first) return 0;
    if (r->after && ord <= r->after) return 0;
    if (t_ms < r->after_ms) return 0;
    if (r->until_ms >= 0 && t_ms >= r->until_ms) return 0;
    if (r->times && s->fired >= r->times) return 0;
    if (r->p >= 0) {
        /* Service-scoped rules draw per match ordinal alone; connection-
         * scoped ones per (connection, ordinal on it). */
        uint64_t conn = r->scope == SIM_SCOPE_SERVICE ? 0 : w->conn;
        if (sim_unit(sim_mix(f->seed, r->id, conn, ord)) >= r->p) return 0;
    }
    return 1;
}

static void fill_action(const sim_faults *f, const rule_slot *s, const sim_wire *w, uint64_t ord,
                        sim_action *out) {
    const sim_rule *r = s->rule;
    out->kind = r->kind;
    out->code = r->code;
    out->delay_ms = r->delay_ms;
    if (r->jitter_ms) {
        uint64_t conn = r->scope == SIM_SCOPE_SERVICE ? 0 : w->conn;
        double u = sim_unit(sim_mix(f->seed ^ 0x6a177e5ULL, r->id, conn, ord));
        out->delay_ms += (uint32_t)floor(u * (r->jitter_ms + 1));
    }
    out->text = r->text;
    out->field = r->field;
    out->mode = r->mode;
    out->error_code = r->error_code;
    out->rule_id = r->id;
}

static void expire_rules(sim_faults *f, int64_t now_ms);

static uint64_t name_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static const name_bucket *lookup(const place_index *pi, const char *name) {
    if (!pi->nbuckets || !name) return NULL;
    size_t mask = pi->nbuckets - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        const name_bucket *b = &pi->buckets[i];
        if (!b->name) return NULL;
        if (strcmp(b->name, name) == 0) return b;
    }
}

/* Evaluates one candidate rule; remembers the first (lowest index) firing. */
static void consider(sim_faults *f, size_t i, const sim_wire *w, int64_t now_ms, int64_t t_ms,
                     rule_slot **winner, size_t *winner_i, uint64_t *winner_ord, int *expired) {
    rule_slot *s = &f->rules[i];
    if (s->expires_ms && now_ms >= s->expires_ms) {
        *expired = 1;
        return;
    }
    if (!matches(s->rule, w)) return;
    uint64_t ord = count_match(s, w);
    if ((!*winner || i < *winner_i) && fires(f, s, w, ord, t_ms)) {
        *winner = s;
        *winner_i = i;
        *winner_ord = ord;
    }
}

/* ---- the network ------------------------------------------------------ */

void sim_faults_set_network(sim_faults *f, const sim_network *net) {
    f->net = *net;
}

/* The band an HTTP request crosses, or NULL. */
static const sim_latency_band *network_band(const sim_faults *f, const sim_wire *w) {
    if (w->point != SIM_WIRE_REQUEST || !w->proto || strcmp(w->proto, "http") != 0) return NULL;
    const sim_latency_band *band = w->service == SIM_SVC_AUTH      ? &f->net.auth
                                   : w->service != SIM_SVC_BACKEND ? NULL
                                   : w->upgrade                    ? &f->net.ws_connect
                                                                   : &f->net.http;
    return band && band->max_ms ? band : NULL;
}

/* Adds the request's latency to what the rules decided (fault.h). */
static void add_latency(const sim_faults *f, const sim_wire *w, sim_action *out) {
    const sim_latency_band *band = network_band(f, w);
    if (!band || (out->kind != SIM_ACT_PASS && out->kind != SIM_ACT_DELAY &&
                  out->kind != SIM_ACT_REPLY))
        return;
    double u = sim_unit(sim_mix(f->seed ^ 0x1a7e9c1ULL, sim_service_name(w->service), w->conn,
                                w->msg));
    uint32_t span = band->max_ms - band->min_ms;
    out->latency_ms = band->min_ms + (uint32_t)floor(u * (span + 1));
    if (out->kind == SIM_ACT_PASS) out->kind = SIM_ACT_DELAY;
    out->delay_ms += out->latency_ms;
}

void sim_faults_cross(sim_faults *f, const sim_wire *w, int64_t now_ms, sim_action *out) {
    memset(out, 0, sizeof(*out));
    if (!f) return;
    f->crossings[w->service][w->point]++;
    if (w->point == SIM_WIRE_CLOSE && f->nrules) forget_connection(f, w);
    /* Redis commands and replies are not journaled one by one (the
     * history client's writes interleave across WebSocket connections,
     * which would make journals differ), nor is the control API, nor are
     * token checks (the request or upgrade that asked is); rule firings
     * always are. */
    int journaled = !(w->service == SIM_SVC_REDIS &&
                      (w->point == SIM_WIRE_REQUEST || w->point == SIM_WIRE_SEND)) &&
                    w->service != SIM_SVC_CONTROL && /* tests polling it would change the journal */
                    !(w->proto && strcmp(w->proto, "jwt") == 0); /* token checks: in the crossing that asked */
    const place_index *pi = &f->places[w->service][w->point];
    unsigned char c0 = w->name ? (unsigned char)w->name[0] : 0;
    const name_bucket *b = (pi->named_first[c0 >> 3] & (1u << (c0 & 7))) ? lookup(pi, w->name) : NULL;
    int generic = pi->ngeneric && (pi->any_first || (pi->first[c0 >> 3] & (1u << (c0 & 7))));
    if (!b && !generic) {
        /* No rule can match: the common case on hot paths. */
        if (f->net.http.max_ms | f->net.ws_connect.max_ms | f->net.auth.max_ms)
            add_latency(f, w, out);
        if (journaled) journal_crossing(f, w, now_ms, out);
        return;
    }
    int64_t t_ms = now_ms - f->start_ms;
    rule_slot *winner = NULL;
    size_t winner_i = 0;
    uint64_t winner_ord = 0;
    int expired = 0;
    /* Every candidate counts its match, whoever wins: a rule's counters,
     * and so its decisions, never depend on the other rules. */
    for (size_t k = 0; generic && k < pi->ngeneric; k++)
        consider(f, pi->generic[k], w, now_ms, t_ms, &winner, &winner_i, &winner_ord, &expired);
    for (size_t k = 0; b && k < b->n; k++)
        consider(f, b->idx[k], w, now_ms, t_ms, &winner, &winner_i, &winner_ord, &expired);
    if (winner) {
        fill_action(f, winner, w, winner_ord, out);
        winner->fired++;
        f->fired_total++;
        if (out->kind == SIM_ACT_DROP && w->proto && strcmp(w->proto, "ws") == 0 &&
            w->point == SIM_WIRE_SEND)
            f->ws_dropped++;
    }
    add_latency(f, w, out);
    if (journaled || winner) journal_crossing(f, w, now_ms, out);
    if (winner && f->listener) f->listener(f->listener_ctx, winner->rule->id, winner->fired);
    if (expired) expire_rules(f, now_ms);
}

/* ---- rule registry ---------------------------------------------------- */

static int is_glob(const char *p) {
    return strpbrk(p, "*?[\\") != NULL;
}

static void place_free(place_index *pi) {
    free(pi->generic);
    for (size_t i = 0; i < pi->nbuckets; i++) {
        free(pi->buckets[i].name);
        free(pi->buckets[i].idx);
    }
    free(pi->buckets);
    memset(pi, 0, sizeof(*pi));
}

static void place_add(place_index *pi, size_t i, const char *name) {
    pi->count++;
    if (!name || is_glob(name)) {
        unsigned char c0 = name ? (unsigned char)name[0] : 0;
        if (!name || strchr("*?[\\", c0))
            pi->any_first = 1;
        else
            pi->first[c0 >> 3] |= (unsigned char)(1u << (c0 & 7));
        pi->generic = sim_xrealloc(pi->generic, (pi->ngeneric + 1) * sizeof(size_t));
        pi->generic[pi->ngeneric++] = i;
        return;
    }
    pi->named_first[(unsigned char)name[0] >> 3] |= (unsigned char)(1u << ((unsigned char)name[0] & 7));
    size_t mask = pi->nbuckets - 1, j = name_hash(name) & mask;
    while (pi->buckets[j].name && strcmp(pi->buckets[j].name, name) != 0) j = (j + 1) & mask;
    name_bucket *b = &pi->buckets[j];
    if (!b->name) b->name = sim_xstrdup(name);
    b->idx = sim_xrealloc(b->idx, (b->n + 1) * sizeof(size_t));
    b->idx[b->n++] = i;
}

/* Rebuilds every place's index after the rule list changed (rare). */
static void reindex(sim_faults *f) {
    for (int sv = 0; sv < NSVC; sv++) {
        for (int pt = 0; pt < NPOINT; pt++) {
            place_index *pi = &f->places[sv][pt];
            place_free(pi);
            size_t named = 0;
            for (size_t i = 0; i < f->nrules; i++) {
                const sim_rule *r = f->rules[i].rule;
                if ((int)r->service == sv && (int)r->point == pt && r->m_name && !is_glob(r->m_name)) named++;
            }
            if (named) {
                pi->nbuckets = 8;
                while (pi->nbuckets < named * 2) pi->nbuckets *= 2;
                pi->buckets = sim_xcalloc(pi->nbuckets, sizeof(name_bucket));
            }
            for (size_t i = 0; i < f->nrules; i++) {
                const sim_rule *r = f->rules[i].rule;
                if ((int)r->service == sv && (int)r->point == pt) place_add(pi, i, r->m_name);
            }
        }
    }
}

static void remove_at(sim_faults *f, size_t i) {
    slot_free(&f->rules[i]);
    memmove(&f->rules[i], &f->rules[i + 1], (f->nrules - i - 1) * sizeof(rule_slot));
    f->nrules--;
    reindex(f);
}

static void expire_rules(sim_faults *f, int64_t now_ms) {
    for (size_t i = f->nrules; i-- > 0;) {
        rule_slot *s = &f->rules[i];
        if (s->expires_ms && now_ms >= s->expires_ms) {
            sim_info("fault rule %s expired (ttl_ms)", s->rule->id);
            remove_at(f, i);
        }
    }
}

void sim_faults_expire(sim_faults *f, int64_t now_ms) {
    for (size_t i = 0; i < f->nrules; i++) {
        if (f->rules[i].expires_ms && now_ms >= f->rules[i].expires_ms) {
            expire_rules(f, now_ms);
            return;
        }
    }
}

static rule_slot *find(const sim_faults *f, const char *id) {
    for (size_t i = 0; i < f->nrules; i++)
        if (strcmp(f->rules[i].rule->id, id) == 0) return &f->rules[i];
    return NULL;
}

int sim_fault_rule_check(const void *rule, const char *path, char *err, size_t errlen) {
    sim_rule *r = sim_rule_parse(rule, path, err, errlen);
    sim_rule_free(r);
    return r ? 0 : -1;
}

int sim_faults_add(sim_faults *f, const void *rule, const char *path, int runtime, int64_t now_ms,
                   char *err, size_t errlen) {
    sim_rule *r = sim_rule_parse(rule, path, err, errlen);
    if (!r) return -1;
    if (find(f, r->id)) {
        snprintf(err, errlen, "%s.id: duplicate rule id \"%s\"", path, r->id);
        sim_rule_free(r);
        return -1;
    }
    if (r->ttl_ms && !runtime) {
        snprintf(err, errlen, "%s.ttl_ms: only for rules added at run time", path);
        sim_rule_free(r);
        return -1;
    }
    if (f->nrules == f->caprules) {
        f->caprules = f->caprules ? f->caprules * 2 : 8;
        f->rules = sim_xrealloc(f->rules, f->caprules * sizeof(rule_slot));
    }
    rule_slot *s = &f->rules[f->nrules++];
    memset(s, 0, sizeof(*s));
    s->rule = r;
    s->runtime = runtime;
    s->expires_ms = r->ttl_ms ? now_ms + r->ttl_ms : 0;
    reindex(f);
    return 0;
}

int sim_faults_add_all(sim_faults *f, const void *rules, int64_t now_ms, char *err, size_t errlen) {
    const cJSON *arr = rules, *it;
    size_t i = 0;
    cJSON_ArrayForEach(it, arr) {
        char path[32];
        snprintf(path, sizeof(path), "faults[%zu]", i++);
        if (sim_faults_add(f, it, path, 0, now_ms, err, errlen)) return -1;
    }
    return 0;
}

int sim_faults_remove(sim_faults *f, const char *id) {
    for (size_t i = 0; i < f->nrules; i++) {
        if (strcmp(f->rules[i].rule->id, id) == 0) {
            remove_at(f, i);
            return 0;
        }
    }
    return -1;
}

void sim_faults_clear(sim_faults *f) {
    while (f->nrules) remove_at(f, f->nrules - 1);
}

void sim_faults_reset(sim_faults *f) {
    for (size_t i = f->nrules; i-- > 0;) {
        rule_slot *s = &f->rules[i];
        if (s->runtime) {
            remove_at(f, i);
            continue;
        }
        s->fired = s->matched = 0;
        count_map_free(&s->conn_counts);
    }
}

static cJSON *slot_json(const rule_slot *s, int64_t now_ms) {
    cJSON *j = cJSON_Parse(s->rule->json);
    cJSON_AddNumberToObject(j, "fired", (double)s->fired);
    cJSON_AddNumberToObject(j, "matched", (double)s->matched);
    cJSON_AddBoolToObject(j, "runtime", s->runtime);
    if (s->expires_ms) cJSON_AddNumberToObject(j, "expires_in_ms", (double)(s->expires_ms - now_ms));
    return j;
}

void *sim_faults_list(const sim_faults *f, int64_t now_ms) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < f->nrules; i++)
        if (!f->rules[i].expires_ms || now_ms < f->rules[i].expires_ms)
            cJSON_AddItemToArray(arr, slot_json(&f->rules[i], now_ms));
    return arr;
}

void *sim_faults_get(const sim_faults *f, const char *id, int64_t now_ms) {
    const rule_slot *s = find(f, id);
    if (!s || (s->expires_ms && now_ms >= s->expires_ms)) return NULL;
    return slot_json(s, now_ms);
}

uint64_t sim_faults_fired(const sim_faults *f, const char *id) {
    const rule_slot *s = find(f, id);
    return s ? s->fired : 0;
}

size_t sim_faults_count(const sim_faults *f) {
    return f->nrules;
}

void sim_faults_set_listener(sim_faults *f, sim_fault_listener fn, void *ctx) {
    f->listener = fn;
    f->listener_ctx = ctx;
}

/* ---- metrics ---------------------------------------------------------- */

void sim_faults_metrics(const sim_faults *f, void *out) {
    sim_buf *b = out;
    sim_buf_puts(b, "# HELP stagesim_crossings_total Wire crossings seen by the decision point.\n"
                    "# TYPE stagesim_crossings_total counter\n");
    for (int s = 0; s < NSVC; s++)
        for (int p = 0; p < NPOINT; p++)
            sim_buf_printf(b, "stagesim_crossings_total{service=\"%s\",point=\"%s\"} %llu\n",
                           sim_service_name(s), sim_wire_point_name(p), (unsigned long long)f->crossings[s][p]);
    sim_buf_printf(b, "# HELP stagesim_connections_total Connections accepted.\n"
                      "# TYPE stagesim_connections_total counter\n");
    for (int s = 0; s < NSVC; s++)
        sim_buf_printf(b, "stagesim_connections_total{service=\"%s\"} %llu\n", sim_service_name(s),
                       (unsigned long long)f->crossings[s][SIM_WIRE_ACCEPT]);
    sim_buf_printf(b, "# HELP stagesim_messages_total Requests, client messages and commands read.\n"
                      "# TYPE stagesim_messages_total counter\n");
    for (int s = 0; s < NSVC; s++)
        sim_buf_printf(b, "stagesim_messages_total{service=\"%s\"} %llu\n", sim_service_name(s),
                       (unsigned long long)f->crossings[s][SIM_WIRE_REQUEST]);
    sim_buf_printf(b, "# HELP stagesim_events_sent_total WebSocket events and replies about to be sent.\n"
                      "# TYPE stagesim_events_sent_total counter\n"
                      "stagesim_events_sent_total %llu\n"
                      "# HELP stagesim_events_dropped_total WebSocket events dropped by rules.\n"
                      "# TYPE stagesim_events_dropped_total counter\n"
                      "stagesim_events_dropped_total %llu\n"
                      "# HELP stagesim_faults_fired_total Rule firings, per rule.\n"
                      "# TYPE stagesim_faults_fired_total counter\n",
                   (unsigned long long)(f->crossings[SIM_SVC_BACKEND][SIM_WIRE_SEND] - f->ws_dropped),
                   (unsigned long long)f->ws_dropped);
    for (size_t i = 0; i < f->nrules; i++)
        sim_buf_printf(b, "stagesim_faults_fired_total{rule=\"%s\"} %llu\n", f->rules[i].rule->id,
                       (unsigned long long)f->rules[i].fired);
    sim_buf_printf(b, "# HELP stagesim_journal_lines_total Journal lines written.\n"
                      "# TYPE stagesim_journal_lines_total counter\n"
                      "stagesim_journal_lines_total %llu\n",
                   (unsigned long long)sim_journal_count(f->journal));
}
