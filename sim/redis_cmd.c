/* redis_cmd.c -- the command table, dispatch (lookup, arity, auth, pub/sub
 * context, MULTI queueing: all checked here, once) and the key, string,
 * connection and server commands. Error texts are Redis 7.0's. */
#include "redis_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_VERSION "7.0.15"

/* ---- helpers shared by the command files ---- */

void redis_err(redis_ctx *x, const char *msg) { sim_resp_error_reply(x->out, msg); }

int redis_parse_ll(const char *s, size_t n, long long *v) {
    if (n == 0 || n > 20)
        return 0;
    char buf[24];
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!(isdigit((unsigned char)buf[0]) || (buf[0] == '-' && n > 1)))
        return 0;
    if (buf[0] == '0' && n > 1)
        return 0;
    if (buf[0] == '-' && buf[1] == '0')
        return 0;
    errno = 0;
    char *end;
    long long r = strtoll(buf, &end, 10);
    if (errno || *end)
        return 0;
    *v = r;
    return 1;
}

int redis_parse_double(const char *s, size_t n, double *v) {
    if (n == 0 || n > 300 || isspace((unsigned char)s[0]))
        return 0;
    char buf[320];
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    char *end;
    double d = strtod(buf, &end);
    if (*end || (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL || d == 0)) || isnan(d))
        return 0;
    *v = d;
    return 1;
}

int redis_ll_msg(redis_ctx *x, int i, long long *v, const char *msg) {
    if (redis_parse_ll(x->argv[i], x->argvlen[i], v))
        return 1;
    redis_err(x, msg);
    return 0;
}

int redis_ll(redis_ctx *x, int i, long long *v) { return redis_ll_msg(x, i, v, ERR_NOTINT); }

int redis_double(redis_ctx *x, int i, double *v, const char *msg) {
    if (redis_parse_double(x->argv[i], x->argvlen[i], v))
        return 1;
    redis_err(x, msg);
    return 0;
}

int redis_arg_is(redis_ctx *x, int i, const char *word) { return sim_strcaseeq(x->argv[i], word); }

uint64_t redis_rand(sim_redis_core *core) { return sim_mix(core->seed, "redis", core->rng_n++, 0); }

sim_rkey *redis_lookup(redis_ctx *x, int i) {
    sim_rkey *e = sim_db_lookup(x->ks, x->c->db, x->argv[i], x->argvlen[i], x->now);
    return e;
}

sim_rkey *redis_lookup_type(redis_ctx *x, int i, int type, int *wrong) {
    sim_rkey *e = redis_lookup(x, i);
    *wrong = 0;
    if (e && e->type != type) {
        *wrong = 1;
        redis_err(x, ERR_WRONGTYPE);
        return NULL;
    }
    return e;
}

sim_rkey *redis_add(redis_ctx *x, int i, int type, void *val) {
    return sim_db_add(x->ks, x->c->db, x->argv[i], x->argvlen[i], type, val);
}

void redis_delete(redis_ctx *x, sim_rkey *e) { sim_db_delete(x->ks, x->c->db, e); }

void redis_arity_error(redis_ctx *x, const char *name) {
    sim_resp_errorf(x->out, "ERR wrong number of arguments for '%s' command", name);
}

/* ---- keys ---- */

static void cmd_del(redis_ctx *x) {
    long long n = 0;
    for (int i = 1; i < x->argc; i++) {
        sim_rkey *e = redis_lookup(x, i);
        if (e) {
            redis_delete(x, e);
            n++;
        }
    }
    sim_resp_int(x->out, n);
}

static void cmd_exists(redis_ctx *x) {
    long long n = 0;
    for (int i = 1; i < x->argc; i++)
        n += redis_lookup(x, i) != NULL;
    sim_resp_int(x->out, n);
}

