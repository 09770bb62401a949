/* history.c -- the backend's Redis client: thread message history over
 * hiredis async on the libev loop, with a connect timeout and a command
 * timeout (hiredis 0.14.1 has neither, docs/libraries.md §4.4),
 * reconnection with back-off 1, 2, 4 ... 60 s, and the circuit breaker the
 * real backend had in front of Redis (docs/contract.md §4). Redis being
 * down or silent never stops chat: writes are counted as lost and logged,
 * reads answer an error.
 *
 * Breaker calls: every connection attempt, and every operation (a command
 * sent, or one that could not be because there is no connection). While
 * the breaker is open nothing reaches Redis and no attempt is made; when it
 * turns half-open the client connects at once, and a PING after connecting
 * is the second trial call. Error texts are redis-py's, as staging's
 * /health/infrastructure showed them (S11). */
#include "history.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "dep_breaker.h"
#include "fault.h"
#include "util.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

/* A command awaiting its reply: when it was sent, and its breaker permit. */
typedef struct pending {
    int64_t sent_ms;
    stagesim_breaker_permit permit;
} pending;

/* At most one line a second for a failure that can come once per append:
 * the ones in between are counted into the next line. */
typedef struct log_limit {
    int64_t logged_ms;          /* the last line, -1: none yet */
    uint64_t unlogged;          /* failures since */
} log_limit;

struct sim_history {
    struct ev_loop *loop;
    const sim_clock *clock;
    sim_faults *faults;
    char *host;
    int port;
    int64_t connect_timeout_ms;
    int64_t command_timeout_ms;
    sim_dep_breaker *breaker;   /* NULL: none */
    redisAsyncContext *ac;      /* NULL while disconnected */
    int connected;
    int attempting;             /* a connection attempt is under way (maybe hung: ac NULL) */
    int freeing;
    int dropping;               /* freeing the context after a command timeout */
    int silent;                 /* a command timed out; no reply seen since: not healthy */
    int64_t backoff_ms;
    uint64_t attempts;          /* dep.connect ordinal */
    int64_t attempt_ms;
    stagesim_breaker_permit attempt_permit;
    int attempt_permitted;
    ev_timer connect_timer;     /* connect timeout */
    ev_timer retry_timer;       /* reconnect after back-off */
    /* Commands awaiting a reply, oldest first: hiredis answers in order, so
     * one timer on the oldest covers them all. A ring. */
    pending *sent;
    size_t sent_head, sent_count, sent_cap;
    ev_timer command_timer;     /* command timeout of the oldest */
    char status[300];
    uint64_t failures;
    /* Failed appends are logged once per reason, not once each: a Redis that
     * went silent under thousands of appends in flight wrote 339 048 lines. */
    uint64_t lost;              /* appends whose connection went before their reply */
    log_limit append_errors;    /* error replies */
    log_limit not_stored;       /* appends made while Redis was unavailable */
    double reply_ms;            /* how long the last reply took */
    sim_buf cmd;                /* the RPUSH being made (sim_history_append) */
    /* sim_history_drain: done is called from drain_timer once sent_count
     * reaches 0, never from inside a hiredis callback (done may free us). */
    void (*drained)(void *ctx);
    void *drained_ctx;
    ev_timer drain_timer;
};

static void start_connect(sim_history *h);
static void on_drained(struct ev_loop *loop, ev_timer *w, int revents);

static int64_t now_ms(const sim_history *h) {
    return sim_clock_now_ms(h->clock, ev_now(h->loop));
}

/* ---- the breaker ---------------------------------------------------------- */

static int permit(sim_history *h, stagesim_breaker_permit *p) {
    return !h->breaker || sim_dep_breaker_acquire(h->breaker, p);
}

static void outcome(sim_history *h, stagesim_breaker_permit *p, int ok, int64_t started_ms) {
    if (h->breaker) sim_dep_breaker_record(h->breaker, p, ok, started_ms);
}

