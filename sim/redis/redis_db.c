/* redis_db.c -- the keyspace: a chained hash table per database (one
 * allocation per key, the key inline), value types, lazy and active expiry.
 * Sized for speed and memory close to redis-server's at a million keys. */
#include "redis_db.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- hash table ---- */

uint32_t sim_dict_hash(const char *k, size_t n) {
    /* 64-bit multiply-xorshift over 8-byte words; no need for SipHash here. */
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    const unsigned char *p = (const unsigned char *)k;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

void sim_dict_init(sim_dict *d, size_t keyoff) {
    memset(d, 0, sizeof(*d));
    d->keyoff = keyoff;
}

sim_dent *sim_dict_find(const sim_dict *d, const char *k, size_t n) {
    if (!d->tab)
        return NULL;
    uint32_t h = sim_dict_hash(k, n);
    for (sim_dent *e = d->tab[h & d->mask]; e; e = e->next)
        if (e->hash == h && e->klen == n && memcmp(sim_dict_key(d, e), k, n) == 0)
            return e;
    return NULL;
}

static void dict_resize(sim_dict *d, size_t buckets) {
    sim_dent **tab = sim_xcalloc(buckets, sizeof(*tab));
    size_t mask = buckets - 1;
    if (d->tab) {
        for (size_t i = 0; i <= d->mask; i++) {
            sim_dent *e = d->tab[i];
            while (e) {
                sim_dent *next = e->next;
                e->next = tab[e->hash & mask];
                tab[e->hash & mask] = e;
                e = next;
            }
        }
        free(d->tab);
    }
    d->tab = tab;
    d->mask = mask;
}

void sim_dict_add(sim_dict *d, sim_dent *e) {
    if (!d->tab)
        dict_resize(d, 4);
    else if (d->count >= d->mask + 1)
        dict_resize(d, (d->mask + 1) * 2);
    size_t b = e->hash & d->mask;
    e->next = d->tab[b];
    d->tab[b] = e;
    d->count++;
}

void sim_dict_unlink(sim_dict *d, sim_dent *e) {
    sim_dent **pp = &d->tab[e->hash & d->mask];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    d->count--;
    /* Shrink like Redis when under 10% full, so FLUSH-like deletes free memory. */
    if (d->count == 0) {
        free(d->tab);
        d->tab = NULL;
        d->mask = 0;
    } else if (d->mask + 1 > 16 && d->count * 10 < d->mask + 1) {
        size_t b = 16;
        while (b < d->count)
            b *= 2;
        dict_resize(d, b);
    }
}

static uint64_t rev64(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFull) | ((v & 0x00FF00FF00FF00FFull) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFull) | ((v & 0x0000FFFF0000FFFFull) << 16);
    return (v >> 32) | (v << 32);
}

uint64_t sim_dict_scan(const sim_dict *d, uint64_t v, size_t count,
                       void (*fn)(sim_dent *e, void *ctx), void *ctx) {
    if (!d->tab)
        return 0;
    size_t seen = 0;
    size_t maxbuckets = count * 10;
    do {
        for (sim_dent *e = d->tab[v & d->mask]; e; e = e->next) {
            fn(e, ctx);
            seen++;
        }
        v |= ~(uint64_t)d->mask;
        v = rev64(v);
        v++;
        v = rev64(v);
        if (maxbuckets)
            maxbuckets--;
    } while (v && seen < count && maxbuckets);
    return v;
}

void sim_dict_clear(sim_dict *d, void (*fn)(sim_dent *e, void *ctx), void *ctx) {
    if (d->tab && fn) {
        for (size_t i = 0; i <= d->mask; i++) {
            sim_dent *e = d->tab[i];
            while (e) {
                sim_dent *next = e->next;
                fn(e, ctx);
                e = next;
            }
        }
    }
    free(d->tab);
    d->tab = NULL;
    d->mask = 0;
    d->count = 0;
}

sim_dent *sim_dict_random(const sim_dict *d, uint64_t r) {
    if (!d->count)
        return NULL;
    /* Pick a non-empty bucket, then a chain element. */
    for (uint64_t i = 0;; i++) {
        uint64_t x = r + i * 0x9E3779B97F4A7C15ull;
        x ^= x >> 33;
        sim_dent *e = d->tab[x & d->mask];
        if (!e)
            continue;
        size_t len = 0;
        for (sim_dent *p = e; p; p = p->next)
            len++;
        size_t k = (size_t)((x >> 20) % len);
        while (k--)
            e = e->next;
        return e;
    }
}

/* ---- values ---- */

