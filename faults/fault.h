/* fault.h -- the one decision point. Every place where something crosses a
 * wire (a connection accepted, a request or command read, a reply or event
 * about to be sent, a close) describes the crossing as a sim_wire and asks
 * sim_fault_cross() what to do. The engine journals the crossing and answers
 * with an action; services implement actions, never rules. */
#ifndef SIM_FAULT_H
#define SIM_FAULT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SIM_SVC_BACKEND,     /* HTTP and WebSocket on the backend port */
    SIM_SVC_AUTH,
    SIM_SVC_REDIS,
    SIM_SVC_CONTROL,
} sim_service;

typedef enum {
    SIM_WIRE_ACCEPT,     /* connection (or WS upgrade) accepted */
    SIM_WIRE_REQUEST,    /* HTTP request, WS client message, Redis command read */
    SIM_WIRE_SEND,       /* HTTP reply, WS server event, Redis reply about to go out */
    SIM_WIRE_CLOSE,      /* connection closed (close_code set for WS) */
} sim_wire_point;

typedef struct sim_wire {
    sim_service service;
    sim_wire_point point;
    const char *proto;    /* "http", "ws" or "resp" */
    const char *name;     /* route path, message/event type, command name */
    const char *method;   /* HTTP method, else NULL */
    const char *key;      /* first Redis key, else NULL */
    const char *user_id;  /* authenticated user, else NULL */
    uint64_t conn;        /* connection ordinal within the service, from 1 */
    uint64_t msg;         /* message/event ordinal within the connection, from 1 */
    uint64_t run;         /* run ordinal within the connection, 0 when none */
    int status;           /* HTTP status or WS close code, when known */
    uint64_t user_run;    /* run ordinal among all runs of user_id, 0 when none */
} sim_wire;

typedef enum {
    SIM_ACT_PASS = 0,     /* do what the protocol says */
    SIM_ACT_DROP,         /* do not send / ignore the request */
    SIM_ACT_DELAY,        /* send after delay_ms */
    SIM_ACT_CLOSE,        /* WS close with code + text */
    SIM_ACT_ABORT,        /* cut TCP without a close frame */
    SIM_ACT_HANG,         /* stop answering this connection */
    SIM_ACT_REPLY,        /* answer with code (HTTP status) + text (body or RESP error) */
    SIM_ACT_DUPLICATE,    /* WS: send the event twice */
    SIM_ACT_MALFORM,      /* WS: send the event broken (mode, field) */
    SIM_ACT_REPLACE,      /* WS: send another message instead (field = type, code, text) */
    SIM_ACT_STALL,        /* WS: the run stops here forever, the connection stays open */
    SIM_ACT_MISROUTE,     /* WS: deliver the event to another user's connections (field = user) */
    SIM_ACT_HOLD,         /* WS: hold the event back and send it after the next one (reorder) */
    SIM_ACT_PARTIAL,      /* Redis/HTTP: send part of the reply, then close */
    SIM_ACT_REFUSE,       /* Redis: stop listening for delay_ms (connection refused) */
    SIM_ACT_EMPTY,        /* HTTP: close without any reply */
    SIM_ACT_SLOW,         /* HTTP: send the body at code bytes per second */
    SIM_ACT_COUNT
} sim_action_kind;

/* SIM_ACT_CLOSE on ws.send: the event goes out first, then the close. */
enum { SIM_CLOSE_INSTEAD, SIM_CLOSE_AFTER_SEND };

/* How SIM_ACT_MALFORM breaks an event. */
enum { SIM_MALFORM_REMOVE_FIELD, SIM_MALFORM_WRONG_TYPE, SIM_MALFORM_INVALID_JSON };

typedef struct sim_action {
    sim_action_kind kind;
    int code;
    uint32_t delay_ms;
    const char *text;     /* borrowed from the rule, valid until the next cross */
    const char *rule_id;  /* rule that fired, or NULL */
    const char *field;    /* MALFORM: field; REPLACE: message type; MISROUTE: user id */
    int mode;             /* MALFORM: SIM_MALFORM_*; CLOSE: SIM_CLOSE_* */
    const char *error_code; /* REPLACE: error_code (AGENT_ERROR, ...), may be NULL */
} sim_action;

