/* redis_types.c -- list, hash, set and sorted-set commands, with Redis 7.0
 * semantics and error texts. Registered through redis_type_commands. */
#include "redis_int.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int redis_scan_opts(redis_ctx *x, int first, int allow_type, const char **pat, size_t *plen,
                    long long *count, int *type);
int redis_scan_cursor(redis_ctx *x, int i, uint64_t *cur);
int redis_ld2str(char *buf, size_t len, long double v);

/* ---- lists ---- */

static sim_rlist *get_list(redis_ctx *x, int i, int *wrong, sim_rkey **ep) {
    sim_rkey *e = redis_lookup_type(x, i, SIM_RT_LIST, wrong);
    *ep = e;
    return e ? e->val : NULL;
}

static void push_generic(redis_ctx *x, int left, int onlyexisting) {
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (wrong)
        return;
    if (!l) {
        if (onlyexisting) {
            sim_resp_int(x->out, 0);
            return;
        }
        l = sim_rlist_new();
        redis_add(x, 1, SIM_RT_LIST, l);
    }
    for (int i = 2; i < x->argc; i++)
        sim_rlist_push(l, sim_rstr_new(x->argv[i], x->argvlen[i]), left);
    sim_resp_int(x->out, (long long)l->len);
    if (x->core->nblocked)
        redis_serve_blocked(x->core, x->c->db, x->argv[1], x->argvlen[1], x->now);
}

static void cmd_lpush(redis_ctx *x) { push_generic(x, 1, 0); }
static void cmd_rpush(redis_ctx *x) { push_generic(x, 0, 0); }
static void cmd_lpushx(redis_ctx *x) { push_generic(x, 1, 1); }
static void cmd_rpushx(redis_ctx *x) { push_generic(x, 0, 1); }

static void pop_generic(redis_ctx *x, int left) {
    long long count = -1;
    if (x->argc > 3) {
        redis_arity_error(x, left ? "lpop" : "rpop");
        return;
    }
    if (x->argc == 3) {
        if (!redis_ll_msg(x, 2, &count, "ERR value is out of range, must be positive"))
            return;
        if (count < 0) {
            redis_err(x, "ERR value is out of range, must be positive");
            return;
        }
    }
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (wrong)
        return;
    if (!l) {
        if (count >= 0)
            sim_resp_null_array(x->out);
        else
            sim_resp_null(x->out);
        return;
    }
    if (count < 0) {
        sim_rstr *s = sim_rlist_pop(l, left);
        sim_resp_bulk(x->out, s->data, s->len);
        free(s);
    } else {
        if ((size_t)count > l->len)
            count = (long long)l->len;
        sim_resp_array(x->out, count);
        for (long long i = 0; i < count; i++) {
            sim_rstr *s = sim_rlist_pop(l, left);
            sim_resp_bulk(x->out, s->data, s->len);
            free(s);
        }
    }
    if (l->len == 0)
        redis_delete(x, e);
}

static void cmd_lpop(redis_ctx *x) { pop_generic(x, 1); }
static void cmd_rpop(redis_ctx *x) { pop_generic(x, 0); }

static void cmd_llen(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (!wrong)
        sim_resp_int(x->out, l ? (long long)l->len : 0);
}

/* Normalises [start, end] against len; returns 0 when the range is empty. */
static int norm_range(long long *start, long long *end, long long len) {
    if (*start < 0) *start += len;
    if (*end < 0) *end += len;
    if (*start < 0) *start = 0;
    if (*start > *end || *start >= len)
        return 0;
    if (*end >= len) *end = len - 1;
    return 1;
}

static void cmd_lrange(redis_ctx *x) {
    long long start, end;
    if (!redis_ll(x, 2, &start) || !redis_ll(x, 3, &end))
        return;
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (wrong)
        return;
    if (!l || !norm_range(&start, &end, (long long)l->len)) {
        sim_resp_array(x->out, 0);
        return;
    }
    sim_resp_array(x->out, end - start + 1);
    for (long long i = start; i <= end; i++) {
        sim_rstr *s = sim_rlist_at(l, (size_t)i);
        sim_resp_bulk(x->out, s->data, s->len);
    }
}

static void cmd_lindex(redis_ctx *x) {
    long long i;
    if (!redis_ll(x, 2, &i))
        return;
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (wrong)
        return;
    if (l && i < 0)
        i += (long long)l->len;
    if (!l || i < 0 || i >= (long long)l->len) {
        sim_resp_null(x->out);
        return;
    }
    sim_rstr *s = sim_rlist_at(l, (size_t)i);
    sim_resp_bulk(x->out, s->data, s->len);
}

