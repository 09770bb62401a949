/* resp.c -- RESP2 request parsing and reply building. Requests are parsed
 * the way Redis's processMultibulkBuffer / processInlineBuffer do (same
 * limits, same error texts), in place: arguments point into the input
 * buffer, NUL-terminated over their trailing CR, so a command costs no
 * allocation and no copy. Only inline commands with quotes go through an
 * argument arena. */
#include "resp.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_MIN (16 * 1024)          /* space offered per read, like Redis's PROTO_IOBUF_LEN */
#define KEEP_CAP (64 * 1024)          /* an empty input buffer larger than this is freed */

struct sim_resp_parser {
    sim_resp_limits lim;
    int failed;                /* sticky protocol error */
    char err[128];
    /* input: [0, start) consumed, [start, pos) parsed part of the current
     * command, [pos, len) not looked at yet */
    char *buf;
    size_t len, cap, start, pos;
    /* multibulk state, as Redis keeps it */
    long long mbleft;          /* arguments still to read; 0 = between commands */
    long long bulklen;         /* -1: expecting a "$N" line */
    /* the command being built: offsets into buf (or into arena when inline
     * with quotes) */
    int argc, argcap;
    char **argv;
    size_t *argvlen;
    size_t *argvoff;
    int in_arena;
    sim_buf arena;
};

void sim_resp_limits_default(sim_resp_limits *lim) {
    lim->max_query = (size_t)1 << 30;
    lim->max_bulk = 512LL * 1024 * 1024;
    lim->max_elems = INT_MAX;
    lim->max_inline = 64 * 1024;
}

/* Grows the argument arrays to hold n (doubling, capped at INT_MAX): called
 * as arguments arrive, so an announced count allocates nothing up front. */
static void ensure_args(sim_resp_parser *p, long long n) {
    if (n <= p->argcap)
        return;
    long long cap = p->argcap ? p->argcap : 8;
    while (cap < n)
        cap *= 2;
    if (cap > INT_MAX)
        cap = INT_MAX;
    p->argv = sim_xrealloc(p->argv, (size_t)cap * sizeof(*p->argv));
    p->argvlen = sim_xrealloc(p->argvlen, (size_t)cap * sizeof(*p->argvlen));
    p->argvoff = sim_xrealloc(p->argvoff, (size_t)cap * sizeof(*p->argvoff));
    p->argcap = (int)cap;
}

sim_resp_parser *sim_resp_parser_new(const sim_resp_limits *lim) {
    sim_resp_parser *p = sim_xcalloc(1, sizeof(*p));
    if (lim)
        p->lim = *lim;
    else
        sim_resp_limits_default(&p->lim);
    p->bulklen = -1;
    ensure_args(p, 8);
    return p;
}

void sim_resp_parser_free(sim_resp_parser *p) {
    if (!p)
        return;
    free(p->buf);
    free(p->argv);
    free(p->argvlen);
    free(p->argvoff);
    sim_buf_free(&p->arena);
    free(p);
}

size_t sim_resp_pending(const sim_resp_parser *p) { return p->len - p->start; }

const char *sim_resp_error(const sim_resp_parser *p) { return p->err; }

char *sim_resp_space(sim_resp_parser *p, size_t *avail) {
    if (p->start == p->len) {
        /* everything consumed: start over at 0 (the common case) */
        p->start = p->pos = p->len = 0;
        if (p->cap > KEEP_CAP) {
            free(p->buf);
            p->buf = NULL;
            p->cap = 0;
        }
    }
    if (p->cap - p->len < READ_MIN && p->start > 0) {
        /* move the current command to the front; its argument offsets
         * are relative to buf, so shift them too */
        size_t sh = p->start;
        memmove(p->buf, p->buf + sh, p->len - sh);
        p->len -= sh;
        p->pos -= sh;
        p->start = 0;
        if (p->mbleft)
            for (int i = 0; i < p->argc; i++)
                p->argvoff[i] -= sh;
    }
    if (p->cap - p->len < READ_MIN) {
        size_t cap = p->cap ? p->cap : READ_MIN;
        while (cap - p->len < READ_MIN)
            cap *= 2;
        p->buf = sim_xrealloc(p->buf, cap);
        p->cap = cap;
    }
    *avail = p->cap - p->len;
    return p->buf + p->len;
}

