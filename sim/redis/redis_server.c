/* redis_server.c -- libev glue of the Redis impersonation: accept, read a
 * batch, parse, dispatch, and write every reply of the batch with one send
 * from an ev_prepare (Redis's beforeSleep), then busy-poll 50 us before
 * sleeping (see spin_arm). EV_WRITE only after EAGAIN;
 * reading pauses while a client's unsent output is over a limit. Fault
 * actions are applied here, at accept, per command and at close. */
#include <stddef.h>

#include "redis_server.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fault.h"
#include "redis_core.h"
#include "redis_table.h"
#include "resp.h"
#include "listener.h"
#include "sock.h"
#include "util.h"

#define PAUSE_READ_BYTES (4 * 1024 * 1024)   /* unsent output that stops reading */
#define SPIN_SECONDS 0.00005               /* busy-poll window after input */
#define COMPACT_BYTES (1024 * 1024)          /* sent output dropped from the buffer's front */

typedef struct conn {
    sim_redis_client rc;          /* first: the core hands us &rc */
    sim_redis_server *srv;
    int fd;
    ev_io rio, wio;
    ev_timer delay;
    sim_resp_parser *parser;
    size_t sent;                  /* bytes of rc.out already written */
    uint64_t ordinal, nmsg;
    unsigned closing : 1;         /* close once output is flushed */
    unsigned dead : 1;            /* closed, freed in the next prepare */
    unsigned hang : 1;            /* read and discard, never answer */
    unsigned held : 1;            /* fault delay: output and input on hold */
    unsigned reading : 1;
    unsigned writing : 1;
    unsigned pending : 1;
    unsigned kill : 1;            /* CLIENT KILL: close without flushing */
    unsigned outpaused : 1;       /* parsed input left waiting for output to drain */
    size_t partial_at;            /* >0: close after this many bytes of output */
    struct conn *pnext;           /* pending list */
    struct conn *dnext;           /* dead list */
} conn;

struct sim_redis_server {
    struct ev_loop *loop;
    sim_faults *faults;
    const sim_clock *clock;
    sim_redis_core *core;
    char bind[64];
    sim_listener *listener;
    int port;
    ev_prepare prep;
    ev_idle spin;                 /* keeps the poll non-blocking just after traffic */
    ev_tstamp last_rx;            /* loop time of the last read that brought bytes */
    ev_timer cron, resume;
    conn *pending, *dead;
    uint64_t next_ordinal;
};

static int64_t now_ms(sim_redis_server *srv) {
    return sim_clock_now_ms(srv->clock, ev_now(srv->loop));
}

static void cross(sim_redis_server *srv, conn *c, sim_wire_point pt, const char *name,
                  const char *key, sim_action *act) {
    sim_wire w = {.service = SIM_SVC_REDIS, .point = pt, .proto = "resp", .name = name,
                  .key = key, .conn = c ? c->ordinal : 0, .msg = c ? c->nmsg : 0};
    sim_faults_cross(srv->faults, &w, now_ms(srv), act);
}

static void mark_pending(conn *c) {
    if (c->pending || c->dead)
        return;
    c->pending = 1;
    c->pnext = c->srv->pending;
    c->srv->pending = c;
}

/* Closes the socket and detaches from the core at once (no more messages
 * reach it); the memory goes in the next prepare, never inside a callback
 * that may still hold c. */
static void conn_close(conn *c) {
    if (c->dead)
        return;
    sim_redis_server *srv = c->srv;
    sim_action act;
    cross(srv, c, SIM_WIRE_CLOSE, "close", NULL, &act);
    ev_io_stop(srv->loop, &c->rio);
    ev_io_stop(srv->loop, &c->wio);
    ev_timer_stop(srv->loop, &c->delay);
    close(c->fd);
    c->fd = -1;
    sim_redis_client_fini(&c->rc);
    c->dead = 1;
    c->dnext = srv->dead;
    srv->dead = c;
}

static void conn_free(conn *c) {
    sim_resp_parser_free(c->parser);
    free(c);
}

static void set_reading(conn *c, int on) {
    if (c->dead || c->reading == on)
        return;
    c->reading = (unsigned)on;
    if (on)
        ev_io_start(c->srv->loop, &c->rio);
    else
        ev_io_stop(c->srv->loop, &c->rio);
}

