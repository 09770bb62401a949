/* fault.h -- the one decision point. Every place where something crosses a
 * wire (a connection accepted, a request or command read, a reply or event
 * about to be sent, a close) describes the crossing as a sim_wire and asks
 * sim_fault_cross() what to do. The engine journals the crossing and answers
 * with an action; services implement actions, never rules. */
#ifndef SIM_FAULT_H
#define SIM_FAULT_H

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
} sim_wire;

typedef enum {
    SIM_ACT_PASS = 0,     /* do what the protocol says */
    SIM_ACT_DROP,         /* do not send / ignore the request */
    SIM_ACT_DELAY,        /* send after delay_ms */
    SIM_ACT_CLOSE,        /* WS close with code + text */
    SIM_ACT_ABORT,        /* cut TCP without a close frame */
    SIM_ACT_HANG,         /* stop answering this connection */
    SIM_ACT_REPLY,        /* answer with code (HTTP status) + text (body or RESP error) */
} sim_action_kind;

typedef struct sim_action {
    sim_action_kind kind;
    int code;
    uint32_t delay_ms;
    const char *text;     /* borrowed from the rule, valid until the next cross */
    const char *rule_id;  /* rule that fired, or NULL */
} sim_action;

typedef struct sim_faults sim_faults;

/* Creates the engine. journal_path may be NULL (journal kept in memory only).
 * start_ms is the loop time at start; t_ms in the journal counts from it. */
sim_faults *sim_faults_new(uint64_t seed, const char *journal_path, double start_time);
void sim_faults_free(sim_faults *f);

/* The decision point. `now` is the loop time in seconds. Always fills out;
 * out->kind == SIM_ACT_PASS when nothing fires. Cheap when no rule is loaded
 * and no journal is kept: services may call it on every command. */
void sim_faults_cross(sim_faults *f, const sim_wire *w, double now, sim_action *out);

/* Number of journal lines written so far. */
uint64_t sim_faults_journal_count(const sim_faults *f);
/* Flushes the journal file (shutdown). */
void sim_faults_flush(sim_faults *f);

#endif
