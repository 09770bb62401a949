/* agent_run.h -- one agent run (the "golden path"), pure: from the scenario's
 * agent script, the seed, the user and the prompt, the five events
 * agent_started → agent_thinking → tool_executing → tool_completed →
 * agent_completed and the gap before each. Every made-up value comes from
 * sim_mix; the answer is derived from the prompt. */
#ifndef SIM_AGENT_RUN_H
#define SIM_AGENT_RUN_H
#ifndef SIM_IN_BACKEND
#error "agent_run.h is private to sim/backend/"
#endif

#include <stdint.h>
#include "scenario.h"
#include "util.h"

#define SIM_RUN_EVENTS 5
#define SIM_RUN_TEXTS 11   /* the run's own strings that events carry */

typedef struct sim_run_input {
    const sim_agent_script *script;  /* borrowed */
    sim_profile profile;
    uint64_t seed;
    const char *user_id;
    uint64_t conn;        /* connection ordinal within the backend, from 1 */
    uint64_t run;         /* run ordinal within the connection, from 1 */
    const char *prompt;
    const char *run_id;   /* client-chosen run id, or NULL to make one */
    const char *thread_id;/* may be NULL */
} sim_run_input;

typedef struct sim_run {
    sim_profile profile;
    char run_id[96];
    /* The run's strings, in `text` (one allocation, see sim_run_plan). */
    const char *user_id;
    const char *thread_id;/* may be NULL */
    const char *prompt;
    const char *agent;
    const char *tool;
    const char *reasoning;
    const char *answer;
    char digest[17];      /* 16 hex digits from a hash of the prompt */
    uint32_t gap_ms[SIM_RUN_EVENTS];
    double tool_ms;       /* tool_completed.execution_time_ms */
    double total_ms;      /* agent_completed.execution_time_ms */
    /* Made once per run, so that an event is only copies and escapes. */
    const char *started_msg;  /* agent_started.data.message */
    const char *summary;      /* tool_completed.data.result.summary */
    char tool_ms_text[32], total_ms_text[32];   /* the two numbers as cJSON prints them */
    /* The strings above as events carry them, made once: those that need
     * no JSON escape (bit per string in text_plain) are copied between
     * quotes as they are, the others (the answer quotes the prompt) from
     * `text`, where text_at[t] is their JSON string. text_len[t]: the
     * bytes copied. text_utf8: all are valid UTF-8, so every event is (the
     * rest is ASCII). */
    uint32_t text_len[SIM_RUN_TEXTS], text_at[SIM_RUN_TEXTS];
    uint32_t text_plain;
    int text_utf8;
    char *text;
} sim_run;

/* Plans a run: fills *r (free with sim_run_free). Deterministic: the same
 * input gives the same run. */
void sim_run_plan(sim_run *r, const sim_run_input *in);
void sim_run_free(sim_run *r);

/* Event i (0..4) of the run as JSON, stamped with `now_ms`, appended to b:
 * the bytes cJSON_PrintUnformatted gave for the same object, built without
 * cJSON, malloc per member or printf. */
void sim_run_event_append(const sim_run *r, int i, int64_t now_ms, sim_buf *b);
/* The same as a string. Caller frees. */
char *sim_run_event(const sim_run *r, int i, int64_t now_ms);
/* Its type name ("agent_started" ...). */
const char *sim_run_event_type(int i);

/* One of the two records a completed run leaves in its thread's history:
 * the user's prompt (answer == 0) or the answer, as
 * {"role","content","run_id","thread_id","user_id","timestamp":iso}.
 * Caller frees. */
char *sim_run_history_entry(const sim_run *r, int answer, int64_t now_ms);
/* The same, appended to b (the bytes cJSON printed, without cJSON). */
void sim_run_history_entry_append(const sim_run *r, int answer, int64_t now_ms, sim_buf *b);

/* The answer text for a prompt: answer_template with {prompt}, {tool},
 * {agent} and {digest} substituted. Caller frees. */
char *sim_run_answer(const char *tmpl, const char *prompt, const char *tool, const char *agent,
                     const char *digest);

#endif
