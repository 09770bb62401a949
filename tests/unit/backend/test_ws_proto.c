/* test_ws_proto.c -- the backend's WebSocket protocol, pure: token sources,
 * message parsing, server messages and fault replacements. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base64url.h"
#include "tap.h"
#include "util.h"
#include "ws_proto.h"

#define TOKEN "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"

static void test_tokens(void) {
    sim_ws_auth a;

    sim_ws_auth_extract("jwt." TOKEN, NULL, NULL, &a);
    is_int(a.source, SIM_WS_TOKEN_SUBPROTOCOL, "jwt. subprotocol");
    is_str(a.token, TOKEN, "raw token from jwt.");
    is_str(a.subprotocol, "jwt." TOKEN, "echo the exact entry");
    sim_ws_auth_free(&a);

    sim_ws_auth_extract("chat, jwt-auth." TOKEN, NULL, NULL, &a);
    is_str(a.token, TOKEN, "jwt-auth. after another entry");
    is_str(a.subprotocol, "jwt-auth." TOKEN, "echo jwt-auth. entry");
    is_int(a.unsupported, 0, "one supported entry is enough");
    sim_ws_auth_free(&a);

    char enc[256], sp[300];
    sim_b64url_encode(enc, (const unsigned char *)TOKEN, strlen(TOKEN));
    snprintf(sp, sizeof(sp), "bearer.%s", enc);
    sim_ws_auth_extract(sp, "Bearer other", "token=q", &a);
    is_str(a.token, TOKEN, "base64url subprotocol decoded");
    is_str(a.subprotocol, sp, "base64url entry echoed as sent");
    is_int(a.source, SIM_WS_TOKEN_SUBPROTOCOL, "subprotocol wins over header and query");
    sim_ws_auth_free(&a);

    sim_ws_auth_extract("chat, graphql-ws", "Bearer " TOKEN, NULL, &a);
    is_int(a.unsupported, 1, "unsupported subprotocols flagged");
    ok(a.token == NULL, "no token when subprotocols are unsupported");
    sim_ws_auth_free(&a);

    sim_ws_auth_extract("jwt-auth", "Bearer " TOKEN, NULL, &a);
    is_int(a.source, SIM_WS_TOKEN_HEADER, "bare jwt-auth marker, token from header");
    is_str(a.subprotocol, "jwt-auth", "bare marker echoed");
    sim_ws_auth_free(&a);

    sim_ws_auth_extract(NULL, "Bearer  " TOKEN " ", "token=q", &a);
    is_int(a.source, SIM_WS_TOKEN_HEADER, "header source");
    is_str(a.token, TOKEN, "header token trimmed");
    ok(a.subprotocol == NULL, "no subprotocol to echo");
    sim_ws_auth_free(&a);

    sim_ws_auth_extract(NULL, "Basic xyz", "a=1&jwt=" TOKEN, &a);
    is_int(a.source, SIM_WS_TOKEN_QUERY, "query jwt=");
    is_str(a.token, TOKEN, "query token");
    sim_ws_auth_free(&a);

    sim_ws_auth_extract("", NULL, "access_token=abc%2Edef", &a);
    is_str(a.token, "abc.def", "query access_token= url-decoded");
    sim_ws_auth_free(&a);

    sim_ws_auth_extract(NULL, NULL, "x=1", &a);
    is_int(a.source, SIM_WS_TOKEN_NONE, "no token anywhere");
    ok(a.token == NULL && !a.unsupported, "none, not unsupported");
    sim_ws_auth_free(&a);
}

static void parse(const char *s, sim_ws_msg *m) {
    sim_ws_parse(s, strlen(s), m);
}

static void test_parse(void) {
    sim_ws_msg m;
    static const char *aliases[] = {"user_message", "message", "user", "user_input",
                                    "chat_message", "chat", NULL};
    for (int i = 0; aliases[i]; i++) {
        char buf[128];
        snprintf(buf, sizeof(buf), "{\"type\":\"%s\",\"message\":\"hi\"}", aliases[i]);
        parse(buf, &m);
        is_int(m.kind, SIM_WS_MSG_CHAT, "alias %s is a chat message", aliases[i]);
        is_str(m.text, "hi", "alias %s text", aliases[i]);
        sim_ws_msg_free(&m);
    }

    parse("{\"type\":\"user_message\",\"payload\":{\"content\":\"nested\",\"thread_id\":\"t1\","
          "\"run_id\":\"r1\"}}", &m);
    is_str(m.text, "nested", "content under payload");
    is_str(m.thread_id, "t1", "thread_id under payload");
    is_str(m.run_id, "r1", "run_id under payload");
    sim_ws_msg_free(&m);

    parse("{\"type\":\"user_message\",\"payload\":{},\"text\":\"top\",\"thread_id\":\"t2\"}", &m);
    is_str(m.text, "top", "text at top level when payload lacks it");
    is_str(m.thread_id, "t2", "top-level thread_id");
    sim_ws_msg_free(&m);

    parse("{\"type\":\"user_message\",\"payload\":{\"message\":\"a\",\"content\":\"b\"}}", &m);
    is_str(m.text, "a", "message wins over content");
    sim_ws_msg_free(&m);

    parse("{\"type\":\"user_message\",\"payload\":{\"foo\":1}}", &m);
    is_int(m.kind, SIM_WS_MSG_CHAT, "chat without text still a chat");
    ok(m.text == NULL, "no text: no run");
    char *r = sim_ws_reply(&m, "u", 1000);
    ok(r == NULL, "no reply to a chat message");
    sim_ws_msg_free(&m);

    parse("{\"type\":\"execute_agent\",\"payload\":{\"user_request\":\"do it\"}}", &m);
    is_int(m.kind, SIM_WS_MSG_START_AGENT, "execute_agent alias");
    is_str(m.text, "do it", "user_request");
    sim_ws_msg_free(&m);

    parse("{\"type\":\"start_agent\",\"message\":\"x\"}", &m);
    ok(m.kind == SIM_WS_MSG_START_AGENT && m.text == NULL, "start_agent needs user_request");
    sim_ws_msg_free(&m);

    parse("{\"type\":\"ping\"}", &m);
    is_int(m.kind, SIM_WS_MSG_PING, "ping");
    r = sim_ws_reply(&m, "user-1", 12500);
    cJSON *j = cJSON_Parse(r);
    is_str(cJSON_GetObjectItem(j, "type")->valuestring, "pong", "ping -> pong");
    is_str(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "user_id")->valuestring, "user-1",
           "pong carries user_id");
    ok(cJSON_GetObjectItem(j, "timestamp")->valuedouble == 12.5, "pong timestamp is now");
    cJSON_Delete(j);
    free(r);
    sim_ws_msg_free(&m);

    parse("{\"type\":\"heartbeat\"}", &m);
    r = sim_ws_reply(&m, "u", 1000);
    j = cJSON_Parse(r);
    is_str(cJSON_GetObjectItem(j, "type")->valuestring, "heartbeat_ack", "heartbeat -> ack");
    cJSON_Delete(j);
    free(r);
    sim_ws_msg_free(&m);

    parse("{\"type\":\"pong\"}", &m);
    is_int(m.kind, SIM_WS_MSG_PONG, "pong");
    ok(sim_ws_reply(&m, "u", 1000) == NULL, "pong gets no answer");
    sim_ws_msg_free(&m);

    parse("{\"type\":\"get_status\",\"x\":1}", &m);
    is_int(m.kind, SIM_WS_MSG_UNKNOWN, "unknown type");
    r = sim_ws_reply(&m, "u", 2000);
    j = cJSON_Parse(r);
    is_str(cJSON_GetObjectItem(j, "type")->valuestring, "ack", "unknown -> ack");
    is_str(cJSON_GetObjectItem(j, "received_type")->valuestring, "get_status", "received_type");
    is_str(cJSON_GetObjectItem(j, "status")->valuestring, "acknowledged", "status acknowledged");
    cJSON_Delete(j);
    free(r);
    sim_ws_msg_free(&m);

    /* received_type is the client's whole type: no 63-character cut (it
     * cut long types, and multi-byte UTF-8 in the middle of a character). */
    {
        char type[7000], msg[7100];
        size_t n = 0;
        while (n + 3 < 6000) {   /* "é" (2 bytes) and "x", 2000 times */
            memcpy(type + n, "\xc3\xa9x", 3);
            n += 3;
        }
        type[n] = '\0';
        snprintf(msg, sizeof(msg), "{\"type\":\"%s\"}", type);
        parse(msg, &m);
        is_int(m.kind, SIM_WS_MSG_UNKNOWN, "long unknown type");
        is_str(sim_ws_msg_name(&m), type, "a long type is matched whole by fault rules");
        r = sim_ws_reply(&m, "u", 2000);
        j = cJSON_Parse(r);
        ok(j != NULL, "ack of a long type is valid JSON");
        is_str(cJSON_GetStringValue(cJSON_GetObjectItem(j, "received_type")), type,
               "received_type kept whole (%zu bytes)", n);
        cJSON_Delete(j);
        free(r);
        sim_ws_msg_free(&m);
    }
    /* cJSON's strings end at a NUL, so "a\u0000b" acks as "a": documented,
     * not silently worse than that. */
    parse("{\"type\":\"a\\u0000b\"}", &m);
    r = sim_ws_reply(&m, "u", 2000);
    j = cJSON_Parse(r);
    is_str(cJSON_GetStringValue(cJSON_GetObjectItem(j, "received_type")), "a",
           "a type with an escaped NUL is kept up to the NUL");
    cJSON_Delete(j);
    free(r);
    sim_ws_msg_free(&m);

    static const char *invalid[] = {"{not json", "", "{\"type\":", NULL};
    for (int i = 0; invalid[i]; i++) {
        parse(invalid[i], &m);
        is_int(m.kind, SIM_WS_MSG_INVALID_JSON, "invalid JSON %d", i);
        r = sim_ws_reply(&m, "u", 1000);
        j = cJSON_Parse(r);
        is_str(cJSON_GetObjectItem(j, "type")->valuestring, "error_message", "error_message %d", i);
        is_str(cJSON_GetObjectItem(j, "error_code")->valuestring, "JSON_PARSE_ERROR",
               "JSON_PARSE_ERROR %d", i);
        cJSON_Delete(j);
        free(r);
        sim_ws_msg_free(&m);
    }
    sim_ws_parse(NULL, 0, &m);
    is_int(m.kind, SIM_WS_MSG_INVALID_JSON, "no data at all");

    static const char *badfmt[] = {"[1,2]", "\"str\"", "{\"type\":5}", "{\"message\":\"x\"}", NULL};
    for (int i = 0; badfmt[i]; i++) {
        parse(badfmt[i], &m);
        is_int(m.kind, SIM_WS_MSG_BAD_FORMAT, "format error %s", badfmt[i]);
        r = sim_ws_reply(&m, "u", 1000);
        ok(r && strstr(r, "FORMAT_ERROR"), "FORMAT_ERROR reply %d", i);
        free(r);
        sim_ws_msg_free(&m);
    }

    /* Not NUL-terminated: the parser must respect len. */
    const char buf[] = {'{', '"', 't', 'y', 'p', 'e', '"', ':', '"', 'p', 'i', 'n', 'g', '"', '}',
                        'X', 'X'};
    sim_ws_parse(buf, 15, &m);
    is_int(m.kind, SIM_WS_MSG_PING, "length-bounded input");
    sim_ws_msg_free(&m);
}

