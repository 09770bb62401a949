/* probe_redis.c -- the redis probe: connect (hiredis async on the loop),
 * AUTH when a password is given, PING, SET a key of the attempt's own, GET
 * it back. hiredis 0.14.1 has neither a connect nor a command timeout: the
 * attempt's ev_timer is both (docs/libraries.md §4.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libev.h>

#include "probe_int.h"
#include "util.h"

/* The steps after the connect, in order; each reply is checked against
 * want (a status or bulk text; NULL: the SET value). */
typedef struct redis_step {
    const char *stage;
    const char *want;
} redis_step;

enum { STEP_AUTH, STEP_PING, STEP_SET, STEP_GET, STEPS };

static const redis_step steps[STEPS] = {
    {"auth", "OK"}, {"ping", "PONG"}, {"set", "OK"}, {"get", NULL},
};

typedef struct redis_state {
    probe_attempt *a;
    redisAsyncContext *ac;   /* NULL once hiredis has freed it */
    int step;                /* the step whose reply is awaited */
    int connected;
    char key[64], value[64];
} redis_state;

static int prepare(const sim_probe_options *o, probe_target *t, char *err, size_t errlen) {
    return sim_probe_hostport_option("--redis", o->redis, t->redis_host, sizeof(t->redis_host),
                                     &t->redis_port, err, errlen);
}

static const char *where(const redis_state *st, char *buf, size_t len) {
    snprintf(buf, len, "%s:%d", st->a->run->target.redis_host, st->a->run->target.redis_port);
    return buf;
}

static void send_step(redis_state *st);

/* Ends the attempt with the verdict in st->a->res. The connection is closed
 * after the pending replies (none: one command is in flight at a time). */
static void finish(redis_state *st) {
    if (st->ac) redisAsyncDisconnect(st->ac);
    probe_attempt_finish(st->a);
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    redis_state *st = priv;
    redisReply *reply = r;
    /* NULL: the context is going (a drop, or our own free at release). */
    if (st->a->finished) return;
    const redis_step *s = &steps[st->step];
    sim_probe_result *res = &st->a->res;
    char addr[300];
    if (!reply) {
        /* hiredis is freeing the context: nothing to disconnect. */
        sim_probe_fail(res, s->stage, "closed", "connection to %s lost", where(st, addr, sizeof(addr)));
        probe_attempt_finish(st->a);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        sim_probe_fail(res, s->stage, "error", "%s", reply->str);
        SIM_PROBE_SET(res->expected, s->want ? s->want : st->value);
        SIM_PROBE_SET(res->got, reply->str);
    } else {
        const char *want = s->want ? s->want : st->value;
        int text = reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_STRING;
        if (!text || strcmp(reply->str, want) != 0) {
            sim_probe_fail(res, s->stage, "reply", "unexpected reply to %s", s->stage);
            SIM_PROBE_SET(res->expected, want);
            SIM_PROBE_SET(res->got, text ? reply->str : reply->type == REDIS_REPLY_NIL ? "(nil)"
                                                                                       : "(not text)");
        } else if (st->step == STEP_GET) {
            res->ok = 1;
        } else {
            st->step++;
            send_step(st);
            return;
        }
    }
    finish(st);
}

static void send_step(redis_state *st) {
    switch (st->step) {
    case STEP_AUTH:
        redisAsyncCommand(st->ac, on_reply, st, "AUTH %s", st->a->run->opt.redis_password);
        break;
    case STEP_PING:
        redisAsyncCommand(st->ac, on_reply, st, "PING");
        break;
    case STEP_SET:
        redisAsyncCommand(st->ac, on_reply, st, "SET %s %s EX 60", st->key, st->value);
        break;
    default:
        redisAsyncCommand(st->ac, on_reply, st, "GET %s", st->key);
        break;
    }
}

static void on_connect(const redisAsyncContext *ac, int status) {
    redis_state *st = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        st->ac = NULL;
        if (st->a->finished) return;
        char addr[300];
        sim_probe_fail(&st->a->res, "connect", "connect", "cannot connect to %s: %s",
                       where(st, addr, sizeof(addr)), ac->errstr);
        probe_attempt_finish(st->a);
        return;
    }
    st->connected = 1;
    st->step = st->a->run->opt.redis_password ? STEP_AUTH : STEP_PING;
    send_step(st);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    (void)status;
    redis_state *st = ac->data;
    st->ac = NULL;   /* freed by hiredis after this callback */
}

static void *start(probe_attempt *a) {
    redis_state *st = sim_xcalloc(1, sizeof(*st));
    st->a = a;
    snprintf(st->key, sizeof(st->key), "stagesim:probe:%d", a->res.attempt);
    snprintf(st->value, sizeof(st->value), "probe-%d", a->res.attempt);
    const probe_target *t = &a->run->target;
    st->ac = redisAsyncConnect(t->redis_host, t->redis_port);
    if (st->ac->err) {
        char addr[300];
        sim_probe_fail(&a->res, "connect", "connect", "cannot connect to %s: %s",
                       where(st, addr, sizeof(addr)), st->ac->errstr);
        redisAsyncFree(st->ac);
        st->ac = NULL;
        probe_attempt_finish(a);
        return st;
    }
    st->ac->data = st;
    redisLibevAttach(a->run->loop, st->ac);
    redisAsyncSetConnectCallback(st->ac, on_connect);
    redisAsyncSetDisconnectCallback(st->ac, on_disconnect);
    return st;
}

static void timed_out(void *state, sim_probe_result *r) {
    redis_state *st = state;
    const char *stage = st->connected ? steps[st->step].stage : "connect";
    sim_probe_fail(r, "timeout", "timeout", "no %s within %lld ms",
                   st->connected ? "reply" : "connection", (long long)st->a->run->opt.timeout_ms);
    SIM_PROBE_SET(r->expected, stage);
}

static void release(void *state) {
    redis_state *st = state;
    /* Runs the pending callbacks with NULL replies (ignored: the attempt
     * is finished) and, for a connected context, the disconnect callback. */
    if (st->ac) redisAsyncFree(st->ac);
    free(st);
}

const probe_kind sim_probe_kind_redis = {"redis", 0, prepare, start, timed_out, release};
