/* clock.c -- simulated milliseconds from the loop's real time. */
#include "clock.h"

#include <math.h>

void sim_clock_init(sim_clock *c, double real_now, double scale) {
    c->real_start = real_now;
    c->start_ms = (int64_t)floor(real_now * 1000.0);
    c->scale = scale > 0 ? scale : 1.0;
}

int64_t sim_clock_now_ms(const sim_clock *c, double real_now) {
    return c->start_ms + (int64_t)floor((real_now - c->real_start) * 1000.0 * c->scale);
}

double sim_clock_wait_s(const sim_clock *c, int64_t ms) {
    return ms > 0 ? (double)ms / 1000.0 / c->scale : 0.0;
}

double sim_clock_real_at(const sim_clock *c, int64_t due_ms) {
    return c->real_start + (double)(due_ms - c->start_ms) / 1000.0 / c->scale;
}

int64_t sim_clock_elapsed_ms(const sim_clock *c, int64_t now_ms) {
    return now_ms - c->start_ms;
}

int64_t sim_epoch_s_to_ms(double seconds) {
    static const double max_s = 253402300799.0;   /* 9999-12-31T23:59:59Z */
    if (!(seconds == seconds)) return 0;
    if (seconds > max_s) return (int64_t)(max_s * 1000.0);
    if (seconds < -62167219200.0) return -62167219200000LL;   /* 0000-01-01 */
    return (int64_t)(seconds * 1000.0);
}
