/* caps.h -- every service's connection cap, sized from the descriptor limit
 * the process has, so that a client within its service's cap always finds a
 * descriptor and a client over it gets the service's own refusal (Redis's
 * -ERR max number of clients reached, a 503 with a JSON body, a WebSocket
 * 1013) instead of the silence of a process out of descriptors. Pure: the
 * limit is a parameter (docs/errors.md, "Connection caps"). */
#ifndef SIM_CAPS_H
#define SIM_CAPS_H

#include <stddef.h>

/* Clients over an HTTP service's cap (backend, auth, control) whose request
 * is being read before it is refused: a client still writing when the
 * socket closes sees a broken pipe instead of the 503, and the backend must
 * tell an upgrade (1013) from a request (503). More at once are refused
 * unread. */
#define SIM_CAPS_REFUSING 8
/* Descriptors kept for stagesim itself: its own (the standard streams, the
 * journal, the loop's epoll and signal descriptors, four listeners and their
 * spare descriptors (listener.h), libmicrohttpd's epoll sets, the lws
 * context, the backend's own Redis client: 23 counted at start; Redis's
 * refusals and the unread ones, a drill's probes: the margin), then the
 * three HTTP services' refusals in progress. */
#define SIM_CAPS_OWN 40
#define SIM_CAPS_RESERVE (SIM_CAPS_OWN + 3 * SIM_CAPS_REFUSING)
/* With --tls: the front's listener and lws context, and the front's two
 * descriptors for each of the backend's refusals in progress. */
#define SIM_CAPS_TLS_RESERVE (8 + 2 * SIM_CAPS_REFUSING)
/* No cap above Redis's default maxclients. */
#define SIM_CAPS_MAX 10000

typedef struct sim_caps {
    long fds;          /* the soft descriptor limit they come from; -1: none */
    long reserve;      /* of which kept for stagesim itself */
    long backend;      /* HTTP and WebSocket connections together */
    long redis;        /* maxclients (the backend's own Redis client is one) */
    long auth;
    long control;
    int fits;          /* 0: the caps need more descriptors than the limit leaves */
} sim_caps;

/* Sizes the caps for a limit of fds descriptors (-1: unlimited). The backend
 * gets five shares (10 000 WebSockets fit a limit of 20 000), Redis two, auth and control one each, every share
 * costing one descriptor per client, or three for the backend behind the
 * TLS front (the client's socket, the front's loopback leg, the backend's
 * end of it). override > 0 sets every cap to it instead (--max-clients). */
void sim_caps_size(sim_caps *caps, long fds, int tls, long override);
/* The descriptor limit at which the backend's cap reaches SIM_CAPS_MAX. */
long sim_caps_fds_wanted(int tls);
/* The soft descriptor limit now, or -1 when unlimited. */
long sim_caps_fd_limit(void);
/* The figures as one log line into out. */
void sim_caps_describe(const sim_caps *caps, char *out, size_t outlen);

#endif
