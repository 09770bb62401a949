/* redis_pubsub.c -- commands that involve more than one client: pub/sub,
 * transactions (MULTI/EXEC/DISCARD/WATCH) and blocking pops. Other clients
 * get output through the core's wake hook; nothing here writes a socket. */
#include "redis_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A subscriber list (channels) or watcher list (keys), keyed by name. */
typedef struct clist {
    sim_dent h;
    sim_redis_client **v;
    int n, cap;
    char key[];
} clist;

void redis_pubsub_core_init(sim_redis_core *core) {
    sim_dict_init(&core->channels, offsetof(clist, key));
    sim_dict_init(&core->watched, offsetof(clist, key));
}

static clist *clist_get(sim_dict *d, const char *k, size_t n, int create) {
    clist *l = (clist *)sim_dict_find(d, k, n);
    if (l || !create)
        return l;
    l = sim_xcalloc(1, sizeof(*l) + n + 1);
    l->h.hash = sim_dict_hash(k, n);
    l->h.klen = (uint32_t)n;
    memcpy(l->key, k, n);
    sim_dict_add(d, &l->h);
    return l;
}

static void clist_add(clist *l, sim_redis_client *c) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = sim_xrealloc(l->v, (size_t)l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = c;
}

/* Removes c (order kept); frees the list when empty. */
static void clist_remove(sim_dict *d, clist *l, sim_redis_client *c) {
    for (int i = 0; i < l->n; i++)
        if (l->v[i] == c) {
            memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof(*l->v));
            l->n--;
            break;
        }
    if (l->n == 0) {
        sim_dict_unlink(d, &l->h);
        free(l->v);
        free(l);
    }
}

/* ---- WATCH ---- */

static size_t watch_key(char *buf, int db, const char *k, size_t n) {
    buf[0] = (char)db;
    memcpy(buf + 1, k, n);
    return n + 1;
}

void redis_touch(sim_redis_core *core, int db, const char *k, size_t n) {
    if (!core->watched.count)
        return;
    char stack[256];
    char *buf = n + 1 <= sizeof(stack) ? stack : sim_xmalloc(n + 1);
    size_t bn = watch_key(buf, db, k, n);
    clist *l = clist_get(&core->watched, buf, bn, 0);
    if (l)
        for (int i = 0; i < l->n; i++)
            l->v[i]->flags |= SIM_RC_DIRTY_CAS;
    if (buf != stack)
        free(buf);
}

void redis_touch_all(sim_redis_core *core, int db) {
    for (sim_redis_client *c = core->clients; c; c = c->next)
        for (int i = 0; i < c->nwatched; i++) {
            clist *l = c->watched[i];
            if (db < 0 || l->key[0] == (char)db)
                c->flags |= SIM_RC_DIRTY_CAS;
        }
}

void redis_unwatch_all(sim_redis_client *c) {
    for (int i = 0; i < c->nwatched; i++)
        clist_remove(&c->core->watched, c->watched[i], c);
    free(c->watched);
    c->watched = NULL;
    c->nwatched = c->capwatched = 0;
    c->flags &= ~SIM_RC_DIRTY_CAS;
}

