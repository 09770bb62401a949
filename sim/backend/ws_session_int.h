/* ws_session_int.h -- what the two halves of the WebSocket session share:
 * the session itself and the steps each half takes of the other.
 * ws_session.c: the outgoing pipe, runs, fault actions, the start-up gate,
 * heartbeats and output; ws_session_in.c: what comes in (the client's
 * messages: reassembly, the ws.message crossing, the inbound queue,
 * dispatch; and the clock's ticks). ws_session_in.c calls the steps below;
 * ws_session.c never calls it. Private to these two files. */
#ifndef SIM_WS_SESSION_INT_H
#define SIM_WS_SESSION_INT_H

/* Included after ws_session.h, whose types it uses (including it here
 * would make the two a circle for scripts/layers). */

/* A chat message waiting for the run before it to finish. */
typedef struct pending_run {
    struct pending_run *next;
    sim_ws_msg msg;
    uint64_t ord;       /* its run ordinal on the connection, from 1 */
    uint64_t user_ord;  /* its run ordinal among the user's runs, from 1 */
} pending_run;

/* A client message waiting behind a delayed one (DELAY on ws.message keeps
 * the order of messages) or the start-up gate: handled at `due_ms`, or,
 * when `reply` is set (a REPLACE decided on arrival), answered with it. */
typedef struct inmsg {
    struct inmsg *next;
    int64_t due_ms;
    sim_ws_msg m;
    uint64_t run_ord;   /* the run it starts, 0 when none */
    uint64_t user_ord;  /* that run's ordinal among the user's runs */
    char *reply;        /* owned */
    char reply_type[32];
} inmsg;

typedef struct frame_list {
    sim_ws_frame *head, *tail;
} frame_list;

struct sim_ws_session {
    const sim_ws_session_config *cfg;
    const sim_ws_session_env *env;
    sim_ws_handshake *hs;        /* owned */
    uint64_t ordinal;
    char conn_id[40];

    sim_buf rx;                  /* the fragments of the client message so far */
    int rx_dropping;             /* legacy: the rest of an oversized message goes */
    uint64_t msgs_in, msgs_out;
    uint64_t runs;               /* ordinal of the run started last */
    uint64_t user_run;           /* that run's ordinal among its user's runs */
    uint64_t runs_req;           /* runs asked for so far (chat messages with text) */

    sim_buf out;                 /* text frames ready for the glue, framed, in order;
                                    freed once written (idle sessions hold none) */
    sim_ws_frame *out_close;     /* the close that follows them, NULL when none */
    frame_list pipe;             /* behind a delayed frame, in order */
    frame_list held;             /* HOLD: sent right after the next frame */
    inmsg *ihead, *itail;        /* client messages behind a delayed one or the gate */
    size_t nin;                  /* their number (SIM_WS_MAX_QUEUED_MSGS) */
    pending_run *rhead, *rtail;  /* chat messages waiting for the run */
    size_t nruns;                /* their number (SIM_WS_MAX_PENDING_RUNS) */

    sim_run run;
    int run_active, run_next;
    int64_t run_due_ms;          /* when event run_next goes */
    int stalled;                 /* STALL: the run stopped for good, no run starts */

    int64_t last_rx_ms;          /* when the last client frame came */
    int heartbeat_sent;          /* since last_rx_ms */
    int64_t heartbeat_due_ms;    /* 0: no heartbeat scheduled */
    int64_t gate_until_ms;       /* start-up gate: messages wait until then; 0 = open */

    int close_queued;            /* a close is in `out`: nothing more goes there */
    int hung;                    /* HANG: answer nothing more */
    int aborted;                 /* ABORT: TCP cut, nothing more */
    int flooded;                 /* over a cap: closing with 1013, input ignored */
    int shutting_down;
};

/* ---- ws_session.c ------------------------------------------------------ */

void sim_wss_stop_runs(sim_ws_session *s);
void sim_wss_list_clear(frame_list *l);
void sim_wss_out_clear(sim_ws_session *s);
void sim_wss_session_close(sim_ws_session *s, int code, const char *reason, int64_t now);
int sim_wss_send_message(sim_ws_session *s, char *json, const char *type, uint64_t run,
                        const char *run_id, int64_t now);
const char *sim_wss_chat_thread(const sim_ws_session *s, const sim_ws_msg *m, char *out);
void sim_wss_run_start_next(sim_ws_session *s, int64_t now);
char *sim_wss_replacement(const sim_ws_session *s, const sim_action *a, const char *run_id,
                         int64_t now);
int sim_wss_act(sim_ws_session *s, const sim_action *a, int64_t now);
void sim_wss_heartbeat_start(sim_ws_session *s, int64_t now);
const char *sim_wss_user_of(const sim_ws_session *s);
/* Drops every client message still waiting. */
void sim_wss_in_clear(sim_ws_session *s);
void sim_wss_gate_step(sim_ws_session *s, int64_t now);
void sim_wss_run_step(sim_ws_session *s, int64_t now);
void sim_wss_heartbeat_step(sim_ws_session *s, int64_t now);
void sim_wss_out_push(sim_ws_session *s, sim_ws_frame *f);
sim_ws_frame *sim_wss_list_pop(frame_list *l);


#endif
