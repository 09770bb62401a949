/* golden_check.h -- the golden path checker, pure: the frames a backend
 * sends on one WebSocket go in one at a time, a verdict comes out. It knows
 * the contract (docs/contract.md §2.3 welcome, §2.5 the five events and
 * their fields, §2.6 error frames) and nothing of sockets; docs/probes.md
 * lists every verdict it gives.
 *
 * The expected stream: the welcome (connection_established, or legacy
 * system_message with data.event connection_established), then exactly
 * agent_started, agent_thinking, tool_executing, tool_completed,
 * agent_completed, all of the logged-in user, with one run id. heartbeat,
 * heartbeat_ack, ping and pong frames are skipped wherever they come and
 * are not counted in event ordinals. */
#ifndef SIM_GOLDEN_CHECK_H
#define SIM_GOLDEN_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "probe_result.h"

#define SIM_GOLDEN_EVENTS 5

typedef enum sim_golden_step {
    SIM_GOLDEN_MORE,       /* keep reading */
    SIM_GOLDEN_WELCOMED,   /* the welcome arrived: send the user_message now */
    SIM_GOLDEN_PASS,       /* the run is complete and correct */
    SIM_GOLDEN_FAIL,       /* the verdict is in the result */
} sim_golden_step;

typedef struct sim_golden_check {
    char user_id[128];                /* the logged-in user's id */
    int welcomed;
    int ordinal;                      /* counted frames after the welcome */
    int next;                         /* index of the next expected event */
    int last;                         /* index of the last event received; -1 none */
    int seen[SIM_GOLDEN_EVENTS];      /* ordinal each event arrived at; 0 not yet */
    int tool_executing, tool_completed;
    char run_id[128];                 /* from the first event */
    /* The first event that came before its turn. Whether the events it
     * skipped are missing or only late is known later: when one of them
     * arrives (out of order), or the run ends without them (missing). */
    int gap_ordinal;                  /* 0: none */
    int gap_expected, gap_got;
    int finished;                     /* a PASS or FAIL was returned */
} sim_golden_check;

/* user_id is the id the login returned; copied. */
void sim_golden_check_init(sim_golden_check *c, const char *user_id);

/* One text frame from the server (len bytes, need not be NUL-terminated).
 * On FAIL the verdict is in r (stage, failure, expected, got, field,
 * event_ordinal, detail); on PASS r is untouched. Not to be called after a
 * PASS or FAIL. */
sim_golden_step sim_golden_check_frame(sim_golden_check *c, const char *text, size_t len,
                                       sim_probe_result *r);
/* The server closed (code 1006 when no close frame came) before a verdict:
 * fills r with the failure, close_code and close_reason. */
void sim_golden_check_closed(sim_golden_check *c, int code, const char *reason,
                             sim_probe_result *r);
/* The attempt ran out of time (timeout_ms) after the upgrade: fills r. */
void sim_golden_check_timeout(sim_golden_check *c, int64_t timeout_ms, sim_probe_result *r);

/* "agent_started" ... "agent_completed" for 0..4. */
const char *sim_golden_event_name(int i);
/* Whether s is an ISO-8601 date and time: YYYY-MM-DDTHH:MM:SS, optional
 * fraction, optional Z or +HH:MM / -HH:MM. */
int sim_golden_iso_time(const char *s);

#endif
