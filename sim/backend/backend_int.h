/* backend_int.h -- what the backend's three glue files share: the
 * connection and service structs and the few functions that cross files.
 * backend_lws.c (lws callback, HTTP, lifecycle), backend_accept.c (listening
 * socket and request-head pre-read), backend_ws.c (WebSocket sessions and
 * agent runs). Not a public header. */
#ifndef SIM_BACKEND_INT_H
#define SIM_BACKEND_INT_H
#ifndef SIM_IN_BACKEND
#error "backend_int.h is private to sim/backend/"
#endif

#include <ev.h>
#include <libwebsockets.h>

#include "agent_run.h"
#include "backend.h"
#include "backend_routes.h"
#include "fault.h"
#include "ws_proto.h"

#define HEAD_MAX 16384          /* request head we pre-read; more → 431 */
#define PREREAD_TIMEOUT_MS 10000 /* a client that never finishes its head */
#define BODY_MAX (64 * 1024)    /* HTTP request bodies; more → 413 */
#define KICK_S 1.0              /* lws_cancel_service period (timer bug) */
#define CHUNK 16384             /* HTTP body bytes per write */
/* Per WebSocket caps: chat messages waiting for the run before them (runs
 * go one at a time; a stalled run holds them forever), and client messages
 * waiting behind a delayed one (a ws.message delay) or the start-up gate.
 * Both queues grew without bound (50 000 chat messages: 400+ MB). The
 * message that would go over either cap closes the session with 1013 "Too
 * many pending messages", dropping what it had queued and what was not yet
 * sent; other sessions are not affected. Pings are answered at once and
 * queue nothing. */
#define WS_MAX_PENDING_RUNS 100
#define WS_MAX_QUEUED_MSGS 1000
#define WS_FLOOD_CODE 1013
#define WS_FLOOD_REASON "Too many pending messages"

typedef struct sim_backend sim_backend;
typedef struct conn conn;

typedef enum { C_PRE, C_HTTP, C_WS } conn_kind;

/* One queued WebSocket frame: text with LWS_PRE headroom, or a close.
 * `due`: when it may leave the connection's pipe (DELAY). */
typedef struct outmsg {
    struct outmsg *next;
    int64_t due_ms;
    int close;
    int code;
    char reason[124];
    size_t len;
    unsigned char *buf;
} outmsg;

/* A chat message waiting for the run before it to finish. */
typedef struct pending_run {
    struct pending_run *next;
    sim_ws_msg msg;
    uint64_t ord;       /* its run ordinal on the connection, from 1 */
    uint64_t user_ord;  /* its run ordinal among the user's runs, from 1 */
} pending_run;

/* A client message waiting behind a delayed one (DELAY on ws.message keeps
 * the order of messages): handled at `due`, or, when `reply` is set (a
 * REPLACE decided on arrival), answered with it. Owned by the connection's
 * inbound queue; freed with it. */
typedef struct inmsg {
    struct inmsg *next;
    int64_t due_ms;
    sim_ws_msg m;
    uint64_t run_ord;   /* the run it starts, 0 when none */
    uint64_t user_ord;  /* that run's ordinal among the user's runs */
    char *reply;        /* owned */
    char reply_type[32];
} inmsg;

/* A thread history read in flight: outlives its connection, which clears
 * `c` when it goes, so the Redis callback then just drops the answer. */
typedef struct history_req {
    conn *c;
    char thread_id[129];
} history_req;

struct conn {
    sim_backend *b;
    conn *prev, *next;
    conn_kind kind;
    struct lws *wsi;
    int fd;
    uint64_t ordinal;            /* per service kind, from 1 */

    /* pre-read of the first request head */
    ev_io io;
    ev_timer pre_timer;
    ev_timer retry;
    sim_buf head;                /* peeked head; consumed and edited when readbuf */
    int readbuf;
    int hung;                    /* HANG: answer nothing more */
    int aborted;                 /* ABORT: TCP cut, nothing more */

    /* WebSocket upgrade facts, from the pre-read or from lws's headers */
    int ws_prepared;
    int upgrading;
    char path[256];
    sim_ws_auth auth;
    sim_auth_status auth_status;
    sim_principal who;
    int accept_close;            /* a CLOSE action at accept: close after upgrade */
    int accept_code;
    char accept_text[124];
    char *accept_msg;            /* a REPLACE action at accept: sent instead of the welcome */
    char accept_type[256];       /* its type, or a delayed refusal's content type (copied:
                                    the rule may be gone when it is used) */
    int pre_stage;               /* 1: the upgrade's http.request was delayed */

    /* HTTP request in progress */
    char method[8];
    char *query;
    char hdr_auth[4096];
    char hdr_host[256];
    sim_buf body;
    int body_too_big;
    uint64_t requests;
    sim_http_response resp;
    char ctype[256];             /* a fault reply's content type: resp.content_type points
                                    here, never into the rule (deleted while a reply waits) */
    int req_started, resp_ready, headers_sent, close_now, is_head;
    size_t body_off;
    history_req *hreq;
    ev_timer http_timer;         /* DELAY of a request or response, SLOW ticks */
    int http_timer_responds;
    int slow_rate;               /* SLOW: body bytes per second, 0 = full speed */
    int slow_wait;               /* SLOW: the next chunk waits for http_timer */

