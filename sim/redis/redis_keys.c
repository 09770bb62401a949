/* redis_keys.c -- key-space commands: DEL, EXISTS, EXPIRE family, TTL, TYPE,
 * RENAME, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB/ALL, SELECT (Redis 7.0
 * semantics and error texts). */
#include "redis_keys.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>

void redis_cmd_del(redis_ctx *x) {
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

void redis_cmd_exists(redis_ctx *x) {
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

void redis_cmd_expire(redis_ctx *x) { expire_generic(x, 1000, 0); }
void redis_cmd_pexpire(redis_ctx *x) { expire_generic(x, 1, 0); }
void redis_cmd_expireat(redis_ctx *x) { expire_generic(x, 1000, 1); }
void redis_cmd_pexpireat(redis_ctx *x) { expire_generic(x, 1, 1); }

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

void redis_cmd_ttl(redis_ctx *x) { ttl_generic(x, 0); }
void redis_cmd_pttl(redis_ctx *x) { ttl_generic(x, 1); }

void redis_cmd_persist(redis_ctx *x) {
    sim_rkey *e = redis_lookup(x, 1);
    if (!e || e->expire < 0) {
        sim_resp_int(x->out, 0);
        return;
    }
    sim_db_set_expire(x->ks, x->c->db, e, -1);
    sim_resp_int(x->out, 1);
}

void redis_cmd_type(redis_ctx *x) {
    sim_rkey *e = redis_lookup(x, 1);
    sim_resp_status(x->out, e ? redis_type_name(e->type) : "none");
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
            redis_ok(x);
        return;
    }
    if (d) {
        if (nx) {
            sim_resp_int(x->out, 0);
            return;
        }
        redis_delete(x, d);
    }
    int list = e->type == SIM_RT_LIST;
    sim_db_rename(x->ks, x->c->db, e, x->c->db, x->argv[2], x->argvlen[2]);
    if (nx)
        sim_resp_int(x->out, 1);
    else
        redis_ok(x);
    if (list)
        redis_signal_list_ready(x->core, x->c->db, x->argv[2], x->argvlen[2]);
}

void redis_cmd_rename(redis_ctx *x) { rename_generic(x, 0); }
void redis_cmd_renamenx(redis_ctx *x) { rename_generic(x, 1); }

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

void redis_cmd_keys(redis_ctx *x) {
    struct keys_ctx k = {.x = x, .pat = x->argv[1], .plen = x->argvlen[1], .type = -1};
    k.allkeys = x->argvlen[1] == 1 && x->argv[1][0] == '*';
    uint64_t cur = 0;
    sim_dict *d = &x->ks->db[x->c->db].keys;
    do
        cur = sim_dict_scan(d, cur, SIZE_MAX / 20, keys_collect, &k);
    while (cur);
    keys_emit(&k);
}

void redis_cmd_scan(redis_ctx *x) {
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

void redis_cmd_randomkey(redis_ctx *x) {
    sim_dict *d = &x->ks->db[x->c->db].keys;
    for (int tries = 0; tries < 100; tries++) {
        sim_rkey *e = (sim_rkey *)sim_dict_random(d, redis_rand(x));
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

void redis_cmd_dbsize(redis_ctx *x) {
    sim_resp_int(x->out, (long long)x->ks->db[x->c->db].keys.count);
}

static int flush_opts(redis_ctx *x) {
    if (x->argc > 2 || (x->argc == 2 && !redis_arg_is(x, 1, "async") && !redis_arg_is(x, 1, "sync"))) {
        redis_err(x, ERR_SYNTAX);
        return 0;
    }
    return 1;
}

void redis_cmd_flushdb(redis_ctx *x) {
    if (!flush_opts(x))
        return;
    sim_keyspace_flushdb(x->ks, x->c->db);
    redis_signal_flushed_db(x->core, x->c->db);
    redis_ok(x);
}

void redis_cmd_flushall(redis_ctx *x) {
    if (!flush_opts(x))
        return;
    for (int i = 0; i < SIM_REDIS_DBS; i++)
        sim_keyspace_flushdb(x->ks, i);
    redis_signal_flushed_db(x->core, -1);
    redis_ok(x);
}

void redis_cmd_select(redis_ctx *x) {
    long long db;
    if (!redis_ll(x, 1, &db))
        return;
    if (db < 0 || db >= SIM_REDIS_DBS) {
        redis_err(x, "ERR DB index is out of range");
        return;
    }
    x->c->db = (int)db;
    redis_ok(x);
}

