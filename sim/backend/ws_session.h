/* ws_session.h -- one backend WebSocket session, pure (docs/contract.md §2):
 * client frames, fault actions and now_ms in; frames to write, one deadline
 * and what the glue must do out. No socket, no loop, no clock: the glue
 * (backend_ws.c) writes the frames, arms one timer for the deadline and calls
 * sim_ws_session_tick when it fires.
 *
 * Inside, every server frame goes through an ordered pipe and every client
 * message through an inbound queue, so a DELAY holds back what comes after
 * it instead of letting it overtake (HOLD is the one action that reorders);
 * runs go one at a time, at the gaps of the agent script. */
#ifndef SIM_WS_SESSION_H
#define SIM_WS_SESSION_H
#ifndef SIM_IN_BACKEND
#error "ws_session.h is private to sim/backend/"
#endif

#include <stddef.h>
#include <stdint.h>

#include "agent_run.h"
#include "scenario.h"
#include "wire.h"
#include "ws_handshake.h"

/* Per-session caps (docs/contract.md §2.7): chat messages waiting for the
 * run before them (runs go one at a time; a stalled run holds them
 * forever), and client messages waiting behind a delayed one or the
 * start-up gate. Unbounded, 50 000 chat messages took 400+ MB. The message
 * that would go over either cap closes the session with 1013, dropping what
 * it had queued and what was not yet written. Pings are answered at once
 * and queue nothing. */
#define SIM_WS_MAX_PENDING_RUNS 100
#define SIM_WS_MAX_QUEUED_MSGS 1000
#define SIM_WS_FLOOD_CODE 1013
#define SIM_WS_FLOOD_REASON "Too many pending messages"
/* A client message over SIM_WS_MAX_MESSAGE, profile current. */
#define SIM_WS_TOO_BIG_CODE 1009
#define SIM_WS_TOO_BIG_REASON "Message too big"

/* sim_ws_session_deadline when nothing is scheduled. */
#define SIM_WS_NO_DEADLINE INT64_MAX

typedef struct sim_ws_session sim_ws_session;

/* A frame to write: text, or a close with its reason. One allocation, with
 * `headroom` bytes before the text for the glue's library (LWS_PRE). */
typedef struct sim_ws_frame {
    struct sim_ws_frame *next;  /* the session's own, as is due_ms */
    int64_t due_ms;
    int close_code;             /* 0: a text frame */
    size_t len;                 /* of text, at most 123 for a close */
    unsigned char *text;        /* the text or the close reason, NUL-terminated */
    unsigned char data[];       /* headroom, then the text */
} sim_ws_frame;

/* What the session needs from the service, given by the glue. Each is
 * called synchronously and must not call back into the session it came
 * from, except `misroute`, through sim_ws_session_deliver. */
typedef struct sim_ws_session_env {
    void *ctx;
    /* The decision point for a crossing: fills *act (PASS when no rule).
     * act's strings are valid until the next call. */
    void (*cross)(void *ctx, const sim_wire *w, int64_t now_ms, sim_action *act);
    /* Counts a run of `user_id` across every session of the service and
     * returns its ordinal among that user's runs, from 1. */
    uint64_t (*user_run)(void *ctx, const char *user_id);
    /* MISROUTE: hands json (borrowed) to sim_ws_session_deliver of every
     * session. */
    void (*misroute)(void *ctx, const char *user_id, const char *json, int64_t now_ms);
    /* A run completed (its agent_completed went out): the thread history.
     * run is borrowed for the call. */
    void (*run_done)(void *ctx, const sim_run *run, int64_t now_ms);
    /* The thread a chat runs in, for `owner` (threads.h): 0 when it is
     * owner's (now), -1 when it belongs to someone else. */
    int (*claim_thread)(void *ctx, const char *thread_id, const char *owner);
} sim_ws_session_env;

typedef struct sim_ws_session_config {
    const sim_scenario *sc;     /* profile, agent script, heartbeat, start-up */
    uint64_t seed;
    int64_t start_ms;           /* now_ms at the simulator's start: the start-up phases */
    size_t headroom;            /* bytes free before each frame's text */
} sim_ws_session_config;

/* A session for the accepted upgrade `hs` (taken) of WebSocket connection
 * `ordinal` (from 1). cfg and env are borrowed and must outlive it. Nothing
 * happens until sim_ws_session_open (or _shutdown). Free with
 * sim_ws_session_free, never from inside one of env's callbacks. */