/* Enforces the output buffer limits: pub/sub subscribers and (when set)
 * normal clients are disconnected over the hard limit, as Redis does. */
static int over_limit(conn *c) {
    sim_redis_config *cfg = sim_redis_core_config(c->srv->core);
    size_t unsent = c->rc.out.len - c->sent;
    long long lim = (c->rc.flags & SIM_RC_PUBSUB) ? cfg->out_limit_pubsub : cfg->out_limit_normal;
    return lim > 0 && (long long)unsent > lim;
}

/* Runs parsed commands until input runs out or the client must wait. */
static void process_input(conn *c) {
    sim_redis_server *srv = c->srv;
    int64_t now = now_ms(srv);
    while (!c->dead && !c->closing && !c->held && !c->hang && !(c->rc.flags & SIM_RC_BLOCKED)) {
        if (c->rc.out.len - c->sent > PAUSE_READ_BYTES) {
            /* a slow reader: stop here, even inside one read's worth of
             * pipelined commands; flush_out resumes once it drained */
            set_reading(c, 0);
            c->outpaused = 1;
            break;
        }
        sim_resp_cmd cmd;
        int rc = sim_resp_next(c->parser, &cmd);
        if (rc == SIM_RESP_MORE)
            break;
        if (rc == SIM_RESP_ERROR) {
            sim_resp_errorf(&c->rc.out, "ERR %s", sim_resp_error(c->parser));
            c->closing = 1;
            break;
        }
        c->nmsg++;
        const char *key = NULL;
        const sim_redis_command *rcmd = sim_redis_lookup(srv->core, cmd.argv[0], cmd.argvlen[0]);
        const char *name = sim_redis_command_info(rcmd, cmd.argc, cmd.argv, &key);
        sim_action act;
        cross(srv, c, SIM_WIRE_REQUEST, name ? name : "unknown", key, &act);
        size_t mark = c->rc.out.len;
        switch (act.kind) {
        case SIM_ACT_REPLY:
            sim_resp_error_reply(&c->rc.out, act.text ? act.text : "ERR injected fault");
            continue;
        case SIM_ACT_DROP:
            continue;
        case SIM_ACT_HANG:
            c->hang = 1;
            continue;
        case SIM_ACT_CLOSE:
        case SIM_ACT_ABORT:
            c->closing = 1;
            c->kill = act.kind == SIM_ACT_ABORT;
            continue;
        default:
            break;
        }
        sim_redis_dispatch_cmd(&c->rc, rcmd, cmd.argc, cmd.argv, cmd.argvlen, now);
        if (c->rc.flags & SIM_RC_CLOSE_AFTER_REPLY)
            c->closing = 1;
        if (act.kind == SIM_ACT_PARTIAL) {
            size_t n = c->rc.out.len - mark;
            c->partial_at = mark + (n > 1 ? n / 2 : n);
            c->closing = 1;
        } else if (act.kind == SIM_ACT_DELAY && act.delay_ms) {
            c->held = 1;
            ev_timer_set(&c->delay, sim_clock_wait_s(srv->clock, act.delay_ms), 0);
            ev_timer_start(srv->loop, &c->delay);
        }
    }
    if (c->rc.out.len > c->sent || c->closing)
        mark_pending(c);
}

/* Redis has a CPU of its own and reads 16 KiB per event; here the backend's
 * history writer pipelines ~13 MB/s into a loop whose iterations last 20 ms
 * at 1000 WebSocket connections at gap 0. Its socket's receive buffer stayed
 * at Linux's initial 128 KiB (tcp_rmem; it grows only for a reader that
 * keeps up): 105 KB an iteration, 5 MB/s. Four megabytes queued in the
 * writer's send buffer and in hiredis, the oldest append waited 2 s and the
 * history cut Redis off as silent (bench/RESULTS.md §11). So the receive
 * buffer is asked for 4 MiB (a cap, not an allocation; rmem_max caps it),
 * and one readable event reads what is there, up to READ_BUDGET, which
 * keeps one flooding client from holding the loop for more than a few
 * milliseconds. */
#define RCVBUF_BYTES (4 << 20)
#define READ_BUDGET (4u << 20)

