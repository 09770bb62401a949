/* backend_conn.h -- what the backend's glue files share: the service and
 * connection structs, the connection list and the crossing helpers. The
 * glue calls downwards only: backend.c (life cycle) uses backend_accept.c,
 * backend_lws.c and backend_ws.c; backend_lws.c (the lws callback) uses
 * backend_http.c and backend_ws.c; backend_accept.c (listening socket,
 * pre-read) uses backend_http.c; all of them use backend_conn.c, which uses
 * none of them. Not a public header. */
#ifndef SIM_BACKEND_CONN_H
#define SIM_BACKEND_CONN_H
#ifndef SIM_IN_BACKEND
#error "backend_conn.h is private to sim/backend/"
#endif

#include <ev.h>
#include <libwebsockets.h>

#include "backend_config.h"
#include "backend_routes.h"
#include "fault.h"
#include "ws_handshake.h"
#include "ws_session.h"

typedef struct sim_backend sim_backend;
typedef struct conn conn;

/* A connection is first pre-read (its first request head, before lws sees
 * it), then HTTP (lws owns the socket), and may become a WebSocket. */
typedef enum { C_PRE, C_HTTP, C_WS } conn_kind;

/* The pre-read of the first request head (backend_accept.c). */
typedef struct pre_part {
    ev_io io;
    ev_timer timer;              /* the pre-read's timeout, or the end of a delay */
    sim_buf head;                /* the head as peeked, edited for lws */
    size_t wire_len;             /* its length in the socket, where it still is */
    int edited;                  /* a line was taken out: lws gets it from us, not the socket */
    char method[8];              /* the request's, for the upgrade's crossings */
    int after_delay;             /* what the timer does when a delay ends (PRE_*) */
    /* A refusal of the upgrade that waits for a delay; copied: the rule may
     * be gone by then. */
    int refuse_status;
    char *refuse_body;           /* owned */
    char refuse_ctype[256];
} pre_part;

/* A thread history read in flight: outlives its connection, which clears
 * `c` when it goes, so the Redis callback then just drops the answer. */
typedef struct history_req {
    conn *c;
    char thread_id[129];
} history_req;

/* HTTP requests, one at a time on a keep-alive connection (backend_http.c).
 * Allocated while the connection is HTTP. */
typedef struct http_part {
    conn *c;                     /* the connection it belongs to */
    char path[256];
    char method[8];
    char *query;                 /* owned, NULL when none */
    char hdr_auth[4096];
    char hdr_host[256];
    sim_buf body;
    int body_too_big;
    uint64_t requests;           /* on this connection so far */
    sim_http_response resp;
    char ctype[256];             /* a fault reply's content type: resp.content_type points
                                    here, never into the rule (deleted while a reply waits) */
    int req_started, resp_ready, headers_sent, close_now, is_head;
    int late_completions;        /* BODY_COMPLETIONs after req_started (http_request) */
    size_t body_off;
    history_req *hreq;
    ev_timer timer;              /* DELAY of a request or response, SLOW ticks */
    ev_timer idle;               /* between requests: the keep-alive idle timeout (see .c) */
    int timer_responds;
    int slow_rate;               /* SLOW: body bytes per second, 0 = full speed */
    int slow_wait;               /* SLOW: the next chunk waits for the timer */
    int upgrading;               /* CONFIRM_UPGRADE let an upgrade through: the 101 is next */
    int in_request;              /* inside the lws callback that completed the request */
    int write_now;               /* its answer is ready: written before that callback returns */
    int verdict_set;             /* the remote verdict on the request's token is in `verdict` */
    sim_token_verdict verdict;
    struct http_part *settle_next; /* in b->settling (backend_http.c, sim_backend_http_settle) */
    int settling;
} http_part;

/* A WebSocket: the session and what lws needs around it (backend_ws.c). */
typedef struct ws_part {
    sim_ws_session *session;     /* owned */
    ev_timer timer;              /* the session's one deadline, less its last millisecond */
    int64_t timer_due_ms;        /* the deadline it is armed for */
    double timer_at;             /* the loop's time it wakes at: the deadline and the phase */
    /* How far into its millisecond the last client message came, in real
     * seconds: every deadline of the connection is kept as far into its own
     * (backend_ws.c, ws_arm). */
    double phase;
    struct conn *fine_prev, *fine_next;   /* in b->fine: the last millisecond (below) */
    int fine_linked;
    /* Bytes from the client that lws keeps to itself (protocol pings) are
     * client traffic too: a watcher beside lws's on the socket notes them,
     * at most once per `rest` (the fd stays readable until lws reads). */
    ev_io seen;
    ev_timer rest;
    int close_started;           /* our close is out: lws may call WRITEABLE again, answer 0 */
    int peer_closing;            /* the client's close came: lws answers it, we write no more */
    int write_asked;             /* lws_callback_on_writable called, WRITEABLE not yet come */
    int write_failed;            /* a write outside WRITEABLE failed: that callback closes */
    int close_code;              /* the close as sent or received, for the close crossing */
} ws_part;

