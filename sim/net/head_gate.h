/* head_gate.h -- a client's first HTTP request head, peeked at and checked
 * before a library reads it (libmicrohttpd for the auth service and the
 * control API). A bad head gets its JSON answer here and the library never
 * sees the client; a good one is handed on with its bytes still unread.
 * While the head is incomplete, SO_RCVLOWAT keeps the socket quiet until
 * more than what was peeked has come: no polling (docs/errors.md). */
#ifndef SIM_HEAD_GATE_H
#define SIM_HEAD_GATE_H

#include <stddef.h>

struct ev_loop;

typedef struct sim_head_gate sim_head_gate;

typedef struct sim_head_gate_config {
    /* A complete head that checks out: fd is the caller's now. */
    void (*pass)(void *ctx, int fd, int over_cap);
    /* A client closed here (gone, timed out, refused, or at close_all). */
    void (*dropped)(void *ctx, int over_cap);
    void *ctx;
} sim_head_gate_config;

sim_head_gate *sim_head_gate_new(struct ev_loop *loop, const sim_head_gate_config *cfg);
/* Waits for fd's first head; over_cap is handed back with it. */
void sim_head_gate_add(sim_head_gate *g, int fd, int over_cap);
/* Clients whose first head is still awaited. */
size_t sim_head_gate_waiting(const sim_head_gate *g);
/* Closes every client still waiting (a crash, a stop). */
void sim_head_gate_close_all(sim_head_gate *g);
void sim_head_gate_free(sim_head_gate *g);

#endif
