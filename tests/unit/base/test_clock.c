/* test_clock.c -- the one clock (sim/base/clock.c): simulated ms from the
 * loop's seconds, waits scaled back to real seconds, and crafted epoch
 * seconds clamped before they can overflow anything. */
#include <math.h>

#include "clock.h"
#include "tap.h"

int main(void) {
    sim_clock c;
    sim_clock_init(&c, 1000.0, 1.0);
    is_int(c.start_ms, 1000000, "start_ms is the real start in ms");
    is_int(sim_clock_now_ms(&c, 1000.0), 1000000, "at start");
    is_int(sim_clock_now_ms(&c, 1001.5), 1001500, "1.5 s later");
    is_int(sim_clock_now_ms(&c, 1000.0009), 1000000, "a part of a ms is not a ms yet (floor)");
    is_int(sim_clock_elapsed_ms(&c, sim_clock_now_ms(&c, 1002.0)), 2000, "elapsed");
    ok(fabs(sim_clock_wait_s(&c, 250) - 0.25) < 1e-12, "250 ms waits 0.25 s");
    ok(sim_clock_wait_s(&c, 0) == 0.0 && sim_clock_wait_s(&c, -5) == 0.0, "no negative waits");

    sim_clock fast;
    sim_clock_init(&fast, 1000.0, 10.0);
    is_int(sim_clock_now_ms(&fast, 1001.0), 1010000, "time scale 10: one real s is 10 s");
    ok(fabs(sim_clock_wait_s(&fast, 60000) - 6.0) < 1e-12, "a 60 s wait is 6 real s");
    /* What a timer waits and what the clock then reads agree. */
    double woke = 1000.0 + sim_clock_wait_s(&fast, 1234);
    int64_t at = sim_clock_now_ms(&fast, woke + 1e-9);
    ok(at >= fast.start_ms + 1234 && at <= fast.start_ms + 1235, "a timer wakes at its ms (%lld)",
       (long long)(at - fast.start_ms));

    /* A deadline's real time (what the backend's timers are armed for, plus
     * the phase of the client's message): the start of its millisecond,
     * whatever sub-millisecond the clock started at, at any time scale. */
    sim_clock mid;
    sim_clock_init(&mid, 1000.0004, 1.0);
    int64_t due = sim_clock_now_ms(&mid, 1000.3007) + 50;
    double due_at = sim_clock_real_at(&mid, due);
    is_int(sim_clock_now_ms(&mid, due_at + 1e-9), due, "real_at is in its ms");
    is_int(sim_clock_now_ms(&mid, due_at - 1e-6), due - 1, "and at its start");
    ok(due_at > 1000.3007 + 0.0497 - 1e-6 && due_at < 1000.3007 + 0.0497 + 1e-6,
       "50 ms on from 0.3 ms into a millisecond: 49.7 ms (%.6f s)", due_at - 1000.3007);
    double fast_at = sim_clock_real_at(&fast, fast.start_ms + 40000);
    is_int(sim_clock_now_ms(&fast, fast_at + 1e-9), fast.start_ms + 40000, "time scale 10: real_at too");
    ok(fast_at > 1003.9999 && fast_at < 1004.0001, "40 000 ms at scale 10 are 4 s (%.6f)", fast_at - 1000.0);

    sim_clock bad;
    sim_clock_init(&bad, 5.0, 0.0);
    ok(bad.scale == 1.0, "scale <= 0 is 1");
    sim_clock_init(&bad, 5.0, -3.0);
    ok(bad.scale == 1.0, "negative too");

    is_int(sim_epoch_s_to_ms(1.5), 1500, "epoch seconds to ms");
    is_int(sim_epoch_s_to_ms(NAN), 0, "NaN is 0");
    ok(sim_epoch_s_to_ms(1e300) > 0 && sim_epoch_s_to_ms(1e300) < (int64_t)1 << 50,
       "far future clamped, no overflow");
    ok(sim_epoch_s_to_ms(-1e300) < 0 && sim_epoch_s_to_ms(-1e300) > -((int64_t)1 << 50),
       "far past clamped");
    ok(sim_epoch_s_to_ms(INFINITY) == sim_epoch_s_to_ms(1e300), "infinity as the far future");
    return tap_done();
}
