/* redis_types.c -- list and hash commands, with Redis 7.0 semantics and
 * error texts (sets and sorted sets: redis_sets.c). */
#include "redis_int.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lists ---- */

static sim_rlist *get_list(redis_ctx *x, int i, int *wrong, sim_rkey **ep) {
    return redis_value(x, i, SIM_RT_LIST, wrong, ep, 0);
}

static void push_generic(redis_ctx *x, int left, int onlyexisting) {
    int wrong;
    sim_rkey *e;
    sim_rlist *l = redis_value(x, 1, SIM_RT_LIST, &wrong, &e, !onlyexisting);
    if (wrong)
        return;
    if (!l) {   /* LPUSHX / RPUSHX on a missing key */
        sim_resp_int(x->out, 0);
        return;
    }
    for (int i = 2; i < x->argc; i++)
        sim_rlist_push(l, sim_rstr_new(x->argv[i], x->argvlen[i]), left);
    sim_resp_int(x->out, (long long)l->len);
    redis_signal_list_ready(x->core, x->c->db, x->argv[1], x->argvlen[1]);
}

void redis_cmd_lpush(redis_ctx *x) { push_generic(x, 1, 0); }
void redis_cmd_rpush(redis_ctx *x) { push_generic(x, 0, 0); }
void redis_cmd_lpushx(redis_ctx *x) { push_generic(x, 1, 1); }
void redis_cmd_rpushx(redis_ctx *x) { push_generic(x, 0, 1); }

static void pop_generic(redis_ctx *x, int left) {
    long long count = -1;
    if (x->argc > 3) {
        redis_arity_error(x, left ? "lpop" : "rpop");
        return;
    }
    if (!redis_pop_count(x, 2, &count))
        return;
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

void redis_cmd_lpop(redis_ctx *x) { pop_generic(x, 1); }
void redis_cmd_rpop(redis_ctx *x) { pop_generic(x, 0); }

void redis_cmd_llen(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (!wrong)
        sim_resp_int(x->out, l ? (long long)l->len : 0);
}

void redis_cmd_lrange(redis_ctx *x) {
    long long start, end;
    if (!redis_ll(x, 2, &start) || !redis_ll(x, 3, &end))
        return;
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (wrong)
        return;
    if (!l || !redis_norm_range(&start, &end, (long long)l->len)) {
        sim_resp_array(x->out, 0);
        return;
    }
    sim_resp_array(x->out, end - start + 1);
    for (long long i = start; i <= end; i++) {
        sim_rstr *s = sim_rlist_at(l, (size_t)i);
        sim_resp_bulk(x->out, s->data, s->len);
    }
}

void redis_cmd_lindex(redis_ctx *x) {
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

void redis_cmd_lset(redis_ctx *x) {
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
    redis_ok(x);
}

void redis_cmd_lrem(redis_ctx *x) {
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

void redis_cmd_ltrim(redis_ctx *x) {
    long long start, end;
    if (!redis_ll(x, 2, &start) || !redis_ll(x, 3, &end))
        return;
    int wrong;
    sim_rkey *e;
    sim_rlist *l = get_list(x, 1, &wrong, &e);
    if (wrong)
        return;
    if (!l) {
        redis_ok(x);
        return;
    }
    long long len = (long long)l->len;
    if (!redis_norm_range(&start, &end, len)) {
        redis_delete(x, e);
        redis_ok(x);
        return;
    }
    for (long long i = 0; i < start; i++)
        free(sim_rlist_pop(l, 1));
    for (long long i = end + 1; i < len; i++)
        free(sim_rlist_pop(l, 0));
    redis_ok(x);
}

/* ---- hashes ---- */

static sim_rhash *get_hash(redis_ctx *x, int i, int *wrong, sim_rkey **ep, int create) {
    return redis_value(x, i, SIM_RT_HASH, wrong, ep, create);
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
        redis_ok(x);
    else
        sim_resp_int(x->out, added);
}

void redis_cmd_hset(redis_ctx *x) { hset_generic(x, 0); }
void redis_cmd_hmset(redis_ctx *x) { hset_generic(x, 1); }

void redis_cmd_hsetnx(redis_ctx *x) {
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

void redis_cmd_hget(redis_ctx *x) {
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

void redis_cmd_hmget(redis_ctx *x) {
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

void redis_cmd_hgetall(redis_ctx *x) { hgetall_generic(x, H_KEYS | H_VALS); }
void redis_cmd_hkeys(redis_ctx *x) { hgetall_generic(x, H_KEYS); }
void redis_cmd_hvals(redis_ctx *x) { hgetall_generic(x, H_VALS); }

void redis_cmd_hdel(redis_ctx *x) { redis_coll_del(x, SIM_RT_HASH); }

void redis_cmd_hexists(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (!wrong)
        sim_resp_int(x->out, h && sim_rhash_find(h, x->argv[2], x->argvlen[2]));
}

void redis_cmd_hlen(redis_ctx *x) {
    int wrong;
    sim_rkey *e;
    sim_rhash *h = get_hash(x, 1, &wrong, &e, 0);
    if (!wrong)
        sim_resp_int(x->out, h ? (long long)h->d.count : 0);
}

void redis_cmd_hincrby(redis_ctx *x) {
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

void redis_cmd_hincrbyfloat(redis_ctx *x) {
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

void redis_cmd_hscan(redis_ctx *x) { redis_coll_scan(x, SIM_RT_HASH); }