/* The action's name as rules spell it ("close", "drop", ...). */
const char *sim_action_name(sim_action_kind kind);

typedef struct sim_faults sim_faults;

/* Creates the engine. journal_path may be NULL (journal kept in memory only).
 * start_ms is the loop time at start; t_ms in the journal counts from it. */
sim_faults *sim_faults_new(uint64_t seed, const char *journal_path, double start_time);
void sim_faults_free(sim_faults *f);
/* The loop time t_ms counts from: the simulator's start. */
double sim_faults_start_time(const sim_faults *f);

/* The decision point. `now` is the loop time in seconds. Always fills out;
 * out->kind == SIM_ACT_PASS when nothing fires. Cheap when no rule is loaded
 * and no journal is kept: services may call it on every command. */
void sim_faults_cross(sim_faults *f, const sim_wire *w, double now, sim_action *out);

/* ---- rules ------------------------------------------------------------
 * A rule is JSON (docs/faults.md): {"id", "on", "match", when-fields,
 * "action"}. Validation errors name the JSON path: "faults[2].after_ms:
 * must be >= 0" (path is the prefix to use, e.g. "faults[2]"). */

/* Checks one rule without adding it. rule is a cJSON *. 0 or -1 with err. */
int sim_fault_rule_check(const void *rule, const char *path, char *err, size_t errlen);

/* Validates and adds a rule (cJSON *, borrowed). `runtime` rules honour
 * ttl_ms and are removed by sim_faults_reset. Returns 0, or -1 with err
 * (also for a duplicate id). */
int sim_faults_add(sim_faults *f, const void *rule, const char *path, int runtime, double now,
                   char *err, size_t errlen);
/* Adds every rule of a cJSON array (the scenario's). Stops at the first error. */
int sim_faults_add_all(sim_faults *f, const void *rules, double now, char *err, size_t errlen);
/* Removes the run-time rules whose ttl_ms has run out. Crossings do it for
 * their own place; the control API calls it before it looks at the rules,
 * so a rule is gone everywhere at once. */
void sim_faults_expire(sim_faults *f, double now);
/* Removes a rule by id: 0, or -1 when there is none. */
int sim_faults_remove(sim_faults *f, const char *id);
/* Removes every rule. */
void sim_faults_clear(sim_faults *f);
/* Removes run-time rules and zeroes the counters of the others. */
void sim_faults_reset(sim_faults *f);
/* The rules with their counters, as a cJSON array the caller frees. */
void *sim_faults_list(const sim_faults *f, double now);
/* One rule as a cJSON object the caller frees, or NULL. */
void *sim_faults_get(const sim_faults *f, const char *id, double now);
/* How often a rule has fired (0 for an unknown id). */
uint64_t sim_faults_fired(const sim_faults *f, const char *id);
size_t sim_faults_count(const sim_faults *f);

/* Called after every firing (the control API's /journal/wait). */
typedef void (*sim_fault_listener)(void *ctx, const char *rule_id, uint64_t fired);
void sim_faults_set_listener(sim_faults *f, sim_fault_listener fn, void *ctx);

/* ---- journal ----------------------------------------------------------- */

/* Number of journal lines written so far (the last line's sequence number). */
uint64_t sim_faults_journal_count(const sim_faults *f);
/* The oldest line still in memory (the ring keeps the last 65536). */
uint64_t sim_faults_journal_oldest(const sim_faults *f);
/* Lines with sequence number > since, oldest first, as one text of JSON
 * lines appended to out (a sim_buf *); at most `limit` lines. Lines older
 * than the in-memory window are gone (the file keeps them). Returns the
 * number of lines appended. */
size_t sim_faults_journal_since(const sim_faults *f, uint64_t since, size_t limit, void *out);
/* Flushes the journal file (shutdown). */
void sim_faults_flush(sim_faults *f);

/* ---- metrics ----------------------------------------------------------- */

/* Appends the Prometheus text exposition to out (a sim_buf *). */
void sim_faults_metrics(const sim_faults *f, void *out);

#endif
