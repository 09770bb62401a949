/* clock.h -- the one clock of a simulator. Inside the program time is an
 * int64_t count of milliseconds, `now_ms`: simulated milliseconds since the
 * Unix epoch, passed in to whatever needs it and never read by protocol
 * code. This is the edge where real time comes in (the loop's ev_now()) and
 * where waits go out (the seconds an ev_timer waits), so that a drill can
 * run every duration stagesim owns `scale` times faster. Epoch seconds
 * (JWT claims, JSON timestamps) are derived from now_ms at the edges that
 * need them. */
#ifndef SIM_CLOCK_H
#define SIM_CLOCK_H

#include <stdint.h>

typedef struct sim_clock {
    double real_start;   /* the loop's time at start, in seconds */
    int64_t start_ms;    /* now_ms at start: the real start, in ms */
    double scale;        /* simulated ms per real ms; 1 is real time */
} sim_clock;

/* Starts the clock at the loop's time real_now (seconds). scale <= 0 is 1. */
void sim_clock_init(sim_clock *c, double real_now, double scale);
/* now_ms for the loop's time real_now (seconds). */
int64_t sim_clock_now_ms(const sim_clock *c, double real_now);
/* The real seconds an ev_timer waits for `ms` simulated milliseconds; 0
 * for ms <= 0. */
double sim_clock_wait_s(const sim_clock *c, int64_t ms);
/* The loop's time (seconds) at which now_ms reaches due_ms. */
double sim_clock_real_at(const sim_clock *c, int64_t due_ms);
/* Milliseconds since the clock started. */
int64_t sim_clock_elapsed_ms(const sim_clock *c, int64_t now_ms);

/* Epoch seconds from outside (a JWT claim) as epoch ms, clamped to the
 * years 0000..9999 so that no value, however crafted, overflows later
 * arithmetic or a calendar conversion; NaN is 0. */
int64_t sim_epoch_s_to_ms(double seconds);

#endif