/* EXPIRE family: unit 1000 for seconds, 1 for ms; absolute for *AT. */
static void expire_generic(redis_ctx *x, int64_t unit, int absolute) {
    long long v;
    if (!redis_ll(x, 2, &v))
        return;
    int nx = 0, xx = 0, gt = 0, lt = 0;
    for (int i = 3; i < x->argc; i++) {
        if (redis_arg_is(x, i, "nx")) nx = 1;
        else if (redis_arg_is(x, i, "xx")) xx = 1;
        else if (redis_arg_is(x, i, "gt")) gt = 1;
        else if (redis_arg_is(x, i, "lt")) lt = 1;
        else {
            sim_resp_errorf(x->out, "ERR Unsupported option %s", x->argv[i]);
            return;
        }
    }
    if (nx && (xx || gt || lt)) {
        redis_err(x, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if (gt && lt) {
        redis_err(x, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    char lname[16];
    size_t ln = x->argvlen[0] < sizeof(lname) - 1 ? x->argvlen[0] : sizeof(lname) - 1;
    for (size_t i = 0; i < ln; i++)
        lname[i] = (char)tolower((unsigned char)x->argv[0][i]);
    lname[ln] = '\0';
    if ((unit == 1000 && (v > LLONG_MAX / 1000 || v < LLONG_MIN / 1000))) {
        sim_resp_errorf(x->out, "ERR invalid expire time in '%s' command", lname);
        return;
    }
    long long when = v * unit;
    if (!absolute) {
        if ((when > 0 && x->now > LLONG_MAX - when)) {
            sim_resp_errorf(x->out, "ERR invalid expire time in '%s' command", lname);
            return;
        }
        when += x->now;
    }
    sim_rkey *e = redis_lookup(x, 1);
    if (!e) {
        sim_resp_int(x->out, 0);
        return;
    }
    if ((nx && e->expire >= 0) || (xx && e->expire < 0)) {
        sim_resp_int(x->out, 0);
        return;
    }
    if (gt || lt) {
        /* No TTL counts as infinite. */
        if (gt && (e->expire < 0 || when <= e->expire)) {
            sim_resp_int(x->out, 0);
            return;
        }
        if (lt && e->expire >= 0 && when >= e->expire) {
            sim_resp_int(x->out, 0);
            return;
        }
    }
    if (when <= x->now) {
        redis_delete(x, e);
    } else {
        sim_db_set_expire(x->ks, x->c->db, e, when);
    }
    sim_resp_int(x->out, 1);
}

static void cmd_expire(redis_ctx *x) { expire_generic(x, 1000, 0); }
static void cmd_pexpire(redis_ctx *x) { expire_generic(x, 1, 0); }
static void cmd_expireat(redis_ctx *x) { expire_generic(x, 1000, 1); }
static void cmd_pexpireat(redis_ctx *x) { expire_generic(x, 1, 1); }

static void ttl_generic(redis_ctx *x, int ms) {
    sim_rkey *e = redis_lookup(x, 1);
    if (!e) {
        sim_resp_int(x->out, -2);
        return;
    }
    if (e->expire < 0) {
        sim_resp_int(x->out, -1);
        return;
    }
    long long left = e->expire - x->now;
    if (left < 0)
        left = 0;
    sim_resp_int(x->out, ms ? left : (left + 500) / 1000);
}

static void cmd_ttl(redis_ctx *x) { ttl_generic(x, 0); }
static void cmd_pttl(redis_ctx *x) { ttl_generic(x, 1); }

static void cmd_persist(redis_ctx *x) {
    sim_rkey *e = redis_lookup(x, 1);
    if (!e || e->expire < 0) {
        sim_resp_int(x->out, 0);
        return;
    }
    sim_db_set_expire(x->ks, x->c->db, e, -1);
    sim_resp_int(x->out, 1);
}

static const char *type_names[] = {"string", "list", "hash", "set", "zset"};

static void cmd_type(redis_ctx *x) {
    sim_rkey *e = redis_lookup(x, 1);
    sim_resp_status(x->out, e ? type_names[e->type] : "none");
}

static void rename_generic(redis_ctx *x, int nx) {
    sim_rkey *e = redis_lookup(x, 1);
    if (!e) {
        redis_err(x, "ERR no such key");
        return;
    }
    sim_rkey *d = redis_lookup(x, 2);
    if (d == e) {
        if (nx)
            sim_resp_int(x->out, 0);
        else
            R_OK(x);
        return;
    }
    if (d) {
        if (nx) {
            sim_resp_int(x->out, 0);
            return;
        }
        redis_delete(x, d);
    }
    sim_db_rename(x->ks, x->c->db, e, x->c->db, x->argv[2], x->argvlen[2]);
    if (nx)
        sim_resp_int(x->out, 1);
    else
        R_OK(x);
}

static void cmd_rename(redis_ctx *x) { rename_generic(x, 0); }
static void cmd_renamenx(redis_ctx *x) { rename_generic(x, 1); }

struct keys_ctx {
    redis_ctx *x;
    const char *pat;
    size_t plen;
    int allkeys;
    int type;           /* -1 any */
    sim_rkey **found;
    size_t n, cap;
};

static void keys_collect(sim_dent *d, void *ctx) {
    struct keys_ctx *k = ctx;
    sim_rkey *e = (sim_rkey *)d;
    if (k->type >= 0 && e->type != k->type)
        return;
    if (!k->allkeys && !sim_glob_match(k->pat, k->plen, e->key, e->h.klen, 0))
        return;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->found = sim_xrealloc(k->found, k->cap * sizeof(*k->found));
    }
    k->found[k->n++] = e;
}

/* Emits the collected keys, dropping (and deleting) expired ones. */
static void keys_emit(struct keys_ctx *k) {
    redis_ctx *x = k->x;
    size_t live = 0;
    for (size_t i = 0; i < k->n; i++) {
        sim_rkey *e = k->found[i];
        if (e->expire >= 0 && e->expire <= x->now) {
            sim_db_delete(x->ks, x->c->db, e);
            x->ks->expired_keys++;
            k->found[i] = NULL;
        } else {
            live++;
        }
    }
    sim_resp_array(x->out, (long long)live);
    for (size_t i = 0; i < k->n; i++)
        if (k->found[i])
            sim_resp_bulk(x->out, k->found[i]->key, k->found[i]->h.klen);
    free(k->found);
}

static void cmd_keys(redis_ctx *x) {
    struct keys_ctx k = {.x = x, .pat = x->argv[1], .plen = x->argvlen[1], .type = -1};
    k.allkeys = x->argvlen[1] == 1 && x->argv[1][0] == '*';
    uint64_t cur = 0;
    sim_dict *d = &x->ks->db[x->c->db].keys;
    do
        cur = sim_dict_scan(d, cur, SIZE_MAX / 20, keys_collect, &k);
    while (cur);
    keys_emit(&k);
}

/* Parses "MATCH p COUNT n [TYPE t]" from argv[first]; replies on error. */
int redis_scan_opts(redis_ctx *x, int first, int allow_type, const char **pat, size_t *plen,
                    long long *count, int *type);
int redis_scan_opts(redis_ctx *x, int first, int allow_type, const char **pat, size_t *plen,
                    long long *count, int *type) {
    *pat = NULL;
    *count = 10;
    *type = -1;
    for (int i = first; i < x->argc; i++) {
        if (redis_arg_is(x, i, "match") && i + 1 < x->argc) {
            *pat = x->argv[i + 1];
            *plen = x->argvlen[i + 1];
            i++;
        } else if (redis_arg_is(x, i, "count") && i + 1 < x->argc) {
            if (!redis_ll(x, i + 1, count))
                return 0;
            if (*count < 1) {
                redis_err(x, ERR_SYNTAX);
                return 0;
            }
            i++;
        } else if (allow_type && redis_arg_is(x, i, "type") && i + 1 < x->argc) {
            *type = 100;
            for (int t = 0; t < 5; t++)
                if (sim_strcaseeq(x->argv[i + 1], type_names[t]))
                    *type = t;
            i++;
        } else {
            redis_err(x, ERR_SYNTAX);
            return 0;
        }
    }
    return 1;
}

int redis_scan_cursor(redis_ctx *x, int i, uint64_t *cur);
int redis_scan_cursor(redis_ctx *x, int i, uint64_t *cur) {
    char *end;
    errno = 0;
    if (x->argvlen[i] == 0 || !isdigit((unsigned char)x->argv[i][0])) {
        redis_err(x, "ERR invalid cursor");
        return 0;
    }
    *cur = strtoull(x->argv[i], &end, 10);
    if (errno || *end) {
        redis_err(x, "ERR invalid cursor");
        return 0;
    }
    return 1;
}

static void cmd_scan(redis_ctx *x) {
    uint64_t cur;
    if (!redis_scan_cursor(x, 1, &cur))
        return;
    struct keys_ctx k = {.x = x, .allkeys = 1};
    long long count;
    if (!redis_scan_opts(x, 2, 1, &k.pat, &k.plen, &count, &k.type))
        return;
    if (k.pat && !(k.plen == 1 && k.pat[0] == '*'))
        k.allkeys = 0;
    cur = sim_dict_scan(&x->ks->db[x->c->db].keys, cur, (size_t)count, keys_collect, &k);
    sim_resp_array(x->out, 2);
    sim_resp_bulk_ll(x->out, (long long)cur);
    keys_emit(&k);
}

static void cmd_randomkey(redis_ctx *x) {
    sim_dict *d = &x->ks->db[x->c->db].keys;
    for (int tries = 0; tries < 100; tries++) {
        sim_rkey *e = (sim_rkey *)sim_dict_random(d, redis_rand(x->core));
        if (!e)
            break;
        if (e->expire >= 0 && e->expire <= x->now) {
            redis_delete(x, e);
            continue;
        }
        sim_resp_bulk(x->out, e->key, e->h.klen);
        return;
    }
    sim_resp_null(x->out);
}

static void cmd_dbsize(redis_ctx *x) {
    sim_resp_int(x->out, (long long)x->ks->db[x->c->db].keys.count);
}

static int flush_opts(redis_ctx *x) {
    if (x->argc > 2 || (x->argc == 2 && !redis_arg_is(x, 1, "async") && !redis_arg_is(x, 1, "sync"))) {
        redis_err(x, ERR_SYNTAX);
        return 0;
    }
    return 1;
}

static void cmd_flushdb(redis_ctx *x) {
    if (!flush_opts(x))
        return;
    sim_keyspace_flushdb(x->ks, x->c->db);
    redis_touch_all(x->core, x->c->db);
    R_OK(x);
}

static void cmd_flushall(redis_ctx *x) {
    if (!flush_opts(x))
        return;
    for (int i = 0; i < SIM_REDIS_DBS; i++)
        sim_keyspace_flushdb(x->ks, i);
    redis_touch_all(x->core, -1);
    R_OK(x);
}

static void cmd_select(redis_ctx *x) {
    long long db;
    if (!redis_ll(x, 1, &db))
        return;
    if (db < 0 || db >= SIM_REDIS_DBS) {
        redis_err(x, "ERR DB index is out of range");
        return;
    }
    x->c->db = (int)db;
    R_OK(x);
}

/* ---- strings ---- */

#define MAX_STRING (512LL * 1024 * 1024)

static sim_rkey *get_string(redis_ctx *x, int i, int *wrong) {
    return redis_lookup_type(x, i, SIM_RT_STRING, wrong);
}

static void reply_string(redis_ctx *x, sim_rkey *e) {
    sim_rstr *s = e->val;
    sim_resp_bulk(x->out, s->data, s->len);
}

static void cmd_get(redis_ctx *x) {
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

static void cmd_set(redis_ctx *x) {
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
        R_OK(x);
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
    R_OK(x);
}

static void cmd_setex(redis_ctx *x) { setex_generic(x, 1000); }
static void cmd_psetex(redis_ctx *x) { setex_generic(x, 1); }

static void cmd_setnx(redis_ctx *x) {
    sim_rkey *e = redis_lookup(x, 1);
    if (e) {
        sim_resp_int(x->out, 0);
        return;
    }
    set_string(x, 1, NULL, x->argv[2], x->argvlen[2], 0);
    sim_resp_int(x->out, 1);
}

static void cmd_getset(redis_ctx *x) {
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

static void cmd_getdel(redis_ctx *x) {
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

static void cmd_getex(redis_ctx *x) {
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

static void cmd_mget(redis_ctx *x) {
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
        R_OK(x);
}

static void cmd_mset(redis_ctx *x) { mset_generic(x, 0); }
static void cmd_msetnx(redis_ctx *x) { mset_generic(x, 1); }

static void cmd_append(redis_ctx *x) {
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

static void cmd_strlen(redis_ctx *x) {
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

static void cmd_incr(redis_ctx *x) { incr_generic(x, 1); }
static void cmd_decr(redis_ctx *x) { incr_generic(x, -1); }

static void cmd_incrby(redis_ctx *x) {
    long long by;
    if (redis_ll(x, 2, &by))
        incr_generic(x, by);
}

static void cmd_decrby(redis_ctx *x) {
    long long by;
    if (!redis_ll(x, 2, &by))
        return;
    if (by == LLONG_MIN) {
        redis_err(x, "ERR decrement would overflow");
        return;
    }
    incr_generic(x, -by);
}

/* Formats a long double as Redis's INCRBYFLOAT does (%.17Lf, trailing
 * zeros trimmed). */
int redis_ld2str(char *buf, size_t len, long double v);
int redis_ld2str(char *buf, size_t len, long double v) {
    int n = snprintf(buf, len, "%.17Lf", v);
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
        buf[n] = '\0';
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        buf[1] = '\0';
        n = 1;
    }
    return n;
}

static void cmd_incrbyfloat(redis_ctx *x) {
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

static void cmd_getrange(redis_ctx *x) {
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

static void cmd_setrange(redis_ctx *x) {
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

/* ---- connection ---- */

static void cmd_ping(redis_ctx *x) {
    if (x->argc > 2) {
        redis_arity_error(x, "ping");
        return;
    }
    if (x->c->flags & SIM_RC_PUBSUB) {
        sim_resp_array(x->out, 2);
        sim_resp_bulk(x->out, "pong", 4);
        if (x->argc == 2)
            sim_resp_bulk(x->out, x->argv[1], x->argvlen[1]);
        else
            sim_resp_bulk(x->out, "", 0);
        return;
    }
    if (x->argc == 2)
        sim_resp_bulk(x->out, x->argv[1], x->argvlen[1]);
    else
        sim_buf_append(x->out, "+PONG\r\n", 7);
}

static void cmd_echo(redis_ctx *x) { sim_resp_bulk(x->out, x->argv[1], x->argvlen[1]); }

/* AUTH [user] pass against requirepass (user must be "default"). */
static int check_auth(redis_ctx *x, const char *user, const char *pass, size_t plen) {
    const char *rp = x->core->cfg.requirepass;
    if (user && strcmp(user, "default") != 0)
        return 0;
    if (!rp)
        return user != NULL;  /* "default" user with nopass accepts anything */
    return strlen(rp) == plen && memcmp(rp, pass, plen) == 0;
}

static void cmd_auth(redis_ctx *x) {
    if (x->argc > 3) {
        redis_err(x, ERR_SYNTAX);
        return;
    }
    if (x->argc == 2 && !x->core->cfg.requirepass) {
        redis_err(x, "ERR AUTH <password> called without any password configured for the default "
                     "user. Are you sure your configuration is correct?");
        return;
    }
    const char *user = x->argc == 3 ? x->argv[1] : NULL;
    int pi = x->argc - 1;
    if (check_auth(x, user, x->argv[pi], x->argvlen[pi])) {
        x->c->authed = 1;
        R_OK(x);
    } else {
        redis_err(x, "WRONGPASS invalid username-password pair or user is disabled.");
    }
}

static int valid_client_name(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '!' || s[i] > '~')
            return 0;
    return 1;
}

static void cmd_hello(redis_ctx *x) {
    long long ver = 2;
    int i = 1;
    if (x->argc >= 2) {
        if (!redis_parse_ll(x->argv[1], x->argvlen[1], &ver)) {
            redis_err(x, "ERR Protocol version is not an integer or out of range");
            return;
        }
        i = 2;
        if (ver != 2) {
            /* RESP3 is not spoken here: clients fall back to RESP2 on NOPROTO. */
            redis_err(x, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const char *setname = NULL;
    size_t setnamelen = 0;
    for (; i < x->argc; i++) {
        if (redis_arg_is(x, i, "auth") && i + 2 < x->argc) {
            if (!check_auth(x, x->argv[i + 1], x->argv[i + 2], x->argvlen[i + 2])) {
                redis_err(x, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            x->c->authed = 1;
            i += 2;
        } else if (redis_arg_is(x, i, "setname") && i + 1 < x->argc) {
            setname = x->argv[i + 1];
            setnamelen = x->argvlen[i + 1];
            if (!valid_client_name(setname, setnamelen)) {
                redis_err(x, "ERR Client names cannot contain spaces, newlines or special "
                             "characters.");
                return;
            }
            i++;
        } else {
            sim_resp_errorf(x->out, "ERR Syntax error in HELLO option '%s'", x->argv[i]);
            return;
        }
    }
    if (x->core->cfg.requirepass && !x->c->authed) {
        redis_err(x, "NOAUTH HELLO must be called with the client already authenticated, "
                     "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                     "authenticate the client and select the RESP protocol version at the same "
                     "time");
        return;
    }
    if (setname) {
        free(x->c->name);
        x->c->name = setnamelen ? sim_xstrndup(setname, setnamelen) : NULL;
    }
    sim_buf *o = x->out;
    sim_resp_array(o, 14);
    sim_resp_bulk_str(o, "server");
    sim_resp_bulk_str(o, "redis");
    sim_resp_bulk_str(o, "version");
    sim_resp_bulk_str(o, REDIS_VERSION);
    sim_resp_bulk_str(o, "proto");
    sim_resp_int(o, 2);
    sim_resp_bulk_str(o, "id");
    sim_resp_int(o, (long long)x->c->id);
    sim_resp_bulk_str(o, "mode");
    sim_resp_bulk_str(o, "standalone");
    sim_resp_bulk_str(o, "role");
    sim_resp_bulk_str(o, "master");
    sim_resp_bulk_str(o, "modules");
    sim_resp_array(o, 0);
}

static void client_info_line(sim_buf *b, sim_redis_client *c, int64_t now) {
    sim_buf_printf(b,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%d "
        "psub=%d ssub=0 multi=%d qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 "
        "obl=0 oll=0 omem=%zu tot-mem=%zu events=r cmd=%s user=default redir=-1 resp=2 "
        "lib-name=%s lib-ver=%s\n",
        (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
        (long long)(now - c->ctime_ms) / 1000, (long long)(now - c->last_ms) / 1000,
        (c->flags & SIM_RC_BLOCKED) ? "b" : (c->flags & SIM_RC_MULTI) ? "x"
        : (c->flags & SIM_RC_PUBSUB) ? "P" : "N",
        c->db, c->channels ? (int)c->channels->d.count : 0, c->patterns ? (int)c->patterns->d.count : 0,
        (c->flags & SIM_RC_MULTI) ? c->mq_n : -1, c->out.cap, c->out.cap + 20000,
        c->last_cmd ? c->last_cmd : "NULL", c->lib_name ? c->lib_name : "",
        c->lib_ver ? c->lib_ver : "");
}

static void cmd_client(redis_ctx *x) {
    sim_redis_client *c = x->c;
    const char *sub = x->argv[1];
    if (sim_strcaseeq(sub, "setname") && x->argc == 3) {
        if (!valid_client_name(x->argv[2], x->argvlen[2])) {
            redis_err(x, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        free(c->name);
        c->name = x->argvlen[2] ? sim_xstrndup(x->argv[2], x->argvlen[2]) : NULL;
        R_OK(x);
    } else if (sim_strcaseeq(sub, "getname") && x->argc == 2) {
        if (c->name)
            sim_resp_bulk_str(x->out, c->name);
        else
            sim_resp_null(x->out);
    } else if (sim_strcaseeq(sub, "id") && x->argc == 2) {
        sim_resp_int(x->out, (long long)c->id);
    } else if (sim_strcaseeq(sub, "setinfo") && x->argc == 4) {
        char **slot;
        if (sim_strcaseeq(x->argv[2], "lib-name"))
            slot = &c->lib_name;
        else if (sim_strcaseeq(x->argv[2], "lib-ver"))
            slot = &c->lib_ver;
        else {
            sim_resp_errorf(x->out, "ERR Unrecognized option '%s'", x->argv[2]);
            return;
        }
        if (!valid_client_name(x->argv[3], x->argvlen[3])) {
            sim_resp_errorf(x->out, "ERR %s cannot contain spaces, newlines or special characters.",
                            x->argv[2]);
            return;
        }
        free(*slot);
        *slot = x->argvlen[3] ? sim_xstrndup(x->argv[3], x->argvlen[3]) : NULL;
        R_OK(x);
    } else if ((sim_strcaseeq(sub, "list") && (x->argc == 2 || x->argc == 4)) ||
               (sim_strcaseeq(sub, "info") && x->argc == 2)) {
        sim_buf b = {0};
        if (sim_strcaseeq(sub, "info")) {
            client_info_line(&b, c, x->now);
        } else {
            for (sim_redis_client *o = x->core->clients; o; o = o->next)
                client_info_line(&b, o, x->now);
        }
        sim_resp_bulk(x->out, b.data ? b.data : "", b.len);
        sim_buf_free(&b);
    } else if (sim_strcaseeq(sub, "kill") && x->argc >= 3) {
        long long killed = 0;
        int old = x->argc == 3;
        for (sim_redis_client *o = x->core->clients; o; o = o->next) {
            int match = 1;
            if (old) {
                match = strcmp(o->addr, x->argv[2]) == 0;
            } else {
                for (int i = 2; i + 1 < x->argc; i += 2) {
                    if (sim_strcaseeq(x->argv[i], "id"))
                        match &= (unsigned long long)strtoull(x->argv[i + 1], NULL, 10) == o->id;
                    else if (sim_strcaseeq(x->argv[i], "addr"))
                        match &= strcmp(o->addr, x->argv[i + 1]) == 0;
                    else if (sim_strcaseeq(x->argv[i], "skipme"))
                        match &= !(o == c && sim_strcaseeq(x->argv[i + 1], "yes"));
                    else {
                        redis_err(x, ERR_SYNTAX);
                        return;
                    }
                }
                if ((x->argc - 2) % 2) {
                    redis_err(x, ERR_SYNTAX);
                    return;
                }
            }
            if (match) {
                killed++;
                if (o == c)
                    c->flags |= SIM_RC_CLOSE_AFTER_REPLY;
                else if (x->core->hooks.kill)
                    x->core->hooks.kill(o, x->core->hooks.ud);
            }
        }
        if (old) {
            if (killed)
                R_OK(x);
            else
                redis_err(x, "ERR No such client");
        } else {
            sim_resp_int(x->out, killed);
        }
    } else if (sim_strcaseeq(sub, "no-evict") || sim_strcaseeq(sub, "no-touch")) {
        R_OK(x);
    } else {
        sim_resp_errorf(x->out, "ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                                "Try CLIENT HELP.", sub);
    }
}

/* ---- server ---- */

static void cmd_quit(redis_ctx *x) {
    x->c->flags |= SIM_RC_CLOSE_AFTER_REPLY;
    R_OK(x);
}

static void cmd_time(redis_ctx *x) {
    sim_resp_array(x->out, 2);
    sim_resp_bulk_ll(x->out, x->now / 1000);
    sim_resp_bulk_ll(x->out, (x->now % 1000) * 1000);
}

static void cmd_reset(redis_ctx *x) {
    sim_redis_client *c = x->c;
    redis_multi_discard(c);
    redis_unwatch_all(c);
    redis_pubsub_client_fini(c);
    c->db = 0;
    free(c->name);
    c->name = NULL;
    c->authed = x->core->cfg.requirepass == NULL;
    sim_resp_status(x->out, "RESET");
}

static int info_section(const char *want, const char *name) {
    return !want || sim_strcaseeq(want, "all") || sim_strcaseeq(want, "everything") ||
           sim_strcaseeq(want, "default") || sim_strcaseeq(want, name);
}

static void cmd_info(redis_ctx *x) {
    const char *want = x->argc >= 2 ? x->argv[1] : NULL;
    sim_redis_core *core = x->core;
    sim_buf b = {0};
    int64_t up = (x->now - core->stats.start_ms) / 1000;
    size_t mem = 0;
    for (int i = 0; i < SIM_REDIS_DBS; i++)
        mem += x->ks->db[i].keys.count * 96;
    if (info_section(want, "server"))
        sim_buf_printf(&b, "# Server\r\nredis_version:%s\r\nredis_git_sha1:00000000\r\n"
            "redis_git_dirty:0\r\nredis_mode:standalone\r\nos:stagesim\r\narch_bits:64\r\n"
            "multiplexing_api:libev\r\nprocess_id:0\r\nrun_id:%016llx%016llx%08x\r\ntcp_port:%d\r\n"
            "uptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\nhz:10\r\nexecutable:stagesim\r\n\r\n",
            REDIS_VERSION, (unsigned long long)sim_mix(core->seed, "runid", 1, 0),
            (unsigned long long)sim_mix(core->seed, "runid", 2, 0),
            (unsigned)sim_mix(core->seed, "runid", 3, 0), core->cfg.port, (long long)up,
            (long long)up / 86400);
    if (info_section(want, "clients"))
        sim_buf_printf(&b, "# Clients\r\nconnected_clients:%zu\r\ncluster_connections:0\r\n"
            "maxclients:%lld\r\nblocked_clients:%zu\r\ntracking_clients:0\r\n\r\n",
            core->nclients, core->cfg.maxclients, core->nblocked);
    if (info_section(want, "memory"))
        sim_buf_printf(&b, "# Memory\r\nused_memory:%zu\r\nused_memory_human:%.2fM\r\n"
            "used_memory_peak:%zu\r\nmaxmemory:%lld\r\nmaxmemory_policy:noeviction\r\n"
            "mem_allocator:libc\r\n\r\n", mem + 1000000, (double)(mem + 1000000) / 1048576.0,
            mem + 1000000, core->cfg.maxmemory);
    if (info_section(want, "persistence"))
        sim_buf_printf(&b, "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\n"
            "rdb_bgsave_in_progress:0\r\naof_enabled:0\r\n\r\n");
    if (info_section(want, "stats"))
        sim_buf_printf(&b, "# Stats\r\ntotal_connections_received:%llu\r\n"
            "total_commands_processed:%llu\r\ninstantaneous_ops_per_sec:0\r\n"
            "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n"
            "rejected_connections:%llu\r\nexpired_keys:%llu\r\nevicted_keys:0\r\n"
            "keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\npubsub_channels:%zu\r\n"
            "pubsub_patterns:%zu\r\n\r\n",
            (unsigned long long)core->stats.connections_received,
            (unsigned long long)core->stats.commands_processed,
            (unsigned long long)core->stats.net_input_bytes,
            (unsigned long long)core->stats.net_output_bytes,
            (unsigned long long)core->stats.rejected_connections,
            (unsigned long long)x->ks->expired_keys, (unsigned long long)x->ks->hits,
            (unsigned long long)x->ks->misses, core->channels.count,
            core->patterns ? core->patterns->d.count : 0);
    if (info_section(want, "replication"))
        sim_buf_printf(&b, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
            "master_failover_state:no-failover\r\nmaster_replid:%016llx%016llx%08x\r\n"
            "master_repl_offset:0\r\n\r\n",
            (unsigned long long)sim_mix(core->seed, "replid", 1, 0),
            (unsigned long long)sim_mix(core->seed, "replid", 2, 0),
            (unsigned)sim_mix(core->seed, "replid", 3, 0));
    if (info_section(want, "cpu"))
        sim_buf_printf(&b, "# CPU\r\nused_cpu_sys:0.0\r\nused_cpu_user:0.0\r\n\r\n");
    if (info_section(want, "keyspace")) {
        sim_buf_printf(&b, "# Keyspace\r\n");
        for (int i = 0; i < SIM_REDIS_DBS; i++)
            if (x->ks->db[i].keys.count)
                sim_buf_printf(&b, "db%d:keys=%zu,expires=%zu,avg_ttl=0\r\n", i,
                               x->ks->db[i].keys.count, x->ks->db[i].volatile_keys);
        sim_buf_printf(&b, "\r\n");
    }
    /* Redis ends the text without the last blank line. */
    if (b.len >= 2)
        b.len -= 2;
    sim_resp_bulk(x->out, b.data ? b.data : "", b.len);
    sim_buf_free(&b);
}

/* CONFIG parameters clients probe; values rendered on demand. */
static const char *config_names[] = {
    "maxclients", "requirepass", "timeout", "maxmemory", "save", "appendonly", "databases",
    "port", "bind", "maxmemory-policy", "notify-keyspace-events", "proto-max-bulk-len",
    "client-query-buffer-limit", "client-output-buffer-limit", "tcp-keepalive", "hz",
    "lua-time-limit", "busy-reply-threshold", "cluster-enabled", "dir", "dbfilename",
    "slowlog-log-slower-than", "slowlog-max-len", NULL,
};

static void config_value(sim_redis_core *core, const char *name, sim_buf *b) {
    sim_redis_config *c = &core->cfg;
    b->len = 0;
    if (!strcmp(name, "maxclients")) sim_buf_printf(b, "%lld", c->maxclients);
    else if (!strcmp(name, "requirepass")) sim_buf_puts(b, c->requirepass ? c->requirepass : "");
    else if (!strcmp(name, "timeout")) sim_buf_printf(b, "%lld", c->timeout);
    else if (!strcmp(name, "maxmemory")) sim_buf_printf(b, "%lld", c->maxmemory);
    else if (!strcmp(name, "save")) sim_buf_puts(b, "");
    else if (!strcmp(name, "appendonly")) sim_buf_puts(b, "no");
    else if (!strcmp(name, "databases")) sim_buf_printf(b, "%d", SIM_REDIS_DBS);
    else if (!strcmp(name, "port")) sim_buf_printf(b, "%d", c->port);
    else if (!strcmp(name, "bind")) sim_buf_puts(b, "127.0.0.1");
    else if (!strcmp(name, "maxmemory-policy")) sim_buf_puts(b, "noeviction");
    else if (!strcmp(name, "notify-keyspace-events")) sim_buf_puts(b, "");
    else if (!strcmp(name, "proto-max-bulk-len")) sim_buf_printf(b, "%lld", c->proto_max_bulk_len);
    else if (!strcmp(name, "client-query-buffer-limit"))
        sim_buf_printf(b, "%lld", c->client_query_buffer_limit);
    else if (!strcmp(name, "client-output-buffer-limit"))
        sim_buf_printf(b, "normal %lld 0 0 slave 268435456 67108864 60 pubsub %lld 8388608 60",
                       c->out_limit_normal, c->out_limit_pubsub);
    else if (!strcmp(name, "tcp-keepalive")) sim_buf_puts(b, "300");
    else if (!strcmp(name, "hz")) sim_buf_puts(b, "10");
    else if (!strcmp(name, "lua-time-limit") || !strcmp(name, "busy-reply-threshold"))
        sim_buf_puts(b, "5000");
    else if (!strcmp(name, "cluster-enabled")) sim_buf_puts(b, "no");
    else if (!strcmp(name, "dir")) sim_buf_puts(b, "/tmp");
    else if (!strcmp(name, "dbfilename")) sim_buf_puts(b, "dump.rdb");
    else if (!strcmp(name, "slowlog-log-slower-than")) sim_buf_puts(b, "10000");
    else if (!strcmp(name, "slowlog-max-len")) sim_buf_puts(b, "128");
    if (!b->data)
        sim_buf_puts(b, "");
}

static int parse_mem(const char *s, long long *v) {
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || end == s || n < 0)
        return 0;
    long long mul = 1;
    if (sim_strcaseeq(end, "k")) mul = 1000;
    else if (sim_strcaseeq(end, "kb")) mul = 1024;
    else if (sim_strcaseeq(end, "m")) mul = 1000 * 1000;
    else if (sim_strcaseeq(end, "mb")) mul = 1024 * 1024;
    else if (sim_strcaseeq(end, "g")) mul = 1000LL * 1000 * 1000;
    else if (sim_strcaseeq(end, "gb")) mul = 1024LL * 1024 * 1024;
    else if (*end) return 0;
    *v = n * mul;
    return 1;
}

static int config_set_one(sim_redis_core *core, const char *name, const char *val) {
    sim_redis_config *c = &core->cfg;
    long long v;
    if (!strcmp(name, "requirepass")) {
        free(c->requirepass);
        c->requirepass = *val ? sim_xstrdup(val) : NULL;
        return 1;
    }
    if (!strcmp(name, "save") || !strcmp(name, "appendonly") ||
        !strcmp(name, "notify-keyspace-events") || !strcmp(name, "maxmemory-policy") ||
        !strcmp(name, "tcp-keepalive") || !strcmp(name, "hz") ||
        !strcmp(name, "slowlog-log-slower-than") || !strcmp(name, "slowlog-max-len") ||
        !strcmp(name, "lua-time-limit") || !strcmp(name, "busy-reply-threshold"))
        return 1;   /* accepted, no effect here */
    if (!strcmp(name, "client-output-buffer-limit")) {
        /* "class hard soft secs" groups; hard limits are what we enforce. */
        char cls[16];
        long long hard;
        const char *p = val;
        int n;
        char hs[32], ss[32], secs[32];
        while (sscanf(p, "%15s %31s %31s %31s%n", cls, hs, ss, secs, &n) == 4) {
            if (!parse_mem(hs, &hard))
                return 0;
            if (!strcmp(cls, "normal")) c->out_limit_normal = hard;
            else if (!strcmp(cls, "pubsub")) c->out_limit_pubsub = hard;
            else if (strcmp(cls, "slave") && strcmp(cls, "replica")) return 0;
            p += n;
        }
        return 1;
    }
    if (!parse_mem(val, &v))
        return 0;
    if (!strcmp(name, "maxclients")) c->maxclients = v;
    else if (!strcmp(name, "timeout")) c->timeout = v;
    else if (!strcmp(name, "maxmemory")) c->maxmemory = v;
    else if (!strcmp(name, "proto-max-bulk-len")) c->proto_max_bulk_len = v;
    else if (!strcmp(name, "client-query-buffer-limit")) c->client_query_buffer_limit = v;
    else return -1;
    return 1;
}

static void cmd_config(redis_ctx *x) {
    const char *sub = x->argv[1];
    if (sim_strcaseeq(sub, "get") && x->argc >= 3) {
        sim_buf pairs = {0}, v = {0};
        long long n = 0;
        for (int k = 0; config_names[k]; k++) {
            for (int i = 2; i < x->argc; i++) {
                if (sim_glob_match(x->argv[i], x->argvlen[i], config_names[k],
                                   strlen(config_names[k]), 1)) {
                    config_value(x->core, config_names[k], &v);
                    sim_resp_bulk_str(&pairs, config_names[k]);
                    sim_resp_bulk(&pairs, v.data, v.len);
                    n++;
                    break;
                }
            }
        }
        sim_resp_array(x->out, n * 2);
        if (pairs.len)
            sim_buf_append(x->out, pairs.data, pairs.len);
        sim_buf_free(&pairs);
        sim_buf_free(&v);
    } else if (sim_strcaseeq(sub, "set") && x->argc >= 4 && x->argc % 2 == 0) {
        for (int i = 2; i < x->argc; i += 2) {
            char name[64];
            snprintf(name, sizeof(name), "%s", x->argv[i]);
            for (char *p = name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            int known = 0;
            for (int k = 0; config_names[k]; k++)
                known |= !strcmp(config_names[k], name);
            if (!known || !strcmp(name, "databases") || !strcmp(name, "port") ||
                !strcmp(name, "bind") || !strcmp(name, "cluster-enabled")) {
                sim_resp_errorf(x->out, "ERR Unknown option or number of arguments for CONFIG SET "
                                        "- '%s'", x->argv[i]);
                return;
            }
            int rc = config_set_one(x->core, name, x->argv[i + 1]);
            if (rc <= 0) {
                sim_resp_errorf(x->out, "ERR CONFIG SET failed (possibly related to argument "
                                        "'%s') - argument couldn't be parsed into an integer",
                                x->argv[i]);
                return;
            }
        }
        R_OK(x);
    } else if (sim_strcaseeq(sub, "resetstat") && x->argc == 2) {
        x->core->stats.commands_processed = 0;
        x->ks->hits = x->ks->misses = 0;
        R_OK(x);
    } else if (sim_strcaseeq(sub, "rewrite") && x->argc == 2) {
        redis_err(x, "ERR The server is running without a config file");
    } else if (sim_strcaseeq(sub, "get") || sim_strcaseeq(sub, "set")) {
        char full[32];
        snprintf(full, sizeof(full), "config|%s", sim_strcaseeq(sub, "get") ? "get" : "set");
        redis_arity_error(x, full);
    } else {
        sim_resp_errorf(x->out, "ERR unknown subcommand '%.128s'. Try CONFIG HELP.", sub);
    }
}

/* ---- the command table ---- */

static void cmd_command(redis_ctx *x);

static const redis_command base_commands[] = {
    {"get", cmd_get, 2, 0, 1, 1, 1},
    {"set", cmd_set, -3, CMD_WRITE, 1, 1, 1},
    {"setex", cmd_setex, 4, CMD_WRITE, 1, 1, 1},
    {"psetex", cmd_psetex, 4, CMD_WRITE, 1, 1, 1},
    {"setnx", cmd_setnx, 3, CMD_WRITE, 1, 1, 1},
    {"getset", cmd_getset, 3, CMD_WRITE, 1, 1, 1},
    {"getdel", cmd_getdel, 2, CMD_WRITE, 1, 1, 1},
    {"getex", cmd_getex, -2, CMD_WRITE, 1, 1, 1},
    {"mget", cmd_mget, -2, 0, 1, -1, 1},
    {"mset", cmd_mset, -3, CMD_WRITE, 1, -1, 2},
    {"msetnx", cmd_msetnx, -3, CMD_WRITE, 1, -1, 2},
    {"append", cmd_append, 3, CMD_WRITE, 1, 1, 1},
    {"strlen", cmd_strlen, 2, 0, 1, 1, 1},
    {"incr", cmd_incr, 2, CMD_WRITE, 1, 1, 1},
    {"decr", cmd_decr, 2, CMD_WRITE, 1, 1, 1},
    {"incrby", cmd_incrby, 3, CMD_WRITE, 1, 1, 1},
    {"decrby", cmd_decrby, 3, CMD_WRITE, 1, 1, 1},
    {"incrbyfloat", cmd_incrbyfloat, 3, CMD_WRITE, 1, 1, 1},
    {"getrange", cmd_getrange, 4, 0, 1, 1, 1},
    {"substr", cmd_getrange, 4, 0, 1, 1, 1},
    {"setrange", cmd_setrange, 4, CMD_WRITE, 1, 1, 1},
    {"del", cmd_del, -2, CMD_WRITE, 1, -1, 1},
    {"unlink", cmd_del, -2, CMD_WRITE, 1, -1, 1},
    {"exists", cmd_exists, -2, 0, 1, -1, 1},
    {"expire", cmd_expire, -3, CMD_WRITE, 1, 1, 1},
    {"pexpire", cmd_pexpire, -3, CMD_WRITE, 1, 1, 1},
    {"expireat", cmd_expireat, -3, CMD_WRITE, 1, 1, 1},
    {"pexpireat", cmd_pexpireat, -3, CMD_WRITE, 1, 1, 1},
    {"ttl", cmd_ttl, 2, 0, 1, 1, 1},
    {"pttl", cmd_pttl, 2, 0, 1, 1, 1},
    {"persist", cmd_persist, 2, CMD_WRITE, 1, 1, 1},
    {"type", cmd_type, 2, 0, 1, 1, 1},
    {"rename", cmd_rename, 3, CMD_WRITE, 1, 2, 1},
    {"renamenx", cmd_renamenx, 3, CMD_WRITE, 1, 2, 1},
    {"keys", cmd_keys, 2, 0, 0, 0, 0},
    {"scan", cmd_scan, -2, 0, 0, 0, 0},
    {"randomkey", cmd_randomkey, 1, 0, 0, 0, 0},
    {"dbsize", cmd_dbsize, 1, 0, 0, 0, 0},
    {"flushdb", cmd_flushdb, -1, CMD_WRITE, 0, 0, 0},
    {"flushall", cmd_flushall, -1, CMD_WRITE, 0, 0, 0},
    {"select", cmd_select, 2, 0, 0, 0, 0},
    {"ping", cmd_ping, -1, CMD_PUBSUB_OK, 0, 0, 0},
    {"echo", cmd_echo, 2, 0, 0, 0, 0},
    {"auth", cmd_auth, -2, CMD_NOAUTH_OK | CMD_NO_MULTI, 0, 0, 0},
    {"hello", cmd_hello, -1, CMD_NOAUTH_OK | CMD_NO_MULTI, 0, 0, 0},
    {"client", cmd_client, -2, 0, 0, 0, 0},
    {"info", cmd_info, -1, 0, 0, 0, 0},
    {"config", cmd_config, -2, 0, 0, 0, 0},
    {"command", cmd_command, -1, 0, 0, 0, 0},
    {"time", cmd_time, 1, 0, 0, 0, 0},
    {"quit", cmd_quit, -1, CMD_NOAUTH_OK | CMD_PUBSUB_OK | CMD_NO_MULTI, 0, 0, 0},
    {"reset", cmd_reset, 1, CMD_NOAUTH_OK | CMD_PUBSUB_OK | CMD_NO_MULTI, 0, 0, 0},
    {NULL, NULL, 0, 0, 0, 0, 0},
};

static const redis_command *const all_tables[] = {base_commands, redis_type_commands,
                                                  redis_pubsub_commands};
#define NTABLES (sizeof(all_tables) / sizeof(all_tables[0]))

static void command_info(sim_buf *o, const redis_command *cmd) {
    sim_resp_array(o, 10);
    sim_resp_bulk_str(o, cmd->name);
    sim_resp_int(o, cmd->arity);
    int nf = 0;
    const char *fl[3];
    if (cmd->flags & CMD_WRITE) fl[nf++] = "write";
    else fl[nf++] = "readonly";
    if (cmd->flags & CMD_PUBSUB_OK) fl[nf++] = "pubsub";
    if (cmd->flags & CMD_NOAUTH_OK) fl[nf++] = "no_auth";
    sim_resp_array(o, nf);
    for (int i = 0; i < nf; i++)
        sim_resp_status(o, fl[i]);
    sim_resp_int(o, cmd->firstkey);
    sim_resp_int(o, cmd->lastkey);
    sim_resp_int(o, cmd->step);
    sim_resp_array(o, 0);
    sim_resp_array(o, 0);
    sim_resp_array(o, 0);
    sim_resp_array(o, 0);
}

static const redis_command *lookup(sim_redis_core *core, const char *name, size_t n);

static void cmd_command(redis_ctx *x) {
    size_t total = 0;
    for (size_t t = 0; t < NTABLES; t++)
        for (const redis_command *c = all_tables[t]; c->name; c++)
            total++;
    if (x->argc == 1) {
        sim_resp_array(x->out, (long long)total);
        for (size_t t = 0; t < NTABLES; t++)
            for (const redis_command *c = all_tables[t]; c->name; c++)
                command_info(x->out, c);
    } else if (redis_arg_is(x, 1, "count") && x->argc == 2) {
        sim_resp_int(x->out, (long long)total);
    } else if (redis_arg_is(x, 1, "info")) {
        sim_resp_array(x->out, x->argc - 2);
        for (int i = 2; i < x->argc; i++) {
            const redis_command *c = lookup(x->core, x->argv[i], x->argvlen[i]);
            if (c)
                command_info(x->out, c);
            else
                sim_resp_null_array(x->out);
        }
    } else if (redis_arg_is(x, 1, "docs")) {
        /* Minimal: no documentation (redis-cli then shows no hints). */
        sim_resp_array(x->out, 0);
    } else {
        sim_resp_errorf(x->out, "ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                                "Try COMMAND HELP.", x->argv[1]);
    }
}

/* ---- lookup and dispatch ---- */

static uint32_t name_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint32_t)(s[i] | 0x20)) * 16777619u;
    return h;
}

static void build_lookup(sim_redis_core *core) {
    size_t total = 0;
    for (size_t t = 0; t < NTABLES; t++)
        for (const redis_command *c = all_tables[t]; c->name; c++)
            total++;
    size_t cap = 64;
    while (cap < total * 4)
        cap *= 2;
    core->cmdtab = sim_xcalloc(cap, sizeof(*core->cmdtab));
    core->cmdmask = cap - 1;
    for (size_t t = 0; t < NTABLES; t++)
        for (const redis_command *c = all_tables[t]; c->name; c++) {
            size_t i = name_hash(c->name, strlen(c->name)) & core->cmdmask;
            while (core->cmdtab[i])
                i = (i + 1) & core->cmdmask;
            core->cmdtab[i] = c;
        }
}

/* lower: a table name (lowercase, NUL-terminated); s[0..n) any case. */
static int name_eq(const char *lower, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (lower[i] != c)
            return 0;
    }
    return lower[n] == '\0';
}

static const redis_command *lookup(sim_redis_core *core, const char *name, size_t n) {
    if (n > 32)
        return NULL;
    size_t i = name_hash(name, n) & core->cmdmask;
    for (const redis_command *c; (c = core->cmdtab[i]) != NULL; i = (i + 1) & core->cmdmask)
        if (name_eq(c->name, name, n))
            return c;
    return NULL;
}

const sim_redis_command *sim_redis_lookup(sim_redis_core *core, const char *name, size_t n) {
    return lookup(core, name, n);
}

const char *sim_redis_command_info(const sim_redis_command *cmd, int argc, char **argv,
                                   const char **key) {
    *key = NULL;
    if (!cmd)
        return NULL;
    if (cmd->firstkey > 0 && cmd->firstkey < argc)
        *key = argv[cmd->firstkey];
    return cmd->name;
}

const char *sim_redis_command_name(sim_redis_core *core, int argc, char **argv, size_t *argvlen,
                                   const char **key) {
    return sim_redis_command_info(lookup(core, argv[0], argvlen[0]), argc, argv, key);
}

static void unknown_command(redis_ctx *x) {
    sim_buf args = {0};
    for (int i = 1; i < x->argc && args.len < 128; i++)
        sim_buf_printf(&args, "'%.*s' ", (int)(128 - args.len), x->argv[i]);
    sim_resp_errorf(x->out, "ERR unknown command '%.128s', with args beginning with: %s",
                    x->argv[0], args.data ? args.data : "");
    sim_buf_free(&args);
}

static int arity_ok(const redis_command *cmd, int argc) {
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

static void queue_command(sim_redis_client *c, int argc, char **argv, size_t *argvlen) {
    if (c->mq_n == c->mq_cap) {
        c->mq_cap = c->mq_cap ? c->mq_cap * 2 : 8;
        c->mq = sim_xrealloc(c->mq, (size_t)c->mq_cap * sizeof(*c->mq));
    }
    sim_redis_queued *q = &c->mq[c->mq_n++];
    q->argc = argc;
    q->argv = sim_xmalloc((size_t)argc * sizeof(char *));
    q->argvlen = sim_xmalloc((size_t)argc * sizeof(size_t));
    for (int i = 0; i < argc; i++) {
        q->argv[i] = sim_xmalloc(argvlen[i] + 1);
        memcpy(q->argv[i], argv[i], argvlen[i] + 1);
        q->argvlen[i] = argvlen[i];
    }
}

/* Touches the keys a write command names, for WATCH. */
static void touch_keys(redis_ctx *x, const redis_command *cmd) {
    if (!x->core->watched.count || cmd->firstkey <= 0)
        return;
    int last = cmd->lastkey < 0 ? x->argc + cmd->lastkey : cmd->lastkey;
    for (int i = cmd->firstkey; i <= last && i < x->argc; i += cmd->step)
        redis_touch(x->core, x->c->db, x->argv[i], x->argvlen[i]);
}

/* Runs a looked-up command whose arity was checked. */
void redis_call(redis_ctx *x, const redis_command *cmd);
void redis_call(redis_ctx *x, const redis_command *cmd) {
    x->c->last_cmd = cmd->name;
    cmd->fn(x);
    if (cmd->flags & CMD_WRITE)
        touch_keys(x, cmd);
    x->core->stats.commands_processed++;
}

void sim_redis_dispatch(sim_redis_client *c, int argc, char **argv, size_t *argvlen,
                        int64_t now_ms) {
    sim_redis_dispatch_cmd(c, lookup(c->core, argv[0], argvlen[0]), argc, argv, argvlen, now_ms);
}

void sim_redis_dispatch_cmd(sim_redis_client *c, const sim_redis_command *cmd, int argc,
                            char **argv, size_t *argvlen, int64_t now_ms) {
    sim_redis_core *core = c->core;
    redis_ctx x = {.c = c, .core = core, .ks = &core->ks, .argc = argc, .argv = argv,
                   .argvlen = argvlen, .now = now_ms, .out = &c->out};
    c->last_ms = now_ms;
    if (!cmd) {
        if (c->flags & SIM_RC_MULTI)
            c->flags |= SIM_RC_DIRTY_EXEC;
        unknown_command(&x);
        return;
    }
    if (!arity_ok(cmd, argc)) {
        if (c->flags & SIM_RC_MULTI)
            c->flags |= SIM_RC_DIRTY_EXEC;
        redis_arity_error(&x, cmd->name);
        return;
    }
    if (!c->authed && !(cmd->flags & CMD_NOAUTH_OK)) {
        if (c->flags & SIM_RC_MULTI)
            c->flags |= SIM_RC_DIRTY_EXEC;
        redis_err(&x, "NOAUTH Authentication required.");
        return;
    }
    if ((c->flags & SIM_RC_PUBSUB) && !(cmd->flags & CMD_PUBSUB_OK)) {
        sim_resp_errorf(&c->out,
                        "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                        "QUIT / RESET are allowed in this context", cmd->name);
        return;
    }
    if ((c->flags & SIM_RC_MULTI) && !(cmd->flags & CMD_NO_MULTI)) {
        queue_command(c, argc, argv, argvlen);
        sim_buf_append(&c->out, "+QUEUED\r\n", 9);
        return;
    }
    redis_call(&x, cmd);
}

/* EXEC's inner loop lives here because it needs lookup(). */
void redis_exec_queued(redis_ctx *x);
void redis_exec_queued(redis_ctx *x) {
    sim_redis_client *c = x->c;
    sim_resp_array(x->out, c->mq_n);
    for (int i = 0; i < c->mq_n; i++) {
        sim_redis_queued *q = &c->mq[i];
        const redis_command *cmd = lookup(x->core, q->argv[0], q->argvlen[0]);
        redis_ctx y = *x;
        y.argc = q->argc;
        y.argv = q->argv;
        y.argvlen = q->argvlen;
        y.in_exec = 1;
        redis_call(&y, cmd);
    }
}

/* ---- core lifecycle ---- */

void redis_pubsub_core_init(sim_redis_core *core);

sim_redis_core *sim_redis_core_new(uint64_t seed, const sim_redis_hooks *hooks, int64_t now_ms) {
    sim_redis_core *core = sim_xcalloc(1, sizeof(*core));
    sim_keyspace_init(&core->ks);
    if (hooks)
        core->hooks = *hooks;
    core->seed = seed;
    core->next_id = 1;
    core->stats.start_ms = now_ms;
    core->cfg.maxclients = 10000;
    core->cfg.proto_max_bulk_len = 512LL * 1024 * 1024;
    core->cfg.client_query_buffer_limit = 1LL << 30;
    core->cfg.out_limit_normal = 0;
    core->cfg.out_limit_pubsub = 32LL * 1024 * 1024;
    redis_pubsub_core_init(core);
    build_lookup(core);
    return core;
}

void sim_redis_core_free(sim_redis_core *core) {
    if (!core)
        return;
    sim_keyspace_free(&core->ks);
    free(core->cmdtab);
    free(core->cfg.requirepass);
    sim_dict_clear(&core->channels, NULL, NULL);
    sim_dict_clear(&core->watched, NULL, NULL);
    if (core->patterns)
        sim_value_free(SIM_RT_SET, core->patterns);
    free(core);
}

sim_keyspace *sim_redis_core_keyspace(sim_redis_core *core) { return &core->ks; }
sim_redis_config *sim_redis_core_config(sim_redis_core *core) { return &core->cfg; }
sim_redis_stats *sim_redis_core_stats(sim_redis_core *core) { return &core->stats; }
size_t sim_redis_client_count(const sim_redis_core *core) { return core->nclients; }
sim_redis_client *sim_redis_core_first_client(sim_redis_core *core) { return core->clients; }

void sim_redis_client_init(sim_redis_core *core, sim_redis_client *c, int64_t now_ms) {
    memset(c, 0, sizeof(*c));
    c->core = core;
    c->id = core->next_id++;
    c->authed = core->cfg.requirepass == NULL;
    c->ctime_ms = c->last_ms = now_ms;
    c->fd = -1;
    c->next = core->clients;
    if (core->clients)
        core->clients->prev = c;
    core->clients = c;
    core->nclients++;
}

void sim_redis_client_fini(sim_redis_client *c) {
    sim_redis_core *core = c->core;
    redis_unblock(c);
    redis_multi_discard(c);
    redis_unwatch_all(c);
    redis_pubsub_client_fini(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        core->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    core->nclients--;
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    sim_buf_free(&c->out);
}

void sim_redis_core_cron(sim_redis_core *core, int64_t now_ms) {
    sim_db_active_expire(&core->ks, now_ms, 200);
    /* Blocked-pop timeouts. */
    sim_redis_client *c = core->blocked_head;
    while (c) {
        sim_redis_client *next = c->bnext;
        if (c->block_deadline && c->block_deadline <= now_ms) {
            redis_unblock(c);
            sim_resp_null_array(&c->out);
            if (core->hooks.wake)
                core->hooks.wake(c, core->hooks.ud);
        }
        c = next;
    }
}
