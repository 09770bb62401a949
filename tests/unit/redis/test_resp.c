/* test_resp.c -- unit tests (no sockets) for resp.c: request parsing
 * (multibulk, inline, limits, pipelined input in odd chunks) and the reply
 * builder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resp.h"
#include "tap.h"

/* Feeds s and returns the next parse result; the command joined by '|'. */
static int next_joined(sim_resp_parser *p, char *out, size_t outlen) {
    sim_resp_cmd cmd;
    int rc = sim_resp_next(p, &cmd);
    out[0] = '\0';
    if (rc == SIM_RESP_CMD) {
        size_t len = 0;
        for (int i = 0; i < cmd.argc; i++) {
            int n = snprintf(out + len, outlen - len, "%s%.*s", i ? "|" : "", (int)cmd.argvlen[i],
                             cmd.argv[i]);
            len += (size_t)n;
        }
    }
    return rc;
}

static void test_parser(void) {
    char got[256];
    sim_resp_parser *p = sim_resp_parser_new(NULL);
    sim_resp_feed(p, "*2\r\n$3\r\nGET\r\n$1\r\na\r\n", 20);
    is_int(next_joined(p, got, sizeof(got)), SIM_RESP_CMD, "multibulk parsed");
    is_str(got, "GET|a", "multibulk args");
    is_int(next_joined(p, got, sizeof(got)), SIM_RESP_MORE, "then more needed");

    /* byte by byte, mixed inline and multibulk, pipelined */
    const char *mixed = "PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\0v\r\nset x \"a b\\n\"\n";
    size_t mlen = 6 + 29 + 14;
    int cmds = 0;
    char all[512] = "";
    for (size_t i = 0; i < mlen; i++) {
        sim_resp_feed(p, mixed + i, 1);
        while (next_joined(p, got, sizeof(got)) == SIM_RESP_CMD) {
            cmds++;
            strcat(all, got);
            strcat(all, ";");
        }
    }
    is_int(cmds, 3, "three pipelined commands byte by byte");
    ok(memcmp(all, "PING;SET|k|v", 12) == 0, "inline then multibulk (%s)", all);
    ok(strstr(all, ";set|x|a b\n;") != NULL, "inline quotes and escapes");
    sim_resp_parser_free(p);

    /* empty and null multibulks are skipped, empty inline lines too */
    p = sim_resp_parser_new(NULL);
    sim_resp_feed(p, "*0\r\n*-1\r\n\r\nPING\r\n", 17);
    is_int(next_joined(p, got, sizeof(got)), SIM_RESP_CMD, "skips *0, *-1 and blank line");
    is_str(got, "PING", "then PING");
    sim_resp_parser_free(p);

    struct { const char *in; const char *err; } bad[] = {
        {"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"},
        {"*1\r\n*1\r\n$1\r\na\r\n", "Protocol error: expected '$', got '*'"},
        {"*x\r\n", "Protocol error: invalid multibulk length"},
        {"*99999999999\r\n", "Protocol error: invalid multibulk length"},
        {"*2147483648\r\n", "Protocol error: invalid multibulk length"},
        {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
        {"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"},
        {"*1\r\n$999999999999\r\n", "Protocol error: invalid bulk length"},
        {"set a \"b\r\n", "Protocol error: unbalanced quotes in request"},
        {"*1\r\nx1\r\n", "Protocol error: expected '$', got 'x'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = sim_resp_parser_new(NULL);
        sim_resp_feed(p, bad[i].in, strlen(bad[i].in));
        is_int(next_joined(p, got, sizeof(got)), SIM_RESP_ERROR, "bad input %zu refused", i);
        is_str(sim_resp_error(p), bad[i].err, "bad input %zu error text", i);
        is_int(next_joined(p, got, sizeof(got)), SIM_RESP_ERROR, "error is sticky %zu", i);
        sim_resp_parser_free(p);
    }

    /* Redis 7 takes up to INT_MAX elements; memory grows with the elements
     * that arrive, not with the announced count */
    p = sim_resp_parser_new(NULL);
    sim_resp_feed(p, "*2147483647\r\n$4\r\nPING\r\n$1\r\nx\r\n", 30);
    is_int(next_joined(p, got, sizeof(got)), SIM_RESP_MORE, "*INT_MAX accepted, waits for more");
    sim_resp_parser_free(p);
    {
        /* 1 Mi + 1 elements, fed in pieces */
        p = sim_resp_parser_new(NULL);
        const long long n = 1024 * 1024 + 1;
        char head[32];
        int hl = snprintf(head, sizeof(head), "*%lld\r\n$5\r\nRPUSH\r\n", n);
        sim_resp_feed(p, head, (size_t)hl);
        for (long long i = 1; i < n; i++)
            sim_resp_feed(p, "$1\r\nx\r\n", 7);
        sim_resp_cmd cmd = {0};
        int rc = sim_resp_next(p, &cmd);
        is_int(rc, SIM_RESP_CMD, "1 Mi + 1 elements parsed");
        is_int(cmd.argc, rc == SIM_RESP_CMD ? (int)n : 0, "all arguments there");
        ok(rc == SIM_RESP_CMD && cmd.argvlen[n - 1] == 1 && cmd.argv[n - 1][0] == 'x',
           "last argument intact");
        sim_resp_parser_free(p);
    }

    /* limits */
    sim_resp_limits lim;
    sim_resp_limits_default(&lim);
    lim.max_query = 100;
    lim.max_inline = 50;
    lim.max_bulk = 10;
    p = sim_resp_parser_new(&lim);
    char big[200];
    memset(big, 'a', sizeof(big));
    sim_resp_feed(p, big, 60);
    is_int(next_joined(p, got, sizeof(got)), SIM_RESP_ERROR, "inline over limit");
    is_str(sim_resp_error(p), "Protocol error: too big inline request", "inline limit text");
    sim_resp_parser_free(p);
    p = sim_resp_parser_new(&lim);
    is_int(sim_resp_feed(p, big, 150), SIM_RESP_OVERFLOW, "query buffer limit");
    sim_resp_parser_free(p);
    p = sim_resp_parser_new(&lim);
    sim_resp_feed(p, "*1\r\n$11\r\nab", 11);
    is_int(next_joined(p, got, sizeof(got)), SIM_RESP_ERROR, "bulk over max_bulk");
    sim_resp_parser_free(p);

    /* a binary-safe large argument split across feeds */
    p = sim_resp_parser_new(NULL);
    size_t n = 100000;
    char *v = malloc(n);
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(i * 7);
    sim_resp_feed(p, "*2\r\n$4\r\nECHO\r\n$100000\r\n", 23);
    is_int(next_joined(p, got, sizeof(got)), SIM_RESP_MORE, "incomplete bulk waits");
    sim_resp_feed(p, v, n / 2);
    sim_resp_feed(p, v + n / 2, n - n / 2);
    sim_resp_feed(p, "\r\n", 2);
    sim_resp_cmd cmd;
    is_int(sim_resp_next(p, &cmd), SIM_RESP_CMD, "large bulk complete");
    ok(cmd.argc == 2 && cmd.argvlen[1] == n && memcmp(cmd.argv[1], v, n) == 0, "binary-safe");
    free(v);
    sim_resp_parser_free(p);
}

/* Many pipelined commands fed in odd-sized chunks: the parser moves a
 * half-parsed command to the front of its buffer (shifting the argument
 * offsets) again and again; every argument must come out intact and
 * NUL-terminated. Big values make later reads overwrite the old place of
 * a moved argument. Also reading straight into sim_resp_space. */
static int val_len(int i, int big) { return big ? 20 + (i * 7919) % 30000 : 20 + i % 120; }

static void make_val(sim_buf *v, int i, int big) {
    v->len = 0;
    int n = val_len(i, big);
    sim_buf_reserve(v, (size_t)n + 1);
    for (int k = 0; k < n; k++)
        v->data[k] = (char)('a' + (i + k) % 26);
    v->data[n] = '\0';
    v->len = (size_t)n;
}

static void test_parser_chunks(void) {
    sim_buf in = {0}, val = {0};
    for (int big = 0; big < 2; big++) {
        int N = big ? 300 : 3000;
        in.len = 0;
        for (int i = 0; i < N; i++) {
            char key[32];
            int kl = snprintf(key, sizeof(key), "key:%d", i);
            make_val(&val, i, big);
            if (i % 7 == 3)
                sim_buf_printf(&in, "set %s %s\r\n", key, val.data);    /* inline */
            else
                sim_buf_printf(&in, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n", kl, key,
                               val.len, val.data);
        }
        for (int mode = 0; mode < 2; mode++) {
            sim_resp_parser *p = sim_resp_parser_new(NULL);
            int seen = 0, bad = 0;
            size_t off = 0, step = 997;
            while (off < in.len) {
                size_t n = in.len - off < step ? in.len - off : step;
                if (mode == 0) {
                    sim_resp_feed(p, in.data + off, n);
                } else {
                    size_t avail;
                    char *w = sim_resp_space(p, &avail);
                    if (avail < n)
                        n = avail;
                    memcpy(w, in.data + off, n);
                    sim_resp_commit(p, n);
                }
                off += n;
                step = step == 997 ? 13 : step == 13 ? 7001 : 997;
                sim_resp_cmd cmd;
                int rc;
                while ((rc = sim_resp_next(p, &cmd)) == SIM_RESP_CMD) {
                    char key[32];
                    snprintf(key, sizeof(key), "key:%d", seen);
                    make_val(&val, seen, big);
                    if (cmd.argc != 3 || strcasecmp(cmd.argv[0], "set") != 0 ||
                        strcmp(cmd.argv[1], key) != 0 || cmd.argvlen[2] != val.len ||
                        strcmp(cmd.argv[2], val.data) != 0)
                        bad++;
                    seen++;
                }
                if (rc != SIM_RESP_MORE)
                    break;
            }
            const char *what = mode ? "space/commit" : "feed";
            const char *size = big ? "big values" : "small values";
            is_int(seen, N, "%s, %s: every pipelined command parsed", what, size);
            is_int(bad, 0, "%s, %s: arguments intact and NUL-terminated", what, size);
            is_int((int)sim_resp_pending(p), 0, "%s, %s: nothing left over", what, size);
            sim_resp_parser_free(p);
        }
    }
    sim_buf_free(&in);
    sim_buf_free(&val);
}

static void test_builder(void) {
    sim_buf b = {0};
    sim_resp_int(&b, -42);
    sim_resp_bulk(&b, "hi", 2);
    sim_resp_null(&b);
    sim_resp_array(&b, 2);
    sim_resp_status(&b, "OK");
    sim_resp_error_reply(&b, "ERR a\r\nb");
    sim_resp_bulk_double(&b, 1.5);
    is_str(b.data, ":-42\r\n$2\r\nhi\r\n$-1\r\n*2\r\n+OK\r\n-ERR a  b\r\n$3\r\n1.5\r\n",
           "reply builder");
    char t[32];
    sim_resp_ll2str(t, -9223372036854775807LL - 1);
    is_str(t, "-9223372036854775808", "ll2str LLONG_MIN");
    sim_buf_free(&b);
}

int main(void) {
    test_parser();
    test_parser_chunks();
    test_builder();
    return tap_done();
}