int sim_resp_commit(sim_resp_parser *p, size_t n) {
    p->len += n;
    if (!p->failed && p->len - p->start > p->lim.max_query)
        return SIM_RESP_OVERFLOW;
    return 0;
}

int sim_resp_feed(sim_resp_parser *p, const char *buf, size_t len) {
    if (p->failed)
        return 0;
    while (len) {
        size_t avail;
        char *w = sim_resp_space(p, &avail);
        size_t n = len < avail ? len : avail;
        memcpy(w, buf, n);
        if (sim_resp_commit(p, n) == SIM_RESP_OVERFLOW)
            return SIM_RESP_OVERFLOW;
        buf += n;
        len -= n;
    }
    return 0;
}

static int fail(sim_resp_parser *p, const char *msg) {
    p->failed = 1;
    snprintf(p->err, sizeof(p->err), "Protocol error: %s", msg);
    return SIM_RESP_ERROR;
}

/* Strict decimal, like Redis's string2ll: no spaces, no '+', no leading
 * zeros, no "-0", fits in long long. */
static int parse_ll(const char *s, size_t n, long long *out) {
    if (n == 0 || n > 20)
        return 0;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return 0;
    }
    if (s[i] < '1' || s[i] > '9')
        return 0;
    unsigned long long v = 0;
    if (n - i <= 18) {
        /* cannot overflow: the common case, without a division per digit */
        for (; i < n; i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (d > 9)
                return 0;
            v = v * 10 + d;
        }
        *out = neg ? -(long long)v : (long long)v;
        return 1;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        unsigned long long d = (unsigned long long)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

/* ---- inline commands: Redis's sdssplitargs rules ---- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void inline_push(sim_resp_parser *p, sim_buf *cur) {
    ensure_args(p, p->argc + 1);
    p->argvoff[p->argc] = p->arena.len;
    p->argvlen[p->argc] = cur->len;
    sim_buf_append(&p->arena, cur->data ? cur->data : "", cur->len);
    sim_buf_append(&p->arena, "", 1);
    p->argc++;
    cur->len = 0;
}

/* Splits line[0..n) into the argument arena (the general case, with
 * quotes and escapes). Returns 0, or -1 on unbalanced quotes. */
static int split_inline(sim_resp_parser *p, const char *s, size_t n) {
    sim_buf cur = {0};
    size_t i = 0;
    int rc = 0;
    p->argc = 0;
    p->arena.len = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
                         s[i] == '\v' || s[i] == '\f'))
            i++;
        if (i >= n)
            break;
        int inq = 0, insq = 0, done = 0;
        cur.len = 0;
        while (!done) {
            if (inq) {
                if (i >= n) { rc = -1; goto out; }
                if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 &&
                    hexval(s[i + 3]) >= 0) {
                    char c = (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
                    sim_buf_append(&cur, &c, 1);
                    i += 3;
                } else if (s[i] == '\\' && i + 1 < n) {
                    char c;
                    i++;
                    switch (s[i]) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = s[i]; break;
                    }
                    sim_buf_append(&cur, &c, 1);
                } else if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] != ' ' && s[i + 1] != '\t' && s[i + 1] != '\n' &&
                        s[i + 1] != '\r') { rc = -1; goto out; }
                    done = 1;
                } else {
                    sim_buf_append(&cur, &s[i], 1);
                }
            } else if (insq) {
                if (i >= n) { rc = -1; goto out; }
                if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\'') {
                    i++;
                    sim_buf_append(&cur, "'", 1);
                } else if (s[i] == '\'') {
                    if (i + 1 < n && s[i + 1] != ' ' && s[i + 1] != '\t' && s[i + 1] != '\n' &&
                        s[i + 1] != '\r') { rc = -1; goto out; }
                    done = 1;
                } else {
                    sim_buf_append(&cur, &s[i], 1);
                }
            } else {
                if (i >= n) { done = 1; break; }
                switch (s[i]) {
                case ' ': case '\n': case '\r': case '\t': case '\0':
                    done = 1;
                    break;
                case '"': inq = 1; break;
                case '\'': insq = 1; break;
                default: sim_buf_append(&cur, &s[i], 1); break;
                }
            }
            if (i < n)
                i++;
        }
        inline_push(p, &cur);
    }
out:
    sim_buf_free(&cur);
    return rc;
}

/* The common inline case: no quotes, no NUL, only ' ' and '\t' between
 * words. Splits in place (NUL over each separator; s[n] is writable).
 * Returns 0 when the line needs the general splitter. */
