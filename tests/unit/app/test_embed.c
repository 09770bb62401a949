/* test_embed.c -- the embedding API of include/stagesim.h: two simulators in
 * one process on free ports, each answering on its three ports, then a clean
 * stop. Talks plain sockets so it depends on nothing but libc. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "stagesim.h"
#include "tap.h"

/* Sends req to 127.0.0.1:port and reads until `until` shows up or the peer
 * closes; returns what was read (static buffer). */
static const char *exchange(int port, const char *req, const char *until) {
    static char buf[8192];
    buf[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return "connect failed";
    }
    if (write(fd, req, strlen(req)) < 0) {
        close(fd);
        return "write failed";
    }
    size_t len = 0;
    while (len < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, until)) break;
    }
    close(fd);
    return buf;
}

static void check_services(stagesim *s, const char *label) {
    int b = stagesim_port(s, "backend"), a = stagesim_port(s, "auth"), r = stagesim_port(s, "redis");
    int c = stagesim_port(s, "control");
    ok(b > 0 && a > 0 && r > 0 && c > 0, "%s: four ports (%d %d %d %d)", label, b, a, r, c);
    ok(b != a && a != r && b != r && c != b && c != a && c != r, "%s: distinct ports", label);
    is_int(stagesim_port(s, "nope"), -1, "%s: unknown service", label);
    const char *reply = exchange(r, "*1\r\n$4\r\nPING\r\n", "\r\n");
    is_str(reply, "+PONG\r\n", "%s: Redis answers PING", label);
    reply = exchange(b, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "}");
    ok(strstr(reply, "200") && strstr(reply, "{\"status\":\"ok\"}"), "%s: backend /health", label);
    reply = exchange(a, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "}");
    ok(strstr(reply, "200") && strstr(reply, "auth-service"), "%s: auth /health", label);
    reply = exchange(c, "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "}");
    ok(strstr(reply, "200") && strstr(reply, "\"status\":\"running\""), "%s: control /status", label);
}

int main(void) {
    stagesim_config cfg;
    stagesim_config_init(&cfg);
    char err[512] = "";

    stagesim *one = stagesim_start(&cfg, err, sizeof(err));
    ok(one != NULL, "first simulator starts (%s)", err);
    stagesim *two = stagesim_start(&cfg, err, sizeof(err));
    ok(two != NULL, "second simulator starts alongside (%s)", err);
    if (one) check_services(one, "one");
    if (two) check_services(two, "two");
    if (one && two)
        ok(stagesim_port(one, "backend") != stagesim_port(two, "backend"), "they do not share ports");
    if (two) is_int(stagesim_stop(two), 0, "second stops");
    if (one) {
        /* Still serving after the other one stopped. */
        const char *reply = exchange(stagesim_port(one, "redis"), "PING\r\n", "\r\n");
        is_str(reply, "+PONG\r\n", "first still answers (inline PING)");
        is_int(stagesim_stop(one), 0, "first stops");
    }

    cfg.scenario_path = "/nonexistent.json";
    stagesim *bad = stagesim_start(&cfg, err, sizeof(err));
    ok(bad == NULL, "a missing scenario fails to start");
    is_str(err, "/nonexistent.json: cannot open: No such file or directory", "with the loader's message");
    ok(strlen(stagesim_version()) > 0, "version %s", stagesim_version());
    return tap_done();
}
