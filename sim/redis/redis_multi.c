/* redis_multi.c -- transactions (Redis's multi.c): MULTI queues, EXEC runs
 * the queue through the core's redis_call, WATCH makes EXEC fail once a
 * watched key was written. Dispatch queues and reports writes through the
 * hooks set in redis_multi_init. */
#include "redis_multi.h"

#include <stdlib.h>
#include <string.h>

/* ---- WATCH ---- */

/* A watched key's name in the core's dict: the db as one byte, then the key. */
static size_t watch_key(char *buf, int db, const char *k, size_t n) {
    buf[0] = (char)db;
    memcpy(buf + 1, k, n);
    return n + 1;
}

/* Hook: a write named key k of db. */
static void touch(sim_redis_core *core, int db, const char *k, size_t n) {
    char stack[256];
    char *buf = n + 1 <= sizeof(stack) ? stack : sim_xmalloc(n + 1);
    size_t bn = watch_key(buf, db, k, n);
    redis_clist *l = redis_clist_get(&core->watched, buf, bn, 0);
    if (l)
        for (int i = 0; i < l->n; i++)
            l->v[i]->flags |= SIM_RC_DIRTY_CAS;
    if (buf != stack)
        free(buf);
}

/* Hook: FLUSHDB (db) or FLUSHALL (-1). */
static void touch_db(sim_redis_core *core, int db) {
    for (sim_redis_client *c = core->clients; c; c = c->next)
        for (int i = 0; i < c->nwatched; i++) {
            redis_clist *l = c->watched[i];
            if (db < 0 || l->key[0] == (char)db)
                c->flags |= SIM_RC_DIRTY_CAS;
        }
}

static void unwatch_all(sim_redis_client *c) {
    for (int i = 0; i < c->nwatched; i++)
        redis_clist_remove(&c->core->watched, c->watched[i], c);
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
        redis_clist *l = redis_clist_get(&x->core->watched, buf, bn, 1);
        free(buf);
        int already = 0;
        for (int j = 0; j < c->nwatched; j++)
            already |= c->watched[j] == l;
        if (already)
            continue;
        redis_clist_add(l, c);
        if (c->nwatched == c->capwatched) {
            c->capwatched = c->capwatched ? c->capwatched * 2 : 4;
            c->watched = sim_xrealloc(c->watched, (size_t)c->capwatched * sizeof(void *));
        }
        c->watched[c->nwatched++] = l;
    }
    redis_ok(x);
}

void redis_cmd_unwatch(redis_ctx *x) {
    unwatch_all(x->c);
    redis_ok(x);
}

/* ---- MULTI / EXEC ---- */

/* Hook: dispatch checked the command (arity, auth) and queues it; the
 * arguments are copied, the parser's buffer moves on. */
static void queue(sim_redis_client *c, int argc, char **argv, size_t *argvlen) {
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

static void discard(sim_redis_client *c) {
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

/* Hook: RESET, disconnect; also the end of EXEC and DISCARD. */
static void multi_reset(sim_redis_client *c) {
    discard(c);
    unwatch_all(c);
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
    multi_reset(x->c);
    redis_ok(x);
}

/* Runs the queued commands (checked when queued). Blocked clients that
 * they made ready are served after EXEC, by dispatch. */
static void exec_queued(redis_ctx *x) {
    sim_redis_client *c = x->c;
    sim_resp_array(x->out, c->mq_n);
    for (int i = 0; i < c->mq_n; i++) {
        sim_redis_queued *q = &c->mq[i];
        const redis_command *cmd = redis_command_lookup(x->core, q->argv[0], q->argvlen[0]);
        redis_ctx y = *x;
        y.argc = q->argc;
        y.argv = q->argv;
        y.argvlen = q->argvlen;
        y.in_exec = 1;
        redis_call(&y, cmd);
    }
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
        exec_queued(x);
    }
    multi_reset(c);
}

void redis_multi_init(sim_redis_core *core) {
    core->fam.queue = queue;
    core->fam.touch = touch;
    core->fam.touch_db = touch_db;
    core->fam.multi_reset = multi_reset;
}