static int same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* sim_ws_parse reads flat objects of plain strings itself: for every input,
 * its answer is cJSON's. Messages are made from pieces, valid and not. */
static void test_parse_matches_cjson(void) {
    static const char *const space[] = {"", "", " ", "\t", "\r\n ", "\x01"};
    static const char *const keys[] = {"type", "type", "message", "content", "text",
                                       "user_request", "thread_id", "run_id", "payload", "x", ""};
    static const char *const vals[] = {
        "\"user_message\"", "\"chat\"", "\"start_agent\"", "\"ping\"", "\"message\"", "\"\"",
        "\"hi there\"", "\"caf\xc3\xa9\"", "\"a\\\"b\"", "\"a\\u0000b\"", "1", "null", "true",
        "{\"message\":\"in\"}", "\"t\x01\"", "[1]", "\"\xff\xfe\"", "\"x", "{\"run_id\":\"r\"}"};
    static const char *const ends[] = {"}", "}", "}", "} ", "}\n", "},", "", "}x", "}}", "} {}"};
    /* Half of them flat objects of plain strings, the shape read without
     * cJSON: picked from the first few of space, vals and ends. */
    uint64_t h = 12345;
    int mismatches = 0;
    const int tries = 20000;
    for (int i = 0; i < tries; i++) {
        sim_buf b = {0};
        int flat = i % 2;
#define PICK_N(a, n) (a)[(h = sim_mix(h, "p", (uint64_t)i, 0)) % (n)]
#define ALL(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a, flat_n) PICK_N(a, flat && (flat_n) ? (flat_n) : ALL(a))
        sim_buf_puts(&b, PICK(space, 5));
        sim_buf_puts(&b, flat || h % 17 ? "{" : "[");
        int members = (int)(sim_mix(h, "n", (uint64_t)i, 0) % 11);
        for (int k = 0; k < members; k++) {
            if (k) sim_buf_puts(&b, flat || h % 29 ? "," : "");
            sim_buf_puts(&b, PICK(space, 5));
            sim_buf_printf(&b, "\"%s\"", PICK(keys, 0));
            sim_buf_puts(&b, PICK(space, 5));
            sim_buf_puts(&b, flat || h % 31 ? ":" : "");
            sim_buf_puts(&b, PICK(space, 5));
            sim_buf_puts(&b, PICK(vals, 9));
        }
        sim_buf_puts(&b, PICK(space, 5));
        sim_buf_puts(&b, PICK(ends, 5));
#undef PICK
#undef PICK_N
#undef ALL
        sim_ws_msg fast, ref;
        sim_ws_parse(b.data, b.len, &fast);
        sim_ws_parse_cjson(b.data, b.len, &ref);
        if ((fast.kind != ref.kind || !same_str(fast.type, ref.type) ||
             !same_str(fast.text, ref.text) || !same_str(fast.thread_id, ref.thread_id) ||
             !same_str(fast.run_id, ref.run_id)) && mismatches++ == 0) {
            sim_buf q = {0};
            sim_buf_json_str(&q, b.data);   /* one line, whatever the bytes */
            printf("# first mismatch: %s\n", q.data);
            sim_buf_free(&q);
        }
        sim_ws_msg_free(&fast);
        sim_ws_msg_free(&ref);
        sim_buf_free(&b);
    }
    is_int(mismatches, 0, "%d made-up messages: sim_ws_parse answers as cJSON does", tries);
}

