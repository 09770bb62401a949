/* redis_sets.c -- set commands (Redis's t_set.c): SADD, SREM, SMEMBERS,
 * SISMEMBER, SCARD, SPOP, SRANDMEMBER, SINTER/SUNION/SDIFF, SSCAN, with
 * Redis 7.0 semantics and error texts. */
#include "redis_sets.h"

#include <stdlib.h>

static sim_rhash *get_set(redis_ctx *x, int i, int *wrong, sim_rkey **ep, int create) {
    return redis_value(x, i, SIM_RT_SET, wrong, ep, create);
}

void redis_cmd_sadd(redis_ctx *x) {
    int wrong;
    sim_rhash *h = get_set(x, 1, &wrong, NULL, 1);
    if (wrong)
        return;
    long long n = 0;
    for (int i = 2; i < x->argc; i++)
        n += sim_rhash_set(h, x->argv[i], x->argvlen[i], NULL);
    sim_resp_int(x->out, n);
}

void redis_cmd_srem(redis_ctx *x) { redis_coll_del(x, SIM_RT_SET); }

static void reply_members(redis_ctx *x, sim_rhash *h) {
    sim_resp_array(x->out, h ? (long long)h->d.count : 0);
    for (sim_hent *f = h ? h->first : NULL; f; f = f->next)
        sim_resp_bulk(x->out, f->key, f->h.klen);
}

void redis_cmd_smembers(redis_ctx *x) {
    int wrong;
    sim_rhash *h = get_set(x, 1, &wrong, NULL, 0);
    if (!wrong)
        reply_members(x, h);
}

void redis_cmd_sismember(redis_ctx *x) {
    int wrong;
    sim_rhash *h = get_set(x, 1, &wrong, NULL, 0);
    if (!wrong)
        sim_resp_int(x->out, h && sim_rhash_find(h, x->argv[2], x->argvlen[2]));
}

void redis_cmd_scard(redis_ctx *x) {
    int wrong;
    sim_rhash *h = get_set(x, 1, &wrong, NULL, 0);
    if (!wrong)
        sim_resp_int(x->out, h ? (long long)h->d.count : 0);
}

void redis_cmd_spop(redis_ctx *x) {
    long long count = -1;
    if (x->argc > 3) {
        redis_err(x, ERR_SYNTAX);
        return;
    }
    if (!redis_pop_count(x, 2, &count))
        return;
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
        sim_hent *f = (sim_hent *)sim_dict_random(&h->d, redis_rand(x));
        sim_resp_bulk(x->out, f->key, f->h.klen);
        sim_rhash_del(h, f->key, f->h.klen);
    }
    if (h->d.count == 0)
        redis_delete(x, e);
}

void redis_cmd_srandmember(redis_ctx *x) {
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
        sim_hent *f = h ? (sim_hent *)sim_dict_random(&h->d, redis_rand(x)) : NULL;
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
            sim_hent *f = (sim_hent *)sim_dict_random(&h->d, redis_rand(x));
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
        size_t j = (size_t)i + (size_t)(redis_rand(x) % (n - (size_t)i));
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

void redis_cmd_sinter(redis_ctx *x) { setop(x, S_INTER); }
void redis_cmd_sunion(redis_ctx *x) { setop(x, S_UNION); }
void redis_cmd_sdiff(redis_ctx *x) { setop(x, S_DIFF); }
void redis_cmd_sscan(redis_ctx *x) { redis_coll_scan(x, SIM_RT_SET); }
