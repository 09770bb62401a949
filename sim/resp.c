/* resp.c -- RESP2 request parsing and reply building. Multibulk requests go
 * through hiredis's redisReader with our own object functions (arguments are
 * copied into one arena, no redisReply objects); inline commands and every
 * limit check happen here, at command boundaries, before the reader sees or
 * allocates anything. */
#include "resp.h"

#include <hiredis/read.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_resp_parser {
    redisReader *r;
    sim_resp_limits lim;
    int failed;                /* sticky protocol error */
    char err[128];
    /* the command being built */
    int argc, argcap;
    char **argv;
    size_t *argvlen;
    size_t *argvoff;           /* offsets into arena while building */
    sim_buf arena;
    int bad_elem;              /* reader callbacks saw a non-bulk element */
};

void sim_resp_limits_default(sim_resp_limits *lim) {
    lim->max_query = (size_t)1 << 30;
    lim->max_bulk = 512LL * 1024 * 1024;
    lim->max_elems = 1024 * 1024;
    lim->max_inline = 64 * 1024;
}

/* ---- redisReader object functions: build argv, never redisReply ---- */

static void ensure_args(sim_resp_parser *p, int n) {
    if (n <= p->argcap)
        return;
    int cap = p->argcap ? p->argcap : 8;
    while (cap < n)
        cap *= 2;
    p->argv = sim_xrealloc(p->argv, (size_t)cap * sizeof(*p->argv));
    p->argvlen = sim_xrealloc(p->argvlen, (size_t)cap * sizeof(*p->argvlen));
    p->argvoff = sim_xrealloc(p->argvoff, (size_t)cap * sizeof(*p->argvoff));
    p->argcap = cap;
}

static void *obj_string(const redisReadTask *task, char *str, size_t len) {
    sim_resp_parser *p = task->privdata;
    if (!task->parent || task->type != REDIS_REPLY_STRING) {
        p->bad_elem = task->type == REDIS_REPLY_STATUS ? '+' : '-';
        return NULL;
    }
    int i = task->idx;
    p->argvoff[i] = p->arena.len;
    p->argvlen[i] = len;
    sim_buf_append(&p->arena, str, len);
    sim_buf_append(&p->arena, "", 1);
    return p;
}

static void *obj_array(const redisReadTask *task, int elements) {
    sim_resp_parser *p = task->privdata;
    if (task->parent) {
        p->bad_elem = '*';
        return NULL;
    }
    ensure_args(p, elements);
    p->argc = elements;
    p->arena.len = 0;
    return p;
}

static void *obj_integer(const redisReadTask *task, long long v) {
    sim_resp_parser *p = task->privdata;
    (void)v;
    p->bad_elem = ':';
    return NULL;
}

static void *obj_nil(const redisReadTask *task) {
    sim_resp_parser *p = task->privdata;
    p->bad_elem = 'n';
    return NULL;
}

static void obj_free(void *o) { (void)o; }

static redisReplyObjectFunctions obj_fns = {obj_string, obj_array, obj_integer, obj_nil, obj_free};

sim_resp_parser *sim_resp_parser_new(const sim_resp_limits *lim) {
    sim_resp_parser *p = sim_xcalloc(1, sizeof(*p));
    p->r = redisReaderCreateWithFunctions(&obj_fns);
    sim_assert(p->r != NULL);
    p->r->privdata = p;
    p->r->maxbuf = 64 * 1024;
    if (lim)
        p->lim = *lim;
    else
        sim_resp_limits_default(&p->lim);
    ensure_args(p, 8);
    return p;
}

void sim_resp_parser_set_limits(sim_resp_parser *p, const sim_resp_limits *lim) {
    p->lim = *lim;
}

void sim_resp_parser_free(sim_resp_parser *p) {
    if (!p)
        return;
    redisReaderFree(p->r);
    free(p->argv);
    free(p->argvlen);
    free(p->argvoff);
    sim_buf_free(&p->arena);
    free(p);
}

size_t sim_resp_pending(const sim_resp_parser *p) { return p->r->len - p->r->pos; }

const char *sim_resp_error(const sim_resp_parser *p) { return p->err; }

int sim_resp_feed(sim_resp_parser *p, const char *buf, size_t len) {
    if (p->failed)
        return 0;
    if (redisReaderFeed(p->r, buf, len) != REDIS_OK)
        sim_assert(!"redisReaderFeed failed");
    if (sim_resp_pending(p) > p->lim.max_query)
        return SIM_RESP_OVERFLOW;
    return 0;
}

