/* timer_floor.c -- the machine's own timer lateness: the reference for the
 * delay-accuracy rows. One thread sleeps on a timerfd set for every
 * millisecond (absolute, CLOCK_MONOTONIC, 0.137 ms into it so no two wakes
 * share a tick boundary) for SECONDS, and prints how late each wake-up was.
 * Nothing else runs in it: what it measures is what the kernel and the
 * hypervisor give any process on this machine.
 *
 * usage: timer_floor [SECONDS]   (default 5)
 * prints: FLOOR n=.. p50_ms=.. p99_ms=.. p999_ms=.. max_ms=.. over_1ms=.. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct timespec add_ns(struct timespec t, long long ns) {
    t.tv_sec += (time_t)(ns / 1000000000LL);
    t.tv_nsec += (long)(ns % 1000000000LL);
    if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
    return t;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    size_t n = (size_t)(seconds * 1000);
    if (n < 1) n = 1;
    double *late = malloc(n * sizeof(*late));
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    if (!late || fd < 0) {
        perror("timer_floor");
        return 1;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (size_t i = 0; i < n; i++) {
        struct itimerspec it = {.it_value = add_ns(start, (long long)(i + 1) * 1000000 + 137000)};
        timerfd_settime(fd, TFD_TIMER_ABSTIME, &it, NULL);
        uint64_t expirations;
        if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations)) {
            perror("timer_floor: read");
            return 1;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        late[i] = (double)(now.tv_sec - it.it_value.tv_sec) * 1e3 +
                  (double)(now.tv_nsec - it.it_value.tv_nsec) / 1e6;
    }
    qsort(late, n, sizeof(*late), by_value);
    size_t over = 0;
    for (size_t i = 0; i < n; i++) over += late[i] > 1.0;
    printf("FLOOR n=%zu p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f over_1ms=%zu\n", n,
           late[n / 2], late[n * 99 / 100], late[n * 999 / 1000], late[n - 1], over);
    free(late);
    close(fd);
    return 0;
}
