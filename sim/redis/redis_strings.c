/* redis_strings.c -- string commands: GET/SET and their variants, MGET/MSET,
 * APPEND, STRLEN, INCR family, INCRBYFLOAT, GETRANGE, SETRANGE. */
#include "redis_strings.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STRING (512LL * 1024 * 1024)

static sim_rkey *get_string(redis_ctx *x, int i, int *wrong) {
    return redis_lookup_type(x, i, SIM_RT_STRING, wrong);
}

static void reply_string(redis_ctx *x, sim_rkey *e) {
    sim_rstr *s = e->val;
    sim_resp_bulk(x->out, s->data, s->len);
}

void redis_cmd_get(redis_ctx *x) {
    int wrong;
    sim_rkey *e = get_string(x, 1, &wrong);
    if (wrong)
        return;
    if (!e) {
        x->ks->misses++;
        sim_resp_null(x->out);
        return;
    }
    x->ks->hits++;
    reply_string(x, e);
}

/* Sets key argv[k] to v; keeps the TTL only when keepttl. */
static sim_rkey *set_string(redis_ctx *x, int k, sim_rkey *e, const char *v, size_t n, int keepttl) {
    sim_rstr *s = sim_rstr_new(v, n);
    if (e) {
        if (e->type == SIM_RT_STRING) {
            free(e->val);
        } else {
            sim_value_free(e->type, e->val);
            e->type = SIM_RT_STRING;
        }
        e->val = s;
        if (!keepttl && e->expire >= 0)
            sim_db_set_expire(x->ks, x->c->db, e, -1);
        return e;
    }
    return redis_add(x, k, SIM_RT_STRING, s);
}

enum { SET_NX = 1, SET_XX = 2, SET_GET = 4, SET_KEEPTTL = 8, SET_EX = 16, SET_PX = 32,
       SET_EXAT = 64, SET_PXAT = 128 };

void redis_cmd_set(redis_ctx *x) {
    int flags = 0;
    long long ev = 0;
    int expidx = 0;
    for (int i = 3; i < x->argc; i++) {
        const char *a = x->argv[i];
        int next = i + 1 < x->argc;
        if (sim_strcaseeq(a, "nx") && !(flags & SET_XX)) flags |= SET_NX;
        else if (sim_strcaseeq(a, "xx") && !(flags & SET_NX)) flags |= SET_XX;
        else if (sim_strcaseeq(a, "get")) flags |= SET_GET;
        else if (sim_strcaseeq(a, "keepttl") && !(flags & (SET_EX | SET_PX | SET_EXAT | SET_PXAT)))
            flags |= SET_KEEPTTL;
        else if (next && !(flags & (SET_KEEPTTL | SET_EX | SET_PX | SET_EXAT | SET_PXAT)) &&
                 (sim_strcaseeq(a, "ex") || sim_strcaseeq(a, "px") || sim_strcaseeq(a, "exat") ||
                  sim_strcaseeq(a, "pxat"))) {
            flags |= sim_strcaseeq(a, "ex") ? SET_EX : sim_strcaseeq(a, "px") ? SET_PX
                   : sim_strcaseeq(a, "exat") ? SET_EXAT : SET_PXAT;
            expidx = ++i;
        } else {
            redis_err(x, ERR_SYNTAX);
            return;
        }
    }
    long long when = -1;
    if (expidx) {
        if (!redis_ll(x, expidx, &ev))
            return;
        int secs = flags & (SET_EX | SET_EXAT);
        if (ev <= 0 || (secs && ev > LLONG_MAX / 1000)) {
            redis_err(x, "ERR invalid expire time in 'set' command");
            return;
        }
        when = secs ? ev * 1000 : ev;
        if (flags & (SET_EX | SET_PX)) {
            if (when > LLONG_MAX - x->now) {
                redis_err(x, "ERR invalid expire time in 'set' command");
                return;
            }
            when += x->now;
        }
    }
    sim_rkey *e = redis_lookup(x, 1);
    if ((flags & SET_GET) && e && e->type != SIM_RT_STRING) {
        redis_err(x, ERR_WRONGTYPE);
        return;
    }
    if ((flags & SET_NX && e) || (flags & SET_XX && !e)) {
        if (flags & SET_GET) {
            if (e)
                reply_string(x, e);
            else
                sim_resp_null(x->out);
        } else {
            sim_resp_null(x->out);
        }
        return;
    }
    if (flags & SET_GET) {
        if (e)
            reply_string(x, e);
        else
            sim_resp_null(x->out);
    }
    e = set_string(x, 1, e, x->argv[2], x->argvlen[2], flags & SET_KEEPTTL);
    if (when >= 0)
        sim_db_set_expire(x->ks, x->c->db, e, when);
    if (!(flags & SET_GET))
        redis_ok(x);
}

