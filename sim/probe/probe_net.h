/* probe_net.h -- libwebsockets as a client on the probe's libev loop: one
 * context for every HTTP and WebSocket connection of a probe run, with TLS
 * verified against a given CA file or the system store. Private to
 * sim/probe (probe_http.c and probe_ws.c build on it).
 *
 * Nets on one loop with one CA file share one lws context (see
 * probe_net.c). lws traps (docs/libraries.md §2): lws's own timers fire late on a libev
 * loop, so no lws timer is used (callers bound every wait with an ev_timer)
 * and a 1 s ev_timer calls lws_cancel_service; ALPN is pinned to http/1.1 so
 * a front end that offers h2 cannot switch lws to its HTTP/2 role. */
#ifndef SIM_PROBE_NET_H
#define SIM_PROBE_NET_H
#ifndef SIM_IN_PROBE
#error "probe_net.h is private to sim/probe/"
#endif

#include <stddef.h>

#include <ev.h>
#include <libwebsockets.h>

#include "probe_url.h"

typedef struct probe_net probe_net;
typedef struct probe_link probe_link;

/* What a connection module puts first in its own struct. The net forwards
 * the lws callbacks of the connection's wsi to on_event (its return value
 * goes back to lws), and frees the struct with free_fn once both sides are
 * done with it: lws (the wsi is destroyed) and the owner (released is set).
 * Whichever comes second frees, so a module never frees from inside a
 * callback lws is still running on the wsi.
 *
 * A connection that fails inside probe_net_connect is reported to on_event
 * afterwards, from the loop, as LWS_CALLBACK_CLIENT_CONNECTION_ERROR with a
 * NULL wsi, so that no module hears of it before its start returns. Every
 * connection error comes with a text: lws's, OpenSSL's reason for refusing
 * a certificate (lws itself says only "SSL err 1"), or "cannot connect". */
struct probe_link {
    int (*on_event)(probe_link *l, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                    size_t len);
    void (*free_fn)(probe_link *l);
    /* The rest is the net's. */
    probe_net *net;
    struct lws *wsi;           /* NULL once lws has destroyed it (or never made it) */
    int held;                  /* lws holds the connection */
    probe_link *held_next, **held_prev;   /* the net's held list */
    int released;              /* the owner is done with it */
    int starting;              /* inside probe_net_connect */
    int failed_early;          /* a connection error came while starting */
    char *path, *subprotocol, *bearer;
    char error[300];
    ev_timer defer;            /* delivers the early failure */
};

/* NULL with the reason in err when lws cannot make a client context (the
 * evlib plugin missing, a CA file that is not PEM). cacert NULL: the system
 * store. */
probe_net *probe_net_new(struct ev_loop *loop, const char *cacert, char *err, size_t errlen);
/* Closes what lws still holds of this net's connections (their links are
 * freed) and lets go of the shared context. Every connection must be
 * released. Not from inside an lws callback. */
void probe_net_free(probe_net *n);
/* Feeds an EV_TIMER event to w (initialised, need not be started) once no
 * connection is left, or at once when none is; once per call. NULL forgets
 * a w not fed yet. */
void probe_net_when_idle(probe_net *n, ev_timer *w);

typedef struct probe_connect {
    const sim_probe_url *url;
    const char *path;          /* request path, with the query */
    const char *method;        /* "GET", "POST"; NULL opens a WebSocket */
    const char *subprotocol;   /* WebSocket only; NULL: none offered */
    const char *bearer;        /* sent as Authorization: Bearer; NULL: none */
} probe_connect;

/* Starts a connection for link (on_event and free_fn set, the rest zero);
 * c's strings are copied. On failure on_event hears of it later (above). */
void probe_net_connect(probe_net *n, const probe_connect *c, probe_link *link);

/* The owner is done with link: frees it now when lws is done too; else
 * closes the connection at once (no close frame) and frees it when lws
 * reports the wsi destroyed, which for this close is before returning.
 * Not from inside an lws callback. */
void probe_link_release_now(probe_link *link);
/* The owner is done with link, and lws will close it by itself (the
 * module returned -1, or asked for a writeable callback that will): freed
 * when lws is done with the wsi, or now if it already is. */
void probe_link_release_later(probe_link *link);

#endif
