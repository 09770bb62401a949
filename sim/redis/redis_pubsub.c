/* redis_pubsub.c -- pub/sub (Redis's pubsub.c): SUBSCRIBE, PSUBSCRIBE,
 * their UNSUBSCRIBEs, PUBLISH, PUBSUB. Subscribers get their messages
 * through the core's wake hook; the glue's drop_message hook may drop one
 * (a redis.message fault). Nothing here writes a socket. */
#include "redis_pubsub.h"

#include <stdint.h>
#include <stdlib.h>

static int pubsub_count(const sim_redis_client *c) {
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
    if (pubsub_count(c))
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
            redis_clist_add(redis_clist_get(&core->channels, ch, n, 1), c);
        }
    }
    update_flag(c);
    sub_reply(&c->out, pattern ? "psubscribe" : "subscribe", ch, n, pubsub_count(c));
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
            redis_clist *l = redis_clist_get(&core->channels, ch, n, 0);
            if (l)
                redis_clist_remove(&core->channels, l, c);
        }
    }
    update_flag(c);
    if (reply)
        sub_reply(&c->out, pattern ? "punsubscribe" : "unsubscribe", ch, n,
                  pubsub_count(c));
    return was;
}

static void unsubscribe_all(sim_redis_client *c, int pattern, int reply) {
    sim_rhash *set = pattern ? c->patterns : c->channels;
    if (!set || !set->first) {
        if (reply)
            sub_reply(&c->out, pattern ? "punsubscribe" : "unsubscribe", NULL, 0,
                      pubsub_count(c));
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

/* Hook: RESET, disconnect. */
static void pubsub_reset(sim_redis_client *c) {
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
    redis_clist *l = redis_clist_get(&core->channels, x->argv[1], x->argvlen[1], 0);
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
    redis_clist *l = (redis_clist *)d;
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
            redis_clist *l = redis_clist_get(&core->channels, x->argv[i], x->argvlen[i], 0);
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

void redis_pubsub_init(sim_redis_core *core) { core->fam.pubsub_reset = pubsub_reset; }