sim_rstr *sim_rstr_new(const char *p, size_t n) {
    sim_rstr *s = sim_xmalloc(sizeof(*s) + n + 1);
    s->len = (uint32_t)n;
    if (n)
        memcpy(s->data, p, n);
    s->data[n] = '\0';
    return s;
}

sim_rlist *sim_rlist_new(void) {
    sim_rlist *l = sim_xcalloc(1, sizeof(*l));
    l->cap = 4;
    l->items = sim_xmalloc(l->cap * sizeof(*l->items));
    return l;
}

static void rlist_grow(sim_rlist *l) {
    sim_rstr **items = sim_xmalloc(l->cap * 2 * sizeof(*items));
    for (size_t i = 0; i < l->len; i++)
        items[i] = sim_rlist_at(l, i);
    free(l->items);
    l->items = items;
    l->head = 0;
    l->cap *= 2;
}

void sim_rlist_push(sim_rlist *l, sim_rstr *s, int left) {
    if (l->len == l->cap)
        rlist_grow(l);
    if (left) {
        l->head = (l->head + l->cap - 1) & (l->cap - 1);
        l->items[l->head] = s;
    } else {
        l->items[(l->head + l->len) & (l->cap - 1)] = s;
    }
    l->len++;
}

sim_rstr *sim_rlist_pop(sim_rlist *l, int left) {
    if (!l->len)
        return NULL;
    sim_rstr *s;
    if (left) {
        s = l->items[l->head];
        l->head = (l->head + 1) & (l->cap - 1);
    } else {
        s = sim_rlist_at(l, l->len - 1);
    }
    l->len--;
    return s;
}

static void rlist_free(sim_rlist *l) {
    for (size_t i = 0; i < l->len; i++)
        free(sim_rlist_at(l, i));
    free(l->items);
    free(l);
}

sim_rhash *sim_rhash_new(void) {
    sim_rhash *h = sim_xcalloc(1, sizeof(*h));
    sim_dict_init(&h->d, offsetof(sim_hent, key));
    return h;
}

sim_hent *sim_rhash_find(const sim_rhash *h, const char *k, size_t n) {
    return (sim_hent *)sim_dict_find(&h->d, k, n);
}

int sim_rhash_set(sim_rhash *h, const char *k, size_t n, sim_rstr *val) {
    sim_hent *e = sim_rhash_find(h, k, n);
    if (e) {
        free(e->val);
        e->val = val;
        return 0;
    }
    e = sim_xmalloc(sizeof(*e) + n + 1);
    e->h.hash = sim_dict_hash(k, n);
    e->h.klen = (uint32_t)n;
    memcpy(e->key, k, n);
    e->key[n] = '\0';
    e->val = val;
    e->next = NULL;
    e->prev = h->last;
    if (h->last)
        h->last->next = e;
    else
        h->first = e;
    h->last = e;
    sim_dict_add(&h->d, &e->h);
    return 1;
}

int sim_rhash_del(sim_rhash *h, const char *k, size_t n) {
    sim_hent *e = sim_rhash_find(h, k, n);
    if (!e)
        return 0;
    sim_dict_unlink(&h->d, &e->h);
    if (e->prev)
        e->prev->next = e->next;
    else
        h->first = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        h->last = e->prev;
    free(e->val);
    free(e);
    return 1;
}

static void rhash_free(sim_rhash *h) {
    sim_hent *e = h->first;
    while (e) {
        sim_hent *next = e->next;
        free(e->val);
        free(e);
        e = next;
    }
    sim_dict_clear(&h->d, NULL, NULL);
    free(h);
}

sim_rzset *sim_rzset_new(void) {
    sim_rzset *z = sim_xcalloc(1, sizeof(*z));
    sim_dict_init(&z->d, offsetof(sim_zent, key));
    return z;
}

sim_zent *sim_rzset_find(const sim_rzset *z, const char *k, size_t n) {
    return (sim_zent *)sim_dict_find(&z->d, k, n);
}

static int zcmp(double s, const char *k, size_t n, const sim_zent *e) {
    if (s < e->score)
        return -1;
    if (s > e->score)
        return 1;
    size_t m = n < e->h.klen ? n : e->h.klen;
    int c = memcmp(k, e->key, m);
    if (c)
        return c;
    return n < e->h.klen ? -1 : n > e->h.klen ? 1 : 0;
}