static int fail(sim_resp_parser *p, const char *msg) {
    p->failed = 1;
    snprintf(p->err, sizeof(p->err), "Protocol error: %s", msg);
    return SIM_RESP_ERROR;
}

/* Strict decimal, like Redis's string2ll: no spaces, no '+', fits in long long. */
static int parse_ll(const char *s, size_t n, long long *out) {
    if (n == 0 || n > 20)
        return 0;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return 0;
    }
    if (s[i] == '0' && n > i + 1)
        return 0;
    unsigned long long v = 0;
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

/* Splits line[0..n) into the argument arena. Returns 0, or -1 on
 * unbalanced quotes. */
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

static void finish_argv(sim_resp_parser *p, sim_resp_cmd *cmd) {
    for (int i = 0; i < p->argc; i++)
        p->argv[i] = p->arena.data + p->argvoff[i];
    cmd->argc = p->argc;
    cmd->argv = p->argv;
    cmd->argvlen = p->argvlen;
}

/* The reader is between commands: nothing of the next one consumed yet. */
static int at_boundary(const redisReader *r) {
    return r->ridx == -1 || (r->ridx == 0 && r->rstack[0].type < 0);
}

/* While the reader waits inside a bulk ("$N\r\n" read, payload missing),
 * checks N against max_bulk so a huge length is refused up front. */
static int check_pending_bulk(sim_resp_parser *p) {
    redisReader *r = p->r;
    if (r->ridx < 1 || r->rstack[r->ridx].type != REDIS_REPLY_STRING)
        return 0;
    const char *s = r->buf + r->pos;
    size_t avail = r->len - r->pos;
    const char *nl = memchr(s, '\r', avail);
    if (!nl) {
        if (avail > 32)
            return fail(p, "invalid bulk length");
        return 0;
    }
    long long n;
    if (!parse_ll(s, (size_t)(nl - s), &n) || n < 0 || n > p->lim.max_bulk)
        return fail(p, "invalid bulk length");
    return 0;
}

int sim_resp_next(sim_resp_parser *p, sim_resp_cmd *cmd) {
    redisReader *r = p->r;
    for (;;) {
        if (p->failed)
            return SIM_RESP_ERROR;
        if (r->pos >= r->len)
            return SIM_RESP_MORE;
        if (at_boundary(r)) {
            const char *s = r->buf + r->pos;
            size_t avail = r->len - r->pos;
            const char *nl = memchr(s, '\n', avail);
            if (s[0] != '*') {
                /* Inline command: one line, split like Redis does. */
                if (!nl) {
                    if (avail > p->lim.max_inline)
                        return fail(p, "too big inline request");
                    return SIM_RESP_MORE;
                }
                size_t n = (size_t)(nl - s);
                if (n > 0 && s[n - 1] == '\r')
                    n--;
                int rc = split_inline(p, s, n);
                r->pos += (size_t)(nl - s) + 1;
                if (rc < 0)
                    return fail(p, "unbalanced quotes in request");
                if (p->argc == 0)
                    continue;
                finish_argv(p, cmd);
                return SIM_RESP_CMD;
            }
            /* Multibulk: validate the count before the reader allocates. */
            if (!nl) {
                if (avail > p->lim.max_inline)
                    return fail(p, "too big mbulk count string");
                return SIM_RESP_MORE;
            }
            const char *cr = memchr(s, '\r', (size_t)(nl - s) + 1);
            long long n;
            if (!cr || !parse_ll(s + 1, (size_t)(cr - s - 1), &n) || n > INT_MAX)
                return fail(p, "invalid multibulk length");
            if (n > p->lim.max_elems)
                return fail(p, "invalid multibulk length");
            if (n <= 0) {
                /* Redis skips empty and null multibulks silently. */
                r->pos += (size_t)(nl - s) + 1;
                continue;
            }
        }
        void *reply = NULL;
        p->bad_elem = 0;
        if (redisReaderGetReply(r, &reply) != REDIS_OK) {
            char msg[64];
            const char *tb = strstr(r->errstr, "got \"");
            if (p->bad_elem == 0 && tb && strstr(r->errstr, "type byte"))
                p->bad_elem = (unsigned char)tb[5];
            if (p->bad_elem == 'n' || p->bad_elem == 0)
                return fail(p, "invalid bulk length");
            snprintf(msg, sizeof(msg), "expected '$', got '%c'", p->bad_elem);
            return fail(p, msg);
        }
        if (reply) {
            finish_argv(p, cmd);
            return SIM_RESP_CMD;
        }
        return check_pending_bulk(p) ? SIM_RESP_ERROR : SIM_RESP_MORE;
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
