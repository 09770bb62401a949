/* history.c -- the backend's Redis client: thread message history over
 * hiredis async on the libev loop, with a connect timeout and a command
 * timeout (hiredis 0.14.1 has neither, docs/libraries.md §4.4) and
 * reconnection with back-off 1, 2, 4 ... 60 s as staging did. Redis being
 * down or silent never stops chat: writes are counted as lost and logged,
 * reads answer an error. */
#include "history.h"

#include <cjson/cJSON.h>
#include <ev.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

struct sim_history {
    struct ev_loop *loop;
    const sim_clock *clock;
    char *host;
    int port;
    int64_t connect_timeout_ms;
    int64_t command_timeout_ms;
    redisAsyncContext *ac;      /* NULL while disconnected */
    int connected;
    int freeing;
    int dropping;               /* freeing the context after a command timeout */
    int silent;                 /* a command timed out; no reply seen since: not healthy */
    int64_t backoff_ms;
    ev_timer connect_timer;     /* connect timeout */
    ev_timer retry_timer;       /* reconnect after back-off */
    /* Send times of the commands awaiting a reply, oldest first: hiredis
     * answers in order, so one timer on the oldest covers them all. A ring. */
    int64_t *sent;
    size_t sent_head, sent_count, sent_cap;
    ev_timer command_timer;     /* command timeout of the oldest */
    char status[256];
    uint64_t failures;
};

static void start_connect(sim_history *h);

static int64_t now_ms(const sim_history *h) {
    return sim_clock_now_ms(h->clock, ev_now(h->loop));
}

/* ---- command timeout ------------------------------------------------------ */

static void command_timer_arm(sim_history *h) {
    ev_timer_stop(h->loop, &h->command_timer);
    if (!h->sent_count || h->freeing) return;
    int64_t wait = h->sent[h->sent_head] + h->command_timeout_ms - now_ms(h);
    ev_timer_set(&h->command_timer, sim_clock_wait_s(h->clock, wait), 0.);
    ev_timer_start(h->loop, &h->command_timer);
}

/* A command was handed to hiredis: its callback will pop it. */
static void sent_push(sim_history *h) {
    if (h->sent_count == h->sent_cap) {
        size_t cap = h->sent_cap ? h->sent_cap * 2 : 16;
        int64_t *n = sim_xmalloc(cap * sizeof(*n));
        for (size_t i = 0; i < h->sent_count; i++)
            n[i] = h->sent[(h->sent_head + i) % h->sent_cap];
        free(h->sent);
        h->sent = n;
        h->sent_cap = cap;
        h->sent_head = 0;
    }
    h->sent[(h->sent_head + h->sent_count) % h->sent_cap] = now_ms(h);
    if (++h->sent_count == 1) command_timer_arm(h);
}

/* Every command callback calls this once: with replied = 1 when Redis
 * answered (an error reply too), 0 for the NULL reply of a freed context. */
static void sent_pop(sim_history *h, int replied) {
    if (h->sent_count) {
        h->sent_head = (h->sent_head + 1) % h->sent_cap;
        h->sent_count--;
    }
    command_timer_arm(h);
    if (replied && h->silent) {
        h->silent = 0;
        h->backoff_ms = BACKOFF_MIN_MS;
        snprintf(h->status, sizeof(h->status), "connected");
        sim_info("redis history: %s:%d answers again", h->host, h->port);
    }
}

static void schedule_retry(sim_history *h) {
    if (h->freeing) return;
    ev_timer_stop(h->loop, &h->connect_timer);
    ev_timer_set(&h->retry_timer, sim_clock_wait_s(h->clock, h->backoff_ms), 0.);
    ev_timer_start(h->loop, &h->retry_timer);
    h->backoff_ms = h->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : h->backoff_ms * 2;
}

static void set_status(sim_history *h, const char *fmt, const char *detail) {
    snprintf(h->status, sizeof(h->status), fmt, h->host, h->port, detail ? detail : "");
}

static void on_probe(redisAsyncContext *ac, void *r, void *privdata) {
    (void)privdata;
    sent_pop(ac->data, r != NULL);
}

/* A PING after reconnecting from a command timeout: its reply (sent_pop)
 * makes the client healthy again, or it times out like any command. */
static void probe(sim_history *h) {
    if (redisAsyncCommand(h->ac, on_probe, NULL, "PING") == REDIS_OK) sent_push(h);
}