/* An operation that found no connection: a failed call, if one was
 * permitted. 0 when the breaker refused it (it is open). */
static int failed_without_connection(sim_history *h) {
    stagesim_breaker_permit p;
    h->failures++;
    if (!permit(h, &p)) return 0;
    outcome(h, &p, 0, now_ms(h));
    return 1;
}

static int breaker_open(sim_history *h) {
    return h->breaker && sim_dep_breaker_state(h->breaker) == STAGESIM_BREAKER_OPEN;
}

/* ---- command timeout ------------------------------------------------------ */

static void command_timer_arm(sim_history *h) {
    ev_timer_stop(h->loop, &h->command_timer);
    if (!h->sent_count || h->freeing) return;
    int64_t wait = h->sent[h->sent_head].sent_ms + h->command_timeout_ms - now_ms(h);
    ev_timer_set(&h->command_timer, sim_clock_wait_s(h->clock, wait), 0.);
    ev_timer_start(h->loop, &h->command_timer);
}

/* A command was handed to hiredis with permit p: its callback pops it. */
static void sent_push(sim_history *h, const stagesim_breaker_permit *p) {
    if (h->sent_count == h->sent_cap) {
        size_t cap = h->sent_cap ? h->sent_cap * 2 : 16;
        pending *n = sim_xmalloc(cap * sizeof(*n));
        for (size_t i = 0; i < h->sent_count; i++) n[i] = h->sent[(h->sent_head + i) % h->sent_cap];
        free(h->sent);
        h->sent = n;
        h->sent_cap = cap;
        h->sent_head = 0;
    }
    pending *e = &h->sent[(h->sent_head + h->sent_count) % h->sent_cap];
    e->sent_ms = now_ms(h);
    e->permit = *p;
    if (++h->sent_count == 1) command_timer_arm(h);
}

/* Every command callback calls this once: ok when Redis answered with
 * other than an error, replied when it answered at all (an error too),
 * neither for the NULL reply of a freed context. */
static void sent_pop(sim_history *h, int replied, int ok) {
    if (h->sent_count) {
        pending e = h->sent[h->sent_head];
        h->sent_head = (h->sent_head + 1) % h->sent_cap;
        h->sent_count--;
        if (replied) h->reply_ms = (double)(now_ms(h) - e.sent_ms);
        outcome(h, &e.permit, ok, e.sent_ms);
    }
    command_timer_arm(h);
    if (!h->sent_count && h->drained && !h->freeing) {
        ev_timer_set(&h->drain_timer, 0., 0.);
        ev_timer_start(h->loop, &h->drain_timer);
    }
    if (replied && h->silent) {
        h->silent = 0;
        h->backoff_ms = BACKOFF_MIN_MS;
        snprintf(h->status, sizeof(h->status), "connected");
        sim_info("redis history: %s:%d answers again", h->host, h->port);
    }
}

/* ---- connecting ----------------------------------------------------------- */

static void schedule_retry(sim_history *h) {
    if (h->freeing) return;
    ev_timer_stop(h->loop, &h->connect_timer);
    ev_timer_set(&h->retry_timer, sim_clock_wait_s(h->clock, h->backoff_ms), 0.);
    ev_timer_start(h->loop, &h->retry_timer);
    h->backoff_ms = h->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : h->backoff_ms * 2;
}

/* redis-py's "Error 111 connecting to host:6379. Connection refused." from
 * hiredis's strerror text. */
static void set_connect_error(sim_history *h, const char *why) {
    static const int known[] = {ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ECONNRESET,
                                EADDRNOTAVAIL, EACCES};
    int code = 0;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (why && strcmp(why, strerror(known[i])) == 0) code = known[i];
    snprintf(h->status, sizeof(h->status), "Error %d connecting to %s:%d. %s.", code, h->host,
             h->port, why && *why ? why : "Connection failed");
}