static void test_server_messages(void) {
    char *w = sim_ws_welcome(SIM_PROFILE_CURRENT, "user-a", "main_abc", 100000);
    cJSON *j = cJSON_Parse(w);
    is_str(cJSON_GetObjectItem(j, "type")->valuestring, "connection_established", "welcome type");
    cJSON *d = cJSON_GetObjectItem(j, "data");
    is_str(cJSON_GetObjectItem(d, "mode")->valuestring, "main", "mode main");
    is_str(cJSON_GetObjectItem(d, "user_id")->valuestring, "user-a", "welcome user_id");
    is_str(cJSON_GetObjectItem(d, "connection_id")->valuestring, "main_abc", "connection_id");
    is_int(cJSON_GetArraySize(cJSON_GetObjectItem(d, "golden_path_events")), 5, "5 event names");
    ok(cJSON_IsString(cJSON_GetObjectItem(d, "timestamp")), "iso timestamp in data");
    ok(cJSON_IsNumber(cJSON_GetObjectItem(j, "timestamp")), "epoch timestamp");
    ok(cJSON_IsNull(cJSON_GetObjectItem(j, "server_id")), "server_id null");
    ok(cJSON_IsNull(cJSON_GetObjectItem(j, "correlation_id")), "correlation_id null");
    cJSON_Delete(j);
    free(w);

    w = sim_ws_welcome(SIM_PROFILE_LEGACY, "user-a", "ws_abc", 100000);
    j = cJSON_Parse(w);
    is_str(cJSON_GetObjectItem(j, "type")->valuestring, "system_message", "legacy welcome");
    d = cJSON_GetObjectItem(j, "data");
    is_str(cJSON_GetObjectItem(d, "event")->valuestring, "connection_established", "legacy event");
    is_int(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "config"), "max_message_size")->valueint,
           8192, "legacy config max_message_size");
    cJSON_Delete(j);
    free(w);

    w = sim_ws_error("AUTH_FAILED", "Authentication failed", 5000);
    j = cJSON_Parse(w);
    is_str(cJSON_GetObjectItem(j, "type")->valuestring, "error_message", "error type");
    is_str(cJSON_GetObjectItem(j, "error_code")->valuestring, "AUTH_FAILED", "error_code");
    is_str(cJSON_GetObjectItem(j, "error_message")->valuestring, "Authentication failed", "text");
    ok(cJSON_IsObject(cJSON_GetObjectItem(j, "details")), "details object");
    cJSON_Delete(j);
    free(w);
}