static void cmd_lset(redis_ctx *x) {
    long long i;
    if (!redis_ll(x, 2, &i))
        return;
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (wrong)
        return;
    if (!l) {
        redis_err(x, "ERR no such key");
        return;
    }
    if (i < 0)
        i += (long long)l->len;
    if (i < 0 || i >= (long long)l->len) {
        redis_err(x, "ERR index out of range");
        return;
    }
    free(sim_rlist_at(l, (size_t)i));
    sim_rlist_set(l, (size_t)i, sim_rstr_new(x->argv[3], x->argvlen[3]));
    R_OK(x);
}

static void cmd_lrem(redis_ctx *x) {
    long long count;
    if (!redis_ll(x, 2, &count))
        return;
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (wrong)
        return;
    if (!l) {
        sim_resp_int(x->out, 0);
        return;
    }
    const char *v = x->argv[3];
    size_t vn = x->argvlen[3];
    long long removed = 0;
    /* Rebuild the list keeping order; walk from the tail when count < 0. */
    size_t n = l->len;
    sim_rstr **keep = sim_xmalloc((n ? n : 1) * sizeof(*keep));
    char *drop = sim_xcalloc(n ? n : 1, 1);
    long long limit = count < 0 ? -count : count;
    for (size_t k = 0; k < n; k++) {
        size_t idx = count < 0 ? n - 1 - k : k;
        sim_rstr *s = sim_rlist_at(l, idx);
        if ((limit == 0 || removed < limit) && s->len == vn && memcmp(s->data, v, vn) == 0) {
            drop[idx] = 1;
            removed++;
        }
    }
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        sim_rstr *s = sim_rlist_at(l, k);
        if (drop[k])
            free(s);
        else
            keep[m++] = s;
    }
    for (size_t k = 0; k < m; k++)
        sim_rlist_set(l, k, keep[k]);
    l->len = m;
    free(keep);
    free(drop);
    if (l->len == 0)
        redis_delete(x, e);
    sim_resp_int(x->out, removed);
}

static void cmd_ltrim(redis_ctx *x) {
    long long start, end;
    if (!redis_ll(x, 2, &start) || !redis_ll(x, 3, &end))
        return;
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (wrong)
        return;
    if (!l) {
        R_OK(x);
        return;
    }
    long long len = (long long)l->len;
    if (!norm_range(&start, &end, len)) {
        redis_delete(x, e);
        R_OK(x);
        return;
    }
    for (long long i = 0; i < start; i++)
        free(sim_rlist_pop(l, 1));
    for (long long i = end + 1; i < len; i++)
        free(sim_rlist_pop(l, 0));
    R_OK(x);
}

/* ---- hashes ---- */

static sim_rhash *get_hash(redis_ctx *x, int i, int *wrong, sim_rkey **ep, int create) {
    sim_rkey *e = redis_lookup_type(x, i, SIM_RT_HASH, wrong);
    if (!e && !*wrong && create)
        e = redis_add(x, i, SIM_RT_HASH, sim_rhash_new());
    *ep = e;
    return e ? e->val : NULL;
}

static void hset_generic(redis_ctx *x, int hmset) {
    if (x->argc % 2 == 1) {
        redis_arity_error(x, hmset ? "hmset" : "hset");
        return;
    }
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 1);
    if (wrong)
        return;
    long long added = 0;
    for (int i = 2; i < x->argc; i += 2)
        added += sim_rhash_set(h, x->argv[i], x->argvlen[i],
                               sim_rstr_new(x->argv[i + 1], x->argvlen[i + 1]));
    if (hmset)
        R_OK(x);
    else
        sim_resp_int(x->out, added);
}

static void cmd_hset(redis_ctx *x) { hset_generic(x, 0); }
static void cmd_hmset(redis_ctx *x) { hset_generic(x, 1); }

static void cmd_hsetnx(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (wrong)
        return;
    if (h && sim_rhash_find(h, x->argv[2], x->argvlen[2])) {
        sim_resp_int(x->out, 0);
        return;
    }
    if (!h)
        h = get_hash(x, 1, &wrong, &e, 1);
    sim_rhash_set(h, x->argv[2], x->argvlen[2], sim_rstr_new(x->argv[3], x->argvlen[3]));
    sim_resp_int(x->out, 1);
}

static void cmd_hget(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (wrong)
        return;
    sim_hent *f = h ? sim_rhash_find(h, x->argv[2], x->argvlen[2]) : NULL;
    if (f)
        sim_resp_bulk(x->out, f->val->data, f->val->len);
    else
        sim_resp_null(x->out);
}

static void cmd_hmget(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (wrong)
        return;
    sim_resp_array(x->out, x->argc - 2);
    for (int i = 2; i < x->argc; i++) {
        sim_hent *f = h ? sim_rhash_find(h, x->argv[i], x->argvlen[i]) : NULL;
        if (f)
            sim_resp_bulk(x->out, f->val->data, f->val->len);
        else
            sim_resp_null(x->out);
    }
}