sim_ws_session *sim_ws_session_new(const sim_ws_session_config *cfg,
                                   const sim_ws_session_env *env, sim_ws_handshake *hs,
                                   uint64_t ordinal);
void sim_ws_session_free(sim_ws_session *s);

/* The upgrade is through: 1013 over the connection cap, 1003 for unsupported subprotocols, AUTH_FAILED
 * then 1008 for a bad token, a ws.accept close, or else the welcome (or the
 * ws.accept replacement) -- behind the start-up gate while the simulated
 * start-up is before phase `services` (docs/contract.md §1.3). */
void sim_ws_session_open(sim_ws_session *s, int64_t now_ms);

/* A client frame (one fragment; `final` on the last of a message). A
 * message over SIM_WS_MAX_MESSAGE is read to its end and dropped; then,
 * profile current, the session closes with SIM_WS_TOO_BIG_CODE (frames not
 * yet handed out are dropped); legacy goes on. */
void sim_ws_session_receive(sim_ws_session *s, const void *data, size_t len, int final,
                           int64_t now_ms);

/* When the session next needs sim_ws_session_tick, or SIM_WS_NO_DEADLINE. */
int64_t sim_ws_session_deadline(const sim_ws_session *s);
/* Does everything due at now_ms (pipe, inbound queue, run events,
 * heartbeat, start-up gate), earliest first. */
void sim_ws_session_tick(sim_ws_session *s, int64_t now_ms);

/* What the glue must do after any call into the session. */
enum {
    SIM_WS_WANT_WRITE = 1,      /* output or a close is ready */
    SIM_WS_WANT_ABORT = 2,      /* cut TCP without a close frame (ABORT) */
};
unsigned sim_ws_session_wants(const sim_ws_session *s);

/* The output, for one write: every text frame ready so far, already framed
 * as RFC 6455 server frames (unmasked, final), back to back, so that the
 * events due in one loop iteration leave in one send (the glue writes them
 * with LWS_WRITE_RAW, docs/libraries.md §2.8). NULL and *len 0 when there
 * are none, or a HANG or ABORT stopped the output. The bytes stay valid
 * until the next call into the session; sim_ws_session_out_done says they
 * were all taken, and returns the buffer. */
const unsigned char *sim_ws_session_out(const sim_ws_session *s, size_t *len);
void sim_ws_session_out_done(sim_ws_session *s);
/* The close that comes after the output, once the output is empty: a frame
 * with close_code and its reason, or NULL. Caller frees. */
sim_ws_frame *sim_ws_session_close_next(sim_ws_session *s);
/* The next frame, in order, taken off the output one at a time (the unit
 * tests read the output this way; the frame's text is the payload the
 * client will read): a text frame, then the close, or NULL. Caller frees
 * with sim_ws_frame_free. */
sim_ws_frame *sim_ws_session_pop(sim_ws_session *s);
void sim_ws_frame_free(sim_ws_frame *f);

/* A frame misrouted from another session (MISROUTE): queued here when this
 * session belongs to user_id and is open and answering. json borrowed. */
void sim_ws_session_deliver(sim_ws_session *s, const char *user_id, const char *json,
                            int64_t now_ms);

/* Client traffic lws does not hand us (a protocol-level ping: lws answers
 * it itself): resets the heartbeat like a frame does. */
void sim_ws_session_activity(sim_ws_session *s, int64_t now_ms);

/* A token was revoked: jti's, or (jti NULL) every token of user_id. A
 * session that rode on it stops its runs and gets an error_message
 * AUTH_FAILED "Authentication failed: Token has been revoked", then close
 * 1008 "Authentication failed", as a token refused at the upgrade. 1 when
 * this session was one. */
int sim_ws_session_revoked(sim_ws_session *s, const char *user_id, const char *jti,
                           int64_t now_ms);
/* The token the session rode on: its jti ("" for none) and exp. */
const char *sim_ws_session_jti(const sim_ws_session *s, double *exp);

/* The server is going down: runs stop, and even a hung session gets close
 * 1001 "Server shutting down" right after the frames already handed out,
 * ahead of anything a fault delayed or held back (dropped). */
void sim_ws_session_shutdown(sim_ws_session *s, int64_t now_ms);

/* The connection is closed with `code` (sent, received, or 1006): crosses
 * the ws close and stops the runs. */
void sim_ws_session_closed(sim_ws_session *s, int code, int64_t now_ms);

#endif