    /* WebSocket session */
    char user_id[128];
    char conn_id[40];
    outmsg *qhead, *qtail;
    int close_queued, close_started;
    int close_code;
    sim_buf rx;
    int rx_too_big;
    uint64_t msgs_in, msgs_out;
    uint64_t runs;               /* ordinal of the run started last */
    uint64_t user_run;           /* that run's ordinal among its user's runs */
    uint64_t runs_req;           /* runs asked for so far (chat messages with text) */
    pending_run *runs_head, *runs_tail;
    size_t nruns_pending;        /* length of runs_head (WS_MAX_PENDING_RUNS) */
    sim_run run;
    int run_active, run_next;
    int stalled;                 /* STALL: the run stopped for good, no run starts */
    ev_timer run_timer;
    outmsg *phead, *ptail;       /* pipe: frames behind a delayed one, in order */
    ev_timer pipe_timer;
    outmsg *held_head, *held_tail; /* HOLD: sent right after the next frame */
    inmsg *ihead, *itail;        /* client messages behind a delayed one */
    size_t nin;                  /* length of ihead (WS_MAX_QUEUED_MSGS) */
    int flooded;                 /* over a cap: closing with 1013, input ignored */
    ev_timer in_timer;
    int64_t last_rx_ms;          /* when the last client frame came */
    int heartbeat_sent;          /* since last_rx */
    ev_timer heartbeat_timer;
    int64_t gate_until_ms;       /* start-up gate: messages wait until then; 0 = open */
    ev_timer gate_timer;
};

struct sim_backend {
    struct ev_loop *loop;
    struct user_runs *user_runs;  /* per-user run counts (user_run ordinals) */
    sim_backend_config cfg;
    char *bind;
    void *foreign_loops[1];
    struct lws_context *ctx;
    struct lws_vhost *vh;
    int lfd;
    int port;
    ev_io lio;
    ev_timer kick;
    conn *conns;
    conn *adopting;
    uint64_t http_conns, ws_conns;
    size_t nws;
    sim_backend_routes routes;
    int shutting_down;
    void (*done)(void *ctx);
    void *done_ctx;
    ev_timer grace;
    ev_timer done_timer;
    int done_called;
};

/* backend_lws.c */
int64_t sim_backend_now_ms(const sim_backend *b);
/* The real seconds an ev_timer waits for ms of the simulator's clock. */
double sim_backend_wait_s(const sim_backend *b, int64_t ms);
/* Describes a crossing to the fault engine; PASS when there is none. */
void sim_backend_cross(sim_backend *b, sim_wire_point point, const char *proto, const char *name,
                       const char *method, const char *user, uint64_t connord, uint64_t msg,
                       uint64_t run, int status, sim_action *act);
/* Crosses the fault engine with a wire the caller filled in. */
void sim_backend_cross_wire(sim_backend *b, const sim_wire *w, sim_action *act);
/* Counts a run for `user` and returns its ordinal among that user's runs
 * (the `user_run` a rule can match), from 1. */
uint64_t sim_backend_user_run(sim_backend *b, const char *user);
void sim_backend_link(sim_backend *b, conn *c);
void sim_backend_unlink(conn *c);
/* Frees an unlinked connection; its wsi is gone or going. */
void sim_backend_conn_free(conn *c);
void sim_backend_abort_fd(int fd);
void sim_backend_conn_abort(conn *c);
size_t sim_backend_raw_response(char *out, size_t outlen, int status, const char *ctype,
                                const char *body);
const char *sim_backend_ctype(const char *text);
void sim_backend_http_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* backend_accept.c */
void sim_backend_accept_cb(struct ev_loop *loop, ev_io *w, int revents);
/* Closes a connection lws never saw (C_PRE) and frees it. */
void sim_backend_pre_close(conn *c);

/* backend_ws.c */
void sim_backend_ws_prepare(conn *c, const char *path, const char *subprotocols,
                            const char *authz, const char *query);
void sim_backend_run_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);
/* Initialises the session's timers (at accept). */
void sim_backend_ws_init(conn *c);
/* Builds the REPLACE message of an action for this connection (caller frees). */
char *sim_backend_ws_replacement(conn *c, const sim_action *a, const char *run_id);
void sim_backend_ws_close(conn *c, int code, const char *reason);
void sim_backend_ws_stop_runs(conn *c);
/* Frees the session's queued frames and postponed messages. */
void sim_backend_ws_release(conn *c);
void sim_backend_ws_established(conn *c);
int sim_backend_ws_writeable(conn *c);
int sim_backend_ws_receive(conn *c, const void *in, size_t len);

#endif