static void test_fault_messages(void) {
    sim_ws_msg m;
    static const struct { const char *type, *name; } names[] = {
        {"user_message", "user_message"}, {"message", "user_message"}, {"user", "user_message"},
        {"user_input", "user_message"}, {"chat_message", "user_message"}, {"chat", "chat"},
        {"execute_agent", "start_agent"}, {"start_agent", "start_agent"}, {"ping", "ping"},
        {"weird", "weird"}, {NULL, NULL}};
    for (int i = 0; names[i].type; i++) {
        char buf[128];
        snprintf(buf, sizeof(buf), "{\"type\":\"%s\"}", names[i].type);
        sim_ws_parse(buf, strlen(buf), &m);
        is_str(sim_ws_msg_name(&m), names[i].name, "rule name of %s", names[i].type);
        sim_ws_msg_free(&m);
    }
    sim_ws_parse("{", 1, &m);
    is_str(sim_ws_msg_name(&m), "invalid_json", "invalid JSON has a name");
    sim_ws_parse("[1]", 3, &m);
    is_str(sim_ws_msg_name(&m), "bad_format", "no type has a name");

    char *r = sim_ws_replacement("agent_error", NULL, "boom", "run_1", "u1", "supervisor", 100000);
    cJSON *j = cJSON_Parse(r);
    is_str(cJSON_GetObjectItem(j, "type")->valuestring, "agent_error", "agent_error type");
    is_str(cJSON_GetObjectItem(j, "run_id")->valuestring, "run_1", "agent_error run_id");
    is_str(cJSON_GetObjectItem(j, "user_id")->valuestring, "u1", "agent_error user_id");
    is_str(cJSON_GetObjectItem(j, "agent_name")->valuestring, "supervisor", "agent_error agent");
    ok(cJSON_IsString(cJSON_GetObjectItem(j, "timestamp")), "agent_error ISO timestamp");
    is_str(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "error_message")->valuestring, "boom",
           "agent_error text");
    cJSON_Delete(j);
    free(r);
    r = sim_ws_replacement("agent_death", NULL, "oom", NULL, NULL, "supervisor", 100000);
    j = cJSON_Parse(r);
    ok(cJSON_IsNull(cJSON_GetObjectItem(j, "run_id")), "no run: run_id null");
    cJSON *d = cJSON_GetObjectItem(j, "data");
    is_str(cJSON_GetObjectItem(d, "death_cause")->valuestring, "oom", "death cause");
    is_str(cJSON_GetObjectItem(d, "recovery_action")->valuestring, "refresh_required",
           "recovery action");
    cJSON_Delete(j);
    free(r);
    /* Staging's S6 frame: the fields under data, details of its own. */
    r = sim_ws_error_shaped("CONNECTION_ERROR", "Connection error in main mode",
                            "{\"error_type\":\"TypeError\",\"mode\":\"main\"}", 1, 100000);
    j = cJSON_Parse(r);
    d = cJSON_GetObjectItem(j, "data");
    is_str(cJSON_GetObjectItem(j, "type")->valuestring, "error_message", "nested: type");
    ok(!cJSON_GetObjectItem(j, "error_code"), "nested: no top-level error_code");
    is_str(cJSON_GetObjectItem(d, "error_code")->valuestring, "CONNECTION_ERROR", "nested: code");
    is_str(cJSON_GetObjectItem(d, "error_message")->valuestring, "Connection error in main mode",
           "nested: text");
    is_str(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "details"), "error_type")->valuestring,
           "TypeError", "nested: details");
    ok(cJSON_IsString(cJSON_GetObjectItem(d, "timestamp")), "nested: ISO timestamp in data");
    ok(cJSON_IsNumber(cJSON_GetObjectItem(j, "timestamp")), "nested: epoch timestamp");
    cJSON_Delete(j);
    free(r);
    r = sim_ws_error_shaped(NULL, "x", "{\"k\":1}", 0, 100000);
    j = cJSON_Parse(r);
    is_str(cJSON_GetObjectItem(j, "error_code")->valuestring, "AGENT_ERROR", "shaped: default code");
    ok(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "details"), "k") != NULL, "shaped: top-level details");
    cJSON_Delete(j);
    free(r);
    r = sim_ws_replacement("error_message", NULL, "no handler", NULL, "u1", "a", 100000);
    j = cJSON_Parse(r);
    is_str(cJSON_GetObjectItem(j, "error_code")->valuestring, "AGENT_ERROR", "default code");
    is_str(cJSON_GetObjectItem(j, "error_message")->valuestring, "no handler", "error text");
    ok(cJSON_IsObject(cJSON_GetObjectItem(j, "details")), "details {}");
    cJSON_Delete(j);
    free(r);

    const char *ev = "{\"type\":\"x\",\"run_id\":\"r\",\"n\":\"12\",\"data\":{\"a\":1.5,\"b\":{\"c\":1}}}";
    r = sim_ws_malform(ev, SIM_WS_MALFORM_REMOVE_FIELD, "run_id");
    is_str(r, "{\"type\":\"x\",\"n\":\"12\",\"data\":{\"a\":1.5,\"b\":{\"c\":1}}}", "remove top-level");
    free(r);
    r = sim_ws_malform(ev, SIM_WS_MALFORM_REMOVE_FIELD, "data.b");
    is_str(r, "{\"type\":\"x\",\"run_id\":\"r\",\"n\":\"12\",\"data\":{\"a\":1.5}}", "remove a path");
    free(r);
    r = sim_ws_malform(ev, SIM_WS_MALFORM_REMOVE_FIELD, "nope.x");
    is_str(r, ev, "missing path: unchanged");
    free(r);
    r = sim_ws_malform(ev, SIM_WS_MALFORM_WRONG_TYPE, "n");
    is_str(r, "{\"type\":\"x\",\"run_id\":\"r\",\"n\":12,\"data\":{\"a\":1.5,\"b\":{\"c\":1}}}",
           "numeric string becomes a number");
    free(r);
    r = sim_ws_malform(ev, SIM_WS_MALFORM_WRONG_TYPE, "data.a");
    is_str(r, "{\"type\":\"x\",\"run_id\":\"r\",\"n\":\"12\",\"data\":{\"a\":\"1.5\",\"b\":{\"c\":1}}}",
           "number becomes a string");
    free(r);
    r = sim_ws_malform(ev, SIM_WS_MALFORM_WRONG_TYPE, "data");
    j = cJSON_Parse(r);
    ok(cJSON_IsString(cJSON_GetObjectItem(j, "data")), "object becomes a string");
    cJSON_Delete(j);
    free(r);
    r = sim_ws_malform(ev, SIM_WS_MALFORM_INVALID_JSON, NULL);
    j = cJSON_Parse(r);
    ok(j == NULL && strlen(r) > 0 && strncmp(r, ev, strlen(r)) == 0, "invalid JSON: a cut prefix");
    cJSON_Delete(j);
    free(r);
    r = sim_ws_malform("{}", SIM_WS_MALFORM_INVALID_JSON, NULL);
    ok(cJSON_Parse(r) == NULL, "even the smallest object");
    free(r);
}

int main(void) {
    test_tokens();
    test_fault_messages();
    test_parse();
    test_parse_matches_cjson();
    test_server_messages();
    return tap_done();
}