void redis_cmd_watch(redis_ctx *x) {
    sim_redis_client *c = x->c;
    if (c->flags & SIM_RC_MULTI) {
        redis_err(x, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < x->argc; i++) {
        char *buf = sim_xmalloc(x->argvlen[i] + 1);
        size_t bn = watch_key(buf, c->db, x->argv[i], x->argvlen[i]);
        clist *l = clist_get(&x->core->watched, buf, bn, 1);
        free(buf);
        int already = 0;
        for (int j = 0; j < c->nwatched; j++)
            already |= c->watched[j] == l;
        if (already)
            continue;
        clist_add(l, c);
        if (c->nwatched == c->capwatched) {
            c->capwatched = c->capwatched ? c->capwatched * 2 : 4;
            c->watched = sim_xrealloc(c->watched, (size_t)c->capwatched * sizeof(void *));
        }
        c->watched[c->nwatched++] = l;
    }
    redis_ok(x);
}

void redis_cmd_unwatch(redis_ctx *x) {
    redis_unwatch_all(x->c);
    redis_ok(x);
}

/* ---- MULTI / EXEC ---- */

void redis_multi_discard(sim_redis_client *c) {
    for (int i = 0; i < c->mq_n; i++) {
        for (int j = 0; j < c->mq[i].argc; j++)
            free(c->mq[i].argv[j]);
        free(c->mq[i].argv);
        free(c->mq[i].argvlen);
    }
    free(c->mq);
    c->mq = NULL;
    c->mq_n = c->mq_cap = 0;
    c->flags &= ~(SIM_RC_MULTI | SIM_RC_DIRTY_EXEC);
}

void redis_cmd_multi(redis_ctx *x) {
    if (x->c->flags & SIM_RC_MULTI) {
        redis_err(x, "ERR MULTI calls can not be nested");
        return;
    }
    x->c->flags |= SIM_RC_MULTI;
    redis_ok(x);
}

void redis_cmd_discard(redis_ctx *x) {
    if (!(x->c->flags & SIM_RC_MULTI)) {
        redis_err(x, "ERR DISCARD without MULTI");
        return;
    }
    redis_multi_discard(x->c);
    redis_unwatch_all(x->c);
    redis_ok(x);
}

void redis_cmd_exec(redis_ctx *x) {
    sim_redis_client *c = x->c;
    if (!(c->flags & SIM_RC_MULTI)) {
        redis_err(x, "ERR EXEC without MULTI");
        return;
    }
    if (c->flags & SIM_RC_DIRTY_EXEC) {
        redis_err(x, "EXECABORT Transaction discarded because of previous errors.");
    } else if (c->flags & SIM_RC_DIRTY_CAS) {
        sim_resp_null_array(x->out);
    } else {
        c->flags &= ~SIM_RC_MULTI;  /* queued commands run for real */
        redis_exec_queued(x);
        if (x->core->nready)        /* served once the whole EXEC ran */
            redis_handle_ready(x->core, x->now);
    }
    redis_multi_discard(c);
    redis_unwatch_all(c);
}

/* ---- pub/sub ---- */

int redis_pubsub_count(sim_redis_client *c) {
    return (c->channels ? (int)c->channels->d.count : 0) +
           (c->patterns ? (int)c->patterns->d.count : 0);
}

static void sub_reply(sim_buf *o, const char *kind, const char *name, size_t n, int count) {
    sim_resp_array(o, 3);
    sim_resp_bulk_str(o, kind);
    if (name)
        sim_resp_bulk(o, name, n);
    else
        sim_resp_null(o);
    sim_resp_int(o, count);
}

static void update_flag(sim_redis_client *c) {
    if (redis_pubsub_count(c))
        c->flags |= SIM_RC_PUBSUB;
    else
        c->flags &= ~SIM_RC_PUBSUB;
}

static void subscribe_one(sim_redis_client *c, const char *ch, size_t n, int pattern) {
    sim_redis_core *core = c->core;
    sim_rhash **set = pattern ? &c->patterns : &c->channels;
    if (!*set)
        *set = sim_rhash_new();
    if (sim_rhash_set(*set, ch, n, NULL)) {
        if (pattern) {
            if (!core->patterns)
                core->patterns = sim_rhash_new();
            sim_hent *e = sim_rhash_find(core->patterns, ch, n);
            if (!e)
                sim_rhash_set(core->patterns, ch, n, sim_rstr_new("1", 1));
            else {
                long long v = atoll(e->val->data) + 1;
                char b[24];
                int bl = sim_resp_ll2str(b, v);
                sim_rhash_set(core->patterns, ch, n, sim_rstr_new(b, (size_t)bl));
            }
            if (c->patterns->d.count == 1)
                core->npattern_clients++;
        } else {
            clist_add(clist_get(&core->channels, ch, n, 1), c);
        }
    }
    update_flag(c);
    sub_reply(&c->out, pattern ? "psubscribe" : "subscribe", ch, n, redis_pubsub_count(c));
}

/* Returns 1 if c was subscribed. */
static int unsubscribe_one(sim_redis_client *c, const char *ch, size_t n, int pattern, int reply) {
    sim_redis_core *core = c->core;
    sim_rhash *set = pattern ? c->patterns : c->channels;
    int was = set && sim_rhash_del(set, ch, n);
    if (was) {
        if (pattern) {
            sim_hent *e = sim_rhash_find(core->patterns, ch, n);
            long long v = atoll(e->val->data) - 1;
            if (v <= 0) {
                sim_rhash_del(core->patterns, ch, n);
            } else {
                char b[24];
                int bl = sim_resp_ll2str(b, v);
                sim_rhash_set(core->patterns, ch, n, sim_rstr_new(b, (size_t)bl));
            }
            if (c->patterns->d.count == 0)
                core->npattern_clients--;
        } else {
            clist *l = clist_get(&core->channels, ch, n, 0);
            if (l)
                clist_remove(&core->channels, l, c);
        }
    }
    update_flag(c);
    if (reply)
        sub_reply(&c->out, pattern ? "punsubscribe" : "unsubscribe", ch, n,
                  redis_pubsub_count(c));
    return was;
}

static void unsubscribe_all(sim_redis_client *c, int pattern, int reply) {
    sim_rhash *set = pattern ? c->patterns : c->channels;
    if (!set || !set->first) {
        if (reply)
            sub_reply(&c->out, pattern ? "punsubscribe" : "unsubscribe", NULL, 0,
                      redis_pubsub_count(c));
        return;
    }
    while (set->first) {
        sim_hent *e = set->first;
        char *name = sim_xstrndup(e->key, e->h.klen);
        size_t n = e->h.klen;
        unsubscribe_one(c, name, n, pattern, reply);
        free(name);
    }
}

void redis_pubsub_client_fini(sim_redis_client *c) {
    unsubscribe_all(c, 0, 0);
    unsubscribe_all(c, 1, 0);
    if (c->channels)
        sim_value_free(SIM_RT_SET, c->channels);
    if (c->patterns)
        sim_value_free(SIM_RT_SET, c->patterns);
    c->channels = c->patterns = NULL;
    c->flags &= ~SIM_RC_PUBSUB;
}

void redis_cmd_subscribe(redis_ctx *x) {
    if (x->c->flags & SIM_RC_MULTI) {
        redis_err(x, "ERR Command not allowed inside a transaction");
        return;
    }
    for (int i = 1; i < x->argc; i++)
        subscribe_one(x->c, x->argv[i], x->argvlen[i], 0);
}

void redis_cmd_psubscribe(redis_ctx *x) {
    for (int i = 1; i < x->argc; i++)
        subscribe_one(x->c, x->argv[i], x->argvlen[i], 1);
}

void redis_cmd_unsubscribe(redis_ctx *x) {
    if (x->argc == 1)
        unsubscribe_all(x->c, 0, 1);
    for (int i = 1; i < x->argc; i++)
        unsubscribe_one(x->c, x->argv[i], x->argvlen[i], 0, 1);
}

void redis_cmd_punsubscribe(redis_ctx *x) {
    if (x->argc == 1)
        unsubscribe_all(x->c, 1, 1);
    for (int i = 1; i < x->argc; i++)
        unsubscribe_one(x->c, x->argv[i], x->argvlen[i], 1, 1);
}

static void deliver(sim_redis_core *core, sim_redis_client *s, const char *pat, size_t pn,
                    const char *ch, size_t cn, const char *msg, size_t mn) {
    if (core->hooks.drop_message && core->hooks.drop_message(s, ch, core->hooks.ud))
        return;
    sim_resp_array(&s->out, pat ? 4 : 3);
    sim_resp_bulk_str(&s->out, pat ? "pmessage" : "message");
    if (pat)
        sim_resp_bulk(&s->out, pat, pn);
    sim_resp_bulk(&s->out, ch, cn);
    sim_resp_bulk(&s->out, msg, mn);
    if (core->hooks.wake)
        core->hooks.wake(s, core->hooks.ud);
}

void redis_cmd_publish(redis_ctx *x) {
    sim_redis_core *core = x->core;
    long long n = 0;
    clist *l = clist_get(&core->channels, x->argv[1], x->argvlen[1], 0);
    for (int i = 0; l && i < l->n; i++, n++)
        deliver(core, l->v[i], NULL, 0, x->argv[1], x->argvlen[1], x->argv[2], x->argvlen[2]);
    if (core->npattern_clients) {
        for (sim_redis_client *c = core->clients; c; c = c->next) {
            if (!c->patterns)
                continue;
            for (sim_hent *p = c->patterns->first; p; p = p->next)
                if (sim_glob_match(p->key, p->h.klen, x->argv[1], x->argvlen[1], 0)) {
                    deliver(core, c, p->key, p->h.klen, x->argv[1], x->argvlen[1], x->argv[2],
                            x->argvlen[2]);
                    n++;
                }
        }
    }
    sim_resp_int(x->out, n);
}

struct chan_collect {
    const char *pat;
    size_t plen;
    sim_buf b;
    long long n;
};

static void collect_channel(sim_dent *d, void *ctx) {
    struct chan_collect *cc = ctx;
    clist *l = (clist *)d;
    if (cc->pat && !sim_glob_match(cc->pat, cc->plen, l->key, l->h.klen, 0))
        return;
    sim_resp_bulk(&cc->b, l->key, l->h.klen);
    cc->n++;
}

void redis_cmd_pubsub(redis_ctx *x) {
    sim_redis_core *core = x->core;
    if (redis_arg_is(x, 1, "channels") && x->argc <= 3) {
        struct chan_collect cc = {0};
        if (x->argc == 3) {
            cc.pat = x->argv[2];
            cc.plen = x->argvlen[2];
        }
        uint64_t cur = 0;
        do
            cur = sim_dict_scan(&core->channels, cur, SIZE_MAX / 20, collect_channel, &cc);
        while (cur);
        sim_resp_array(x->out, cc.n);
        if (cc.b.len)
            sim_buf_append(x->out, cc.b.data, cc.b.len);
        sim_buf_free(&cc.b);
    } else if (redis_arg_is(x, 1, "numsub")) {
        sim_resp_array(x->out, (x->argc - 2) * 2);
        for (int i = 2; i < x->argc; i++) {
            clist *l = clist_get(&core->channels, x->argv[i], x->argvlen[i], 0);
            sim_resp_bulk(x->out, x->argv[i], x->argvlen[i]);
            sim_resp_int(x->out, l ? l->n : 0);
        }
    } else if (redis_arg_is(x, 1, "numpat") && x->argc == 2) {
        sim_resp_int(x->out, core->patterns ? (long long)core->patterns->d.count : 0);
    } else {
        sim_resp_errorf(x->out, "ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                                "Try PUBSUB HELP.", x->argv[1]);
    }
}

/* ---- blocking pops ---- */

void redis_unblock(sim_redis_client *c) {
    if (!(c->flags & SIM_RC_BLOCKED))
        return;
    sim_redis_core *core = c->core;
    sim_redis_client **pp = &core->blocked_head, *prev = NULL;
    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->bnext;
    }
    if (*pp) {
        *pp = c->bnext;
        if (core->blocked_tail == c)
            core->blocked_tail = prev;
        core->nblocked--;
    }
    c->bnext = NULL;
    for (int i = 0; i < c->nbkeys; i++)
        free(c->bkeys[i]);
    free(c->bkeys);
    free(c->bklen);
    c->bkeys = NULL;
    c->bklen = NULL;
    c->nbkeys = 0;
    c->flags &= ~SIM_RC_BLOCKED;
}

/* Pops from list key for c; replies [key, value]. Returns 1 if served. */
static int serve_pop(sim_redis_core *core, sim_redis_client *c, int db, const char *k, size_t n,
                     int left, int64_t now) {
    sim_rkey *e = sim_db_lookup(&core->ks, db, k, n, now);
    if (!e || e->type != SIM_RT_LIST)
        return 0;
    sim_rlist *l = e->val;
    sim_rstr *s = sim_rlist_pop(l, left);
    sim_resp_array(&c->out, 2);
    sim_resp_bulk(&c->out, k, n);
    sim_resp_bulk(&c->out, s->data, s->len);
    free(s);
    if (l->len == 0)
        sim_db_delete(&core->ks, db, e);
    redis_touch(core, db, k, n);
    return 1;
}

/* Redis's signalKeyAsReady: a push (or a RENAME) made list k exist while
 * clients may wait for it. Serving waits until the command -- or the whole
 * EXEC -- is over (redis_handle_ready), so blocked clients see the state the
 * command left, as in Redis: MULTI; RPUSH k1 x; DEL k1; EXEC serves no one
 * from k1. Keys nobody waits for are not recorded; each key once. */
void redis_signal_ready(sim_redis_core *core, int db, const char *k, size_t n) {
    int waited = 0;
    for (sim_redis_client *c = core->blocked_head; c && !waited; c = c->bnext)
        if (c->db == db)
            for (int i = 0; i < c->nbkeys && !waited; i++)
                waited = c->bklen[i] == n && memcmp(c->bkeys[i], k, n) == 0;
    if (!waited)
        return;
    for (int i = 0; i < core->nready; i++)
        if (core->ready[i].db == db && core->ready[i].n == n && memcmp(core->ready[i].k, k, n) == 0)
            return;
    if (core->nready == core->capready) {
        core->capready = core->capready ? core->capready * 2 : 4;
        core->ready = sim_xrealloc(core->ready, (size_t)core->capready * sizeof(*core->ready));
    }
    core->ready[core->nready++] = (struct redis_ready){db, sim_xstrndup(k, n), n};
}

/* Serves the clients blocked on one ready key, first blocked first, while
 * the list lasts (Redis's serveClientsBlockedOnListKey). */
static void serve_key(sim_redis_core *core, int db, const char *k, size_t n, int64_t now) {
    sim_redis_client *c = core->blocked_head;
    while (c) {
        sim_redis_client *next = c->bnext;
        if (c->db == db) {
            for (int i = 0; i < c->nbkeys; i++) {
                if (c->bklen[i] == n && memcmp(c->bkeys[i], k, n) == 0) {
                    if (!serve_pop(core, c, db, k, n, c->block_left, now))
                        return;   /* list drained, deleted or of another type */
                    redis_unblock(c);
                    if (core->hooks.wake)
                        core->hooks.wake(c, core->hooks.ud);
                    break;
                }
            }
        }
        c = next;
    }
}

void redis_ready_done(redis_ctx *x) {
    if (!x->in_exec && x->core->nready)
        redis_handle_ready(x->core, x->now);
}

/* Redis's handleClientsBlockedOnKeys: after a command outside MULTI, or
 * after EXEC, the ready keys in the order they became ready. */
void redis_handle_ready(sim_redis_core *core, int64_t now) {
    for (int i = 0; i < core->nready; i++) {
        serve_key(core, core->ready[i].db, core->ready[i].k, core->ready[i].n, now);
        free(core->ready[i].k);
    }
    core->nready = 0;
}

/* BLPOP's timeout in ms, as Redis 7.0's getTimeoutFromObjectOrReply reads
 * seconds: a long double by string2ld's rules, ceil(v * 1000) converted to a
 * long long -- where a value that does not fit (1e300, inf) comes out as
 * x86's LLONG_MIN, so Redis answers "timeout is negative" for it. 0 (and
 * -0.0001, which rounds up to 0) blocks for ever. Replies the error and
 * returns 0 when refused. */
static int block_timeout(redis_ctx *x, int i, long long *ms) {
    const char *s = x->argv[i];
    size_t n = x->argvlen[i];
    char buf[5 * 1024];   /* Redis's MAX_LONG_DOUBLE_CHARS */
    long double v = 0;
    int ok = n > 0 && n < sizeof(buf) && !isspace((unsigned char)s[0]);
    if (ok) {
        memcpy(buf, s, n);
        buf[n] = '\0';
        errno = 0;
        char *end;
        v = strtold(buf, &end);
        ok = !*end && !isnan(v) && errno != EINVAL &&
             !(errno == ERANGE && (isinf(v) || v == 0));
    }
    if (!ok) {
        redis_err(x, "ERR timeout is not a float or out of range");
        return 0;
    }
    long double t = ceill(v * 1000.0L);
    *ms = t >= -9223372036854775808.0L && t < 9223372036854775808.0L ? (long long)t : LLONG_MIN;
    if (*ms < 0) {
        redis_err(x, "ERR timeout is negative");
        return 0;
    }
    return 1;
}

static void bpop_generic(redis_ctx *x, int left) {
    long long timeout;
    if (!block_timeout(x, x->argc - 1, &timeout))
        return;
    for (int i = 1; i < x->argc - 1; i++) {
        sim_rkey *e = redis_lookup(x, i);
        if (e && e->type != SIM_RT_LIST) {
            redis_err(x, ERR_WRONGTYPE);
            return;
        }
        if (e && serve_pop(x->core, x->c, x->c->db, x->argv[i], x->argvlen[i], left, x->now))
            return;
    }
    if (x->in_exec) {
        sim_resp_null_array(x->out);
        return;
    }
    sim_redis_client *c = x->c;
    c->nbkeys = x->argc - 2;
    c->bkeys = sim_xmalloc((size_t)c->nbkeys * sizeof(char *));
    c->bklen = sim_xmalloc((size_t)c->nbkeys * sizeof(size_t));
    for (int i = 0; i < c->nbkeys; i++) {
        c->bkeys[i] = sim_xstrndup(x->argv[i + 1], x->argvlen[i + 1]);
        c->bklen[i] = x->argvlen[i + 1];
    }
    c->block_left = left;
    /* 0: for ever; a deadline past the int64 range saturates (never comes) */
    c->block_deadline = timeout == 0 ? 0 : timeout > INT64_MAX - x->now ? INT64_MAX : x->now + timeout;
    c->flags |= SIM_RC_BLOCKED;
    c->bnext = NULL;
    if (x->core->blocked_tail)
        x->core->blocked_tail->bnext = c;
    else
        x->core->blocked_head = c;
    x->core->blocked_tail = c;
    x->core->nblocked++;
}

void redis_cmd_blpop(redis_ctx *x) { bpop_generic(x, 1); }
void redis_cmd_brpop(redis_ctx *x) { bpop_generic(x, 0); }
