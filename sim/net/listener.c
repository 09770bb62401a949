/* listener.c -- accepting, and running out of descriptors without spinning.
 *
 * With the descriptor limit reached, accept() fails with EMFILE while the
 * pending connection stays queued, so a level-triggered watcher fires again
 * at once: the loop spins and logs for ever, and every service starves. So
 * on EMFILE/ENFILE the listener drains what is queued with the reserve
 * descriptor (closed to make room, each client accepted on it, refused with
 * the service's own answer, closed, and the reserve taken again), stops
 * watching, and looks again after a back-off (100 ms, doubling to 1 s), in
 * real time: this is about the machine, not a simulated duration. One log
 * line when an episode starts, one when it ends, with the count. */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock.h"
#include "util.h"

#define ACCEPTS_PER_EVENT 64
#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 1.0

struct sim_listener {
    struct ev_loop *loop;
    sim_listener_config cfg;
    char *bind;
    int fd, port;
    int reserve;                /* a spare descriptor for refusing when none is left */
    int paused;                 /* by the service (sim_listener_pause) */
    int exhausting;             /* inside an episode of EMFILE/ENFILE */
    double backoff_s;
    ev_io io;
    ev_timer retry;
    uint64_t exhausted, refused, episode_refused;
};

static void watch(sim_listener *l) {
    if (l->fd >= 0 && !l->paused && !ev_is_active(&l->retry)) ev_io_start(l->loop, &l->io);
}

static void take_reserve(sim_listener *l) {
    if (l->reserve < 0) l->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Refuses one queued client on the reserve descriptor. 1 when it did. */
static int refuse_one(sim_listener *l) {
    if (l->reserve < 0) return 0;
    close(l->reserve);
    l->reserve = -1;
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        if (l->cfg.on_refuse) l->cfg.on_refuse(l->cfg.ctx, fd);
        close(fd);
        l->refused++;
        l->episode_refused++;
    }
    take_reserve(l);
    return fd >= 0;
}

static void exhausted(sim_listener *l, int err) {
    if (!l->exhausting) {
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        sim_warn("%s: out of file descriptors (%s, limit %ld): refusing new clients until some "
                 "are free", l->cfg.who, strerror(err), (long)rl.rlim_cur);
        l->exhausting = 1;
        l->exhausted++;
        l->episode_refused = 0;
        l->backoff_s = BACKOFF_MIN_S;
    } else if (l->backoff_s < BACKOFF_MAX_S) {
        l->backoff_s = l->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : l->backoff_s * 2;
    }
    while (refuse_one(l)) {}
    ev_io_stop(l->loop, &l->io);
    ev_timer_set(&l->retry, l->backoff_s, 0.0);
    ev_timer_start(l->loop, &l->retry);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    sim_listener *l = w->data;
    for (int i = 0; i < ACCEPTS_PER_EVENT && l->fd >= 0 && !l->paused; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            if (l->exhausting) {
                sim_info("%s: accepting again (%llu client(s) refused meanwhile)", l->cfg.who,
                         (unsigned long long)l->episode_refused);
                l->exhausting = 0;
            }
            l->cfg.on_accept(l->cfg.ctx, fd);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            exhausted(l, errno);
            return;
        }
        sim_warn("%s: accept: %s", l->cfg.who, strerror(errno));
        return;
    }
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    sim_listener *l = t->data;
    take_reserve(l);
    watch(l);
}

sim_listener *sim_listener_start(struct ev_loop *loop, const sim_listener_config *cfg, char *err,
                                 size_t errlen) {
    sim_listener *l = sim_xcalloc(1, sizeof(*l));
    l->loop = loop;
    l->cfg = *cfg;
    l->bind = sim_xstrdup(cfg->bind ? cfg->bind : "127.0.0.1");
    l->cfg.bind = l->bind;
    l->reserve = -1;
    l->fd = sim_sock_listen(cfg->who, l->bind, cfg->port, cfg->backlog ? cfg->backlog : 511,
                            &l->port, err, errlen);
    if (l->fd < 0) {
        free(l->bind);
        free(l);
        return NULL;
    }
    take_reserve(l);
    ev_io_init(&l->io, on_io, l->fd, EV_READ);
    l->io.data = l;
    ev_init(&l->retry, on_retry);
    l->retry.data = l;
    watch(l);
    return l;
}

int sim_listener_port(const sim_listener *l) {
    return l->port;
}

void sim_listener_pause(sim_listener *l) {
    l->paused = 1;
    ev_io_stop(l->loop, &l->io);
}

void sim_listener_resume(sim_listener *l) {
    l->paused = 0;
    watch(l);
}

void sim_listener_close(sim_listener *l) {
    if (l->fd < 0) return;
    ev_io_stop(l->loop, &l->io);
    ev_timer_stop(l->loop, &l->retry);
    close(l->fd);
    l->fd = -1;
}

int sim_listener_reopen(sim_listener *l, char *err, size_t errlen) {
    if (l->fd >= 0) return 0;
    int port;
    l->fd = sim_sock_listen(l->cfg.who, l->bind, l->port, l->cfg.backlog ? l->cfg.backlog : 511,
                            &port, err, errlen);
    if (l->fd < 0) return -1;
    ev_io_set(&l->io, l->fd, EV_READ);
    watch(l);
    return 0;
}

uint64_t sim_listener_exhausted(const sim_listener *l) {
    return l->exhausted;
}

uint64_t sim_listener_refused(const sim_listener *l) {
    return l->refused;
}

void sim_listener_free(sim_listener *l) {
    if (!l) return;
    sim_listener_close(l);
    if (l->reserve >= 0) close(l->reserve);
    free(l->bind);
    free(l);
}

/* The kernel's ceiling for RLIMIT_NOFILE, which a privileged process may
 * raise its hard limit to. */
static rlim_t nr_open(void) {
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    unsigned long long n = 0;
    if (f) {
        if (fscanf(f, "%llu", &n) != 1) n = 0;
        fclose(f);
    }
    return n ? (rlim_t)n : 1048576;
}

long sim_listener_raise_fd_limit(long want, long *was) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if (was) *was = rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
    if (want > 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)want) {
        /* Past the hard limit: only with CAP_SYS_RESOURCE, and never past
         * the kernel's ceiling; without the privilege this fails quietly. */
        rlim_t top = (rlim_t)want < nr_open() ? (rlim_t)want : nr_open();
        struct rlimit more = {top, top};
        if (top > rl.rlim_max && setrlimit(RLIMIT_NOFILE, &more) == 0) rl = more;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit all = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &all) == 0) rl = all;
    }
    return rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
}