/* A connection attempt ended without a connection: a failed call. */
static void attempt_failed(sim_history *h) {
    h->attempting = 0;
    h->failures++;
    if (h->attempt_permitted) outcome(h, &h->attempt_permit, 0, h->attempt_ms);
    h->attempt_permitted = 0;
    sim_warn("redis history: %s (chat goes on, degraded); retry in %.0f s", h->status,
             h->backoff_ms / 1000.0);
    schedule_retry(h);
}

static void on_probe(redisAsyncContext *ac, void *r, void *privdata) {
    (void)privdata;
    redisReply *reply = r;
    sent_pop(ac->data, reply != NULL, reply && reply->type != REDIS_REPLY_ERROR);
}

/* A PING: after reconnecting from a command timeout its reply makes the
 * client healthy again; in half-open it is the breaker's second trial. */
static void probe(sim_history *h) {
    stagesim_breaker_permit p;
    if (!permit(h, &p)) return;
    if (redisAsyncCommand(h->ac, on_probe, NULL, "PING") == REDIS_OK) sent_push(h, &p);
    else outcome(h, &p, 0, now_ms(h));
}

/* hiredis frees the context right after this callback on failure. */
static void on_connect(const redisAsyncContext *ac, int status) {
    sim_history *h = ac->data;
    ev_timer_stop(h->loop, &h->connect_timer);
    if (status != REDIS_OK) {
        set_connect_error(h, ac->errstr);
        h->ac = NULL;
        attempt_failed(h);
        return;
    }
    h->connected = 1;
    h->attempting = 0;
    if (h->attempt_permitted) outcome(h, &h->attempt_permit, 1, h->attempt_ms);
    h->attempt_permitted = 0;
    int trial = h->breaker && sim_dep_breaker_state(h->breaker) == STAGESIM_BREAKER_HALF_OPEN;
    if (h->silent || trial) {
        /* After a command timeout: healthy again only once Redis answers. */
        sim_info("redis history: connected to %s:%d; probing with PING", h->host, h->port);
        if (!h->silent) snprintf(h->status, sizeof(h->status), "connected");
        probe(h);
        return;
    }
    h->backoff_ms = BACKOFF_MIN_MS;
    snprintf(h->status, sizeof(h->status), "connected");
    sim_info("redis history: connected to %s:%d", h->host, h->port);
}

/* Whether a limited line may be written now; *more is how many were not. */
static int log_now(sim_history *h, log_limit *l, uint64_t *more) {
    int64_t now = now_ms(h);
    if (l->logged_ms >= 0 && now - l->logged_ms < 1000) {
        l->unlogged++;
        return 0;
    }
    *more = l->unlogged;
    l->unlogged = 0;
    l->logged_ms = now;
    return 1;
}

/* " (and N more since the last)", or "" (a static buffer: one at a time). */
static const char *more_text(uint64_t more) {
    static char buf[64];
    if (!more) return "";
    snprintf(buf, sizeof(buf), " (and %llu more since the last)", (unsigned long long)more);
    return buf;
}

/* One line for the appends a dropped connection took with it (hiredis has
 * just given each its NULL reply). */
static void log_lost(sim_history *h, const char *why) {
    if (!h->lost) return;
    sim_warn("redis history: %llu append%s lost with the connection (%s)",
             (unsigned long long)h->lost, h->lost == 1 ? "" : "s", why);
    h->lost = 0;
}

/* Called for a drop after connect, and from redisAsyncFree when connected. */
static void on_disconnect(const redisAsyncContext *ac, int status) {
    sim_history *h = ac->data;
    h->ac = NULL;
    h->connected = 0;
    if (h->freeing || h->dropping) return;
    snprintf(h->status, sizeof(h->status), "%s",
             status == REDIS_OK ? "Connection closed by server." : ac->errstr);
    log_lost(h, h->status);
    sim_warn("redis history: connection to %s:%d lost: %s; reconnecting", h->host, h->port,
             h->status);
    h->failures++;
    schedule_retry(h);
}

/* The connection came up, though the loop has not yet told hiredis: the
 * socket is writable with no error pending. */
