/* wire.h -- what the decision point talks about: a crossing (sim_wire: where
 * something crosses a wire, and its subject's ordinals) and the action a
 * service carries out (sim_action). Shared by the engine, the rules and
 * every service. */
#ifndef SIM_WIRE_H
#define SIM_WIRE_H

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
    SIM_WIRE_CONNECT,    /* a service connecting out to a dependency (name: "redis", "auth") */
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
    int upgrade;          /* an HTTP request asking for a WebSocket */
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
    SIM_ACT_UNRESOLVED,   /* dependency connect: the host name does not resolve */
    SIM_ACT_MARK,         /* nothing changes: the firing is journaled (the engine hands
                             the service SIM_ACT_PASS) */
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
    const char *details;  /* REPLACE error_message: details object as JSON, or NULL ({}) */
    int nested;           /* REPLACE error_message: the fields under "data" */
    uint32_t latency_ms;  /* the network's part of delay_ms (fault.h), 0 when none */
} sim_action;

/* The names rules and the journal use: "close", "drop", ...; "backend",
 * "auth", ...; "accept", "request", ... */
const char *sim_action_name(sim_action_kind kind);
const char *sim_service_name(sim_service service);
const char *sim_wire_point_name(sim_wire_point point);

#endif
