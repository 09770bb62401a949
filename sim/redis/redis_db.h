/* redis_db.h -- the keyspace of the Redis impersonation: 16 databases of
 * strings, lists, hashes, sets and sorted sets, with lazy and active expiry.
 * Pure data structures: time comes in as now_ms, nothing touches a socket. */
#ifndef SIM_REDIS_DB_H
#define SIM_REDIS_DB_H
#ifndef SIM_IN_REDIS
#error "redis_db.h is private to sim/redis/"
#endif

#include <stddef.h>
#include <stdint.h>

#define SIM_REDIS_DBS 16

/* ---- an intrusive chained hash table; the key lives at keyoff in each
 * entry (klen bytes, NUL-terminated). Entries are owned by the caller. ---- */
typedef struct sim_dent {
    struct sim_dent *next;
    uint32_t hash;
    uint32_t klen;
} sim_dent;

typedef struct sim_dict {
    sim_dent **tab;
    size_t mask;     /* buckets - 1; tab NULL while empty */
    size_t count;
    size_t keyoff;
} sim_dict;

uint32_t sim_dict_hash(const char *k, size_t n);
void sim_dict_init(sim_dict *d, size_t keyoff);
sim_dent *sim_dict_find(const sim_dict *d, const char *k, size_t n);
/* Links e (hash, klen and key already filled, key absent from d). */
void sim_dict_add(sim_dict *d, sim_dent *e);
/* Unlinks e (which must be in d). */
void sim_dict_unlink(sim_dict *d, sim_dent *e);
/* Redis's reverse-binary cursor scan: calls fn on every entry of the next
 * bucket(s) until about `count` entries were seen; returns the next cursor
 * (0 when done). fn may not modify d. */
uint64_t sim_dict_scan(const sim_dict *d, uint64_t cursor, size_t count,
                       void (*fn)(sim_dent *e, void *ctx), void *ctx);
/* Frees the table (not the entries: call fn on each first, fn may free). */
void sim_dict_clear(sim_dict *d, void (*fn)(sim_dent *e, void *ctx), void *ctx);
static inline const char *sim_dict_key(const sim_dict *d, const sim_dent *e) {
    return (const char *)e + d->keyoff;
}
/* A random entry (uses r for the choice), NULL when empty. */
sim_dent *sim_dict_random(const sim_dict *d, uint64_t r);

/* ---- values ---- */
typedef struct sim_rstr {
    uint32_t len;
    char data[];     /* len bytes + NUL */
} sim_rstr;

sim_rstr *sim_rstr_new(const char *p, size_t n);

enum { SIM_RT_STRING, SIM_RT_LIST, SIM_RT_HASH, SIM_RT_SET, SIM_RT_ZSET };

typedef struct sim_rlist {
    sim_rstr **items;
    size_t head, len, cap;   /* ring buffer */
} sim_rlist;

/* Hash fields and set members keep insertion order (a linked list), like
 * Redis 7's small listpack encodings, so replies are deterministic. */
typedef struct sim_hent {
    sim_dent h;
    struct sim_hent *prev, *next;
    sim_rstr *val;           /* NULL in sets */
    char key[];
} sim_hent;

typedef struct sim_rhash {
    sim_dict d;
    sim_hent *first, *last;
} sim_rhash;

typedef struct sim_zent {
    sim_dent h;
    double score;
    char key[];
} sim_zent;

/* A sorted set: member -> score dict plus an array ordered by (score, member). */
typedef struct sim_rzset {
    sim_dict d;
    sim_zent **arr;
    size_t n, cap;
} sim_rzset;

typedef struct sim_rkey {
    sim_dent h;
    int64_t expire;          /* absolute ms, -1 none */
    void *val;               /* sim_rstr, sim_rlist, sim_rhash (hash or set), sim_rzset */
    uint8_t type;
    char key[];
} sim_rkey;

typedef struct sim_rdb {
    sim_dict keys;
    size_t volatile_keys;
    uint64_t expire_cursor;
} sim_rdb;

typedef struct sim_keyspace {
    sim_rdb db[SIM_REDIS_DBS];
    uint64_t expired_keys;   /* stats */
    uint64_t hits, misses;
} sim_keyspace;

void sim_keyspace_init(sim_keyspace *ks);
void sim_keyspace_free(sim_keyspace *ks);
void sim_keyspace_flushdb(sim_keyspace *ks, int db);

/* Looks a key up, deleting it first when expired (lazy expiry). */
sim_rkey *sim_db_lookup(sim_keyspace *ks, int db, const char *k, size_t n, int64_t now_ms);
/* Adds a key (absent) with a value it takes ownership of; no expiry. */
sim_rkey *sim_db_add(sim_keyspace *ks, int db, const char *k, size_t n, int type, void *val);
/* Deletes a key and frees its value. */
void sim_db_delete(sim_keyspace *ks, int db, sim_rkey *e);
void sim_db_set_expire(sim_keyspace *ks, int db, sim_rkey *e, int64_t when_ms);
/* Moves key e to a new name in another (or the same) db, keeping value and
 * expiry; any existing destination key must have been deleted first. */
sim_rkey *sim_db_rename(sim_keyspace *ks, int db, sim_rkey *e, int dstdb, const char *k, size_t n);
/* Active expiry: visits up to `budget` entries of each db with volatile keys. */
void sim_db_active_expire(sim_keyspace *ks, int64_t now_ms, size_t budget);
void sim_value_free(int type, void *val);

/* lists */
sim_rlist *sim_rlist_new(void);
void sim_rlist_push(sim_rlist *l, sim_rstr *s, int left);
sim_rstr *sim_rlist_pop(sim_rlist *l, int left);   /* caller owns the result */
static inline sim_rstr *sim_rlist_at(const sim_rlist *l, size_t i) {
    return l->items[(l->head + i) & (l->cap - 1)];
}
static inline void sim_rlist_set(sim_rlist *l, size_t i, sim_rstr *s) {
    l->items[(l->head + i) & (l->cap - 1)] = s;
}

/* hashes and sets */
sim_rhash *sim_rhash_new(void);
sim_hent *sim_rhash_find(const sim_rhash *h, const char *k, size_t n);
/* Inserts or overwrites; takes ownership of val (may be NULL for sets).
 * Returns 1 if the field was new. */
int sim_rhash_set(sim_rhash *h, const char *k, size_t n, sim_rstr *val);
int sim_rhash_del(sim_rhash *h, const char *k, size_t n);

/* sorted sets */
sim_rzset *sim_rzset_new(void);
sim_zent *sim_rzset_find(const sim_rzset *z, const char *k, size_t n);
/* Sets member's score (insert or move). Returns 1 if new. */
int sim_rzset_set(sim_rzset *z, const char *k, size_t n, double score);
int sim_rzset_del(sim_rzset *z, const char *k, size_t n);
/* Rank of an entry in the ordered array. */
size_t sim_rzset_rank(const sim_rzset *z, const sim_zent *e);
/* First index with score >= min (or > min when excl). */
size_t sim_rzset_lower(const sim_rzset *z, double min, int excl);

/* Redis glob matching (stringmatchlen). */
int sim_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

#endif