static int connected_unseen(const redisAsyncContext *ac) {
    struct pollfd p = {.fd = ac->c.fd, .events = POLLOUT};
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    return p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) &&
           !(p.revents & (POLLERR | POLLHUP)) &&
           getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0;
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    sim_history *h = w->data;
    if (!h->attempting || h->connected) return;
    /* A timeout is no answer by then. On a busy machine, with time
     * compressed (--time-scale), the timer can come due in the iteration
     * that also finds the connection made: that is an answer. */
    if (h->ac && connected_unseen(h->ac)) return;
    /* Not connected, so redisAsyncFree calls no disconnect callback; pending
     * command callbacks get a NULL reply. (A hung attempt has no context.) */
    if (h->ac) {
        redisAsyncContext *ac = h->ac;
        h->ac = NULL;
        redisAsyncFree(ac);
    }
    snprintf(h->status, sizeof(h->status), "Timeout connecting to server");
    attempt_failed(h);
}

/* The oldest command has waited command_timeout for its reply: Redis is
 * silent (black-holed, hung). The context is freed, so every pending
 * command gets its NULL reply now, each a failed call (a history read
 * answers 503 with the status text), then reconnect with back-off. */
static void on_command_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    sim_history *h = w->data;
    if (!h->ac || !h->sent_count) return;
    if (now_ms(h) - h->sent[h->sent_head].sent_ms < h->command_timeout_ms) {
        command_timer_arm(h);
        return;
    }
    /* A reply waiting in the socket is an answer the loop has not handed
     * hiredis yet (as for the connect): look again once it has. */
    int waiting = 0;
    if (ioctl(h->ac->c.fd, FIONREAD, &waiting) == 0 && waiting > 0) {
        ev_timer_set(w, 0.001, 0.);
        ev_timer_start(loop, w);
        return;
    }
    snprintf(h->status, sizeof(h->status), "Timeout reading from socket");
    sim_warn("redis history: no reply from %s:%d after %.1f s (chat goes on, degraded); retry "
             "in %.0f s", h->host, h->port, h->command_timeout_ms / 1000.0, h->backoff_ms / 1000.0);
    h->failures++;
    h->silent = 1;
    h->dropping = 1;
    redisAsyncContext *ac = h->ac;
    h->ac = NULL;
    h->connected = 0;
    redisAsyncFree(ac);
    h->dropping = 0;
    log_lost(h, h->status);
    h->sent_count = 0;
    ev_timer_stop(loop, &h->command_timer);
    schedule_retry(h);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    start_connect(w->data);
}

/* The breaker moved: half-open is the moment to try again. */
static void on_breaker(void *ctx, stagesim_breaker_state to) {
    sim_history *h = ctx;
    if (to != STAGESIM_BREAKER_HALF_OPEN || h->connected || h->attempting || h->freeing) return;
    ev_timer_stop(h->loop, &h->retry_timer);
    start_connect(h);
}

