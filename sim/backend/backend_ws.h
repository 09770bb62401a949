/* backend_ws.h -- the glue between a pure WebSocket session (ws_session.h)
 * and libwebsockets on the libev loop (backend_ws.c): what the lws callback
 * hands over for a connection of kind C_WS. Not a public header. */
#ifndef SIM_BACKEND_WS_H
#define SIM_BACKEND_WS_H
#ifndef SIM_IN_BACKEND
#error "backend_ws.h is private to sim/backend/"
#endif

#include <stddef.h>

#include "backend_conn.h"

/* Fills the session configuration and environment every session of b
 * shares, and starts the fine wakes (at start). -1 (err) when it cannot. */
int sim_backend_ws_setup(sim_backend *b, char *err, size_t errlen);
/* Stops the fine wakes (at the end, once every connection is gone). */
void sim_backend_ws_teardown(sim_backend *b);

/* LWS_CALLBACK_ESTABLISHED: the connection becomes a session with the
 * upgrade's facts. Each returns what the lws callback returns. */
int sim_backend_ws_established(conn *c);
/* LWS_CALLBACK_RECEIVE: one fragment of a client message. */
int sim_backend_ws_receive(conn *c, const void *in, size_t len);
/* LWS_CALLBACK_SERVER_WRITEABLE: one frame of the session's, or its close. */
int sim_backend_ws_writeable(conn *c);
/* LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: the client's close payload. */
void sim_backend_ws_peer_close(conn *c, const void *in, size_t len);
/* LWS_CALLBACK_CLOSED. */
void sim_backend_ws_closed(conn *c);

/* Shutdown: close 1001 to the session, even a hung one. */
void sim_backend_ws_goodbye(conn *c);
/* A token was revoked (sim_backend_revoked): this session closes 1008 if it
 * rode on it. */
void sim_backend_ws_revoked(conn *c, const char *user_id, const char *jti);

#endif
