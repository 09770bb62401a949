/* test_resp.c -- unit tests (no sockets) for the RESP parsing shim, the
 * reply builder, the keyspace, command dispatch and the drop_message hook. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redis_core.h"
#include "redis_table.h"
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

/* ---- dispatch on the db, no sockets ---- */

static sim_redis_core *core;
static int64_t now = 1700000000000LL;
static int wakes;

static void wake(sim_redis_client *c, void *ud) {
    (void)c;
    (void)ud;
    wakes++;
}

/* Runs a command given as space-separated words; returns the reply text
 * (static buffer) and clears the client's output. */
static const char *run(sim_redis_client *c, const char *line) {
    static char reply[4096];
    char *copy = strdup(line);
    char *argv[32];
    size_t argvlen[32];
    int argc = 0;
    for (char *t = strtok(copy, " "); t && argc < 32; t = strtok(NULL, " ")) {
        argv[argc] = t;
        argvlen[argc++] = strlen(t);
    }
    sim_redis_dispatch(c, argc, argv, argvlen, now);
    snprintf(reply, sizeof(reply), "%.*s", (int)c->out.len, c->out.data ? c->out.data : "");
    c->out.len = 0;
    free(copy);
    return reply;
}

static void test_dispatch(void) {
    sim_redis_hooks hooks = {wake, NULL, NULL, NULL};
    core = sim_redis_core_new(1, &hooks, now);
    sim_redis_client a, b;
    sim_redis_client_init(core, &a, now);
    sim_redis_client_init(core, &b, now);

    is_str(run(&a, "PING"), "+PONG\r\n", "PING");
    is_str(run(&a, "ping hello"), "$5\r\nhello\r\n", "PING arg");
    is_str(run(&a, "SET k v"), "+OK\r\n", "SET");
    is_str(run(&a, "GET k"), "$1\r\nv\r\n", "GET");
    is_str(run(&a, "GET"), "-ERR wrong number of arguments for 'get' command\r\n", "arity");
    {
        /* Command names with NULs inside (the fuzzer found one): "get\0..."
         * compared with the table name "get" must stop at its end. Many
         * suffixes per name, so that some hash to that name's slot (an
         * ASan build then reports any overread). */
        static const char *const names[] = {"get", "set", "ping", "info", "lpush", "hset", "del"};
        int unknown = 0, tries = 0;
        uint64_t h = 12345;
        for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
            for (int k = 0; k < 4000; k++, tries++) {
                char name[16];
                size_t len = strlen(names[n]);
                memcpy(name, names[n], len);
                name[len++] = '\0';
                for (int i = 0; i < 4; i++) {
                    h = h * 6364136223846793005ULL + 1442695040888963407ULL;
                    name[len++] = (char)(h >> 56);
                }
                char *argv[] = {name};
                size_t argvlen[] = {len};
                sim_redis_dispatch(&a, 1, argv, argvlen, now);
                unknown += a.out.len > 22 && strncmp(a.out.data, "-ERR unknown command '", 22) == 0;
                a.out.len = 0;
            }
        }
        is_int(unknown, tries, "names with a NUL are unknown commands");
    }
    is_str(run(&a, "NOPE a b"),
           "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n", "unknown");
    is_str(run(&a, "LPUSH k x"), "-WRONGTYPE Operation against a key holding the wrong kind of "
           "value\r\n", "WRONGTYPE");
    is_str(run(&a, "INCR k"), "-ERR value is not an integer or out of range\r\n", "INCR non-int");
    is_str(run(&a, "SET k v XX NX"), "-ERR syntax error\r\n", "SET syntax");
    is_str(run(&a, "SELECT 16"), "-ERR DB index is out of range\r\n", "SELECT range");
    is_str(run(&a, "SET n 10"), "+OK\r\n", "SET n");
    is_str(run(&a, "INCRBY n 5"), ":15\r\n", "INCRBY");
    is_str(run(&a, "INCRBYFLOAT n 0.5"), "$4\r\n15.5\r\n", "INCRBYFLOAT");
    is_str(run(&a, "RPUSH l a b c"), ":3\r\n", "RPUSH");
    is_str(run(&a, "LRANGE l 0 -1"), "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", "LRANGE");
    is_str(run(&a, "HSET h f1 v1 f2 v2"), ":2\r\n", "HSET");
    is_str(run(&a, "HGETALL h"), "*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n",
           "HGETALL in insertion order");

    /* expiry: lazy via now, active via cron */
    is_str(run(&a, "SET e v EX 10"), "+OK\r\n", "SET EX");
    is_str(run(&a, "TTL e"), ":10\r\n", "TTL");
    is_str(run(&a, "PTTL e"), ":10000\r\n", "PTTL");
    now += 10000;
    is_str(run(&a, "GET e"), "$-1\r\n", "expired lazily");
    is_str(run(&a, "TTL e"), ":-2\r\n", "TTL missing");
    run(&a, "SETEX e2 1 v");
    now += 1001;
    sim_redis_core_cron(core, now);
    is_int(sim_redis_core_keyspace(core)->db[0].keys.count, 4, "active expiry removed e2");
    is_str(run(&a, "DBSIZE"), ":4\r\n", "DBSIZE");

    /* MULTI / EXEC / WATCH */
    is_str(run(&a, "WATCH n"), "+OK\r\n", "WATCH");
    run(&b, "SET n 1");
    is_str(run(&a, "MULTI"), "+OK\r\n", "MULTI");
    is_str(run(&a, "INCR n"), "+QUEUED\r\n", "queued");
    is_str(run(&a, "EXEC"), "*-1\r\n", "EXEC aborted by WATCH");
    run(&a, "MULTI");
    run(&a, "INCR n");
    is_str(run(&a, "GET"), "-ERR wrong number of arguments for 'get' command\r\n", "bad queued");
    is_str(run(&a, "EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n",
           "EXECABORT");
    run(&a, "MULTI");
    run(&a, "INCR n");
    is_str(run(&a, "EXEC"), "*1\r\n:2\r\n", "EXEC runs");

    /* pub/sub between two clients */
    is_str(run(&b, "SUBSCRIBE ch"), "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", "SUBSCRIBE");
    is_str(run(&b, "GET k"), "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
           "PING / QUIT / RESET are allowed in this context\r\n", "subscribed mode");
    wakes = 0;
    is_str(run(&a, "PUBLISH ch hi"), ":1\r\n", "PUBLISH");
    is_int(wakes, 1, "subscriber woken");
    is_str(run(&b, "PING"), "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n",
           "message then pubsub PONG");
    run(&b, "UNSUBSCRIBE");

    /* blocking pop served by a push */
    is_str(run(&b, "BLPOP q 0"), "", "BLPOP blocks");
    ok(b.flags & SIM_RC_BLOCKED, "client blocked");
    is_str(run(&a, "RPUSH q 1"), ":1\r\n", "push");
    is_str(run(&b, "PING"), "*2\r\n$1\r\nq\r\n$1\r\n1\r\n+PONG\r\n", "BLPOP served");
    /* served only after the whole EXEC, from the keys ready then (Redis's
     * handleClientsBlockedOnKeys): k1 was deleted again, so k2 serves */
    is_str(run(&b, "BLPOP k1 k2 k1 0"), "", "BLPOP on two keys blocks");
    run(&a, "MULTI");
    run(&a, "RPUSH k1 x");
    run(&a, "RPUSH k2 y");
    run(&a, "DEL k1");
    is_str(run(&a, "EXEC"), "*3\r\n:1\r\n:1\r\n:1\r\n", "no one served inside EXEC");
    is_str(run(&b, "PING"), "*2\r\n$2\r\nk2\r\n$1\r\ny\r\n+PONG\r\n", "served from k2 after EXEC");
    run(&b, "BRPOP q 0.1");
    now += 200;
    sim_redis_core_cron(core, now);
    is_str(run(&b, "PING"), "*-1\r\n+PONG\r\n", "BRPOP timed out");

    /* AUTH with requirepass */
    is_str(run(&a, "CONFIG SET requirepass pw"), "+OK\r\n", "CONFIG SET requirepass");
    sim_redis_client c;
    sim_redis_client_init(core, &c, now);
    is_str(run(&c, "GET k"), "-NOAUTH Authentication required.\r\n", "NOAUTH");
    is_str(run(&c, "AUTH bad"), "-WRONGPASS invalid username-password pair or user is "
           "disabled.\r\n", "WRONGPASS");
    is_str(run(&c, "AUTH default pw"), "+OK\r\n", "AUTH user pass");
    is_str(run(&c, "HELLO 3"), "-NOPROTO unsupported protocol version\r\n", "HELLO 3");

    sim_redis_client_fini(&a);
    sim_redis_client_fini(&b);
    sim_redis_client_fini(&c);
    sim_redis_core_free(core);
}