static void start_connect(sim_history *h) {
    if (!permit(h, &h->attempt_permit)) {
        /* Open: no attempt until it turns half-open (on_breaker), or the
         * back-off comes round again for a breaker that waits to be asked. */
        schedule_retry(h);
        return;
    }
    h->attempt_permitted = 1;
    h->attempting = 1;
    /* The loop's time may be a slow start-up behind (the first attempt is
     * made inside sim_start): the connect timeout counts from now, or it
     * could fire before the loop first looked at the socket. */
    ev_now_update(h->loop);
    h->attempt_ms = now_ms(h);
    /* The connection going out crosses the wire like any other: a rule may
     * refuse it, make its host name unresolvable, or let it hang. */
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_CONNECT, .proto = "dep",
                  .name = "redis", .conn = ++h->attempts};
    sim_action a;
    sim_faults_cross(h->faults, &w, h->attempt_ms, &a);
    if (a.kind == SIM_ACT_REFUSE || a.kind == SIM_ACT_UNRESOLVED) {
        if (a.kind == SIM_ACT_REFUSE) set_connect_error(h, strerror(ECONNREFUSED));
        else   /* what redis-py said for EAI_AGAIN on staging (S11) */
            snprintf(h->status, sizeof(h->status), "Error -3 connecting to %s:%d. Try again.",
                     h->host, h->port);
        attempt_failed(h);
        return;
    }
    ev_timer_set(&h->connect_timer, sim_clock_wait_s(h->clock, h->connect_timeout_ms), 0.);
    ev_timer_start(h->loop, &h->connect_timer);
    if (a.kind == SIM_ACT_HANG) return;   /* the connect timeout ends it */
    redisAsyncContext *ac = redisAsyncConnect(h->host, h->port);
    if (!ac || ac->err) {
        set_connect_error(h, ac ? ac->errstr : "Cannot allocate a Redis client");
        if (ac) redisAsyncFree(ac);
        ev_timer_stop(h->loop, &h->connect_timer);
        attempt_failed(h);
        return;
    }
    ac->data = h;
    h->sent_count = 0;   /* the previous context answered or dropped all of its */
    redisLibevAttach(h->loop, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    h->ac = ac;
}

sim_history *sim_history_new(struct ev_loop *loop, const sim_clock *clock,
                             const sim_history_config *cfg) {
    sim_history *h = sim_xcalloc(1, sizeof(*h));
    h->loop = loop;
    h->clock = clock;
    h->faults = cfg->faults;
    h->host = sim_xstrdup(cfg->host);
    h->port = cfg->port;
    h->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 1000;
    h->command_timeout_ms = cfg->command_timeout_ms ? cfg->command_timeout_ms : 2000;
    h->backoff_ms = BACKOFF_MIN_MS;
    h->append_errors.logged_ms = h->not_stored.logged_ms = -1;
    if (cfg->breaker)
        h->breaker = sim_dep_breaker_new(loop, clock, cfg->faults, "redis", cfg->breaker,
                                         on_breaker, h);
    snprintf(h->status, sizeof(h->status), "connecting");
    ev_timer_init(&h->connect_timer, on_connect_timeout, 0., 0.);
    ev_timer_init(&h->retry_timer, on_retry, 0., 0.);
    ev_timer_init(&h->command_timer, on_command_timeout, 0., 0.);
    ev_timer_init(&h->drain_timer, on_drained, 0., 0.);
    h->connect_timer.data = h->retry_timer.data = h->command_timer.data = h;
    h->drain_timer.data = h;
    start_connect(h);
    return h;
}

