/* ws_load: a WebSocket load client for stagesim's golden path (bench only, libc + epoll).
 * N connections on one epoll loop; each sends `user_message`, reads the five run events up to
 * agent_completed, and repeats; reports runs/s, events/s, errors and run latency percentiles. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ws_accept.h"

#define MAX_MSG (16u << 20) /* a server message larger than this is a protocol error */
#define READ_CHUNK 65536

enum state {
    ST_IDLE,       /* not started yet */
    ST_CONNECTING, /* non-blocking connect in progress */
    ST_UPGRADING,  /* upgrade request sent, waiting for 101 */
    ST_WELCOME,    /* upgraded, waiting for connection_established */
    ST_READY,      /* welcomed, waiting for the run phase */
    ST_RUN,        /* a user_message is out, reading its events */
    ST_CLOSING,    /* our close frame is out, waiting for the server's close / EOF */
    ST_DONE,       /* closed cleanly */
    ST_FAILED      /* closed on an error */
};

typedef struct {
    int fd, idx;
    enum state st;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_off, out_cap;
    char *msg; /* message being reassembled from fragments */
    size_t msg_len, msg_cap;
    int in_msg, msg_op, writing;
    int runs_done, ev_in_run, run_bad, sent_close;
    int abandoned; /* closed with its run in flight (--inflight-hold): late events are not errors */
    double run_t0;
    double ev_t_prev; /* --timing: arrival of the run's previous event */
    char accept[32]; /* expected Sec-WebSocket-Accept */
} conn;

static const char *golden[5] = {"agent_started", "agent_thinking", "tool_executing",
                                "tool_completed", "agent_completed"};

static struct {
    const char *host, *path, *token;
    int port, conns, runs, batch;
    double duration, hold, timeout;
    int quiet, quickack;
    int timing, inflight;        /* --target-delay/--target-gap given; --inflight(-hold) given */
    double target_delay, target_gap, stagger, inflight_hold; /* ms, ms, ms, s */
} opt = {"127.0.0.1", "/ws", NULL, 0, 100, 10, 200, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0};

static struct {
    long runs, runs_ok, events, errors, seq_errors, event_errors, unexpected_close, conn_failed;
    long clean_close, pings;
    int close_codes[16][2];
    int n_close_codes;
    double *lat;
    size_t n_lat, cap_lat;
    double t_start, t_last;
    char first_error[256];
} st;

/* --timing: each event's error against its target, in seconds (see record_timing) */
typedef struct {
    double *v;
    size_t n, cap;
} samples;
static samples err_first, err_gap, err_abs;
static double t_read; /* --timing: when the bytes being parsed were read */

static int ep;
static conn *cs;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static int in_handshake;     /* connections between connect() and welcome */
static int next_to_open;     /* index of the next connection to open */
static int running_phase;    /* 1 once runs have started */
static double run_deadline;  /* duration mode: no new run after this */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "ws_load: out of memory\n");
        exit(3);
    }
    return q;
}

static void sample_add(samples *s, double v) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = xrealloc(s->v, s->cap * sizeof(double));
    }
    s->v[s->n++] = v;
}

/* --timing: event i of a run arrived at t_read. Its target is target_delay + i * target_gap after
 * the user_message was sent (stagesim's schedule: the first event at once, each later one a gap
 * after the one before, a ws.send delay on top of each). Records the error against that absolute
 * target, and the error of the gap since the previous event (i >= 1) or of the first event's
 * delay after the message (i == 0). Positive: late. */
static void record_timing(conn *c, int i) {
    double t = t_read;
    sample_add(&err_abs, t - c->run_t0 - (opt.target_delay + i * opt.target_gap) / 1000.0);
    if (i == 0) sample_add(&err_first, t - c->run_t0 - opt.target_delay / 1000.0);
    else sample_add(&err_gap, t - c->ev_t_prev - opt.target_gap / 1000.0);
    c->ev_t_prev = t;
}