static int split_inline_fast(sim_resp_parser *p, char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"' || c == '\'' || c == '\0' || c == '\r' || c == '\n' || c == '\v' || c == '\f')
            return 0;
    }
    p->argc = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= n)
            break;
        size_t b = i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        ensure_args(p, p->argc + 1);
        p->argvoff[p->argc] = b;
        p->argvlen[p->argc] = i - b;
        p->argc++;
        s[i] = '\0';   /* a separator, or the line end (CR, LF, or the spare byte) */
        i++;
    }
    return 1;
}

static void finish_argv(sim_resp_parser *p, sim_resp_cmd *cmd) {
    const char *base = p->in_arena ? p->arena.data : p->buf;
    for (int i = 0; i < p->argc; i++)
        p->argv[i] = (char *)base + p->argvoff[i];
    cmd->argc = p->argc;
    cmd->argv = p->argv;
    cmd->argvlen = p->argvlen;
}

/* One inline line at pos (Redis's processInlineBuffer). */
static int next_inline(sim_resp_parser *p, sim_resp_cmd *cmd, int *skip) {
    char *s = p->buf + p->pos;
    size_t avail = p->len - p->pos;
    char *nl = memchr(s, '\n', avail);
    if (!nl) {
        if (avail > p->lim.max_inline)
            return fail(p, "too big inline request");
        return SIM_RESP_MORE;
    }
    size_t n = (size_t)(nl - s);
    if (n > 0 && s[n - 1] == '\r')
        n--;
    p->in_arena = 0;
    if (!split_inline_fast(p, s, n)) {
        p->in_arena = 1;
        if (split_inline(p, s, n) < 0)
            return fail(p, "unbalanced quotes in request");
    } else {
        for (int i = 0; i < p->argc; i++)
            p->argvoff[i] += p->pos;
    }
    p->pos += (size_t)(nl - s) + 1;
    p->start = p->pos;
    if (p->argc == 0) {
        *skip = 1;
        return SIM_RESP_MORE;
    }
    finish_argv(p, cmd);
    return SIM_RESP_CMD;
}

/* Finds the CR ending a "*N" / "$N" line at pos. Returns its offset, or 0
 * when the line (with its LF) is not complete yet. */
static size_t line_end(const sim_resp_parser *p) {
    const char *s = p->buf + p->pos;
    size_t avail = p->len - p->pos;
    const char *cr = memchr(s, '\r', avail);
    if (!cr || (size_t)(cr - s) + 2 > avail)
        return 0;
    return (size_t)(cr - p->buf);
}

int sim_resp_next(sim_resp_parser *p, sim_resp_cmd *cmd) {
    for (;;) {
        if (p->failed)
            return SIM_RESP_ERROR;
        if (p->mbleft == 0) {
            if (p->pos >= p->len)
                return SIM_RESP_MORE;
            if (p->buf[p->pos] != '*') {
                int skip = 0;
                int rc = next_inline(p, cmd, &skip);
                if (skip)
                    continue;
                return rc;
            }
            size_t cr = line_end(p);
            if (!cr) {
                if (p->len - p->pos > p->lim.max_inline)
                    return fail(p, "too big mbulk count string");
                return SIM_RESP_MORE;
            }
            long long n;
            if (!parse_ll(p->buf + p->pos + 1, cr - p->pos - 1, &n) || n > INT_MAX ||
                n > p->lim.max_elems)
                return fail(p, "invalid multibulk length");
            p->pos = cr + 2;
            if (n <= 0) {
                /* Redis skips empty and null multibulks silently. */
                p->start = p->pos;
                continue;
            }
            p->mbleft = n;
            p->bulklen = -1;
            p->argc = 0;
            p->in_arena = 0;
            /* grow argv gradually: a huge count must not allocate up front */
            ensure_args(p, n < 1024 ? n : 1024);
        }
        while (p->mbleft) {
            if (p->bulklen == -1) {
                size_t cr = line_end(p);
                if (!cr) {
                    if (p->len - p->pos > p->lim.max_inline)
                        return fail(p, "too big bulk count string");
                    return SIM_RESP_MORE;
                }
                if (p->buf[p->pos] != '$') {
                    char msg[64];
                    snprintf(msg, sizeof(msg), "expected '$', got '%c'", p->buf[p->pos]);
                    return fail(p, msg);
                }
                long long n;
                if (!parse_ll(p->buf + p->pos + 1, cr - p->pos - 1, &n) || n < 0 ||
                    n > p->lim.max_bulk)
                    return fail(p, "invalid bulk length");
                p->pos = cr + 2;
                p->bulklen = n;
            }
            if (p->len - p->pos < (size_t)p->bulklen + 2)
                return SIM_RESP_MORE;
            if (p->argc == p->argcap)
                ensure_args(p, p->argc + 1);
            p->argvoff[p->argc] = p->pos;
            p->argvlen[p->argc] = (size_t)p->bulklen;
            p->argc++;
            p->pos += (size_t)p->bulklen;
            p->buf[p->pos] = '\0';   /* over the CR; like Redis, the CRLF is not checked */
            p->pos += 2;
            p->bulklen = -1;
            p->mbleft--;
        }
        p->start = p->pos;
        finish_argv(p, cmd);
        return SIM_RESP_CMD;
    }
}

