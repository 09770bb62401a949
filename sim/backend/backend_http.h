/* backend_http.h -- the backend's HTTP side on libwebsockets (backend_http.c):
 * what the lws callback hands over for a connection of kind C_HTTP, and the
 * raw HTTP/1.1 answers written where lws cannot answer (the pre-read, an
 * upgrade refusal). Not a public header. */
#ifndef SIM_BACKEND_HTTP_H
#define SIM_BACKEND_HTTP_H
#ifndef SIM_IN_BACKEND
#error "backend_http.h is private to sim/backend/"
#endif

#include <stddef.h>

#include "backend_conn.h"

/* The connection is handed to lws: its HTTP part starts. */
void sim_backend_http_start(conn *c);

/* A request head is in (LWS_CALLBACK_HTTP, an upgrade's CONFIRM_UPGRADE):
 * the connection is no longer idle. */
void sim_backend_http_busy(conn *c);
/* LWS_CALLBACK_HTTP: a request head for `path`. Each returns what the lws
 * callback returns. */
int sim_backend_http_begin(conn *c, struct lws *wsi, const char *path);
/* LWS_CALLBACK_HTTP_BODY: a piece of the body (at most 64 KiB are kept;
 * more is read and answered 413). */
void sim_backend_http_body(conn *c, const void *in, size_t len);
/* LWS_CALLBACK_HTTP_BODY_COMPLETION. */
int sim_backend_http_body_done(conn *c);
/* LWS_CALLBACK_HTTP_WRITEABLE: the next piece of the response. */
int sim_backend_http_writeable(conn *c, struct lws *wsi);
/* LWS_CALLBACK_CLOSED_HTTP: crosses the http close of a connection that
 * had requests. */
void sim_backend_http_closed(conn *c);

/* The backend's answer on a socket lws does not write for us (an upgrade
 * refused before or inside CONFIRM_UPGRADE): a raw HTTP/1.1 response with
 * `connection: close` in out, with the front end's headers when the
 * scenario has one (c may be NULL: none); ctype NULL is guessed from the
 * body. Returns its length. */
size_t sim_backend_http_refusal(const conn *c, char *out, size_t outlen, int status,
                                const char *ctype, const char *body);
/* The extra headers every response of c carries (the front end's) into r. */
void sim_backend_http_decorate(const conn *c, uint64_t request, sim_http_response *r);
/* b->settle's callback: tells lws that the sockets whose keep-alive
 * transaction just completed are writable (see .c). */
void sim_backend_http_settle(struct ev_loop *loop, ev_prepare *w, int revents);
/* The content type a fault rule's body looks like: JSON or plain text. */
const char *sim_backend_http_ctype(const char *text);

#endif
