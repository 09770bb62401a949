/* listener.h -- a listening socket on the loop that every service accepts
 * through, so running out of file descriptors is one state handled in one
 * place: the listener stops accepting (no spinning, one log line per
 * episode), refuses the client it can still take with the service's own
 * answer, and resumes by itself with a back-off. */
#ifndef SIM_LISTENER_H
#define SIM_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

typedef struct sim_listener sim_listener;

/* Called with each accepted socket (non-blocking, close-on-exec): the
 * callee owns fd. */
typedef void (*sim_listener_accept_fn)(void *ctx, int fd);
/* Called with a socket accepted while descriptors ran out (on the reserve
 * one) or while the service is over its cap: write the service's refusal
 * (-ERR max number of clients reached, a 503 with a JSON body) as far as
 * the socket takes it without blocking; the listener closes fd after. */
typedef void (*sim_listener_refuse_fn)(void *ctx, int fd);

typedef struct sim_listener_config {
    const char *who;            /* "redis", "backend", ... for messages */
    const char *bind;
    int port;                   /* 0 picks a free port */
    int backlog;
    sim_listener_accept_fn on_accept;
    sim_listener_refuse_fn on_refuse;   /* NULL: close without a word */
    void *ctx;
} sim_listener_config;

/* Listens and starts watching. NULL with err on failure. */
sim_listener *sim_listener_start(struct ev_loop *loop, const sim_listener_config *cfg, char *err,
                                 size_t errlen);
int sim_listener_port(const sim_listener *l);
/* Stops accepting until resume (connections are refused by the kernel's
 * backlog, then time out: nothing is accepted). */
void sim_listener_pause(sim_listener *l);
void sim_listener_resume(sim_listener *l);
/* Closes the socket (new connections are refused), or opens it again on the
 * same port. 0, or -1 with err. */
void sim_listener_close(sim_listener *l);
int sim_listener_reopen(sim_listener *l, char *err, size_t errlen);
/* How many times descriptors ran out, and how many clients were refused. */
uint64_t sim_listener_exhausted(const sim_listener *l);
uint64_t sim_listener_refused(const sim_listener *l);
void sim_listener_free(sim_listener *l);

/* Raises the soft descriptor limit to the hard one (as redis-server does);
 * when the hard one is under `want` (> 0), first tries to raise both to
 * `want` (a privileged process may, up to /proc/sys/fs/nr_open). Returns
 * what the process has now (-1: unlimited) and, in *was (may be NULL),
 * what it had. */
long sim_listener_raise_fd_limit(long want, long *was);

#endif