/* hiredis frees the context right after this callback on failure. */
static void on_connect(const redisAsyncContext *ac, int status) {
    sim_history *h = ac->data;
    ev_timer_stop(h->loop, &h->connect_timer);
    if (status != REDIS_OK) {
        set_status(h, "Error connecting to %s:%d: %s", ac->errstr);
        sim_warn("redis history: %s (chat goes on, degraded); retry in %.0f s", h->status, h->backoff_ms / 1000.0);
        h->ac = NULL;
        h->failures++;
        schedule_retry(h);
        return;
    }
    h->connected = 1;
    if (h->silent) {
        /* After a command timeout: healthy again only once Redis answers. */
        sim_info("redis history: reconnected to %s:%d; probing with PING", h->host, h->port);
        probe(h);
        return;
    }
    h->backoff_ms = BACKOFF_MIN_MS;
    snprintf(h->status, sizeof(h->status), "connected");
    sim_info("redis history: connected to %s:%d", h->host, h->port);
}

/* Called for a drop after connect, and from redisAsyncFree when connected. */
static void on_disconnect(const redisAsyncContext *ac, int status) {
    sim_history *h = ac->data;
    h->ac = NULL;
    h->connected = 0;
    if (h->freeing || h->dropping) return;
    set_status(h, "Connection to %s:%d lost: %s", status == REDIS_OK ? "closed" : ac->errstr);
    sim_warn("redis history: %s; reconnecting", h->status);
    h->failures++;
    schedule_retry(h);
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    sim_history *h = w->data;
    if (!h->ac || h->connected) return;
    /* Not connected, so redisAsyncFree calls no disconnect callback; pending
     * command callbacks get a NULL reply. */
    redisAsyncContext *ac = h->ac;
    h->ac = NULL;
    redisAsyncFree(ac);
    set_status(h, "Timeout connecting to %s:%d%s", NULL);
    sim_warn("redis history: %s; retry in %.0f s", h->status, h->backoff_ms / 1000.0);
    h->failures++;
    schedule_retry(h);
}

/* The oldest command has waited command_timeout for its reply: Redis is
 * silent (black-holed, hung). Counted as a failure; the context is freed, so
 * every pending command gets its NULL reply now (a history read answers
 * 503 with the status text), then reconnect with back-off. */
static void on_command_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    sim_history *h = w->data;
    if (!h->ac || !h->sent_count) return;
    if (now_ms(h) - h->sent[h->sent_head] < h->command_timeout_ms) {
        command_timer_arm(h);
        return;
    }
    set_status(h, "Timeout waiting for Redis reply from %s:%d%s", NULL);
    sim_warn("redis history: %s after %.1f s (chat goes on, degraded); retry in %.0f s", h->status,
             h->command_timeout_ms / 1000.0, h->backoff_ms / 1000.0);
    h->failures++;
    h->silent = 1;
    h->dropping = 1;
    redisAsyncContext *ac = h->ac;
    h->ac = NULL;
    h->connected = 0;
    redisAsyncFree(ac);
    h->dropping = 0;
    h->sent_count = 0;
    ev_timer_stop(loop, &h->command_timer);
    schedule_retry(h);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    start_connect(w->data);
}

