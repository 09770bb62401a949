/* ws_ref: the machine's reference WebSocket server for the bench (libc only, one thread, epoll).
 * It speaks stagesim's golden path (docs/contract.md §2, profile current): the RFC 6455 upgrade,
 * the `connection_established` welcome, and for each user_message the five run events at once
 * (gap 0), with the same fields and about the same sizes as stagesim's. Everything due for a
 * connection after one read leaves in one send(): what the machine can do, to compare against.
 *
 *   cc -std=c11 -O2 -o bench/out/bin/ws_ref bench/ws_ref.c
 *   ws_ref [--port P] [--host 127.0.0.1]    # prints `READY {"port":N}`, SIGTERM/SIGINT to stop
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
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

#define MAX_MSG (1u << 20)   /* a client message larger than this is closed with 1009 */
#define MAX_HEAD 8192        /* the upgrade request head */
#define READ_CHUNK 65536
#define USER_ID "demo-user-001"
#define AGENT "supervisor"

/* ---- growable byte buffer -------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} buf;

static void reserve(buf *b, size_t more) {
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "ws_ref: out of memory\n");
        exit(3);
    }
    b->p = p, b->cap = cap;
}

static void put(buf *b, const void *s, size_t n) {
    reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#define PUT(b, lit) put((b), lit, sizeof(lit) - 1) /* a string literal, its length known */

static void put_u64(buf *b, uint64_t v) {
    char d[20];
    int n = 0;
    do d[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    reserve(b, (size_t)n);
    while (n) b->p[b->len++] = d[--n];
}

/* tenths as "12.3" */
static void put_tenths(buf *b, uint64_t tenths) {
    put_u64(b, tenths / 10);
    char t[2] = {'.', (char)('0' + tenths % 10)};
    put(b, t, 2);
}

/* the low `digits` hex digits of v, into out (not terminated) */
static void hex_to(char *out, uint64_t v, int digits) {
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < digits; i++) out[i] = hx[(v >> (4 * (digits - 1 - i))) & 15];
}

static void put_hex(buf *b, uint64_t v, int digits) {
    reserve(b, (size_t)digits);
    hex_to(b->p + b->len, v, digits);
    b->len += (size_t)digits;
}

/* ---- clock: read once per loop iteration -------------------------------------------------------- */

static struct {
    time_t sec;      /* the second `iso` holds */
    int ms;
    char iso[40];    /* "2026-12-01T21:29:57.228000+00:00" */
    size_t iso_len;
} clk;

static void clock_tick(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int ms = (int)(ts.tv_nsec / 1000000);
    if (ts.tv_sec != clk.sec || !clk.iso_len) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        clk.iso_len = strftime(clk.iso, sizeof(clk.iso), "%Y-%m-%dT%H:%M:%S.000000+00:00", &tm);
        clk.sec = ts.tv_sec;
    }
    clk.ms = ms;
    clk.iso[20] = (char)('0' + ms / 100); /* the milliseconds, in place after "SS." */
    clk.iso[21] = (char)('0' + ms / 10 % 10);
    clk.iso[22] = (char)('0' + ms % 10);
}

static void put_iso(buf *b) { put(b, clk.iso, clk.iso_len); }

static void put_epoch(buf *b) { /* 1796160597.228 */
    put_u64(b, (uint64_t)clk.sec);
    char t[4] = {'.', (char)('0' + clk.ms / 100), (char)('0' + clk.ms / 10 % 10),
                 (char)('0' + clk.ms % 10)};
    put(b, t, 4);
}

/* ---- connections ---------------------------------------------------------------------------------- */

enum { ST_HTTP, ST_WS, ST_CLOSING };

typedef struct {
    int fd, st, writing, in_msg, msg_op, sent_close;
    uint64_t id, runs;
    buf in, out, msg; /* input bytes, unsent output, a message being reassembled */
    size_t out_off;
} conn;

static int ep, lfd;
static volatile sig_atomic_t stopping;
static struct { uint64_t conns, runs, events, sends, recvs; } stats;

static uint64_t mix(uint64_t x) { /* splitmix64: stable ids from counters */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void conn_free(conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in.p);
    free(c->out.p);
    free(c->msg.p);
    free(c);
}