static void note_error(conn *c, const char *fmt, ...) {
    st.errors++;
    if (st.first_error[0]) return;
    char buf[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    snprintf(st.first_error, sizeof(st.first_error), "conn %d: %s", c ? c->idx : -1, buf);
}

/* ---- output ---- */

static void set_writing(conn *c, int on) {
    if (c->writing == on) return;
    struct epoll_event e = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->writing = on;
}

static void conn_fail(conn *c);

/* Writes as much of the output buffer as the socket takes; watches EPOLLOUT for the rest. */
static void flush_out(conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_writing(c, 1);
            return;
        } else {
            note_error(c, "send: %s", strerror(errno));
            conn_fail(c);
            return;
        }
    }
    c->out_off = c->out_len = 0;
    set_writing(c, 0);
}

static void out_append(conn *c, const void *p, size_t n) {
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2;
        c->out = xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* Queues one masked frame (clients must mask, RFC 6455 §5.3) and flushes. */
static void send_frame(conn *c, int op, const char *payload, size_t len) {
    unsigned char h[14];
    size_t hl = 0;
    h[hl++] = (unsigned char)(0x80 | op);
    if (len < 126) {
        h[hl++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (unsigned char)(len >> 8);
        h[hl++] = (unsigned char)len;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) h[hl++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    uint32_t mk = (uint32_t)rnd();
    unsigned char mask[4] = {(unsigned char)mk, (unsigned char)(mk >> 8), (unsigned char)(mk >> 16),
                             (unsigned char)(mk >> 24)};
    memcpy(h + hl, mask, 4);
    hl += 4;
    out_append(c, h, hl);
    size_t base = c->out_len;
    out_append(c, payload, len);
    for (size_t i = 0; i < len; i++) c->out[base + i] ^= mask[i & 3];
    flush_out(c);
}

static void send_close(conn *c, int code) {
    if (c->sent_close) return;
    char p[2] = {(char)(code >> 8), (char)code};
    c->sent_close = 1;
    send_frame(c, 0x8, p, 2);
}

/* ---- connection life ---- */

static void conn_release(conn *c) {
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (c->st == ST_CONNECTING || c->st == ST_UPGRADING || c->st == ST_WELCOME) in_handshake--;
}

static void conn_fail(conn *c) {
    if (c->st == ST_DONE || c->st == ST_FAILED) return;
    if (c->st <= ST_WELCOME) st.conn_failed++;
    conn_release(c);
    c->st = ST_FAILED;
}

static void conn_open(conn *c) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1) {
        fprintf(stderr, "ws_load: bad host %s (IPv4 address expected)\n", opt.host);
        exit(2);
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->st = ST_CONNECTING;
    in_handshake++;
    if (c->fd < 0) {
        note_error(c, "socket: %s", strerror(errno));
        conn_fail(c);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        note_error(c, "connect: %s", strerror(errno));
        conn_fail(c);
        return;
    }
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    c->writing = 1;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}

static void send_upgrade(conn *c) {
    unsigned char raw[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = rnd();
        memcpy(raw + i, &r, 8);
    }
    char key[32], req[1024];
    ws_b64(raw, 16, key);
    ws_accept(key, strlen(key), c->accept);
    int n = snprintf(req, sizeof(req),
                     "GET %s%s%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     opt.path, opt.token ? "?token=" : "", opt.token ? opt.token : "", opt.host,
                     opt.port, key);
    c->st = ST_UPGRADING;
    out_append(c, req, (size_t)n);
    flush_out(c);
}

static void start_run(conn *c) {
    char m[256];
    int n = snprintf(m, sizeof(m),
                     "{\"type\":\"user_message\",\"message\":\"bench prompt %d %d\","
                     "\"thread_id\":\"bench-%d\"}",
                     c->idx, c->runs_done, c->idx);
    c->st = ST_RUN;
    c->ev_in_run = 0;
    c->run_bad = 0;
    c->run_t0 = now_s();
    send_frame(c, 0x1, m, (size_t)n);
}

static void finish_conn(conn *c) {
    c->st = ST_CLOSING;
    send_close(c, 1000);
}

static void run_finished(conn *c, int ok) {
    double t = now_s();
    st.runs++;
    if (ok) st.runs_ok++;
    if (st.n_lat == st.cap_lat) {
        st.cap_lat = st.cap_lat ? st.cap_lat * 2 : 4096;
        st.lat = xrealloc(st.lat, st.cap_lat * sizeof(double));
    }
    st.lat[st.n_lat++] = t - c->run_t0;
    st.t_last = t;
    c->runs_done++;
    int more = opt.duration > 0 ? t < run_deadline : c->runs_done < opt.runs;
    if (more) start_run(c);
    else finish_conn(c);
}

static void note_close_code(int code) {
    for (int i = 0; i < st.n_close_codes; i++)
        if (st.close_codes[i][0] == code) {
            st.close_codes[i][1]++;
            return;
        }
    if (st.n_close_codes < 16) {
        st.close_codes[st.n_close_codes][0] = code;
        st.close_codes[st.n_close_codes++][1] = 1;
    }
}

/* Extracts the value of the first "type" key (server messages put it first). */
static int msg_type(const char *m, size_t len, char *out, size_t outlen) {
    const char *p = memmem(m, len, "\"type\":", 7);
    if (!p) return -1;
    p += 7;
    const char *end = m + len;
    while (p < end && *p == ' ') p++;
    if (p >= end || *p != '"') return -1;
    p++;
    size_t i = 0;
    while (p < end && *p != '"' && i + 1 < outlen) out[i++] = *p++;
    out[i] = '\0';
    return 0;
}

static void on_message(conn *c, const char *m, size_t len) {
    char type[64];
    if (msg_type(m, len, type, sizeof(type)) < 0) {
        note_error(c, "message without type: %.80s", m);
        return;
    }
    if (c->st == ST_WELCOME) {
        if (strcmp(type, "connection_established") && strcmp(type, "system_message")) {
            note_error(c, "expected welcome, got %s: %.120s", type, m);
            conn_fail(c);
            return;
        }
        c->st = ST_READY;
        in_handshake--;
        if (running_phase) start_run(c);
        return;
    }
    for (int i = 0; i < 5; i++) {
        if (strcmp(type, golden[i])) continue;
        st.events++;
        if (c->st != ST_RUN) {
            if (c->abandoned) return; /* we closed in mid-run: the rest of the run may still come */
            st.seq_errors++;
            note_error(c, "event %s outside a run", type);
            return;
        }
        if (i != c->ev_in_run) {
            st.seq_errors++;
            c->run_bad = 1;
            note_error(c, "event %s at position %d", type, c->ev_in_run);
        } else if (opt.timing) {
            record_timing(c, i);
        }
        c->ev_in_run++;
        if (i == 4) run_finished(c, !c->run_bad && c->ev_in_run == 5);
        return;
    }
    if (!strcmp(type, "agent_error") || !strcmp(type, "agent_death") ||
        !strcmp(type, "error_message")) {
        st.event_errors++;
        note_error(c, "%.160s", m);
        if (c->st == ST_RUN && strcmp(type, "error_message")) run_finished(c, 0);
    }
    /* pong, ack, heartbeat and the like: not part of a run */
}

/* Parses every complete frame in the input buffer. Returns -1 when the connection ended. */
static int parse_frames(conn *c) {
    size_t off = 0;
    while (c->in_len - off >= 2) {
        unsigned char *p = (unsigned char *)c->in + off;
        size_t avail = c->in_len - off;
        int fin = p[0] & 0x80, op = p[0] & 0x0f, masked = p[1] & 0x80;
        uint64_t len = p[1] & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = (uint64_t)p[2] << 8 | p[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
            hl = 10;
        }
        if (len > MAX_MSG) {
            note_error(c, "frame of %llu bytes", (unsigned long long)len);
            conn_fail(c);
            return -1;
        }
        if (masked) hl += 4;
        if (avail < hl + len) break;
        unsigned char *pl = p + hl;
        if (masked) /* servers must not mask; tolerate it anyway */
            for (uint64_t i = 0; i < len; i++) pl[i] ^= p[hl - 4 + (i & 3)];
        off += hl + (size_t)len;
        if (op == 0x8) { /* close */
            int code = len >= 2 ? pl[0] << 8 | pl[1] : 1005;
            note_close_code(code);
            if (c->st == ST_CLOSING) {
                st.clean_close++;
            } else {
                st.unexpected_close++;
                note_error(c, "server closed with %d %.*s in state %d", code,
                           len > 2 ? (int)len - 2 : 0, (char *)pl + 2, c->st);
                send_close(c, code == 1005 ? 1000 : code);
            }
            conn_release(c);
            c->st = c->st == ST_CLOSING ? ST_DONE : ST_FAILED;
            return -1;
        } else if (op == 0x9) { /* ping */
            st.pings++;
            send_frame(c, 0xA, (char *)pl, (size_t)len);
        } else if (op == 0xA) { /* pong */
        } else if (op == 0x0 || op == 0x1 || op == 0x2) {
            if (op != 0 && c->in_msg) {
                note_error(c, "new message inside a fragmented one");
                conn_fail(c);
                return -1;
            }
            if (op == 0 && !c->in_msg) {
                note_error(c, "continuation without a message");
                conn_fail(c);
                return -1;
            }
            if (op != 0) {
                c->in_msg = 1;
                c->msg_op = op;
                c->msg_len = 0;
            }
            if (c->msg_len + len + 1 > c->msg_cap) {
                c->msg_cap = (c->msg_len + (size_t)len + 1) * 2;
                c->msg = xrealloc(c->msg, c->msg_cap);
            }
            memcpy(c->msg + c->msg_len, pl, (size_t)len);
            c->msg_len += (size_t)len;
            if (fin) {
                c->in_msg = 0;
                c->msg[c->msg_len] = '\0';
                on_message(c, c->msg, c->msg_len);
                if (c->fd < 0) return -1;
            }
        } else {
            note_error(c, "unknown opcode %d", op);
            conn_fail(c);
            return -1;
        }
        if (c->fd < 0) return -1;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return 0;
}

/* Checks the 101 response once its header is complete; leftover bytes are frames. */
static int parse_upgrade(conn *c) {
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->in_len > 16384) {
            note_error(c, "upgrade response header too long");
            conn_fail(c);
            return -1;
        }
        return 0;
    }
    size_t hlen = (size_t)(end - c->in) + 4;
    *end = '\0';
    if (strncmp(c->in, "HTTP/1.1 101", 12)) {
        note_error(c, "upgrade refused: %.60s", c->in);
        conn_fail(c);
        return -1;
    }
    char *a = strcasestr(c->in, "\r\nSec-WebSocket-Accept:");
    if (a) {
        a += 23;
        while (*a == ' ') a++;
    }
    if (!a || strncmp(a, c->accept, strlen(c->accept))) {
        note_error(c, "bad or missing Sec-WebSocket-Accept");
        conn_fail(c);
        return -1;
    }
    memmove(c->in, c->in + hlen, c->in_len - hlen);
    c->in_len -= hlen;
    c->st = ST_WELCOME;
    return 1;
}

static void on_readable(conn *c) {
    for (;;) {
        if (c->in_cap - c->in_len < READ_CHUNK) {
            c->in_cap = c->in_len + READ_CHUNK * 2;
            c->in = xrealloc(c->in, c->in_cap);
        }
        size_t space = c->in_cap - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, space, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
            if (c->st == ST_CLOSING) {
                st.clean_close++; /* server closed TCP after (or instead of) its close frame */
                conn_release(c);
                c->st = ST_DONE;
            } else {
                if (n == 0) note_error(c, "EOF in state %d", c->st);
                else note_error(c, "recv: %s", strerror(errno));
                if (c->st == ST_RUN || c->st == ST_READY) st.unexpected_close++;
                conn_fail(c);
            }
            return;
        }
        c->in_len += (size_t)n;
        if (opt.timing) t_read = now_s();
        if (opt.quickack) { /* diagnosis: ACK at once, so a server's Nagle wait cannot stall */
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
        }
        if (c->st == ST_UPGRADING) {
            int r = parse_upgrade(c);
            if (r <= 0) {
                if (r < 0) return;
                continue;
            }
        }
        if (parse_frames(c) < 0) return;
        if ((size_t)n < space) return; /* short read: drained (epoll is level-triggered) */
    }
}