static void start_connect(sim_history *h) {
    redisAsyncContext *ac = redisAsyncConnect(h->host, h->port);
    if (!ac) {
        set_status(h, "Cannot allocate a Redis client for %s:%d%s", NULL);
        schedule_retry(h);
        return;
    }
    if (ac->err) {
        set_status(h, "Error connecting to %s:%d: %s", ac->errstr);
        sim_warn("redis history: %s", h->status);
        redisAsyncFree(ac);
        h->failures++;
        schedule_retry(h);
        return;
    }
    ac->data = h;
    h->sent_count = 0;   /* the previous context answered or dropped all of its */
    redisLibevAttach(h->loop, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    h->ac = ac;
    ev_timer_set(&h->connect_timer, sim_clock_wait_s(h->clock, h->connect_timeout_ms), 0.);
    ev_timer_start(h->loop, &h->connect_timer);
}

sim_history *sim_history_new(struct ev_loop *loop, const sim_clock *clock, const char *host,
                             int port, uint32_t connect_timeout_ms, uint32_t command_timeout_ms) {
    sim_history *h = sim_xcalloc(1, sizeof(*h));
    h->loop = loop;
    h->clock = clock;
    h->host = sim_xstrdup(host);
    h->port = port;
    h->connect_timeout_ms = connect_timeout_ms;
    h->command_timeout_ms = command_timeout_ms ? command_timeout_ms : 2000;
    h->backoff_ms = BACKOFF_MIN_MS;
    snprintf(h->status, sizeof(h->status), "connecting");
    ev_timer_init(&h->connect_timer, on_connect_timeout, 0., 0.);
    ev_timer_init(&h->retry_timer, on_retry, 0., 0.);
    ev_timer_init(&h->command_timer, on_command_timeout, 0., 0.);
    h->connect_timer.data = h->retry_timer.data = h->command_timer.data = h;
    start_connect(h);
    return h;
}

void sim_history_free(sim_history *h) {
    if (!h) return;
    h->freeing = 1;
    ev_timer_stop(h->loop, &h->connect_timer);
    ev_timer_stop(h->loop, &h->retry_timer);
    if (h->ac) {
        redisAsyncContext *ac = h->ac;
        h->ac = NULL;
        redisAsyncFree(ac); /* pending callbacks run now with NULL replies */
    }
    ev_timer_stop(h->loop, &h->command_timer);
    free(h->sent);
    free(h->host);
    free(h);
}

/* Connected and answering: after a command timeout, a new connection is
 * not enough, a reply must come (the probe or any command). */
int sim_history_connected(const sim_history *h) {
    return h && h->connected && !h->silent;
}

const char *sim_history_status(const sim_history *h) {
    return h ? h->status : "not configured";
}

uint64_t sim_history_failures(const sim_history *h) {
    return h ? h->failures : 0;
}

static void on_append(redisAsyncContext *ac, void *r, void *privdata) {
    (void)privdata;
    redisReply *reply = r;
    sim_history *h = ac->data;
    sent_pop(h, reply != NULL);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        h->failures++;
        sim_warn("redis history: append failed: %s",
                 reply ? reply->str : h->dropping ? h->status : "connection lost");
    }
}

void sim_history_append(sim_history *h, const char *thread_id, const char *json) {
    if (!h->connected || !h->ac) {
        h->failures++;
        sim_warn("redis history: unavailable (%s); message for thread %s not stored", h->status,
                 thread_id);
        return;
    }
    if (redisAsyncCommand(h->ac, on_append, NULL, "RPUSH thread:%s:messages %s", thread_id, json) ==
        REDIS_OK)
        sent_push(h);
    else
        h->failures++;
}

typedef struct read_req {
    sim_history_cb cb;
    void *ctx;
} read_req;

static void on_read(redisAsyncContext *ac, void *r, void *privdata) {
    sim_history *h = ac->data;
    read_req *rq = privdata;
    redisReply *reply = r;
    sent_pop(h, reply != NULL);
    if (!reply) {
        rq->cb(rq->ctx, NULL, h->dropping ? h->status : "Redis connection lost");
    } else if (reply->type == REDIS_REPLY_ERROR) {
        rq->cb(rq->ctx, NULL, reply->str);
    } else if (reply->type != REDIS_REPLY_ARRAY) {
        rq->cb(rq->ctx, NULL, "unexpected Redis reply");
    } else {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < reply->elements; i++) {
            redisReply *e = reply->element[i];
            if (e->type != REDIS_REPLY_STRING) continue;
            cJSON *item = cJSON_ParseWithLength(e->str, e->len);
            /* A foreign writer may have stored plain text: keep it as text. */
            cJSON_AddItemToArray(arr, item ? item : cJSON_CreateString(e->str));
        }
        rq->cb(rq->ctx, arr, NULL);
        cJSON_Delete(arr);
    }
    free(rq);
}

void sim_history_read(sim_history *h, const char *thread_id, sim_history_cb cb, void *ctx) {
    if (!h->connected || !h->ac) {
        cb(ctx, NULL, h->status);
        return;
    }
    read_req *rq = sim_xmalloc(sizeof(*rq));
    rq->cb = cb;
    rq->ctx = ctx;
    if (redisAsyncCommand(h->ac, on_read, rq, "LRANGE thread:%s:messages 0 -1", thread_id) != REDIS_OK) {
        free(rq);
        cb(ctx, NULL, "Redis command failed");
        return;
    }
    sent_push(h);
}
