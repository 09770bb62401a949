/* redis_blocking.c -- blocking pops (Redis's blocked.c and the blocking
 * half of t_list.c): BLPOP/BRPOP, the FIFO of blocked clients, and the
 * lists made ready for them. Pushes and RENAME signal a ready list through
 * the core; dispatch has the waiting clients served once the command, or
 * the whole EXEC, is over; the cron times waits out. Served clients get
 * their reply through the core's wake hook. */
#include "redis_blocking.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Hook (RESET, disconnect); also a served or timed-out wait. */
static void unblock(sim_redis_client *c) {
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
    redis_signal_modified_key(core, db, k, n);
    return 1;
}

/* Hook, Redis's signalKeyAsReady: a push (or a RENAME) made list k exist
 * while clients may wait for it. Only recorded: serving waits until the
 * command -- or the whole EXEC -- is over (serve_ready, called by
 * dispatch), so blocked clients see the state the command left. Keys nobody
 * waits for are not recorded; each key once. */
static void list_ready(sim_redis_core *core, int db, const char *k, size_t n) {
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
                    unblock(c);
                    if (core->hooks.wake)
                        core->hooks.wake(c, core->hooks.ud);
                    break;
                }
            }
        }
        c = next;
    }
}

/* Hook, Redis's handleClientsBlockedOnKeys: after a command outside
 * MULTI, or after EXEC, the ready keys in the order they became ready. */
static void serve_ready(sim_redis_core *core, int64_t now) {
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

/* Hook (cron): a wait whose deadline passed gets a null reply. */
static void timeouts(sim_redis_core *core, int64_t now) {
    sim_redis_client *c = core->blocked_head;
    while (c) {
        sim_redis_client *next = c->bnext;
        if (c->block_deadline && c->block_deadline <= now) {
            unblock(c);
            sim_resp_null_array(&c->out);
            if (core->hooks.wake)
                core->hooks.wake(c, core->hooks.ud);
        }
        c = next;
    }
}

void redis_blocking_init(sim_redis_core *core) {
    core->fam.list_ready = list_ready;
    core->fam.serve_ready = serve_ready;
    core->fam.timeouts = timeouts;
    core->fam.unblock = unblock;
}