static void on_event(conn *c, uint32_t ev) {
    if (c->fd < 0) return;
    if (c->st == ST_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            note_error(c, "connect: %s", strerror(err));
            conn_fail(c);
            return;
        }
        if (!(ev & EPOLLOUT)) return;
        send_upgrade(c);
        return;
    }
    if (ev & EPOLLOUT) flush_out(c);
    if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double q) {
    if (!st.n_lat) return 0;
    size_t i = (size_t)(q * (double)(st.n_lat - 1) + 0.5);
    return st.lat[i] * 1000.0;
}

/* --timing: " NAME_n=.. NAME_p50_ms=.. NAME_p99_ms=.. NAME_max_ms=.. NAME_early_ms=..": percentiles
 * of the absolute error, and the earliest (most negative) signed one. */
static void print_errors(const char *name, samples *s) {
    double early = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i] < early) early = s->v[i];
        if (s->v[i] < 0) s->v[i] = -s->v[i];
    }
    qsort(s->v, s->n, sizeof(double), cmp_d);
#define PCT(q) (s->n ? s->v[(size_t)((q) * (double)(s->n - 1) + 0.5)] * 1000.0 : 0.0)
    printf(" %s_n=%zu %s_p50_ms=%.3f %s_p99_ms=%.3f %s_max_ms=%.3f %s_early_ms=%.3f", name, s->n,
           name, PCT(0.5), name, PCT(0.99), name, PCT(1.0), name, early * 1000.0);
