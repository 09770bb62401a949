/* test_redis_core.c -- unit tests (no sockets) for the command layer
 * through its core: dispatch on a keyspace (arity, auth, unknown commands,
 * expiry, MULTI/WATCH, pub/sub, blocking pops) with the table of every
 * family, per-client random choices, and the glue's hooks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_core.h"
#include "redis_table.h"
#include "tap.h"

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

int main(void) {
    test_dispatch();
    test_rand_per_client();
    test_drop_message_hook();
    return tap_done();
}