/* Index of the first element not less than (s, k). */
static size_t zsearch(const sim_rzset *z, double s, const char *k, size_t n) {
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (zcmp(s, k, n, z->arr[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t sim_rzset_rank(const sim_rzset *z, const sim_zent *e) {
    return zsearch(z, e->score, e->key, e->h.klen);
}

size_t sim_rzset_lower(const sim_rzset *z, double min, int excl) {
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        double s = z->arr[mid]->score;
        if (excl ? s <= min : s < min)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void zarr_remove(sim_rzset *z, sim_zent *e) {
    size_t i = sim_rzset_rank(z, e);
    memmove(&z->arr[i], &z->arr[i + 1], (z->n - i - 1) * sizeof(*z->arr));
    z->n--;
}

static void zarr_insert(sim_rzset *z, sim_zent *e) {
    if (z->n == z->cap) {
        z->cap = z->cap ? z->cap * 2 : 4;
        z->arr = sim_xrealloc(z->arr, z->cap * sizeof(*z->arr));
    }
    size_t i = zsearch(z, e->score, e->key, e->h.klen);
    memmove(&z->arr[i + 1], &z->arr[i], (z->n - i) * sizeof(*z->arr));
    z->arr[i] = e;
    z->n++;
}

int sim_rzset_set(sim_rzset *z, const char *k, size_t n, double score) {
    sim_zent *e = sim_rzset_find(z, k, n);
    if (e) {
        if (e->score != score) {
            zarr_remove(z, e);
            e->score = score;
            zarr_insert(z, e);
        }
        return 0;
    }
    e = sim_xmalloc(sizeof(*e) + n + 1);
    e->h.hash = sim_dict_hash(k, n);
    e->h.klen = (uint32_t)n;
    memcpy(e->key, k, n);
    e->key[n] = '\0';
    e->score = score;
    sim_dict_add(&z->d, &e->h);
    zarr_insert(z, e);
    return 1;
}

int sim_rzset_del(sim_rzset *z, const char *k, size_t n) {
    sim_zent *e = sim_rzset_find(z, k, n);
    if (!e)
        return 0;
    zarr_remove(z, e);
    sim_dict_unlink(&z->d, &e->h);
    free(e);
    return 1;
}

static void rzset_free(sim_rzset *z) {
    for (size_t i = 0; i < z->n; i++)
        free(z->arr[i]);
    free(z->arr);
    sim_dict_clear(&z->d, NULL, NULL);
    free(z);
}

void sim_value_free(int type, void *val) {
    switch (type) {
    case SIM_RT_STRING: free(val); break;
    case SIM_RT_LIST: rlist_free(val); break;
    case SIM_RT_HASH:
    case SIM_RT_SET: rhash_free(val); break;
    case SIM_RT_ZSET: rzset_free(val); break;
    default: sim_assert(!"bad type");
    }
}

/* ---- keyspace ---- */

void sim_keyspace_init(sim_keyspace *ks) {
    memset(ks, 0, sizeof(*ks));
    for (int i = 0; i < SIM_REDIS_DBS; i++)
        sim_dict_init(&ks->db[i].keys, offsetof(sim_rkey, key));
}

static void free_key(sim_dent *d, void *ctx) {
    (void)ctx;
    sim_rkey *e = (sim_rkey *)d;
    sim_value_free(e->type, e->val);
    free(e);
}

void sim_keyspace_flushdb(sim_keyspace *ks, int db) {
    sim_dict_clear(&ks->db[db].keys, free_key, NULL);
    ks->db[db].volatile_keys = 0;
    ks->db[db].expire_cursor = 0;
}

void sim_keyspace_free(sim_keyspace *ks) {
    for (int i = 0; i < SIM_REDIS_DBS; i++)
        sim_keyspace_flushdb(ks, i);
}

void sim_db_delete(sim_keyspace *ks, int db, sim_rkey *e) {
    sim_dict_unlink(&ks->db[db].keys, &e->h);
    if (e->expire >= 0)
        ks->db[db].volatile_keys--;
    free_key(&e->h, NULL);
}

sim_rkey *sim_db_lookup(sim_keyspace *ks, int db, const char *k, size_t n, int64_t now_ms) {
    sim_rkey *e = (sim_rkey *)sim_dict_find(&ks->db[db].keys, k, n);
    if (e && e->expire >= 0 && e->expire <= now_ms) {
        sim_db_delete(ks, db, e);
        ks->expired_keys++;
        return NULL;
    }
    return e;
}

static sim_rkey *new_key(const char *k, size_t n) {
    sim_rkey *e = sim_xmalloc(sizeof(*e) + n + 1);
    e->h.hash = sim_dict_hash(k, n);
    e->h.klen = (uint32_t)n;
    memcpy(e->key, k, n);
    e->key[n] = '\0';
    e->expire = -1;
    return e;
}

sim_rkey *sim_db_add(sim_keyspace *ks, int db, const char *k, size_t n, int type, void *val) {
    sim_rkey *e = new_key(k, n);
    e->type = (uint8_t)type;
    e->val = val;
    sim_dict_add(&ks->db[db].keys, &e->h);
    return e;
}

void sim_db_set_expire(sim_keyspace *ks, int db, sim_rkey *e, int64_t when_ms) {
    if (e->expire < 0 && when_ms >= 0)
        ks->db[db].volatile_keys++;
    else if (e->expire >= 0 && when_ms < 0)
        ks->db[db].volatile_keys--;
    e->expire = when_ms;
}

sim_rkey *sim_db_rename(sim_keyspace *ks, int db, sim_rkey *e, int dstdb, const char *k, size_t n) {
    sim_rkey *ne = new_key(k, n);
    ne->type = e->type;
    ne->val = e->val;
    int64_t exp = e->expire;
    sim_dict_unlink(&ks->db[db].keys, &e->h);
    if (exp >= 0)
        ks->db[db].volatile_keys--;
    free(e);
    sim_dict_add(&ks->db[dstdb].keys, &ne->h);
    sim_db_set_expire(ks, dstdb, ne, exp);
    return ne;
}

struct expire_ctx {
    int64_t now;
    sim_rkey *dead[64];
    int ndead;
};

static void collect_expired(sim_dent *d, void *ctx) {
    struct expire_ctx *c = ctx;
    sim_rkey *e = (sim_rkey *)d;
    if (e->expire >= 0 && e->expire <= c->now && c->ndead < 64)
        c->dead[c->ndead++] = e;
}

void sim_db_active_expire(sim_keyspace *ks, int64_t now_ms, size_t budget) {
    for (int i = 0; i < SIM_REDIS_DBS; i++) {
        sim_rdb *db = &ks->db[i];
        size_t left = budget;
        while (db->volatile_keys && left) {
            struct expire_ctx c = {.now = now_ms};
            size_t step = left < 20 ? left : 20;
            db->expire_cursor = sim_dict_scan(&db->keys, db->expire_cursor, step,
                                              collect_expired, &c);
            left -= step;
            for (int j = 0; j < c.ndead; j++) {
                sim_db_delete(ks, i, c.dead[j]);
                ks->expired_keys++;
            }
            if (db->expire_cursor == 0)
                break;
        }
    }
}

/* ---- glob matching, after Redis's stringmatchlen ---- */

static int lc(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int glob(const char *p, size_t pl, const char *s, size_t sl, int nocase, int depth) {
    if (depth > 1000)
        return 0;
    if (sl == 0) {
        while (pl && *p == '*') {
            p++;
            pl--;
        }
        return pl == 0;
    }
    while (pl && sl) {
        switch (*p) {
        case '*':
            while (pl > 1 && p[1] == '*') {
                p++;
                pl--;
            }
            if (pl == 1)
                return 1;
            while (sl) {
                if (glob(p + 1, pl - 1, s, sl, nocase, depth + 1))
                    return 1;
                s++;
                sl--;
            }
            return 0;
        case '?':
            s++;
            sl--;
            break;
        case '[': {
            p++;
            pl--;
            int neg = pl && *p == '^';
            if (neg) {
                p++;
                pl--;
            }
            int match = 0;
            for (;;) {
                if (pl == 0) {
                    p--;
                    pl++;
                    break;
                }
                if (*p == '\\' && pl >= 2) {
                    p++;
                    pl--;
                    if (*p == *s)
                        match = 1;
                } else if (*p == ']') {
                    break;
                } else if (pl >= 3 && p[1] == '-') {
                    int a = (unsigned char)p[0], b = (unsigned char)p[2], c = (unsigned char)*s;
                    if (a > b) {
                        int t = a;
                        a = b;
                        b = t;
                    }
                    if (nocase) {
                        a = lc(a);
                        b = lc(b);
                        c = lc(c);
                    }
                    p += 2;
                    pl -= 2;
                    if (c >= a && c <= b)
                        match = 1;
                } else if (nocase ? lc((unsigned char)*p) == lc((unsigned char)*s) : *p == *s) {
                    match = 1;
                }
                p++;
                pl--;
            }
            if (neg)
                match = !match;
            if (!match)
                return 0;
            s++;
            sl--;
            break;
        }
        case '\\':
            if (pl >= 2) {
                p++;
                pl--;
            }
            /* fall through */
        default:
            if (nocase ? lc((unsigned char)*p) != lc((unsigned char)*s) : *p != *s)
                return 0;
            s++;
            sl--;
            break;
        }
        p++;
        pl--;
        if (sl == 0) {
            while (pl && *p == '*') {
                p++;
                pl--;
            }
            break;
        }
    }
    return pl == 0 && sl == 0;
}

int sim_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase) {
    return glob(pat, plen, s, slen, nocase, 0);
}
