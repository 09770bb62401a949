/* history.c -- the backend's Redis client: thread message history over
 * hiredis async on the libev loop, with a connect timeout (hiredis 0.14.1
 * has none) and reconnection with back-off 1, 2, 4 ... 60 s as staging did.
 * Redis being down never stops chat: writes are counted as lost and logged. */
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

#define BACKOFF_MIN_S 1.0
#define BACKOFF_MAX_S 60.0

struct sim_history {
    struct ev_loop *loop;
    char *host;
    int port;
    double connect_timeout;
    redisAsyncContext *ac;      /* NULL while disconnected */
    int connected;
    int freeing;
    double backoff;
    ev_timer connect_timer;     /* connect timeout */
    ev_timer retry_timer;       /* reconnect after back-off */
    char status[256];
    uint64_t failures;
};

static void start_connect(sim_history *h);

static void schedule_retry(sim_history *h) {
    if (h->freeing) return;
    ev_timer_stop(h->loop, &h->connect_timer);
    ev_timer_set(&h->retry_timer, h->backoff, 0.);
    ev_timer_start(h->loop, &h->retry_timer);
    h->backoff = h->backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : h->backoff * 2;
}

static void set_status(sim_history *h, const char *fmt, const char *detail) {
    snprintf(h->status, sizeof(h->status), fmt, h->host, h->port, detail ? detail : "");
}

/* hiredis frees the context right after this callback on failure. */
static void on_connect(const redisAsyncContext *ac, int status) {
    sim_history *h = ac->data;
    ev_timer_stop(h->loop, &h->connect_timer);
    if (status != REDIS_OK) {
        set_status(h, "Error connecting to %s:%d: %s", ac->errstr);
        sim_warn("redis history: %s (chat goes on, degraded); retry in %.0f s", h->status, h->backoff);
        h->ac = NULL;
        h->failures++;
        schedule_retry(h);
        return;
    }
    h->connected = 1;
    h->backoff = BACKOFF_MIN_S;
    snprintf(h->status, sizeof(h->status), "connected");
    sim_info("redis history: connected to %s:%d", h->host, h->port);
}

/* Called for a drop after connect, and from redisAsyncFree when connected. */
static void on_disconnect(const redisAsyncContext *ac, int status) {
    sim_history *h = ac->data;
    h->ac = NULL;
    h->connected = 0;
    if (h->freeing) return;
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
    sim_warn("redis history: %s; retry in %.0f s", h->status, h->backoff);
    h->failures++;
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
    redisLibevAttach(h->loop, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    h->ac = ac;
    ev_timer_set(&h->connect_timer, h->connect_timeout, 0.);
    ev_timer_start(h->loop, &h->connect_timer);
}

sim_history *sim_history_new(struct ev_loop *loop, const char *host, int port,
                             uint32_t connect_timeout_ms) {
    sim_history *h = sim_xcalloc(1, sizeof(*h));
    h->loop = loop;
    h->host = sim_xstrdup(host);
    h->port = port;
    h->connect_timeout = connect_timeout_ms / 1000.0;
    h->backoff = BACKOFF_MIN_S;
    snprintf(h->status, sizeof(h->status), "connecting");
    ev_timer_init(&h->connect_timer, on_connect_timeout, 0., 0.);
    ev_timer_init(&h->retry_timer, on_retry, 0., 0.);
    h->connect_timer.data = h->retry_timer.data = h;
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
    free(h->host);
    free(h);
}

int sim_history_connected(const sim_history *h) {
    return h && h->connected;
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
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        h->failures++;
        sim_warn("redis history: append failed: %s", reply ? reply->str : "connection lost");
    }
}

void sim_history_append(sim_history *h, const char *thread_id, const char *json) {
    if (!h->connected || !h->ac) {
        h->failures++;
        sim_warn("redis history: unavailable (%s); message for thread %s not stored", h->status,
                 thread_id);
        return;
    }
    redisAsyncCommand(h->ac, on_append, NULL, "RPUSH thread:%s:messages %s", thread_id, json);
}

typedef struct read_req {
    sim_history_cb cb;
    void *ctx;
} read_req;

static void on_read(redisAsyncContext *ac, void *r, void *privdata) {
    (void)ac;
    read_req *rq = privdata;
    redisReply *reply = r;
    if (!reply) {
        rq->cb(rq->ctx, NULL, "Redis connection lost");
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
    }
}