void sim_history_free(sim_history *h) {
    if (!h) return;
    h->freeing = 1;
    ev_timer_stop(h->loop, &h->drain_timer);
    ev_timer_stop(h->loop, &h->connect_timer);
    ev_timer_stop(h->loop, &h->retry_timer);
    if (h->ac) {
        redisAsyncContext *ac = h->ac;
        h->ac = NULL;
        redisAsyncFree(ac); /* pending callbacks run now with NULL replies */
        log_lost(h, "shutting down");
    }
    ev_timer_stop(h->loop, &h->command_timer);
    sim_dep_breaker_free(h->breaker);
    free(h->sent);
    free(h->host);
    sim_buf_free(&h->cmd);
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

double sim_history_reply_ms(const sim_history *h) {
    return h ? h->reply_ms : 0;
}

sim_dep_breaker *sim_history_breaker(sim_history *h) {
    return h ? h->breaker : NULL;
}

/* The reason an operation could not be made, for logs and 503 bodies. */
static const char *unavailable(sim_history *h) {
    return breaker_open(h) ? "Circuit breaker 'redis' is open" : h->status;
}

static void on_append(redisAsyncContext *ac, void *r, void *privdata) {
    (void)privdata;
    redisReply *reply = r;
    sim_history *h = ac->data;
    sent_pop(h, reply != NULL, reply && reply->type != REDIS_REPLY_ERROR);
    if (!reply) {
        h->failures++;
        h->lost++;   /* logged by whoever dropped the connection (log_lost) */
    } else if (reply->type == REDIS_REPLY_ERROR) {
        h->failures++;   /* a rule can answer every append with an error */
        uint64_t more;
        if (log_now(h, &h->append_errors, &more))
            sim_warn("redis history: append failed: %s%s", reply->str, more_text(more));
    }
}

static void on_drained(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    sim_history *h = w->data;
    void (*done)(void *) = h->drained;
    h->drained = NULL;
    if (done) done(h->drained_ctx);
}

void sim_history_drain(sim_history *h, void (*done)(void *ctx), void *ctx) {
    ev_timer_stop(h->loop, &h->drain_timer);
    h->drained = done;
    h->drained_ctx = ctx;
    if (!done) return;
    if (h->sent_count) {
        sim_info("redis history: %zu appends still waiting for Redis", h->sent_count);
        return;
    }
    h->drained = NULL;
    done(ctx);
}

void sim_history_append(sim_history *h, const char *thread_id, const char *const *json,
                        size_t n) {
    stagesim_breaker_permit p;
    if (!h->connected || !h->ac || !permit(h, &p)) {
        if (h->connected && h->ac) h->failures++;   /* refused by the breaker */
        else failed_without_connection(h);
        uint64_t more;
        if (log_now(h, &h->not_stored, &more))
            sim_warn("redis history: unavailable (%s); messages for thread %s not stored%s",
                     unavailable(h), thread_id, more_text(more));
        return;
    }
    /* RESP made here rather than by hiredis's printf-like formatter: one
     * per completed run on the golden path, all its messages in one RPUSH. */
    sim_buf *c = &h->cmd;
    c->len = 0;
    size_t tl = strlen(thread_id);
    sim_buf_append(c, "*", 1);
    sim_buf_u64(c, 2 + n);
    sim_buf_puts(c, "\r\n$5\r\nRPUSH\r\n$");
    sim_buf_u64(c, tl + sizeof("thread::messages") - 1);
    sim_buf_puts(c, "\r\nthread:");
    sim_buf_append(c, thread_id, tl);
    sim_buf_puts(c, ":messages\r\n");
    for (size_t i = 0; i < n; i++) {
        size_t jl = strlen(json[i]);
        sim_buf_append(c, "$", 1);
        sim_buf_u64(c, jl);
        sim_buf_puts(c, "\r\n");
        sim_buf_append(c, json[i], jl);
        sim_buf_puts(c, "\r\n");
    }
    int rc = redisAsyncFormattedCommand(h->ac, on_append, NULL, c->data, c->len);
    if (c->cap > 65536) sim_buf_free(c);   /* an odd huge one is not kept */
    if (rc == REDIS_OK) {
        sent_push(h, &p);
    } else {
        h->failures++;
        outcome(h, &p, 0, now_ms(h));
    }
}

typedef struct read_req {
    sim_history_cb cb;
    void *ctx;
} read_req;

static void on_read(redisAsyncContext *ac, void *r, void *privdata) {
    sim_history *h = ac->data;
    read_req *rq = privdata;
    redisReply *reply = r;
    sent_pop(h, reply != NULL, reply && reply->type != REDIS_REPLY_ERROR);
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
    stagesim_breaker_permit p;
    if (!h->connected || !h->ac || !permit(h, &p)) {
        if (!h->connected || !h->ac) failed_without_connection(h);
        cb(ctx, NULL, unavailable(h));
        return;
    }
    read_req *rq = sim_xmalloc(sizeof(*rq));
    rq->cb = cb;
    rq->ctx = ctx;
    if (redisAsyncCommand(h->ac, on_read, rq, "LRANGE thread:%s:messages 0 -1", thread_id) != REDIS_OK) {
        free(rq);
        outcome(h, &p, 0, now_ms(h));
        cb(ctx, NULL, "Redis command failed");
        return;
    }
    sent_push(h, &p);
}
