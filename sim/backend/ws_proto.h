/* ws_proto.h -- the backend's WebSocket protocol (docs/contract.md §2), pure:
 * where a connection's token comes from, what a client message asks for, and
 * the JSON of every server message that is not part of a run. No sockets, no
 * clock: `now_ms` is a parameter. */
#ifndef SIM_WS_PROTO_H
#define SIM_WS_PROTO_H
#ifndef SIM_IN_BACKEND
#error "ws_proto.h is private to sim/backend/"
#endif

#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

/* Largest client message accepted (bytes, after reassembly); bigger → 1009. */
#define SIM_WS_MAX_MESSAGE 8192

/* ---- authentication ---------------------------------------------------- */

typedef enum {
    SIM_WS_TOKEN_NONE = 0,
    SIM_WS_TOKEN_SUBPROTOCOL,   /* jwt.<t>, jwt-auth.<t>, bearer.<t> (raw or base64url) */
    SIM_WS_TOKEN_HEADER,        /* Authorization: Bearer <t> */
    SIM_WS_TOKEN_QUERY,         /* ?token=, ?jwt=, ?access_token= */
} sim_ws_token_source;

typedef struct sim_ws_auth {
    sim_ws_token_source source;
    int unsupported;       /* subprotocols offered, none supported: close 1003 */
    char *token;           /* owned; NULL when no source gave one */
    char *subprotocol;     /* owned; the exact entry to echo, NULL for none */
} sim_ws_auth;

/* Finds the connection's token; first match wins (subprotocol, header,
 * query). Every argument may be NULL: `subprotocols` is the raw
 * Sec-WebSocket-Protocol value (comma separated), `authorization` the raw
 * Authorization value, `query` the URL query without '?'. Fills *out; the
 * caller frees it with sim_ws_auth_free. */
void sim_ws_auth_extract(const char *subprotocols, const char *authorization, const char *query,
                         sim_ws_auth *out);
void sim_ws_auth_free(sim_ws_auth *a);
const char *sim_ws_token_source_name(sim_ws_token_source s);

/* ---- client messages --------------------------------------------------- */

typedef enum {
    SIM_WS_MSG_CHAT,          /* user_message and its aliases, chat: a run when text != NULL */
    SIM_WS_MSG_START_AGENT,   /* start_agent / execute_agent: a run when text != NULL */
    SIM_WS_MSG_PING,          /* → pong */
    SIM_WS_MSG_HEARTBEAT,     /* → heartbeat_ack */
    SIM_WS_MSG_PONG,          /* resets the heartbeat timer; no answer */
    SIM_WS_MSG_UNKNOWN,       /* → ack with received_type */
    SIM_WS_MSG_INVALID_JSON,  /* → error_message JSON_PARSE_ERROR, stays open */
    SIM_WS_MSG_BAD_FORMAT,    /* JSON but not an object with a string type → FORMAT_ERROR */
} sim_ws_msg_kind;

typedef struct sim_ws_msg {
    sim_ws_msg_kind kind;
    char *type;           /* owned: the type as received, whole (bounded by the
                             message size limit); NULL when absent. A type with an
                             escaped NUL ("a\u0000b") ends at the NUL: cJSON's
                             strings are C strings. */
    char *text;           /* owned: the prompt of a run, NULL when none */
    char *thread_id;      /* owned or NULL */
    char *run_id;         /* owned or NULL */
} sim_ws_msg;

/* Parses one complete client message (data need not be NUL-terminated).
 * Fields may sit under "payload" or at the top level. Fills *out; free with
 * sim_ws_msg_free. Never fails: bad input becomes a kind that has an answer. */
void sim_ws_parse(const char *data, size_t len, sim_ws_msg *out);
/* The same by cJSON, for every input; sim_ws_parse reads the common shape
 * (a flat object of plain strings) itself and gives the same answers (the
 * unit test compares the two). */
void sim_ws_parse_cjson(const char *data, size_t len, sim_ws_msg *out);
void sim_ws_msg_free(sim_ws_msg *m);
/* The message's type after aliases (message, user, user_input,
 * chat_message → user_message; execute_agent → start_agent), as fault rules
 * match it; "invalid_json" / "bad_format" when it has none. Points into m
 * or static storage. */
const char *sim_ws_msg_name(const sim_ws_msg *m);

/* The answer to a message that is not a run (pong, heartbeat_ack, ack,
 * error_message), or NULL when the message gets none (chat, pong).
 * Caller frees the string. */
char *sim_ws_reply(const sim_ws_msg *m, const char *user_id, int64_t now_ms);

/* ---- server messages --------------------------------------------------- */

/* The first message after accept: connection_established (current) or the
 * legacy system_message. Caller frees. */
char *sim_ws_welcome(sim_profile profile, const char *user_id, const char *conn_id, int64_t now_ms);

/* The server's keep-alive after a quiet spell:
 * {"type":"heartbeat","data":{"user_id","connection_id","timestamp":iso},"timestamp":epoch}.
 * Caller frees. */
char *sim_ws_heartbeat(const char *user_id, const char *conn_id, int64_t now_ms);

/* {"type":"error_message","error_code":code,"error_message":text,...}.
 * Caller frees. */
char *sim_ws_error(const char *code, const char *text, int64_t now_ms);

/* ---- messages made by fault actions ------------------------------------ */

/* A `replace` action's message. type "agent_error":
 * {"type","run_id","user_id","agent_name","timestamp",
 *  "data":{"error_message":text[,"error_code":code]}}; "agent_death": the
 * same with data {"death_cause":text,"recovery_action":"refresh_required"};
 * anything else: error_message with error_code `code` (AGENT_ERROR when
 * NULL). run_id and user_id may be NULL (JSON null). Caller frees. */
/* The error_message of a `replace` with details or nested (docs/faults.md):
 * {"type":"error_message","error_code","error_message","details":details,
 * "timestamp":epoch}, or nested, staging's S6 shape,
 * {"type":"error_message","data":{"error_code","error_message","details",
 * "timestamp":iso},"timestamp":epoch}. details_json NULL: {}. code NULL:
 * AGENT_ERROR. Caller frees. */
char *sim_ws_error_shaped(const char *code, const char *text, const char *details_json, int nested,
                          int64_t now_ms);
char *sim_ws_replacement(const char *type, const char *code, const char *text, const char *run_id,
                         const char *user_id, const char *agent, int64_t now_ms);

/* Same values as fault.h's SIM_MALFORM_* (checked where both are seen). */
enum { SIM_WS_MALFORM_REMOVE_FIELD, SIM_WS_MALFORM_WRONG_TYPE, SIM_WS_MALFORM_INVALID_JSON };

/* A `malform` action: json broken by mode. REMOVE_FIELD drops `field`,
 * WRONG_TYPE gives it a value of another JSON type (string <-> number,
 * object or array -> string); `field` is a top-level key or a dotted path
 * ("data.status"); a missing field leaves the message as it is.
 * INVALID_JSON cuts the text in half (no longer JSON). Caller frees. */
char *sim_ws_malform(const char *json, int mode, const char *field);

#endif