static void setex_generic(redis_ctx *x, int unit) {
    long long v;
    if (!redis_ll(x, 2, &v))
        return;
    char name[8];
    snprintf(name, sizeof(name), "%s", unit == 1000 ? "setex" : "psetex");
    if (v <= 0 || (unit == 1000 && v > LLONG_MAX / 1000) || v * unit > LLONG_MAX - x->now) {
        sim_resp_errorf(x->out, "ERR invalid expire time in '%s' command", name);
        return;
    }
    sim_rkey *e = redis_lookup(x, 1);
    e = set_string(x, 1, e, x->argv[3], x->argvlen[3], 0);
    sim_db_set_expire(x->ks, x->c->db, e, x->now + v * unit);
    redis_ok(x);
}

void redis_cmd_setex(redis_ctx *x) { setex_generic(x, 1000); }
void redis_cmd_psetex(redis_ctx *x) { setex_generic(x, 1); }

void redis_cmd_setnx(redis_ctx *x) {
    sim_rkey *e = redis_lookup(x, 1);
    if (e) {
        sim_resp_int(x->out, 0);
        return;
    }
    set_string(x, 1, NULL, x->argv[2], x->argvlen[2], 0);
    sim_resp_int(x->out, 1);
}

void redis_cmd_getset(redis_ctx *x) {
    int wrong;
    sim_rkey *e = get_string(x, 1, &wrong);
    if (wrong)
        return;
    if (e)
        reply_string(x, e);
    else
        sim_resp_null(x->out);
    set_string(x, 1, e, x->argv[2], x->argvlen[2], 0);
}

void redis_cmd_getdel(redis_ctx *x) {
    int wrong;
    sim_rkey *e = get_string(x, 1, &wrong);
    if (wrong)
        return;
    if (!e) {
        sim_resp_null(x->out);
        return;
    }
    reply_string(x, e);
    redis_delete(x, e);
}

void redis_cmd_getex(redis_ctx *x) {
    long long when = -2;  /* -2 keep, -1 persist */
    int seen = 0;
    for (int i = 2; i < x->argc; i++) {
        const char *a = x->argv[i];
        if (sim_strcaseeq(a, "persist") && !seen) {
            when = -1;
            seen = 1;
        } else if (!seen && i + 1 < x->argc &&
                   (sim_strcaseeq(a, "ex") || sim_strcaseeq(a, "px") || sim_strcaseeq(a, "exat") ||
                    sim_strcaseeq(a, "pxat"))) {
            long long v;
            if (!redis_ll(x, i + 1, &v))
                return;
            int secs = sim_strcaseeq(a, "ex") || sim_strcaseeq(a, "exat");
            int rel = sim_strcaseeq(a, "ex") || sim_strcaseeq(a, "px");
            if (v <= 0 || (secs && v > LLONG_MAX / 1000)) {
                redis_err(x, "ERR invalid expire time in 'getex' command");
                return;
            }
            when = (secs ? v * 1000 : v) + (rel ? x->now : 0);
            seen = 1;
            i++;
        } else {
            redis_err(x, ERR_SYNTAX);
            return;
        }
    }
    int wrong;
    sim_rkey *e = get_string(x, 1, &wrong);
    if (wrong)
        return;
    if (!e) {
        sim_resp_null(x->out);
        return;
    }
    reply_string(x, e);
    if (when == -1)
        sim_db_set_expire(x->ks, x->c->db, e, -1);
    else if (when >= 0 && when <= x->now)
        redis_delete(x, e);
    else if (when >= 0)
        sim_db_set_expire(x->ks, x->c->db, e, when);
}

void redis_cmd_mget(redis_ctx *x) {
    sim_resp_array(x->out, x->argc - 1);
    for (int i = 1; i < x->argc; i++) {
        sim_rkey *e = redis_lookup(x, i);
        if (e && e->type == SIM_RT_STRING)
            reply_string(x, e);
        else
            sim_resp_null(x->out);
    }
}

static void mset_generic(redis_ctx *x, int nx) {
    if (x->argc % 2 == 0) {
        redis_arity_error(x, nx ? "msetnx" : "mset");
        return;
    }
    if (nx) {
        for (int i = 1; i < x->argc; i += 2)
            if (redis_lookup(x, i)) {
                sim_resp_int(x->out, 0);
                return;
            }
    }
    for (int i = 1; i < x->argc; i += 2)
        set_string(x, i, redis_lookup(x, i), x->argv[i + 1], x->argvlen[i + 1], 0);
    if (nx)
        sim_resp_int(x->out, 1);
    else
        redis_ok(x);
}

void redis_cmd_mset(redis_ctx *x) { mset_generic(x, 0); }
void redis_cmd_msetnx(redis_ctx *x) { mset_generic(x, 1); }