#undef PCT
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: ws_load --port P [--host 127.0.0.1] [--path /ws] [--token T]\n"
            "               [--conns N] [--runs M | --duration S] [--hold S] [--batch B]\n"
            "               [--timeout S] [--quiet] [--quickack] [--stagger MS]\n"
            "               [--target-delay MS] [--target-gap MS] [--inflight] [--inflight-hold S]\n"
            "Opens N WebSocket connections, waits until all are welcomed (prints a line\n"
            "`CONNECTED ok=.. failed=..` on stdout), holds them idle for --hold seconds, then\n"
            "each sends user_message and reads the five events, M times (or for S seconds).\n"
            "Prints one `RESULT key=value ...` line on stdout; details on stderr.\n"
            "--quickack sets TCP_QUICKACK after every read (diagnoses Nagle/delayed-ACK stalls).\n"
            "--stagger MS spreads the first runs over MS ms instead of starting them all at once.\n"
            "--target-delay MS / --target-gap MS: timestamp every event; its target is\n"
            "  DELAY + i * GAP after its run's user_message (i = 0..4). Prints a line `DELAY ...`\n"
            "  with the error percentiles (ms, absolute) of the first event's delay (first_*),\n"
            "  of each later gap (gap_*) and of every event against its target (abs_*).\n"
            "--inflight prints `INFLIGHT ok=.. seconds=..` once every first run has its first\n"
            "  event; --inflight-hold S then closes every connection S s later, runs in flight\n"
            "  (printed as `INFLIGHT_CLOSED abandoned=..`; they are not errors).\n"
            "Exit 0 if no error, 1 if errors were seen, 2 on bad usage.\n");
}