/* Random choices (SRANDMEMBER, RANDOMKEY, SPOP) depend on the client's own
 * ordinal and its own commands only: two clients interleaved differently on
 * two cores with the same seed draw the same, each. */
static void test_rand_per_client(void) {
    char drawn[2][2][2048];   /* [core][client] */
    for (int run_ = 0; run_ < 2; run_++) {
        sim_redis_core *k = sim_redis_core_new(7, NULL, now);
        sim_redis_client cl[2];
        sim_redis_client_init(k, &cl[0], now);
        sim_redis_client_init(k, &cl[1], now);
        for (int i = 0; i < 40; i++) {
            char one[64];
            snprintf(one, sizeof(one), "SADD s m%d", i);
            run(&cl[0], one);
            snprintf(one, sizeof(one), "SET key%d v", i);
            run(&cl[0], one);
        }
        drawn[run_][0][0] = drawn[run_][1][0] = '\0';
        /* run 0: alternate a, b; run 1: all of b, then all of a */
        int mine[2] = {0, 0};
        for (int step = 0; step < 24; step++) {
            int who = run_ == 0 ? step % 2 : step < 12;
            const char *r = run(&cl[who], mine[who]++ % 2 ? "SRANDMEMBER s" : "RANDOMKEY");
            strncat(drawn[run_][who], r, sizeof(drawn[0][0]) - strlen(drawn[run_][who]) - 1);
        }
        sim_redis_client_fini(&cl[0]);
        sim_redis_client_fini(&cl[1]);
        sim_redis_core_free(k);
    }
    is_str(drawn[1][0], drawn[0][0], "first client: the same choices whatever the interleaving");
    is_str(drawn[1][1], drawn[0][1], "second client: the same choices");
    ok(strcmp(drawn[0][0], drawn[0][1]) != 0, "the two clients draw differently");
}

