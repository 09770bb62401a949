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

    /* A deadline from the middle of a millisecond: wait_until counts from
     * the loop's exact time, wait_s from the millisecond's start. */
    sim_clock mid;
    sim_clock_init(&mid, 1000.0004, 1.0);
    double real = 1000.3007;
    int64_t due = sim_clock_now_ms(&mid, real) + 50;
    double w = sim_clock_wait_until_s(&mid, due, real);
    is_int(sim_clock_now_ms(&mid, real + w + 1e-9), due, "wait_until wakes in its ms");
    ok(w < 0.0497 + 1e-6 && w > 0.0497 - 1e-6, "and not 0.7 ms into it (%.6f s)", w);
    ok(sim_clock_wait_until_s(&mid, due - 60, real) == 0.0, "a deadline gone waits 0");
    is_int(sim_clock_now_ms(&fast, 1003.0 + sim_clock_wait_until_s(&fast, fast.start_ms + 40000, 1003.0) + 1e-9),
           fast.start_ms + 40000, "time scale 10: wait_until too");

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
