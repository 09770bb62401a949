/* backend_accept.h -- the backend's listening socket and the pre-read of
 * each connection's first request head (backend_accept.c). Not a public
 * header. */
#ifndef SIM_BACKEND_ACCEPT_H
#define SIM_BACKEND_ACCEPT_H
#ifndef SIM_IN_BACKEND
#error "backend_accept.h is private to sim/backend/"
#endif

#include <stddef.h>

#include "backend_conn.h"

/* Listens on the configured address and port (0: a free one, then in
 * b->port). 0, or -1 with err. Accepting starts with _start. */
int sim_backend_accept_listen(sim_backend *b, char *err, size_t errlen);
void sim_backend_accept_start(sim_backend *b);
/* Stops accepting and closes the listening socket (again: nothing). */
void sim_backend_accept_stop(sim_backend *b);

/* Closes a connection lws never saw (C_PRE) and frees it. */
void sim_backend_accept_close(conn *c);

#endif