/* Busy-poll for SPIN_SECONDS after a read brought bytes: while the idle
 * watcher is active libev polls with a zero timeout instead of sleeping.
 * Why: on loopback the client's send pays for waking a server asleep in
 * epoll_wait (sock_def_readable -> a cross-CPU wakeup, 23 % of
 * redis-benchmark's CPU against us, 3 % against redis-server, which is
 * slow enough never to be asleep). The client, not the server, was the
 * bottleneck. Costs at most SPIN_SECONDS of CPU per burst of traffic;
 * an idle server sleeps as before. Real time on purpose: this is about the
 * CPU, not a duration the simulation owns. */
static void spin_arm(sim_redis_server *srv) {
    srv->last_rx = ev_now(srv->loop);
    if (!ev_is_active(&srv->spin))
        ev_idle_start(srv->loop, &srv->spin);
}

static void on_spin(struct ev_loop *loop, ev_idle *w, int revents) {
    (void)revents;
    sim_redis_server *srv = w->data;
    if (ev_now(loop) - srv->last_rx > SPIN_SECONDS)
        ev_idle_stop(loop, w);
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    conn *c = w->data;
    if (c->hang) {
        /* read and discard: the client must not see a full window */
        char buf[4096];
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            conn_close(c);
        return;
    }
    for (size_t got = 0; got < READ_BUDGET;) {
        /* straight into the parser's buffer: no copy */
        size_t avail;
        char *space = sim_resp_space(c->parser, &avail);
        ssize_t n = read(c->fd, space, avail);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_close(c);
            return;
        }
        if (n < 0)
            return;
        sim_redis_stats *st = sim_redis_core_stats(c->srv->core);
        st->net_input_bytes += (uint64_t)n;
        got += (size_t)n;
        spin_arm(c->srv);
        if (sim_resp_commit(c->parser, (size_t)n) == SIM_RESP_OVERFLOW) {
            sim_warn("redis: client %llu closed: query buffer over limit",
                     (unsigned long long)c->rc.id);
            conn_close(c);
            return;
        }
        process_input(c);
        if ((size_t)n < avail || c->dead || c->closing || c->held || c->hang || !c->reading ||
            (c->rc.flags & SIM_RC_BLOCKED))
            return;
    }
}

/* Writes what is unsent. Returns -1 when the connection was closed. */
static int flush_out(conn *c) {
    sim_buf *o = &c->rc.out;
    size_t end = c->partial_at ? c->partial_at : o->len;
    while (c->sent < end) {
        ssize_t n = send(c->fd, o->data + c->sent, end - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                if (!c->writing) {
                    c->writing = 1;
                    ev_io_start(c->srv->loop, &c->wio);
                }
                set_reading(c, (o->len - c->sent) < PAUSE_READ_BYTES);
                if (c->sent >= COMPACT_BYTES) {
                    /* drop what was sent so a long stream to a slow reader
                     * does not grow the buffer without end */
                    sim_buf_consume(o, c->sent);
                    if (c->partial_at)
                        c->partial_at -= c->sent;
                    c->sent = 0;
                }
                return 0;
            }
            conn_close(c);
            return -1;
        }
        c->sent += (size_t)n;
        sim_redis_core_stats(c->srv->core)->net_output_bytes += (uint64_t)n;
    }
    if (c->writing) {
        c->writing = 0;
        ev_io_stop(c->srv->loop, &c->wio);
    }
    if (c->partial_at || c->closing) {
        conn_close(c);
        return -1;
    }
    o->len = 0;
    c->sent = 0;
    if (o->cap > 1024 * 1024) {
        sim_buf_free(o);
    }
    set_reading(c, 1);
    if (c->outpaused) {
        /* run the input that waited (in the next round of on_prepare) */
        c->outpaused = 0;
        mark_pending(c);
    }
    return 0;
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    conn *c = w->data;
    if (flush_out(c) == 0 && !c->dead && c->reading)
        process_input(c);
}

static void on_delay(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)revents;
    conn *c = w->data;
    c->held = 0;
    mark_pending(c);
}