/* ---- reply builder ---- */

int sim_resp_ll2str(char *buf, long long v) {
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? (unsigned long long)0 - (unsigned long long)v
                                 : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

int sim_resp_d2str(char *buf, double v) {
    if (isinf(v))
        return snprintf(buf, 64, v > 0 ? "inf" : "-inf");
    return snprintf(buf, 64, "%.17g", v);
}

static void prefixed(sim_buf *out, char c, long long v) {
    sim_buf_reserve(out, 24 + 3);
    char *w = out->data + out->len;
    *w++ = c;
    w += sim_resp_ll2str(w, v);
    *w++ = '\r';
    *w++ = '\n';
    out->len = (size_t)(w - out->data);
    *w = '\0';
}

void sim_resp_status(sim_buf *out, const char *s) {
    size_t n = strlen(s);
    sim_buf_reserve(out, n + 3);
    out->data[out->len++] = '+';
    memcpy(out->data + out->len, s, n);
    out->len += n;
    memcpy(out->data + out->len, "\r\n", 3);
    out->len += 2;
}

void sim_resp_ok(sim_buf *out) { sim_buf_append(out, "+OK\r\n", 5); }

void sim_resp_error_reply(sim_buf *out, const char *s) {
    size_t n = strlen(s);
    sim_buf_reserve(out, n + 3);
    out->data[out->len++] = '-';
    /* Redis replaces newlines so an error stays one line. */
    for (size_t i = 0; i < n; i++)
        out->data[out->len++] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    memcpy(out->data + out->len, "\r\n", 3);
    out->len += 2;
}

void sim_resp_errorf(sim_buf *out, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sim_resp_error_reply(out, tmp);
}

void sim_resp_int(sim_buf *out, long long v) {
    if (v == 0) {
        sim_buf_append(out, ":0\r\n", 4);
        return;
    }
    if (v == 1) {
        sim_buf_append(out, ":1\r\n", 4);
        return;
    }
    prefixed(out, ':', v);
}

void sim_resp_bulk(sim_buf *out, const char *p, size_t n) {
    sim_buf_reserve(out, n + 32);
    char *w = out->data + out->len;
    *w++ = '$';
    w += sim_resp_ll2str(w, (long long)n);
    *w++ = '\r';
    *w++ = '\n';
    if (n)
        memcpy(w, p, n);
    w += n;
    *w++ = '\r';
    *w++ = '\n';
    *w = '\0';
    out->len = (size_t)(w - out->data);
}

void sim_resp_bulk_str(sim_buf *out, const char *s) { sim_resp_bulk(out, s, strlen(s)); }

void sim_resp_bulk_ll(sim_buf *out, long long v) {
    char tmp[24];
    int n = sim_resp_ll2str(tmp, v);
    sim_resp_bulk(out, tmp, (size_t)n);
}

void sim_resp_bulk_double(sim_buf *out, double v) {
    char tmp[64];
    int n = sim_resp_d2str(tmp, v);
    sim_resp_bulk(out, tmp, (size_t)n);
}

void sim_resp_null(sim_buf *out) { sim_buf_append(out, "$-1\r\n", 5); }
void sim_resp_null_array(sim_buf *out) { sim_buf_append(out, "*-1\r\n", 5); }
void sim_resp_array(sim_buf *out, long long n) { prefixed(out, '*', n); }
