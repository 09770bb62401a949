/* caps.c -- connection caps from the descriptor limit (caps.h). Redis does
 * the same for maxclients alone (limit - 32); here four services share one
 * process, so the limit is split between them and their sum fits. */
#include "caps.h"

#include <stdio.h>
#include <sys/resource.h>

#define SHARES_BACKEND 5
#define SHARES_REDIS 2
#define SHARES_AUTH 1
#define SHARES_CONTROL 1

static long clamp(long v) {
    return v < 1 ? 1 : v > SIM_CAPS_MAX ? SIM_CAPS_MAX : v;
}

void sim_caps_size(sim_caps *caps, long fds, int tls, long override) {
    long backend_cost = tls ? 3 : 1;
    caps->fds = fds;
    caps->reserve = SIM_CAPS_RESERVE + (tls ? SIM_CAPS_TLS_RESERVE : 0);
    if (override > 0) {
        caps->backend = caps->redis = caps->auth = caps->control = clamp(override);
    } else if (fds < 0) {
        caps->backend = caps->redis = caps->auth = caps->control = SIM_CAPS_MAX;
    } else {
        long per_share = SHARES_BACKEND * backend_cost + SHARES_REDIS + SHARES_AUTH + SHARES_CONTROL;
        long share = (fds - caps->reserve) / per_share;
        caps->backend = clamp(SHARES_BACKEND * share);
        caps->redis = clamp(SHARES_REDIS * share);
        caps->auth = clamp(SHARES_AUTH * share);
        caps->control = clamp(SHARES_CONTROL * share);
    }
    long need = caps->backend * backend_cost + caps->redis + caps->auth + caps->control;
    caps->fits = fds < 0 || need <= fds - caps->reserve;
}

long sim_caps_fds_wanted(int tls) {
    sim_caps c;
    /* The smallest limit whose shares give the backend its maximum. */
    long per_share = SHARES_BACKEND * (tls ? 3 : 1) + SHARES_REDIS + SHARES_AUTH + SHARES_CONTROL;
    long share = (SIM_CAPS_MAX + SHARES_BACKEND - 1) / SHARES_BACKEND;
    sim_caps_size(&c, 0, tls, 0);
    return share * per_share + c.reserve;
}

long sim_caps_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return -1;
    return (long)rl.rlim_cur;
}

void sim_caps_describe(const sim_caps *caps, char *out, size_t outlen) {
    char fds[32];
    if (caps->fds < 0) snprintf(fds, sizeof(fds), "unlimited");
    else snprintf(fds, sizeof(fds), "%ld", caps->fds);
    snprintf(out, outlen,
             "file descriptors: %s (%ld kept for stagesim); connection caps: backend %ld, "
             "redis maxclients %ld, auth %ld, control %ld%s", fds, caps->reserve, caps->backend,
             caps->redis, caps->auth, caps->control,
             caps->fits ? "" : " (more than the descriptors hold: past them clients are refused "
                               "only as descriptors run out)");
}
