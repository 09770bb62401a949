/* redis_zsets.c -- sorted-set commands (Redis's t_zset.c): ZADD, ZINCRBY,
 * ZREM, ZSCORE, ZCARD, ZRANK, ZCOUNT, ZRANGE, ZRANGEBYSCORE,
 * ZREMRANGEBYSCORE, with Redis 7.0 semantics and error texts. */
#include "redis_zsets.h"

#include <math.h>
#include <stdlib.h>

static sim_rzset *get_zset(redis_ctx *x, int i, int *wrong, sim_rkey **ep, int create) {
    return redis_value(x, i, SIM_RT_ZSET, wrong, ep, create);
}

void redis_cmd_zadd(redis_ctx *x) {
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

void redis_cmd_zincrby(redis_ctx *x) {
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

void redis_cmd_zrem(redis_ctx *x) {
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

void redis_cmd_zscore(redis_ctx *x) {
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

void redis_cmd_zcard(redis_ctx *x) {
    int wrong;
    sim_rzset *z = get_zset(x, 1, &wrong, NULL, 0);
    if (!wrong)
        sim_resp_int(x->out, z ? (long long)z->n : 0);
}

void redis_cmd_zrank(redis_ctx *x) {
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

void redis_cmd_zcount(redis_ctx *x) {
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
    if (!z || !redis_norm_range(&start, &end, (long long)z->n)) {
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

void redis_cmd_zrange(redis_ctx *x) { zrange_generic(x, 0); }
void redis_cmd_zrangebyscore(redis_ctx *x) { zrange_generic(x, 1); }

void redis_cmd_zremrangebyscore(redis_ctx *x) {
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