/* The path every redis.message fault rule takes: deliver asks the glue's
 * drop_message hook (which crosses the faults engine) per subscriber and
 * message; a drop means no output and no wake for that subscriber. The
 * hook here stands for a rule {match key "news.*", first 1, drop}. */
static int drops_left;
static char dropped_for[64];

static int drop_news_once(sim_redis_client *c, const char *channel, void *ud) {
    (void)ud;
    if (drops_left == 0 || strncmp(channel, "news.", 5) != 0)
        return 0;
    drops_left--;
    snprintf(dropped_for, sizeof(dropped_for), "client %llu %s", (unsigned long long)c->id,
             channel);
    return 1;
}

static void test_drop_message_hook(void) {
    sim_redis_hooks hooks = {wake, NULL, drop_news_once, NULL};
    sim_redis_core *k = sim_redis_core_new(1, &hooks, now);
    sim_redis_client pub, sub;
    sim_redis_client_init(k, &pub, now);
    sim_redis_client_init(k, &sub, now);
    run(&sub, "SUBSCRIBE other news.a news.b");
    drops_left = 1;
    wakes = 0;
    is_str(run(&pub, "PUBLISH other x"), ":1\r\n", "non-matching channel: published");
    is_str(run(&sub, "PING"), "*3\r\n$7\r\nmessage\r\n$5\r\nother\r\n$1\r\nx\r\n"
           "*2\r\n$4\r\npong\r\n$0\r\n\r\n", "non-matching channel kept");
    is_int(wakes, 1, "its subscriber woken");
    is_str(run(&pub, "PUBLISH news.a y"), ":1\r\n", "a dropped message still counts a receiver");
    is_str(run(&sub, "PING"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n", "matching dropped");
    is_int(wakes, 1, "no wake for a dropped message");
    is_str(dropped_for, "client 2 news.a", "the hook is asked per subscriber and channel");
    run(&pub, "PUBLISH news.b z");
    is_str(run(&sub, "PING"), "*3\r\n$7\r\nmessage\r\n$6\r\nnews.b\r\n$1\r\nz\r\n"
           "*2\r\n$4\r\npong\r\n$0\r\n\r\n", "count spent: the next one arrives");
    sim_redis_client_fini(&pub);
    sim_redis_client_fini(&sub);
    sim_redis_core_free(k);
}

static void test_glob(void) {
    ok(sim_glob_match("user:*", 6, "user:1", 6, 0), "glob *");
    ok(!sim_glob_match("user:?", 6, "user:12", 7, 0), "glob ?");
    ok(sim_glob_match("h[ae]llo", 8, "hello", 5, 0), "glob class");
    ok(!sim_glob_match("h[^e]llo", 8, "hello", 5, 0), "glob negated class");
    ok(sim_glob_match("*", 1, "", 0, 0), "* matches empty");
}

int main(void) {
    test_parser();
    test_parser_chunks();
    test_builder();
    test_dispatch();
    test_rand_per_client();
    test_drop_message_hook();
    test_glob();
    return tap_done();
}