struct conn {
    sim_backend *b;
    conn *prev, *next;
    conn_kind kind;
    struct lws *wsi;             /* NULL until lws adopts the socket */
    int fd;
    uint64_t ordinal;            /* per service kind (HTTP, WebSocket), from 1 */
    int hung;                    /* HANG before the session: answer nothing more */
    int over_cap;                /* accepted over max_conns: refused once its head is read */
    int aborted;                 /* ABORT: TCP cut, nothing more */
    /* An upgrade's facts, from the pre-read or from CONFIRM_UPGRADE, until
     * ESTABLISHED hands them to the session. Owned, NULL when none. */
    sim_ws_handshake *upgrade;
    /* A token being validated at the auth service (auth_remote.h): the
     * upgrade or request waits for it. Cancelled with the connection. */
    struct sim_auth_check *check;
    union {
        pre_part pre;
        http_part *http;
        ws_part ws;
    } u;                         /* the part of `kind` */
};

struct sim_backend {
    struct ev_loop *loop;
    struct user_runs *user_runs;  /* per-user run counts (user_run ordinals) */
    sim_backend_config cfg;
    char *bind;
    void *foreign_loops[1];
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct sim_listener *listener;
    int port;
    ev_timer kick;
    ev_prepare settle;            /* tells lws its kept-alive sockets are writable */
    /* Fine wakes (sim_backend_fine_add): the connections whose deadline is
     * less than a millisecond away, and the timerfd that wakes the loop for
     * the first of them. */
    conn *fine;
    int fine_fd;
    ev_io fine_io;
    double fine_armed_at;         /* what fine_fd is set for; INFINITY when not set */
    void (*fine_due)(conn *c);
    http_part *settling;          /* the transactions it waits for */
    conn *conns;
    conn *adopting;               /* the socket lws is adopting, claimed in its callback */
    uint64_t http_conns, ws_conns;
    size_t nws;
    size_t nconns;                /* in conns, over_cap ones included */
    size_t nrefusing;             /* of those, over_cap */
    sim_backend_routes routes;
    sim_ws_session_config ws_cfg; /* shared by every session */
    sim_ws_session_env ws_env;
    sim_buf history_buf;          /* a completed run's records (env_run_done), kept */
    int shutting_down;
    void (*done)(void *ctx);
    void *done_ctx;
    ev_timer grace;
    ev_timer done_timer;
    int done_called;
};

int64_t sim_backend_now_ms(const sim_backend *b);
/* The time now, refreshed: for a request or message just read (see .c). */
int64_t sim_backend_arrival_ms(const sim_backend *b);
/* How far the loop's time is into millisecond now_ms (sim_backend_now_ms's),
 * in real seconds: from 0 to less than one millisecond of the clock. */
double sim_backend_phase_s(const sim_backend *b, int64_t now_ms);
/* The real seconds an ev_timer waits for ms of the simulator's clock. */
double sim_backend_wait_s(const sim_backend *b, int64_t ms);
/* Fine wakes. libev hands epoll_wait whole milliseconds, rounded up, so an
 * ev_timer fires up to a millisecond late (docs/libraries.md §6): a WebSocket
 * session's timer is armed for its deadline less SIM_FINE_S, and the rest is
 * waited on one timerfd, set to the microsecond. due(c) is called for each
 * connection once the loop's time reaches its deadline. -1 (err) when no
 * timerfd can be had. */
#define SIM_FINE_S 0.001
int sim_backend_fine_init(sim_backend *b, void (*due)(conn *c), char *err, size_t errlen);
void sim_backend_fine_free(sim_backend *b);
/* Calls due(c) when the loop's time reaches c's timer_at (now, if it has
 * passed). */
void sim_backend_fine_add(conn *c);
void sim_backend_fine_remove(conn *c);
/* Describes a crossing to the fault engine; PASS when there is none. */
void sim_backend_cross(sim_backend *b, sim_wire_point point, const char *proto, const char *name,
                       const char *method, const char *user, uint64_t connord, uint64_t msg,
                       uint64_t run, int status, sim_action *act);
/* Crosses the fault engine with a wire the caller filled in, at now_ms. */
void sim_backend_cross_wire(sim_backend *b, const sim_wire *w, int64_t now_ms, sim_action *act);
/* Counts a run for `user` and returns its ordinal among that user's runs
 * (the `user_run` a rule can match), from 1. */
uint64_t sim_backend_user_run(sim_backend *b, const char *user);
void sim_backend_user_runs_free(sim_backend *b);

/* A new connection on accepted socket fd, pre-read, linked. Caller inits
 * the pre-read's watchers. */
conn *sim_backend_conn_new(sim_backend *b, int fd);
/* Ends the connection's current part (its watchers stopped, what it owns
 * freed) and starts an empty one of `kind`. */
void sim_backend_conn_become(conn *c, conn_kind kind);
void sim_backend_unlink(conn *c);
/* Frees an unlinked connection: its wsi is gone or going, its pre-read
 * socket is closed. Ends a shutdown's wait when it was the last WebSocket. */
void sim_backend_conn_free(conn *c);
/* Cuts a socket with a RST and no close frame; the fd stays open. */
void sim_backend_abort_fd(int fd);
/* Cuts the connection's socket (ABORT) and marks it aborted. */
void sim_backend_conn_abort(conn *c);

#endif