static void set_writing(conn *c, int on) { /* epoll_ctl only when the interest changes */
    if (c->writing == on) return;
    struct epoll_event e = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->writing = on;
}

/* Sends what is queued, in one send() when the socket takes it all. Returns -1 when the connection
 * was freed (an error, or our close frame is out). */
static int flush_out(conn *c) {
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        stats.sends++;
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_writing(c, 1);
            return 0;
        } else {
            conn_free(c);
            return -1;
        }
    }
    c->out.len = c->out_off = 0;
    set_writing(c, 0);
    if (c->sent_close) { /* the server closes TCP first once its close frame is out (RFC 6455 §7.1.1) */
        conn_free(c);
        return -1;
    }
    return 0;
}

/* Frames: start_frame reserves the 4-byte header that fits any payload from 126 to 65535 bytes
 * (every event here); end_frame fills it in, moving the payload in the rare other cases. */
static size_t start_frame(buf *b) {
    reserve(b, 4);
    b->len += 4;
    return b->len;
}

static void end_frame(buf *b, size_t start, int op) {
    size_t len = b->len - start;
    unsigned char *h = (unsigned char *)b->p + start - 4;
    if (len < 126) {
        memmove(h + 2, h + 4, len);
        b->len -= 2;
        h[1] = (unsigned char)len;
    } else if (len < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
    } else {
        reserve(b, 6);
        h = (unsigned char *)b->p + start - 4;
        memmove(h + 10, h + 4, len);
        b->len += 6;
        h[1] = 127;
        for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    h[0] = (unsigned char)(0x80 | op);
}

static void queue_close(conn *c, int code) {
    if (c->sent_close) return;
    size_t s = start_frame(&c->out);
    char p[2] = {(char)(code >> 8), (char)code};
    put(&c->out, p, 2);
    end_frame(&c->out, s, 0x8);
    c->sent_close = 1;
    c->st = ST_CLOSING;
}

/* ---- the golden path --------------------------------------------------------------------------------- */

static const char *const thinking[] = {"Understanding the request and planning the steps",
                                       "Breaking the question down before choosing a tool",
                                       "Checking which data sources can answer this"};
static const char *const tools[] = {"search_knowledge_base", "analyze_data"};

/* The raw (still JSON-escaped) string value of "key" in a flat JSON object, or NULL. Enough for the
 * bench client's messages; the escapes are kept, so the value can be copied into JSON as it is. */
static const char *json_str(const char *m, size_t len, const char *key, size_t *out_len) {
    size_t kl = strlen(key);
    const char *end = m + len;
    for (const char *p = m; (p = memmem(p, (size_t)(end - p), key, kl)); p += kl) {
        const char *q = p + kl;
        while (q < end && (*q == ' ' || *q == '\t')) q++;
        if (q >= end || *q != ':') continue;
        q++;
        while (q < end && (*q == ' ' || *q == '\t')) q++;
        if (q >= end || *q != '"') return NULL;
        const char *s = ++q;
        while (q < end && *q != '"') q += (*q == '\\' && q + 1 < end) ? 2 : 1;
        if (q >= end) return NULL;
        *out_len = (size_t)(q - s);
        return s;
    }
    return NULL;
}

/* The event head shared by all five: {"type":T,"run_id":..,"user_id":..,"agent_name":..[,tool_name]
 * ,"timestamp":..[,"thread_id":..],"data": */
static void event_head(buf *b, const char *type, size_t tl, const char *run_id, const char *tool,
                       const char *tid, size_t tid_len) {
    PUT(b, "{\"type\":\"");
    put(b, type, tl);
    PUT(b, "\",\"run_id\":\"");
    put(b, run_id, 20);
    PUT(b, "\",\"user_id\":\"" USER_ID "\",\"agent_name\":\"" AGENT "\",");
    if (tool) {
        PUT(b, "\"tool_name\":\"");
        put(b, tool, strlen(tool));
        PUT(b, "\",");
    }
    PUT(b, "\"timestamp\":\"");
    put_iso(b);
    if (tid) {
        PUT(b, "\",\"thread_id\":\"");
        put(b, tid, tid_len);
    }
    PUT(b, "\",\"data\":");
}

/* Queues the five events of one run for the prompt (raw JSON-escaped text). */
static void run_events(conn *c, const char *prompt, size_t pl, const char *tid, size_t tl) {
    buf *b = &c->out;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the prompt: the digest, as stagesim's */
    for (size_t i = 0; i < pl; i++) h = (h ^ (unsigned char)prompt[i]) * 0x100000001b3ull;
    char run_id[20] = "run_", digest[16];
    hex_to(run_id + 4, mix(c->id << 32 ^ c->runs), 16);
    hex_to(digest, h, 16);
    uint64_t pick = mix(c->id * 31 + c->runs);
    const char *tool = tools[pick & 1];
    const char *think = thinking[(pick >> 8) % 3];
    uint64_t tool_tenths = 50 + (pick >> 16) % 501; /* 5.0 .. 55.0 ms */
    c->runs++;
    stats.runs++;
    stats.events += 5;

    size_t s = start_frame(b);
    event_head(b, "agent_started", 13, run_id, NULL, tid, tl);
    PUT(b, "{\"status\":\"started\",\"message\":\"" AGENT " has started processing your request\"}}");
    end_frame(b, s, 1);

    s = start_frame(b);
    event_head(b, "agent_thinking", 14, run_id, NULL, tid, tl);
    PUT(b, "{\"reasoning\":\"");
    put(b, think, strlen(think));
    PUT(b, "\",\"step_number\":1,\"progress_percentage\":10,\"status\":\"thinking\"}}");
    end_frame(b, s, 1);

    s = start_frame(b);
    event_head(b, "tool_executing", 14, run_id, tool, tid, tl);
    PUT(b, "{\"parameters\":{\"query\":\"");
    put(b, prompt, pl);
    PUT(b, "\",\"max_results\":5},\"status\":\"executing\"}}");
    end_frame(b, s, 1);

    s = start_frame(b);
    event_head(b, "tool_completed", 14, run_id, tool, tid, tl);
    PUT(b, "{\"result\":{\"summary\":\"");
    put(b, tool, strlen(tool));
    PUT(b, " found relevant results (");
    put(b, digest, 16);
    PUT(b, ")\",\"digest\":\"");
    put(b, digest, 16);
    PUT(b, "\",\"matches\":");
    put_u64(b, 1 + (uint64_t)digest[0] % 5);
    PUT(b, "},\"execution_time_ms\":");
    put_tenths(b, tool_tenths);
    PUT(b, ",\"status\":\"completed\"}}");
    end_frame(b, s, 1);

    s = start_frame(b);
    event_head(b, "agent_completed", 15, run_id, NULL, tid, tl);
    PUT(b, "{\"status\":\"completed\",\"result\":{\"response\":\"" AGENT " looked into \\\"");
    put(b, prompt, pl);
    PUT(b, "\\\" with ");
    put(b, tool, strlen(tool));
    PUT(b, ". Finding ");
    put(b, digest, 16);
    PUT(b, ": the request was analysed and the answer is ready.\"},\"execution_time_ms\":");
    put_tenths(b, tool_tenths); /* gap 0: the run's total is the tool time */
    PUT(b, "}}");
    end_frame(b, s, 1);
}

static void welcome(conn *c) {
    buf *b = &c->out;
    size_t s = start_frame(b);
    PUT(b, "{\"type\":\"connection_established\",\"data\":{\"mode\":\"main\",\"user_id\":\"" USER_ID
           "\",\"connection_id\":\"main_");
    put_hex(b, mix(c->id), 12);
    PUT(b, "\",\"golden_path_events\":[\"agent_started\",\"agent_thinking\",\"tool_executing\","
           "\"tool_completed\",\"agent_completed\"],\"timestamp\":\"");
    put_iso(b);
    PUT(b, "\"},\"timestamp\":");
    put_epoch(b);
    PUT(b, ",\"server_id\":null,\"correlation_id\":null}");
    end_frame(b, s, 1);
}

static int type_is(const char *t, size_t tl, const char *name) {
    return tl == strlen(name) && !memcmp(t, name, tl);
}

/* One complete text message from the client: a chat message starts a run (all five events now);
 * a ping gets a pong; anything else an ack (contract §2.4, abridged). */
static void on_message(conn *c, const char *m, size_t len) {
    size_t tl = 0, pl = 0, il = 0;
    const char *t = json_str(m, len, "\"type\"", &tl);
    if (!t) t = "", tl = 0;
    if (type_is(t, tl, "user_message") || type_is(t, tl, "chat") || type_is(t, tl, "message") ||
        type_is(t, tl, "user") || type_is(t, tl, "user_input") || type_is(t, tl, "chat_message")) {
        const char *p = json_str(m, len, "\"message\"", &pl);
        if (!p) p = json_str(m, len, "\"content\"", &pl);
        if (!p) p = json_str(m, len, "\"text\"", &pl);
        const char *tid = json_str(m, len, "\"thread_id\"", &il);
        if (p) run_events(c, p, pl, tid, il);
        return;
    }
    buf *b = &c->out;
    size_t s = start_frame(b);
    if (type_is(t, tl, "ping")) {
        PUT(b, "{\"type\":\"pong\",\"data\":{\"timestamp\":");
        put_epoch(b);
        PUT(b, ",\"user_id\":\"" USER_ID "\"},\"timestamp\":");
    } else {
        PUT(b, "{\"type\":\"ack\",\"received_type\":\"");
        put(b, t, tl);
        PUT(b, "\",\"status\":\"acknowledged\",\"timestamp\":");
    }
    put_epoch(b);
    PUT(b, "}");
    end_frame(b, s, 1);
}

/* Parses every complete client frame in c->in. Returns -1 once a close is queued. */
static int parse_frames(conn *c) {
    size_t off = 0;
    int rc = 0;
    while (c->in.len - off >= 2 && !c->sent_close) {
        unsigned char *p = (unsigned char *)c->in.p + off;
        size_t avail = c->in.len - off, hl = 2;
        int fin = p[0] & 0x80, op = p[0] & 0x0f;
        uint64_t len = p[1] & 0x7f;
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
        if (!(p[1] & 0x80) || (op >= 8 && (len > 125 || !fin))) { /* unmasked, or a bad control */
            queue_close(c, 1002);
            break;
        }
        if (len > MAX_MSG || c->msg.len + len > MAX_MSG) {
            queue_close(c, 1009);
            break;
        }
        if (avail < hl + 4 + len) break;
        unsigned char *mask = p + hl, *pl = p + hl + 4;
        for (uint64_t i = 0; i < len; i++) pl[i] ^= mask[i & 3];
        off += hl + 4 + (size_t)len;
        if (op == 0x8) { /* close: echo the code, then close TCP once it is out */
            queue_close(c, len >= 2 ? pl[0] << 8 | pl[1] : 1000);
        } else if (op == 0x9) { /* ping: pong with the same payload */
            size_t s = start_frame(&c->out);
            put(&c->out, pl, (size_t)len);
            end_frame(&c->out, s, 0xA);
        } else if (op == 0xA) { /* pong */
        } else if (op <= 0x2) { /* text, binary, continuation: reassembled, then handled */
            if ((op == 0) != c->in_msg) {
                queue_close(c, 1002);
                break;
            }
            if (op && fin) { /* the usual case: one frame, handled in place */
                if (op == 1) on_message(c, (char *)pl, (size_t)len);
            } else {
                if (op) c->in_msg = 1, c->msg_op = op, c->msg.len = 0;
                put(&c->msg, pl, (size_t)len);
                if (fin) {
                    c->in_msg = 0;
                    if (c->msg_op == 1) on_message(c, c->msg.p, c->msg.len);
                    c->msg.len = 0;
                }
            }
        } else {
            queue_close(c, 1002);
        }
    }
    if (c->sent_close) rc = -1;
    if (off) {
        memmove(c->in.p, c->in.p + off, c->in.len - off);
        c->in.len -= off;
    }
    return rc;
}

static int refuse(conn *c) { /* a 400, then the connection is closed */
    PUT(&c->out, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    c->sent_close = 1;
    c->st = ST_CLOSING;
    return -1;
}

/* The upgrade request, once its head is complete. Returns 1 upgraded, 0 need more, -1 refused. */
static int parse_upgrade(conn *c) {
    char *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
    if (!end) return c->in.len > MAX_HEAD ? refuse(c) : 0;
    size_t hlen = (size_t)(end - c->in.p) + 4;
    *end = '\0';
    const char *line_end = strstr(c->in.p, "\r\n");
    int path_ok = !strncmp(c->in.p, "GET /ws ", 8) || !strncmp(c->in.p, "GET /ws?", 8) ||
                  !strncmp(c->in.p, "GET /api/v1/websocket", 21) ||
                  !strncmp(c->in.p, "GET /websocket", 14);
    char *key = strcasestr(line_end ? line_end : c->in.p, "\r\nSec-WebSocket-Key:");
    if (!path_ok || !key || !strcasestr(c->in.p, "\r\nUpgrade: websocket")) return refuse(c);
    key += 20;
    while (*key == ' ') key++;
    char accept[29];
    ws_accept(key, strcspn(key, " \r\n"), accept);
    PUT(&c->out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: ");
    put(&c->out, accept, 28);
    PUT(&c->out, "\r\n\r\n");
    memmove(c->in.p, c->in.p + hlen, c->in.len - hlen);
    c->in.len -= hlen;
    c->st = ST_WS;
    welcome(c);
    return 1;
}

/* Reads what is there (level-triggered: one short read means drained), handles it, and sends
 * every reply due in one go. */
static void on_readable(conn *c) {
    for (;;) {
        reserve(&c->in, READ_CHUNK);
        size_t space = c->in.cap - c->in.len;
        ssize_t n = recv(c->fd, c->in.p + c->in.len, space, 0);
        stats.recvs++;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            conn_free(c);
            return;
        }
        c->in.len += (size_t)n;
        if (c->st == ST_CLOSING) c->in.len = 0; /* our close is queued: the rest is not read */
        if (c->st == ST_HTTP && parse_upgrade(c) == 0) continue;
        if (c->st == ST_WS && parse_frames(c) < 0) break;
        if (c->sent_close || (size_t)n < space) break;
    }
    flush_out(c);
}

static void on_accept(void) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                static int warned;
                if (!warned++) fprintf(stderr, "ws_ref: accept: %s (raise ulimit -n)\n", strerror(errno));
            }
            return; /* EAGAIN, or out of descriptors: retried on the next event */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->id = ++stats.conns;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    }
}

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