/* Before the loop sleeps: resume unblocked clients, write every pending
 * output with one send each, free closed connections. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents) {
    (void)loop;
    (void)revents;
    sim_redis_server *srv = w->data;
    while (srv->pending) {
        conn *c = srv->pending;
        srv->pending = c->pnext;
        c->pending = 0;
        if (c->dead)
            continue;
        if (c->kill) {
            conn_close(c);
            continue;
        }
        if (!c->held && !(c->rc.flags & SIM_RC_BLOCKED) && !c->closing && sim_resp_pending(c->parser))
            process_input(c);   /* input that waited behind BLPOP or a delay */
        if (c->pending) {
            /* process_input re-queued it: take it off again, we write now */
            conn **pp = &srv->pending;
            while (*pp != c)
                pp = &(*pp)->pnext;
            *pp = c->pnext;
            c->pending = 0;
        }
        if (c->dead || c->held || c->hang)
            continue;
        if (over_limit(c)) {
            sim_warn("redis: client %llu closed: output buffer over limit",
                     (unsigned long long)c->rc.id);
            conn_close(c);
            continue;
        }
        flush_out(c);
    }
    while (srv->dead) {
        conn *c = srv->dead;
        srv->dead = c->dnext;
        conn_free(c);
    }
}

static void hook_wake(sim_redis_client *rc, void *ud) {
    (void)ud;
    mark_pending((conn *)rc);
}

static void hook_kill(sim_redis_client *rc, void *ud) {
    (void)ud;
    conn *c = (conn *)rc;
    c->kill = 1;
    mark_pending(c);
}

static int hook_drop(sim_redis_client *rc, const char *channel, void *ud) {
    sim_redis_server *srv = ud;
    conn *c = (conn *)rc;
    sim_action act;
    c->nmsg++;
    cross(srv, c, SIM_WIRE_SEND, "message", channel, &act);
    return act.kind == SIM_ACT_DROP;
}

/* REFUSE closes the listener for a while: defined below. */
static void pause_listening(sim_redis_server *srv, uint32_t ms);

/* Redis's answer to a client it cannot take (over maxclients, or no
 * descriptor left). */
static void refuse(void *ctx, int fd) {
    sim_redis_server *srv = ctx;
    static const char msg[] = "-ERR max number of clients reached\r\n";
    (void)!send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    sim_redis_core_stats(srv->core)->rejected_connections++;
}

/* "host:port" of a socket address, IPv4 or IPv6. */
static void addr_text(const struct sockaddr_storage *ss, char *out, size_t outlen) {
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
    }
    snprintf(out, outlen, "%s:%d", host, port);
}

static void accept_one(void *ctx, int fd) {
    sim_redis_server *srv = ctx;
    sim_redis_stats *st = sim_redis_core_stats(srv->core);
    sim_redis_config *cfg = sim_redis_core_config(srv->core);
    st->connections_received++;
    if ((long long)sim_redis_client_count(srv->core) >= cfg->maxclients) {
        refuse(srv, fd);
        close(fd);
        return;
    }
    sim_sock_nodelay(fd);
    int rcvbuf = RCVBUF_BYTES;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    conn *c = sim_xcalloc(1, sizeof(*c));
    c->srv = srv;
    c->fd = fd;
    c->ordinal = ++srv->next_ordinal;
    sim_redis_client_init(srv->core, &c->rc, now_ms(srv));
    c->rc.fd = fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    getpeername(fd, (struct sockaddr *)&ss, &sl);
    addr_text(&ss, c->rc.addr, sizeof(c->rc.addr));
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    addr_text(&ss, c->rc.laddr, sizeof(c->rc.laddr));
    sim_resp_limits lim;
    sim_resp_limits_default(&lim);
    lim.max_bulk = cfg->proto_max_bulk_len;
    lim.max_query = (size_t)cfg->client_query_buffer_limit;
    c->parser = sim_resp_parser_new(&lim);
    ev_io_init(&c->rio, on_read, fd, EV_READ);
    ev_io_init(&c->wio, on_write, fd, EV_WRITE);
    ev_timer_init(&c->delay, on_delay, 0, 0);
    c->rio.data = c->wio.data = c->delay.data = c;
    sim_action act;
    cross(srv, c, SIM_WIRE_ACCEPT, "accept", NULL, &act);
    if (act.kind == SIM_ACT_DROP || act.kind == SIM_ACT_ABORT || act.kind == SIM_ACT_CLOSE) {
        conn_close(c);
        return;
    }
    if (act.kind == SIM_ACT_REFUSE) {
        conn_close(c);
        pause_listening(srv, act.delay_ms ? act.delay_ms : 1000);
        return;
    }
    if (act.kind == SIM_ACT_HANG)
        c->hang = 1;
    set_reading(c, 1);
}