enum { H_KEYS = 1, H_VALS = 2 };

static void hgetall_generic(redis_ctx *x, int what) {
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (wrong)
        return;
    if (!h) {
        sim_resp_array(x->out, 0);
        return;
    }
    sim_resp_array(x->out, (long long)h->d.count * ((what == (H_KEYS | H_VALS)) ? 2 : 1));
    for (sim_hent *f = h->first; f; f = f->next) {
        if (what & H_KEYS)
            sim_resp_bulk(x->out, f->key, f->h.klen);
        if (what & H_VALS)
            sim_resp_bulk(x->out, f->val->data, f->val->len);
    }
}

static void cmd_hgetall(redis_ctx *x) { hgetall_generic(x, H_KEYS | H_VALS); }
static void cmd_hkeys(redis_ctx *x) { hgetall_generic(x, H_KEYS); }
static void cmd_hvals(redis_ctx *x) { hgetall_generic(x, H_VALS); }

static void cmd_hdel(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (wrong)
        return;
    long long n = 0;
    for (int i = 2; h && i < x->argc; i++)
        n += sim_rhash_del(h, x->argv[i], x->argvlen[i]);
    if (h && h->d.count == 0)
        redis_delete(x, e);
    sim_resp_int(x->out, n);
}

static void cmd_hexists(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (!wrong)
        sim_resp_int(x->out, h && sim_rhash_find(h, x->argv[2], x->argvlen[2]));
}

static void cmd_hlen(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (!wrong)
        sim_resp_int(x->out, h ? (long long)h->d.count : 0);
}