void redis_cmd_append(redis_ctx *x) {
    int wrong;
    sim_rkey *e = get_string(x, 1, &wrong);
    if (wrong)
        return;
    if (!e) {
        set_string(x, 1, NULL, x->argv[2], x->argvlen[2], 0);
        sim_resp_int(x->out, (long long)x->argvlen[2]);
        return;
    }
    sim_rstr *s = e->val;
    if ((long long)s->len + (long long)x->argvlen[2] > MAX_STRING) {
        redis_err(x, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    sim_rstr *ns = sim_xrealloc(s, sizeof(*s) + s->len + x->argvlen[2] + 1);
    memcpy(ns->data + ns->len, x->argv[2], x->argvlen[2]);
    ns->len += (uint32_t)x->argvlen[2];
    ns->data[ns->len] = '\0';
    e->val = ns;
    sim_resp_int(x->out, ns->len);
}

void redis_cmd_strlen(redis_ctx *x) {
    int wrong;
    sim_rkey *e = get_string(x, 1, &wrong);
    if (!wrong)
        sim_resp_int(x->out, e ? ((sim_rstr *)e->val)->len : 0);
}

static void incr_generic(redis_ctx *x, long long by) {
    int wrong;
    sim_rkey *e = get_string(x, 1, &wrong);
    if (wrong)
        return;
    long long v = 0;
    if (e) {
        sim_rstr *s = e->val;
        if (!redis_parse_ll(s->data, s->len, &v)) {
            redis_err(x, ERR_NOTINT);
            return;
        }
    }
    if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
        redis_err(x, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    char buf[24];
    int n = sim_resp_ll2str(buf, v);
    if (e && ((sim_rstr *)e->val)->len >= (uint32_t)n) {
        /* Rewrite in place: INCR on a hot counter allocates nothing. */
        sim_rstr *s = e->val;
        memcpy(s->data, buf, (size_t)n + 1);
        s->len = (uint32_t)n;
    } else {
        set_string(x, 1, e, buf, (size_t)n, 1);
    }
    sim_resp_int(x->out, v);
}

void redis_cmd_incr(redis_ctx *x) { incr_generic(x, 1); }
void redis_cmd_decr(redis_ctx *x) { incr_generic(x, -1); }

void redis_cmd_incrby(redis_ctx *x) {
    long long by;
    if (redis_ll(x, 2, &by))
        incr_generic(x, by);
}

void redis_cmd_decrby(redis_ctx *x) {
    long long by;
    if (!redis_ll(x, 2, &by))
        return;
    if (by == LLONG_MIN) {
        redis_err(x, "ERR decrement would overflow");
        return;
    }
    incr_generic(x, -by);
}

void redis_cmd_incrbyfloat(redis_ctx *x) {
    int wrong;
    sim_rkey *e = get_string(x, 1, &wrong);
    if (wrong)
        return;
    long double v = 0, by;
    char tmp[400];
    if (x->argvlen[2] >= sizeof(tmp) || x->argvlen[2] == 0 || isspace((unsigned char)x->argv[2][0])) {
        redis_err(x, ERR_NOTFLOAT);
        return;
    }
    char *end;
    by = strtold(x->argv[2], &end);
    if (*end || isnan(by)) {
        redis_err(x, ERR_NOTFLOAT);
        return;
    }
    if (e) {
        sim_rstr *s = e->val;
        v = s->len ? strtold(s->data, &end) : 0;
        if (!s->len || *end || isnan(v) || isspace((unsigned char)s->data[0])) {
            redis_err(x, ERR_NOTFLOAT);
            return;
        }
    }
    v += by;
    if (isnan(v) || isinf(v)) {
        redis_err(x, "ERR increment would produce NaN or Infinity");
        return;
    }
    int n = redis_ld2str(tmp, sizeof(tmp), v);
    set_string(x, 1, e, tmp, (size_t)n, 1);
    sim_resp_bulk(x->out, tmp, (size_t)n);
}

void redis_cmd_getrange(redis_ctx *x) {
    long long start, end;
    if (!redis_ll(x, 2, &start) || !redis_ll(x, 3, &end))
        return;
    int wrong;
    sim_rkey *e = get_string(x, 1, &wrong);
    if (wrong)
        return;
    if (!e) {
        sim_resp_bulk(x->out, "", 0);
        return;
    }
    sim_rstr *s = e->val;
    long long len = s->len;
    if (start < 0 && end < 0 && start > end) {
        sim_resp_bulk(x->out, "", 0);
        return;
    }
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (start > end || len == 0) {
        sim_resp_bulk(x->out, "", 0);
        return;
    }
    sim_resp_bulk(x->out, s->data + start, (size_t)(end - start + 1));
}

void redis_cmd_setrange(redis_ctx *x) {
    long long off;
    if (!redis_ll(x, 2, &off))
        return;
    if (off < 0) {
        redis_err(x, "ERR offset is out of range");
        return;
    }
    int wrong;
    sim_rkey *e = get_string(x, 1, &wrong);
    if (wrong)
        return;
    size_t vlen = x->argvlen[3];
    if (!e && vlen == 0) {
        sim_resp_int(x->out, 0);
        return;
    }
    if (off + (long long)vlen > MAX_STRING) {
        redis_err(x, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    if (!e)
        e = set_string(x, 1, NULL, "", 0, 0);
    sim_rstr *s = e->val;
    if (vlen == 0) {
        sim_resp_int(x->out, s->len);
        return;
    }
    size_t need = (size_t)off + vlen;
    if (need > s->len) {
        s = sim_xrealloc(s, sizeof(*s) + need + 1);
        memset(s->data + s->len, 0, need - s->len);
        s->len = (uint32_t)need;
        s->data[need] = '\0';
        e->val = s;
    }
    memcpy(s->data + off, x->argv[3], vlen);
    sim_resp_int(x->out, s->len);
}

