/* redis_lists.c -- list commands (Redis's t_list.c, without the blocking
 * pops of redis_blocking.c): LPUSH/RPUSH and their X forms, LPOP/RPOP,
 * LLEN, LRANGE, LINDEX, LSET, LREM, LTRIM, with Redis 7.0 semantics and
 * error texts. */
#include "redis_lists.h"

#include <stdlib.h>
#include <string.h>

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