static void cmd_hincrby(redis_ctx *x) {
    long long by, v = 0;
    if (!redis_ll(x, 3, &by))
        return;
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (wrong)
        return;
    sim_hent *f = h ? sim_rhash_find(h, x->argv[2], x->argvlen[2]) : NULL;
    if (f && !redis_parse_ll(f->val->data, f->val->len, &v)) {
        redis_err(x, "ERR hash value is not an integer");
        return;
    }
    if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
        redis_err(x, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    if (!h)
        h = get_hash(x, 1, &wrong, &e, 1);
    char buf[24];
    int n = sim_resp_ll2str(buf, v);
    sim_rhash_set(h, x->argv[2], x->argvlen[2], sim_rstr_new(buf, (size_t)n));
    sim_resp_int(x->out, v);
}

static void cmd_hincrbyfloat(redis_ctx *x) {
    double byd;
    if (!redis_double(x, 3, &byd, ERR_NOTFLOAT))
        return;
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (wrong)
        return;
    long double v = 0, by = strtold(x->argv[3], NULL);
    sim_hent *f = h ? sim_rhash_find(h, x->argv[2], x->argvlen[2]) : NULL;
    if (f) {
        double dv;
        if (!redis_parse_double(f->val->data, f->val->len, &dv)) {
            redis_err(x, "ERR hash value is not a float");
            return;
        }
        v = strtold(f->val->data, NULL);
    }
    v += by;
    if (isnan(v) || isinf(v)) {
        redis_err(x, "ERR increment would produce NaN or Infinity");
        return;
    }
    if (!h)
        h = get_hash(x, 1, &wrong, &e, 1);
    char buf[400];
    int n = redis_ld2str(buf, sizeof(buf), v);
    sim_rhash_set(h, x->argv[2], x->argvlen[2], sim_rstr_new(buf, (size_t)n));
    sim_resp_bulk(x->out, buf, (size_t)n);
}

/* HSCAN/SSCAN: small collections answer everything at cursor 0, as Redis
 * does for its compact encodings; larger ones page through the dict. */
struct coll_scan {
    const char *pat;
    size_t plen;
    int with_vals;
    sim_buf items;
    long long n;
};

static void coll_scan_one(sim_dent *d, void *ctx) {
    struct coll_scan *s = ctx;
    sim_hent *f = (sim_hent *)d;
    if (s->pat && !sim_glob_match(s->pat, s->plen, f->key, f->h.klen, 0))
        return;
    sim_resp_bulk(&s->items, f->key, f->h.klen);
    s->n++;
    if (s->with_vals) {
        sim_resp_bulk(&s->items, f->val->data, f->val->len);
        s->n++;
    }
}

static void coll_scan(redis_ctx *x, int type) {
    uint64_t cur;
    if (!redis_scan_cursor(x, 2, &cur))
        return;
    struct coll_scan s = {.with_vals = type == SIM_RT_HASH};
    long long count;
    int t;
    if (!redis_scan_opts(x, 3, 0, &s.pat, &s.plen, &count, &t))
        return;
    int wrong;
    sim_rkey *e = redis_lookup_type(x, 1, type, &wrong);
    if (wrong)
        return;
    uint64_t next = 0;
    if (e) {
        sim_rhash *h = e->val;
        if (h->d.count <= 128) {
            for (sim_hent *f = h->first; f; f = f->next)
                coll_scan_one(&f->h, &s);
        } else {
            next = sim_dict_scan(&h->d, cur, (size_t)count, coll_scan_one, &s);
        }
    }
    sim_resp_array(x->out, 2);
    sim_resp_bulk_ll(x->out, (long long)next);
    sim_resp_array(x->out, s.n);
    if (s.items.len)
        sim_buf_append(x->out, s.items.data, s.items.len);
    sim_buf_free(&s.items);
}

static void cmd_hscan(redis_ctx *x) { coll_scan(x, SIM_RT_HASH); }


/* ---- sets ---- */

static sim_rhash *get_set(redis_ctx *x, int i, int *wrong, sim_rkey **ep, int create) {
    sim_rkey *e = redis_lookup_type(x, i, SIM_RT_SET, wrong);
    if (!e && !*wrong && create)
        e = redis_add(x, i, SIM_RT_SET, sim_rhash_new());
    if (ep)
        *ep = e;
    return e ? e->val : NULL;
}

static void cmd_sadd(redis_ctx *x) {
    int wrong;
    sim_rhash *h = get_set(x, 1, &wrong, NULL, 1);
    if (wrong)
        return;
    long long n = 0;
    for (int i = 2; i < x->argc; i++)
        n += sim_rhash_set(h, x->argv[i], x->argvlen[i], NULL);
    sim_resp_int(x->out, n);
}

static void cmd_srem(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_set(x, 1, &wrong, &e, 0);
    if (wrong)
        return;
    long long n = 0;
    for (int i = 2; h && i < x->argc; i++)
        n += sim_rhash_del(h, x->argv[i], x->argvlen[i]);
    if (h && h->d.count == 0)
        redis_delete(x, e);
    sim_resp_int(x->out, n);
}

static void reply_members(redis_ctx *x, sim_rhash *h) {
    sim_resp_array(x->out, h ? (long long)h->d.count : 0);
    for (sim_hent *f = h ? h->first : NULL; f; f = f->next)
        sim_resp_bulk(x->out, f->key, f->h.klen);
}

static void cmd_smembers(redis_ctx *x) {
    int wrong;
    sim_rhash *h = get_set(x, 1, &wrong, NULL, 0);
    if (!wrong)
        reply_members(x, h);
}

static void cmd_sismember(redis_ctx *x) {
    int wrong;
    sim_rhash *h = get_set(x, 1, &wrong, NULL, 0);
    if (!wrong)
        sim_resp_int(x->out, h && sim_rhash_find(h, x->argv[2], x->argvlen[2]));
}

static void cmd_scard(redis_ctx *x) {
    int wrong;
    sim_rhash *h = get_set(x, 1, &wrong, NULL, 0);
    if (!wrong)
        sim_resp_int(x->out, h ? (long long)h->d.count : 0);
}

static void cmd_spop(redis_ctx *x) {
    long long count = -1;
    if (x->argc > 3) {
        redis_err(x, ERR_SYNTAX);
        return;
    }
    if (x->argc == 3) {
        if (!redis_ll_msg(x, 2, &count, "ERR value is out of range, must be positive"))
            return;
        if (count < 0) {
            redis_err(x, "ERR value is out of range, must be positive");
            return;
        }
    }
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_set(x, 1, &wrong, &e, 0);
    if (wrong)
        return;
    if (!h) {
        if (count >= 0)
            sim_resp_array(x->out, 0);
        else
            sim_resp_null(x->out);
        return;
    }
    long long n = count < 0 ? 1 : count;
    if (n > (long long)h->d.count)
        n = (long long)h->d.count;
    if (count >= 0)
        sim_resp_array(x->out, n);
    for (long long i = 0; i < n; i++) {
        sim_hent *f = (sim_hent *)sim_dict_random(&h->d, redis_rand(x->core));
        sim_resp_bulk(x->out, f->key, f->h.klen);
        sim_rhash_del(h, f->key, f->h.klen);
    }
    if (h->d.count == 0)
        redis_delete(x, e);
}

static void cmd_srandmember(redis_ctx *x) {
    long long count = 0;
    int has = x->argc == 3;
    if (x->argc > 3) {
        redis_err(x, ERR_SYNTAX);
        return;
    }
    if (has && !redis_ll(x, 2, &count))
        return;
    int wrong;
    sim_rhash *h = get_set(x, 1, &wrong, NULL, 0);
    if (wrong)
        return;
    if (!has) {
        sim_hent *f = h ? (sim_hent *)sim_dict_random(&h->d, redis_rand(x->core)) : NULL;
        if (f)
            sim_resp_bulk(x->out, f->key, f->h.klen);
        else
            sim_resp_null(x->out);
        return;
    }
    if (!h || count == 0) {
        sim_resp_array(x->out, 0);
        return;
    }
    if (count < 0) {
        /* repetitions allowed */
        sim_resp_array(x->out, -count);
        for (long long i = 0; i < -count; i++) {
            sim_hent *f = (sim_hent *)sim_dict_random(&h->d, redis_rand(x->core));
            sim_resp_bulk(x->out, f->key, f->h.klen);
        }
        return;
    }
    if (count >= (long long)h->d.count) {
        reply_members(x, h);
        return;
    }
    /* distinct: a partial shuffle of the member list */
    size_t n = h->d.count, k = 0;
    sim_hent **v = sim_xmalloc(n * sizeof(*v));
    for (sim_hent *f = h->first; f; f = f->next)
        v[k++] = f;
    sim_resp_array(x->out, count);
    for (long long i = 0; i < count; i++) {
        size_t j = (size_t)i + (size_t)(redis_rand(x->core) % (n - (size_t)i));
        sim_hent *t = v[i];
        v[i] = v[j];
        v[j] = t;
        sim_resp_bulk(x->out, v[i]->key, v[i]->h.klen);
    }
    free(v);
}

enum { S_INTER, S_UNION, S_DIFF };

static void setop(redis_ctx *x, int op) {
    sim_rhash **sets = sim_xcalloc((size_t)x->argc, sizeof(*sets));
    for (int i = 1; i < x->argc; i++) {
        int wrong;
        sets[i] = get_set(x, i, &wrong, NULL, 0);
        if (wrong) {
            free(sets);
            return;
        }
    }
    sim_rhash *res = sim_rhash_new();
    if (op == S_UNION) {
        for (int i = 1; i < x->argc; i++)
            for (sim_hent *f = sets[i] ? sets[i]->first : NULL; f; f = f->next)
                sim_rhash_set(res, f->key, f->h.klen, NULL);
    } else if (sets[1]) {
        for (sim_hent *f = sets[1]->first; f; f = f->next) {
            int keep = 1;
            for (int i = 2; i < x->argc && keep; i++) {
                int in = sets[i] && sim_rhash_find(sets[i], f->key, f->h.klen);
                keep = op == S_INTER ? in : !in;
            }
            if (keep)
                sim_rhash_set(res, f->key, f->h.klen, NULL);
        }
    }
    reply_members(x, res);
    sim_value_free(SIM_RT_SET, res);
    free(sets);
}

static void cmd_sinter(redis_ctx *x) { setop(x, S_INTER); }
static void cmd_sunion(redis_ctx *x) { setop(x, S_UNION); }
static void cmd_sdiff(redis_ctx *x) { setop(x, S_DIFF); }
static void cmd_sscan(redis_ctx *x) { coll_scan(x, SIM_RT_SET); }

/* ---- sorted sets ---- */

static sim_rzset *get_zset(redis_ctx *x, int i, int *wrong, sim_rkey **ep, int create) {
    sim_rkey *e = redis_lookup_type(x, i, SIM_RT_ZSET, wrong);
    if (!e && !*wrong && create)
        e = redis_add(x, i, SIM_RT_ZSET, sim_rzset_new());
    if (ep)
        *ep = e;
    return e ? e->val : NULL;
}

static void cmd_zadd(redis_ctx *x) {
    int nx = 0, xx = 0, gt = 0, lt = 0, ch = 0, incr = 0, i = 2;
    for (; i < x->argc; i++) {
        if (redis_arg_is(x, i, "nx")) nx = 1;
        else if (redis_arg_is(x, i, "xx")) xx = 1;
        else if (redis_arg_is(x, i, "gt")) gt = 1;
        else if (redis_arg_is(x, i, "lt")) lt = 1;
        else if (redis_arg_is(x, i, "ch")) ch = 1;
        else if (redis_arg_is(x, i, "incr")) incr = 1;
        else break;
    }
    int pairs = x->argc - i;
    if (pairs == 0 || pairs % 2) {
        redis_err(x, ERR_SYNTAX);
        return;
    }
    if (nx && xx) {
        redis_err(x, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        redis_err(x, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && pairs > 2) {
        redis_err(x, "ERR INCR option supports a single increment-element pair");
        return;
    }
    for (int j = i; j < x->argc; j += 2) {
        double d;
        if (!redis_double(x, j, &d, ERR_NOTFLOAT))
            return;
    }
    int wrong;
    sim_rzset *z = get_zset(x, 1, &wrong, NULL, 0);
    if (wrong)
        return;
    if (!z && xx) {
        if (incr)
            sim_resp_null(x->out);
        else
            sim_resp_int(x->out, 0);
        return;
    }
    if (!z)
        z = get_zset(x, 1, &wrong, NULL, 1);
    long long added = 0, changed = 0;
    double last = 0;
    int skipped = 0;
    for (int j = i; j < x->argc; j += 2) {
        double score;
        redis_parse_double(x->argv[j], x->argvlen[j], &score);
        const char *m = x->argv[j + 1];
        size_t mn = x->argvlen[j + 1];
        sim_zent *e = sim_rzset_find(z, m, mn);
        if (e) {
            if (nx) { skipped = 1; continue; }
            double ns = incr ? e->score + score : score;
            if (isnan(ns)) {
                redis_err(x, "ERR resulting score is not a number (NaN)");
                return;
            }
            if ((gt && ns <= e->score) || (lt && ns >= e->score)) { skipped = 1; continue; }
            if (ns != e->score) {
                sim_rzset_set(z, m, mn, ns);
                changed++;
            }
            last = ns;
        } else {
            if (xx) { skipped = 1; continue; }
            sim_rzset_set(z, m, mn, score);
            added++;
            last = score;
        }
    }
    if (z->n == 0) {
        sim_rkey *e = redis_lookup(x, 1);
        if (e)
            redis_delete(x, e);
    }
    if (incr) {
        if (skipped)
            sim_resp_null(x->out);
        else
            sim_resp_bulk_double(x->out, last);
    } else {
        sim_resp_int(x->out, ch ? added + changed : added);
    }
}

static void cmd_zincrby(redis_ctx *x) {
    double by;
    if (!redis_double(x, 2, &by, ERR_NOTFLOAT))
        return;
    int wrong;
    sim_rzset *z = get_zset(x, 1, &wrong, NULL, 1);
    if (wrong)
        return;
    sim_zent *e = sim_rzset_find(z, x->argv[3], x->argvlen[3]);
    double ns = (e ? e->score : 0) + by;
    if (isnan(ns)) {
        redis_err(x, "ERR resulting score is not a number (NaN)");
        return;
    }
    sim_rzset_set(z, x->argv[3], x->argvlen[3], ns);
    sim_resp_bulk_double(x->out, ns);
}

static void cmd_zrem(redis_ctx *x) {
    int wrong;
    sim_rkey *k;
    sim_rzset *z = get_zset(x, 1, &wrong, &k, 0);
    if (wrong)
        return;
    long long n = 0;
    for (int i = 2; z && i < x->argc; i++)
        n += sim_rzset_del(z, x->argv[i], x->argvlen[i]);
    if (z && z->n == 0)
        redis_delete(x, k);
    sim_resp_int(x->out, n);
}

static void cmd_zscore(redis_ctx *x) {
    int wrong;
    sim_rzset *z = get_zset(x, 1, &wrong, NULL, 0);
    if (wrong)
        return;
    sim_zent *e = z ? sim_rzset_find(z, x->argv[2], x->argvlen[2]) : NULL;
    if (e)
        sim_resp_bulk_double(x->out, e->score);
    else
        sim_resp_null(x->out);
}

static void cmd_zcard(redis_ctx *x) {
    int wrong;
    sim_rzset *z = get_zset(x, 1, &wrong, NULL, 0);
    if (!wrong)
        sim_resp_int(x->out, z ? (long long)z->n : 0);
}

static void cmd_zrank(redis_ctx *x) {
    int wrong;
    sim_rzset *z = get_zset(x, 1, &wrong, NULL, 0);
    if (wrong)
        return;
    sim_zent *e = z ? sim_rzset_find(z, x->argv[2], x->argvlen[2]) : NULL;
    if (e)
        sim_resp_int(x->out, (long long)sim_rzset_rank(z, e));
    else
        sim_resp_null(x->out);
}

/* Parses a score bound: "1.5", "(1.5", "-inf", "+inf". */
static int parse_bound(const char *s, size_t n, double *v, int *excl) {
    *excl = 0;
    if (n && s[0] == '(') {
        *excl = 1;
        s++;
        n--;
    }
    if (n == 4 && sim_strncaseeq(s, "+inf", 4)) { *v = INFINITY; return 1; }
    if (n == 4 && sim_strncaseeq(s, "-inf", 4)) { *v = -INFINITY; return 1; }
    if (n == 3 && sim_strncaseeq(s, "inf", 3)) { *v = INFINITY; return 1; }
    return redis_parse_double(s, n, v);
}

/* Indexes [*from, *to) of elements with min <= score <= max. */
static void score_span(sim_rzset *z, double min, int minex, double max, int maxex,
                       size_t *from, size_t *to) {
    *from = sim_rzset_lower(z, min, minex);
    *to = sim_rzset_lower(z, max, !maxex);
    if (*to < *from)
        *to = *from;
}

static void cmd_zcount(redis_ctx *x) {
    double min, max;
    int minex, maxex;
    if (!parse_bound(x->argv[2], x->argvlen[2], &min, &minex) ||
        !parse_bound(x->argv[3], x->argvlen[3], &max, &maxex)) {
        redis_err(x, "ERR min or max is not a float");
        return;
    }
    int wrong;
    sim_rzset *z = get_zset(x, 1, &wrong, NULL, 0);
    if (wrong)
        return;
    size_t a = 0, b = 0;
    if (z)
        score_span(z, min, minex, max, maxex, &a, &b);
    sim_resp_int(x->out, (long long)(b - a));
}

static void emit_range(redis_ctx *x, sim_rzset *z, size_t *idx, size_t n, int withscores) {
    sim_resp_array(x->out, (long long)(withscores ? n * 2 : n));
    for (size_t i = 0; i < n; i++) {
        sim_zent *e = z->arr[idx[i]];
        sim_resp_bulk(x->out, e->key, e->h.klen);
        if (withscores)
            sim_resp_bulk_double(x->out, e->score);
    }
}

/* ZRANGE key start stop [BYSCORE] [REV] [LIMIT off count] [WITHSCORES];
 * byscore_cmd: 1 for ZRANGEBYSCORE (argv min max, always BYSCORE). */
static void zrange_generic(redis_ctx *x, int byscore_cmd) {
    int byscore = byscore_cmd, rev = 0, withscores = 0, limit = 0;
    long long off = 0, cnt = -1;
    for (int i = 4; i < x->argc; i++) {
        if (redis_arg_is(x, i, "withscores")) withscores = 1;
        else if (!byscore_cmd && redis_arg_is(x, i, "byscore")) byscore = 1;
        else if (!byscore_cmd && redis_arg_is(x, i, "rev")) rev = 1;
        else if (redis_arg_is(x, i, "limit") && i + 2 < x->argc) {
            if (!redis_ll(x, i + 1, &off) || !redis_ll(x, i + 2, &cnt))
                return;
            limit = 1;
            i += 2;
        } else {
            redis_err(x, ERR_SYNTAX);
            return;
        }
    }
    if (limit && !byscore) {
        redis_err(x, "ERR syntax error, LIMIT is only supported in combination with either "
                     "BYSCORE or BYLEX");
        return;
    }
    int wrong;
    size_t a = 0, b = 0;
    if (byscore) {
        double min, max;
        int minex, maxex;
        int lo = rev ? 3 : 2, hi = rev ? 2 : 3;
        if (!parse_bound(x->argv[lo], x->argvlen[lo], &min, &minex) ||
            !parse_bound(x->argv[hi], x->argvlen[hi], &max, &maxex)) {
            redis_err(x, "ERR min or max is not a float");
            return;
        }
        sim_rzset *z = get_zset(x, 1, &wrong, NULL, 0);
        if (wrong)
            return;
        if (z)
            score_span(z, min, minex, max, maxex, &a, &b);
        size_t n = b - a;
        if (off < 0 || (size_t)off >= n) {
            sim_resp_array(x->out, 0);
            return;
        }
        size_t take = n - (size_t)off;
        if (cnt >= 0 && (size_t)cnt < take)
            take = (size_t)cnt;
        size_t *idx = sim_xmalloc((take ? take : 1) * sizeof(*idx));
        for (size_t i = 0; i < take; i++)
            idx[i] = rev ? b - 1 - (size_t)off - i : a + (size_t)off + i;
        emit_range(x, z, idx, take, withscores);
        free(idx);
        return;
    }
    long long start, end;
    if (!redis_ll(x, 2, &start) || !redis_ll(x, 3, &end))
        return;
    sim_rzset *z = get_zset(x, 1, &wrong, NULL, 0);
    if (wrong)
        return;
    if (!z || !norm_range(&start, &end, (long long)z->n)) {
        sim_resp_array(x->out, 0);
        return;
    }
    size_t n = (size_t)(end - start + 1);
    size_t *idx = sim_xmalloc(n * sizeof(*idx));
    for (size_t i = 0; i < n; i++)
        idx[i] = rev ? z->n - 1 - (size_t)start - i : (size_t)start + i;
    emit_range(x, z, idx, n, withscores);
    free(idx);
}

static void cmd_zrange(redis_ctx *x) { zrange_generic(x, 0); }
static void cmd_zrangebyscore(redis_ctx *x) { zrange_generic(x, 1); }

static void cmd_zremrangebyscore(redis_ctx *x) {
    double min, max;
    int minex, maxex;
    if (!parse_bound(x->argv[2], x->argvlen[2], &min, &minex) ||
        !parse_bound(x->argv[3], x->argvlen[3], &max, &maxex)) {
        redis_err(x, "ERR min or max is not a float");
        return;
    }
    int wrong;
    sim_rkey *k;
    sim_rzset *z = get_zset(x, 1, &wrong, &k, 0);
    if (wrong)
        return;
    size_t a = 0, b = 0;
    if (z)
        score_span(z, min, minex, max, maxex, &a, &b);
    for (size_t i = a; i < b; i++) {
        sim_zent *e = z->arr[a];
        sim_rzset_del(z, e->key, e->h.klen);
    }
    if (z && z->n == 0)
        redis_delete(x, k);
    sim_resp_int(x->out, (long long)(b - a));
}

const redis_command redis_type_commands[] = {
    {"lpush", cmd_lpush, -3, CMD_WRITE, 1, 1, 1},
    {"rpush", cmd_rpush, -3, CMD_WRITE, 1, 1, 1},
    {"lpushx", cmd_lpushx, -3, CMD_WRITE, 1, 1, 1},
    {"rpushx", cmd_rpushx, -3, CMD_WRITE, 1, 1, 1},
    {"lpop", cmd_lpop, -2, CMD_WRITE, 1, 1, 1},
    {"rpop", cmd_rpop, -2, CMD_WRITE, 1, 1, 1},
    {"llen", cmd_llen, 2, 0, 1, 1, 1},
    {"lrange", cmd_lrange, 4, 0, 1, 1, 1},
    {"lindex", cmd_lindex, 3, 0, 1, 1, 1},
    {"lset", cmd_lset, 4, CMD_WRITE, 1, 1, 1},
    {"lrem", cmd_lrem, 4, CMD_WRITE, 1, 1, 1},
    {"ltrim", cmd_ltrim, 4, CMD_WRITE, 1, 1, 1},
    {"hset", cmd_hset, -4, CMD_WRITE, 1, 1, 1},
    {"hmset", cmd_hmset, -4, CMD_WRITE, 1, 1, 1},
    {"hsetnx", cmd_hsetnx, 4, CMD_WRITE, 1, 1, 1},
    {"hget", cmd_hget, 3, 0, 1, 1, 1},
    {"hmget", cmd_hmget, -3, 0, 1, 1, 1},
    {"hgetall", cmd_hgetall, 2, 0, 1, 1, 1},
    {"hkeys", cmd_hkeys, 2, 0, 1, 1, 1},
    {"hvals", cmd_hvals, 2, 0, 1, 1, 1},
    {"hdel", cmd_hdel, -3, CMD_WRITE, 1, 1, 1},
    {"hexists", cmd_hexists, 3, 0, 1, 1, 1},
    {"hlen", cmd_hlen, 2, 0, 1, 1, 1},
    {"hincrby", cmd_hincrby, 4, CMD_WRITE, 1, 1, 1},
    {"hincrbyfloat", cmd_hincrbyfloat, 4, CMD_WRITE, 1, 1, 1},
    {"hscan", cmd_hscan, -3, 0, 1, 1, 1},
    {"sadd", cmd_sadd, -3, CMD_WRITE, 1, 1, 1},
    {"srem", cmd_srem, -3, CMD_WRITE, 1, 1, 1},
    {"smembers", cmd_smembers, 2, 0, 1, 1, 1},
    {"sismember", cmd_sismember, 3, 0, 1, 1, 1},
    {"scard", cmd_scard, 2, 0, 1, 1, 1},
    {"spop", cmd_spop, -2, CMD_WRITE, 1, 1, 1},
    {"srandmember", cmd_srandmember, -2, 0, 1, 1, 1},
    {"sinter", cmd_sinter, -2, 0, 1, -1, 1},
    {"sunion", cmd_sunion, -2, 0, 1, -1, 1},
    {"sdiff", cmd_sdiff, -2, 0, 1, -1, 1},
    {"sscan", cmd_sscan, -3, 0, 1, 1, 1},
    {"zadd", cmd_zadd, -4, CMD_WRITE, 1, 1, 1},
    {"zincrby", cmd_zincrby, 4, CMD_WRITE, 1, 1, 1},
    {"zrem", cmd_zrem, -3, CMD_WRITE, 1, 1, 1},
    {"zscore", cmd_zscore, 3, 0, 1, 1, 1},
    {"zcard", cmd_zcard, 2, 0, 1, 1, 1},
    {"zrank", cmd_zrank, 3, 0, 1, 1, 1},
    {"zcount", cmd_zcount, 4, 0, 1, 1, 1},
    {"zrange", cmd_zrange, -4, 0, 1, 1, 1},
    {"zrangebyscore", cmd_zrangebyscore, -4, 0, 1, 1, 1},
    {"zremrangebyscore", cmd_zremrangebyscore, 4, CMD_WRITE, 1, 1, 1},
    {NULL, NULL, 0, 0, 0, 0, 0},
};
