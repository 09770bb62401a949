/* redis_hashes.c -- hash commands (Redis's t_hash.c): HSET, HGET and
 * their M and NX forms, HGETALL/HKEYS/HVALS, HDEL, HEXISTS, HLEN, HINCRBY,
 * HINCRBYFLOAT, HSCAN, with Redis 7.0 semantics and error texts. */
#include "redis_hashes.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

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