static void on_cron(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)revents;
    sim_redis_server *srv = w->data;
    sim_redis_core_cron(srv->core, now_ms(srv));
}

/* ---- REFUSE at accept: the listener closes, clients get connection
 * refused, and it listens again on the same port after the rule's delay ---- */

static void on_resume(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)revents;
    sim_redis_server *srv = w->data;
    char err[128];
    if (sim_listener_reopen(srv->listener, err, sizeof(err)) < 0)
        sim_warn("%s", err);
}

/* Existing connections stay. */
static void pause_listening(sim_redis_server *srv, uint32_t ms) {
    if (ev_is_active(&srv->resume))
        return;
    sim_listener_close(srv->listener);
    ev_timer_init(&srv->resume, on_resume, sim_clock_wait_s(srv->clock, ms), 0);
    srv->resume.data = srv;
    ev_timer_start(srv->loop, &srv->resume);
}

/* ---- life cycle (docs/lifecycle.md): the process dies and comes back ---- */

void sim_redis_server_crash(sim_redis_server *srv) {
    ev_timer_stop(srv->loop, &srv->resume);
    sim_listener_close(srv->listener);
    /* Every client goes at once, as with a killed process: no reply, no
     * error, the socket just closes. */
    sim_redis_client *rc;
    while ((rc = sim_redis_core_first_client(srv->core)))
        conn_close((conn *)rc);
}

int sim_redis_server_restart(sim_redis_server *srv, int keep_data, char *err, size_t errlen) {
    if (!keep_data) {
        sim_redis_core *core = srv->core;
        for (int i = 0; i < SIM_REDIS_DBS; i++) sim_keyspace_flushdb(&core->ks, i);
        redis_signal_flushed_db(core, -1);
    }
    return sim_listener_reopen(srv->listener, err, errlen);
}

sim_redis_server *sim_redis_server_start(struct ev_loop *loop, const sim_redis_server_config *cfg,
                                         char *err, size_t errlen) {
    sim_redis_server *srv = sim_xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    srv->faults = cfg->faults;
    srv->clock = cfg->clock;
    snprintf(srv->bind, sizeof(srv->bind), "%s", cfg->bind ? cfg->bind : "127.0.0.1");
    sim_listener_config lc = {.who = "redis", .bind = srv->bind, .port = cfg->port, .backlog = 511,
                              .on_accept = accept_one, .on_refuse = refuse, .ctx = srv};
    srv->listener = sim_listener_start(loop, &lc, err, errlen);
    if (!srv->listener) {
        free(srv);
        return NULL;
    }
    srv->port = sim_listener_port(srv->listener);
    sim_redis_hooks hooks = {hook_wake, hook_kill, hook_drop, srv};
    srv->core = sim_redis_core_new(0x5eed, &hooks, now_ms(srv));
    sim_redis_core_config(srv->core)->port = srv->port;
    if (cfg->maxclients) sim_redis_core_config(srv->core)->maxclients = cfg->maxclients;
    ev_prepare_init(&srv->prep, on_prepare);
    srv->prep.data = srv;
    ev_prepare_start(loop, &srv->prep);
    ev_idle_init(&srv->spin, on_spin);
    srv->spin.data = srv;
    ev_timer_init(&srv->cron, on_cron, 0.1, 0.1);
    srv->cron.data = srv;
    ev_timer_start(loop, &srv->cron);
    return srv;
}

int sim_redis_server_port(const sim_redis_server *srv) { return srv->port; }

void sim_redis_server_stop(sim_redis_server *srv) {
    if (!srv)
        return;
    struct ev_loop *loop = srv->loop;
    sim_listener_free(srv->listener);
    ev_prepare_stop(loop, &srv->prep);
    ev_idle_stop(loop, &srv->spin);
    ev_timer_stop(loop, &srv->cron);
    ev_timer_stop(loop, &srv->resume);
    /* Every client: close and free now (we are not inside their callbacks). */
    while (sim_redis_client_count(srv->core)) {
        conn_close((conn *)sim_redis_core_first_client(srv->core));
    }
    while (srv->dead) {
        conn *c = srv->dead;
        srv->dead = c->dnext;
        conn_free(c);
    }
    sim_redis_core_free(srv->core);
    free(srv);
}