int main(int argc, char **argv) {
    static const struct option lo[] = {{"port", 1, NULL, 'p'}, {"host", 1, NULL, 'H'},
                                       {"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *host = "127.0.0.1";
    int port = 0, ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'p': port = atoi(optarg); break;
        case 'H': host = optarg; break;
        case 'h':
            printf("usage: ws_ref [--port P (0: a free one)] [--host 127.0.0.1]\n"
                   "Prints `READY {\"port\":N}` when listening; SIGTERM or SIGINT stops it and prints\n"
                   "counters on stderr.\n");
            return 0;
        default: return 2;
        }
    }
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "ws_ref: bad host %s (IPv4 address expected)\n", host);
        return 2;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t al = sizeof(addr);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &al) < 0) {
        perror("ws_ref: listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);
    printf("READY {\"port\":%d}\n", ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event evs[1024];
    while (!stopping) {
        int n = epoll_wait(ep, evs, 1024, 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("ws_ref: epoll_wait");
            return 1;
        }
        clock_tick();
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                on_accept();
                continue;
            }
            if (evs[i].events & EPOLLOUT && flush_out(c) < 0) continue;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
        }
    }
    /* Connections still open are not tracked in a list: the process exit closes them. */
    fprintf(stderr, "ws_ref: conns=%llu runs=%llu events=%llu recvs=%llu sends=%llu\n",
            (unsigned long long)stats.conns, (unsigned long long)stats.runs,
            (unsigned long long)stats.events, (unsigned long long)stats.recvs,
            (unsigned long long)stats.sends);
    return 0;
}