int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"host", 1, NULL, 'H'},    {"port", 1, NULL, 'p'},    {"path", 1, NULL, 'P'},
        {"token", 1, NULL, 't'},   {"conns", 1, NULL, 'c'},   {"runs", 1, NULL, 'r'},
        {"duration", 1, NULL, 'd'}, {"hold", 1, NULL, 'h'},   {"batch", 1, NULL, 'b'},
        {"timeout", 1, NULL, 'T'}, {"quiet", 0, NULL, 'q'},   {"help", 0, NULL, 'u'}, {"quickack", 0, NULL, 'k'},
        {"stagger", 1, NULL, 's'}, {"target-delay", 1, NULL, 'D'}, {"target-gap", 1, NULL, 'G'},
        {"inflight", 0, NULL, 'i'}, {"inflight-hold", 1, NULL, 'I'},
        {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'H': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'P': opt.path = optarg; break;
        case 't': opt.token = optarg; break;
        case 'c': opt.conns = atoi(optarg); break;
        case 'r': opt.runs = atoi(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'h': opt.hold = atof(optarg); break;
        case 'b': opt.batch = atoi(optarg); break;
        case 'T': opt.timeout = atof(optarg); break;
        case 'q': opt.quiet = 1; break;
        case 'k': opt.quickack = 1; break;
        case 's': opt.stagger = atof(optarg); break;
        case 'D': opt.target_delay = atof(optarg), opt.timing = 1; break;
        case 'G': opt.target_gap = atof(optarg), opt.timing = 1; break;
        case 'i': opt.inflight = 1; break;
        case 'I': opt.inflight_hold = atof(optarg), opt.inflight = 1; break;
        case 'u': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (opt.port <= 0 || opt.port > 65535 || opt.conns <= 0 || opt.runs <= 0 || opt.batch <= 0 ||
        opt.timeout <= 0) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ep = epoll_create1(EPOLL_CLOEXEC);
    cs = calloc((size_t)opt.conns, sizeof(conn));
    if (!cs || ep < 0) return 3;
    for (int i = 0; i < opt.conns; i++) cs[i].fd = -1, cs[i].idx = i;

    double t0 = now_s(), hard_deadline = t0 + opt.timeout, hold_until = 0;
    int connected_reported = 0, inflight_reported = 0, next_to_start = 0;
    double close_grace = 0, inflight_close_at = 0;
    struct epoll_event evs[512];
    for (;;) {
        /* Phase 1: open connections, at most `batch` in handshake at once. */
        while (next_to_open < opt.conns && in_handshake < opt.batch) conn_open(&cs[next_to_open++]);
        double t = now_s();
        int ready = 0, failed = 0, active = 0;
        if (!running_phase || !connected_reported) {
            for (int i = 0; i < opt.conns; i++) {
                ready += cs[i].st == ST_READY;
                failed += cs[i].st == ST_FAILED;
            }
        }
        if (!connected_reported && next_to_open == opt.conns && ready + failed == opt.conns) {
            printf("CONNECTED ok=%d failed=%d seconds=%.3f\n", ready, failed, t - t0);
            fflush(stdout);
            connected_reported = 1;
            hold_until = t + opt.hold;
            hard_deadline = hold_until + opt.timeout;
        }
        if (connected_reported && !running_phase && t >= hold_until) {
            /* Phase 2: every welcomed connection starts its first run at once. */
            running_phase = 1;
            st.t_start = st.t_last = now_s();
            run_deadline = st.t_start + opt.duration;
            t = st.t_start;
        }
        /* With --stagger, connection i starts its first run i * stagger / N ms into the phase. */
        while (running_phase && next_to_start < opt.conns &&
               t >= st.t_start + opt.stagger / 1000.0 * next_to_start / opt.conns) {
            if (cs[next_to_start].st == ST_READY) start_run(&cs[next_to_start]);
            next_to_start++;
        }
        if (running_phase) {
            int closing = 0, waiting_first = 0, in_run = 0;
            for (int i = 0; i < opt.conns; i++) {
                active += cs[i].st != ST_DONE && cs[i].st != ST_FAILED;
                closing += cs[i].st == ST_CLOSING;
                in_run += cs[i].st == ST_RUN;
                waiting_first += cs[i].st == ST_READY ||
                                 (cs[i].st == ST_RUN && !cs[i].runs_done && !cs[i].ev_in_run);
            }
            if (opt.inflight && !inflight_reported && !waiting_first) {
                printf("INFLIGHT ok=%d seconds=%.3f\n", in_run, t - st.t_start);
                fflush(stdout);
                inflight_reported = 1;
                if (opt.inflight_hold > 0) inflight_close_at = t + opt.inflight_hold;
            }
            if (inflight_close_at && t >= inflight_close_at) {
                int abandoned = 0;
                for (int i = 0; i < opt.conns; i++) {
                    if (cs[i].st != ST_RUN && cs[i].st != ST_READY) continue;
                    abandoned += cs[i].st == ST_RUN;
                    cs[i].abandoned = 1;
                    finish_conn(&cs[i]);
                }
                printf("INFLIGHT_CLOSED abandoned=%d\n", abandoned);
                fflush(stdout);
                inflight_close_at = 0;
                continue;
            }
            if (!active) break;
            /* Only close handshakes left: give the server a short grace, not the full timeout. */
            if (active == closing) {
                if (!close_grace) close_grace = t + 3.0;
                else if (t >= close_grace) break;
            }
        }
        if (t >= hard_deadline) break;
        int wait_ms = 50;
        if (running_phase && next_to_start < opt.conns) wait_ms = 1; /* staggered starts due */
        int n = epoll_wait(ep, evs, 512, wait_ms);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 3;
        }
        for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
    }

    /* Whatever is still open at the deadline is hung: count it by state. */
    long hung_run = 0, hung_other = 0, hung_closing = 0;
    for (int i = 0; i < opt.conns; i++) {
        if (cs[i].st == ST_RUN) hung_run++;
        else if (cs[i].st == ST_CLOSING) hung_closing++;
        else if (cs[i].st != ST_DONE && cs[i].st != ST_FAILED) hung_other++;
    }
    if (hung_run || hung_other) st.errors += hung_run + hung_other;
    double elapsed = st.t_last - st.t_start;
    if (elapsed <= 0) elapsed = 1e-9;
    qsort(st.lat, st.n_lat, sizeof(double), cmp_d);
    if (opt.timing) {
        printf("DELAY target_delay_ms=%g target_gap_ms=%g", opt.target_delay, opt.target_gap);
        print_errors("first", &err_first);
        print_errors("gap", &err_gap);
        print_errors("abs", &err_abs);
        printf("\n");
    }
    printf("RESULT conns=%d connected=%d runs=%ld runs_ok=%ld events=%ld seconds=%.3f "
           "runs_per_s=%.1f events_per_s=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
           "errors=%ld conn_failed=%ld seq_errors=%ld event_errors=%ld unexpected_close=%ld "
           "hung_in_run=%ld hung_other=%ld close_unacked=%ld clean_close=%ld\n",
           opt.conns, opt.conns - (int)st.conn_failed, st.runs, st.runs_ok, st.events, elapsed,
           st.runs / elapsed, st.events / elapsed, pct(0.5), pct(0.9), pct(0.99),
           st.n_lat ? st.lat[st.n_lat - 1] * 1000 : 0, st.errors, st.conn_failed, st.seq_errors,
           st.event_errors, st.unexpected_close, hung_run, hung_other, hung_closing,
           st.clean_close);
    if (!opt.quiet || st.errors) {
        for (int i = 0; i < st.n_close_codes; i++)
            fprintf(stderr, "ws_load: server close code %d: %d connections\n",
                    st.close_codes[i][0], st.close_codes[i][1]);
        if (st.first_error[0]) fprintf(stderr, "ws_load: first error: %s\n", st.first_error);
    }
    for (int i = 0; i < opt.conns; i++) {
        if (cs[i].fd >= 0) close(cs[i].fd);
        free(cs[i].in);
        free(cs[i].out);
        free(cs[i].msg);
    }
    free(cs);
    free(st.lat);
    free(err_first.v);
    free(err_gap.v);
    free(err_abs.v);
    close(ep);
    return st.errors ? 1 : 0;
}
