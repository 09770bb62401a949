/* test_caps.c -- connection caps from the descriptor limit (sim/net/caps.c):
 * the figures docs/errors.md gives, the sum always within the limit less the
 * reserve when it can be, the override, and the log line. */
#include "tap.h"

#include <string.h>

#include "caps.h"

static long cost(const sim_caps *c, int tls) {
    return c->backend * (tls ? 3 : 1) + c->redis + c->auth + c->control;
}

int main(void) {
    sim_caps c;
    /* The figures of docs/errors.md. */
    sim_caps_size(&c, 256, 0, 0);
    is_int(c.reserve, 64, "reserve");
    is_int(c.backend, 105, "256: backend");
    is_int(c.redis, 42, "256: redis");
    is_int(c.auth, 21, "256: auth");
    is_int(c.control, 21, "256: control");
    ok(c.fits, "256 fits");
    sim_caps_size(&c, 1024, 0, 0);
    is_int(c.backend, 530, "1024: backend");
    is_int(c.redis, 212, "1024: redis");
    sim_caps_size(&c, 20000, 0, 0);
    is_int(c.backend, 10000, "20000: backend: 10 000 WebSockets fit");
    is_int(c.redis, 4430, "20000: redis");
    sim_caps_size(&c, 1024, 1, 0);
    is_int(c.reserve, 64 + 8 + 16, "tls reserve");
    is_int(c.backend, 245, "1024 with tls: backend (three descriptors a client)");
    is_int(c.redis, 98, "1024 with tls: redis");

    /* Whatever the limit, the caps fit in what the reserve leaves. */
    int all_fit = 1;
    for (int tls = 0; tls <= 1; tls++)
        for (long fds = 200; fds < 200000; fds = fds * 11 / 10) {
            sim_caps_size(&c, fds, tls, 0);
            if (!c.fits || cost(&c, tls) > fds - c.reserve || c.backend > SIM_CAPS_MAX) all_fit = 0;
        }
    ok(all_fit, "every limit from 200 to 200000: the caps fit");

    /* No limit: Redis's default for each. */
    sim_caps_size(&c, -1, 0, 0);
    is_int(c.backend, SIM_CAPS_MAX, "unlimited: backend");
    is_int(c.control, SIM_CAPS_MAX, "unlimited: control");
    ok(c.fits, "unlimited fits");

    /* Too few descriptors: one client each, and said so. */
    sim_caps_size(&c, 64, 0, 0);
    is_int(c.auth, 1, "64: auth still takes one");
    ok(!c.fits, "64 does not fit");

    /* --max-clients: every cap, whether or not it fits. */
    sim_caps_size(&c, 128, 0, 10000);
    is_int(c.backend, 10000, "override: backend");
    is_int(c.redis, 10000, "override: redis");
    ok(!c.fits, "override past the limit does not fit");
    sim_caps_size(&c, 20000, 0, 5);
    is_int(c.control, 5, "small override");
    ok(c.fits, "small override fits");
    sim_caps_size(&c, 20000, 0, 50000);
    is_int(c.backend, SIM_CAPS_MAX, "override clamped");

    char line[256];
    sim_caps_size(&c, 256, 0, 0);
    sim_caps_describe(&c, line, sizeof(line));
    is_str(line, "file descriptors: 256 (64 kept for stagesim); connection caps: backend 105, "
                 "redis maxclients 42, auth 21, control 21", "log line");
    sim_caps_size(&c, 128, 0, 10000);
    sim_caps_describe(&c, line, sizeof(line));
    ok(strstr(line, "more than the descriptors hold") != NULL, "log line says it does not fit");
    ok(sim_caps_fd_limit() != 0, "the process has a limit or none");
    for (int tls = 0; tls <= 1; tls++) {
        long want = sim_caps_fds_wanted(tls);
        sim_caps_size(&c, want, tls, 0);
        is_int(c.backend, SIM_CAPS_MAX, "at the wanted limit (%ld, tls %d) the backend's cap is the most", want, tls);
        sim_caps_size(&c, want - 9 * (tls ? 3 : 1), tls, 0);
        ok(c.backend < SIM_CAPS_MAX, "and not under it");
    }
    return tap_done();
}
