/* fuzz_ws_proto.c -- libFuzzer harness for what a WebSocket client sends the
 * backend (sim/backend/ws_proto.c): its messages through sim_ws_parse (the
 * same answers as sim_ws_parse_cjson) and the answers sim_ws_reply makes of them, and its handshake's token sources
 * through sim_ws_auth_extract. The client's bytes come back out in answers
 * (an `ack`'s received_type, an error's text), so every answer must be one
 * JSON value, and one of valid UTF-8 once the session's rule for outgoing
 * text has passed over it, whatever came in. Input: byte 0 picks the
 * part; for the handshake the rest is "SUBPROTOCOLS\nAUTHORIZATION\nQUERY". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "utf8.h"
#include "ws_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1700000000000LL

/* A server message: one JSON value as built, and after the one rule every
 * text frame passes (ws_session.c: sim_utf8_fix_json when not valid UTF-8)
 * still one value, now of valid UTF-8. */
static void check_out(char *json) {
    FZ_CHECK(json != NULL);
    size_t n = strlen(json);
    FZ_CHECK(fz_json_ok(json, n));
    FZ_CHECK(sim_utf8_valid(json, n) == fz_utf8_ok(json, n));
    sim_buf b = {0};
    sim_buf_append(&b, json, n);
    sim_utf8_fix_json(&b, 0);
    FZ_CHECK(fz_utf8_ok(b.data, b.len));
    FZ_CHECK(fz_json_ok(b.data, b.len));
    sim_buf_free(&b);
    free(json);
}

static int same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void message(const char *p, size_t n) {
    sim_ws_msg m;
    sim_ws_parse(p, n, &m);
    const char *name = sim_ws_msg_name(&m);
    FZ_CHECK(name && *name);
    switch (m.kind) {
    case SIM_WS_MSG_INVALID_JSON: FZ_CHECK(strcmp(name, "invalid_json") == 0); break;
    case SIM_WS_MSG_BAD_FORMAT: FZ_CHECK(strcmp(name, "bad_format") == 0); break;
    case SIM_WS_MSG_CHAT:
    case SIM_WS_MSG_START_AGENT:
    case SIM_WS_MSG_PING:
    case SIM_WS_MSG_HEARTBEAT:
    case SIM_WS_MSG_PONG:
    case SIM_WS_MSG_UNKNOWN: FZ_CHECK(m.type != NULL); break;
    }
    /* The common shape is read without cJSON, with cJSON's answers. */
    sim_ws_msg ref;
    sim_ws_parse_cjson(p, n, &ref);
    FZ_CHECK(m.kind == ref.kind && same_str(m.type, ref.type) && same_str(m.text, ref.text) &&
             same_str(m.thread_id, ref.thread_id) && same_str(m.run_id, ref.run_id));
    sim_ws_msg_free(&ref);
    /* One JSON value, nothing after it, is never called invalid. */
    if (fz_json_ok(p, n)) FZ_CHECK(m.kind != SIM_WS_MSG_INVALID_JSON);
    char *reply = sim_ws_reply(&m, "user-alice", NOW_MS);
    if (reply) check_out(reply);
    else FZ_CHECK(m.kind == SIM_WS_MSG_CHAT || m.kind == SIM_WS_MSG_START_AGENT ||
                  m.kind == SIM_WS_MSG_PONG);
    /* What a run or a fault echoes of the message is made valid too. */
    if (m.text) check_out(sim_ws_error("AGENT_ERROR", m.text, NOW_MS));
    if (m.type) check_out(sim_ws_error_shaped(NULL, m.type, NULL, 1, NOW_MS));
    sim_ws_msg_free(&m);
}

/* The three handshake values, NUL-terminated copies of the input's lines. */
static void handshake(const char *p, size_t n) {
    char *parts[3] = {NULL, NULL, NULL};
    size_t start = 0;
    for (int i = 0; i < 3; i++) {
        size_t end = start;
        while (end < n && (i == 2 || p[end] != '\n')) end++;
        if (start > n) break;
        parts[i] = sim_xcalloc(1, end - start + 1);
        memcpy(parts[i], p + start, end - start);
        start = end + 1;
    }
    sim_ws_auth a;
    sim_ws_auth_extract(parts[0], parts[1], parts[2], &a);
    FZ_CHECK(sim_ws_token_source_name(a.source) != NULL);
    FZ_CHECK((a.source == SIM_WS_TOKEN_NONE) == (a.token == NULL));
    /* The subprotocol echoed is one the client offered, byte for byte. */
    if (a.subprotocol) FZ_CHECK(parts[0] && strstr(parts[0], a.subprotocol) != NULL);
    if (a.unsupported) FZ_CHECK(a.subprotocol == NULL);
    sim_ws_auth_free(&a);
    for (int i = 0; i < 3; i++) free(parts[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size - 1 > SIM_WS_MAX_MESSAGE) return 0;
    const char *p = (const char *)data + 1;
    if (data[0] & 1) handshake(p, size - 1);
    else message(p, size - 1);
    return 0;
}
