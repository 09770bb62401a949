/* sock.h -- the socket calls every listener shares: a non-blocking listening
 * socket on any address getaddrinfo understands (127.0.0.1, ::1,
 * localhost), and cutting a connection with a reset. */
#ifndef SIM_SOCK_H
#define SIM_SOCK_H

#include <stddef.h>

/* Listens on addr:port (port 0 picks a free one, *port_out gets it).
 * Returns the non-blocking, close-on-exec fd, or -1 with "<who>: cannot
 * listen on ADDR:PORT: reason" in err. */
int sim_sock_listen(const char *who, const char *addr, int port, int backlog, int *port_out,
                    char *err, size_t errlen);

/* Cuts a connected TCP socket with a RST and no FIN: connect() with
 * AF_UNSPEC makes Linux abort the connection at once; the zero linger is
 * the fallback (a RST at close). The fd stays open for its owner to close. */
void sim_sock_abort(int fd);

/* TCP_NODELAY: events and replies are small and must not wait for the
 * peer's delayed ACK (Nagle's 40 ms stall). */
void sim_sock_nodelay(int fd);

#endif
