/* test_probe_url.c -- the probes' URLs and HOST:PORT: schemes and their
 * ports, IPv6 literals, paths and queries, joins, and the errors. */
#include <string.h>

#include "probe_url.h"
#include "tap.h"

static void test_urls(void) {
    sim_probe_url u;
    char err[200];
    ok(sim_probe_url_parse("http://127.0.0.1:8000", &u, err, sizeof(err)) == 0, "http with a port");
    ok(!u.tls && u.port == 8000 && strcmp(u.host, "127.0.0.1") == 0 && u.path[0] == '\0',
       "host, port, no path");
    ok(sim_probe_url_parse("https://auth.staging.netrasystems.ai", &u, err, sizeof(err)) == 0 &&
           u.tls && u.port == 443,
       "https defaults to 443");
    ok(sim_probe_url_parse("WS://h/ws", &u, err, sizeof(err)) == 0 && !u.tls && u.port == 80 &&
           strcmp(u.path, "/ws") == 0,
       "ws, any case, defaults to 80, keeps the path");
    ok(sim_probe_url_parse("wss://[::1]:9443/api?x=1", &u, err, sizeof(err)) == 0 && u.tls &&
           strcmp(u.host, "::1") == 0 && u.port == 9443 && strcmp(u.path, "/api?x=1") == 0,
       "an IPv6 literal, a path with a query");
    ok(sim_probe_url_parse("http://h:1?x=1", &u, err, sizeof(err)) == 0 &&
           strcmp(u.path, "/?x=1") == 0,
       "a query without a path");
    ok(sim_probe_url_parse("http://h/", &u, err, sizeof(err)) == 0 && u.path[0] == '\0',
       "a lone / is no path");
    ok(sim_probe_url_parse("ftp://h", &u, err, sizeof(err)) < 0 && strstr(err, "'ftp'"),
       "another scheme is named in the error");
    ok(sim_probe_url_parse("localhost:8000", &u, err, sizeof(err)) < 0, "no scheme");
    ok(sim_probe_url_parse("http://h:99999", &u, err, sizeof(err)) < 0 && strstr(err, "99999"),
       "a port out of range");
    ok(sim_probe_url_parse("http://:80", &u, err, sizeof(err)) < 0, "no host");
    ok(sim_probe_url_parse("http://[::1", &u, err, sizeof(err)) < 0, "an unclosed [");
}

static void test_join(void) {
    sim_probe_url u;
    char err[200], out[256];
    sim_probe_url_parse("https://h/api/", &u, err, sizeof(err));
    sim_probe_url_join(&u, "/ws", out, sizeof(out));
    is_str(out, "/api/ws", "a path prefix joins without a double slash");
    sim_probe_url_parse("https://h", &u, err, sizeof(err));
    sim_probe_url_join(&u, "/auth/login", out, sizeof(out));
    is_str(out, "/auth/login", "no prefix");
}

static void test_hostport(void) {
    char host[64], err[200];
    int port;
    ok(sim_probe_hostport_parse("127.0.0.1:6380", host, sizeof(host), &port, err, sizeof(err)) == 0 &&
           strcmp(host, "127.0.0.1") == 0 && port == 6380,
       "HOST:PORT");
    ok(sim_probe_hostport_parse("[::1]:6379", host, sizeof(host), &port, err, sizeof(err)) == 0 &&
           strcmp(host, "::1") == 0 && port == 6379,
       "[V6]:PORT");
    ok(sim_probe_hostport_parse("redis", host, sizeof(host), &port, err, sizeof(err)) < 0 &&
           strstr(err, "no port"),
       "a port is required");
    ok(sim_probe_hostport_parse("h:0", host, sizeof(host), &port, err, sizeof(err)) < 0,
       "port 0 is refused");
}

int main(void) {
    test_urls();
    test_join();
    test_hostport();
    return tap_done();
}
