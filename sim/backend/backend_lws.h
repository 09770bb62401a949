/* backend_lws.h -- the backend's libwebsockets context on the libev loop and
 * its protocol callback (backend_lws.c). Not a public header. */
#ifndef SIM_BACKEND_LWS_H
#define SIM_BACKEND_LWS_H
#ifndef SIM_IN_BACKEND
#error "backend_lws.h is private to sim/backend/"
#endif

#include <stddef.h>

#include "backend_conn.h"

/* Creates the lws context and vhost on b's loop (listening on nothing) and
 * starts the lws_cancel_service kick. 0, or -1 with err. */
int sim_backend_lws_start(sim_backend *b, char *err, size_t errlen);
/* Stops the kick and destroys the context: every wsi goes, and with it
 * its connection. Call from a loop callback. */
void sim_backend_lws_free(sim_backend *b);

#endif
