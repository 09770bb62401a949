/* tls_front.h -- the backend's https and wss: libwebsockets terminates TLS
 * (its OpenSSL) on the public port and relays the plaintext, byte for byte,
 * to the backend's own listener on a loopback port, so a TLS connection
 * goes through the same pre-read, fault crossings and lws handling as a
 * plain one (docs/libraries.md §10: why not lws's TLS on the backend's
 * own wsi). A reset from the backend reaches the client as a reset. */
#ifndef SIM_TLS_FRONT_H
#define SIM_TLS_FRONT_H

#include <stddef.h>

#include "tls_cert.h"

struct ev_loop;
typedef struct sim_tls_front sim_tls_front;

typedef struct sim_tls_front_config {
    const char *bind;           /* public address */
    int port;                   /* public TLS port; 0 picks a free one */
    int inner_port;             /* the plaintext listener on 127.0.0.1; or set it below */
    const sim_tls_cert *cert;   /* borrowed, outlives the front */
    long max_conns;             /* relays at once; more are closed unanswered (no handshake,
                                   no words). The backend's cap plus its refusals (caps.h),
                                   so that the backend refuses in words first. 0: none */
} sim_tls_front_config;

sim_tls_front *sim_tls_front_start(struct ev_loop *loop, const sim_tls_front_config *cfg,
                                   char *err, size_t errlen);
int sim_tls_front_port(const sim_tls_front *f);
/* The public port stops listening / listens again (docs/lifecycle.md). */
void sim_tls_front_crash(sim_tls_front *f);
int sim_tls_front_restart(sim_tls_front *f, char *err, size_t errlen);
/* Where the plaintext goes, when it was not known at the start. */
void sim_tls_front_set_inner_port(sim_tls_front *f, int port);
/* New connections are refused from now on; open ones go on. */
void sim_tls_front_stop_listening(sim_tls_front *f);
/* Closes every connection and frees everything. Call from a loop callback. */
void sim_tls_front_free(sim_tls_front *f);

#endif
