/* mhd.h -- libmicrohttpd bound to the libev loop: one thin glue used by the
 * auth service and the control API. Requests are collected (body capped),
 * then handed to a pure sim_http handler. */
#ifndef SIM_MHD_H
#define SIM_MHD_H

#include "http.h"
#include "fault.h"

struct ev_loop;
typedef struct sim_mhd sim_mhd;

typedef void (*sim_mhd_handler)(void *ctx, const sim_http_request *req, sim_http_response *resp);

/* Starts a server on bind:port (0 picks a free port). Bodies over max_body
 * get 413 with a JSON detail. Every request and reply crosses the fault
 * engine as `service`. Returns NULL with err filled on failure. */
sim_mhd *sim_mhd_start(struct ev_loop *loop, const char *bind, int port, size_t max_body,
                       sim_mhd_handler handler, void *ctx,
                       sim_faults *faults, sim_service service, char *err, size_t errlen);
int sim_mhd_port(const sim_mhd *m);
/* Stops watchers first, then the daemon (MHD closes its epoll fd). */
void sim_mhd_stop(sim_mhd *m);

#endif
