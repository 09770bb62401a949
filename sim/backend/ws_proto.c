/* ws_proto.c -- the backend's WebSocket protocol, pure: token sources, client
 * message parsing (types, aliases, payload nesting) and the server messages
 * that are not part of a run, and the messages fault actions make (replace,
 * malform). See ws_proto.h and docs/contract.md §2. */
#include "ws_proto.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64url.h"
#include "http.h"
#include "jcheck.h"
#include "util.h"

/* ---- authentication ---------------------------------------------------- */

static const char *const subprotocol_prefixes[] = {"jwt.", "jwt-auth.", "bearer.", NULL};

const char *sim_ws_token_source_name(sim_ws_token_source s) {
    switch (s) {
    case SIM_WS_TOKEN_SUBPROTOCOL: return "subprotocol";
    case SIM_WS_TOKEN_HEADER: return "header";
    case SIM_WS_TOKEN_QUERY: return "query";
    default: return "none";
    }
}

/* A subprotocol carries the token raw (three dot-separated parts) or as
 * base64url of the raw token. The base64url alphabet has no '.', so a value
 * with a dot is raw; a value that decodes to something with two dots is the
 * encoded form; anything else is passed on as is and fails verification. */
static char *subprotocol_token(const char *v, size_t n) {
    if (memchr(v, '.', n)) return sim_xstrndup(v, n);
    unsigned char *dec = sim_xmalloc(n + 1);
    long m = sim_b64url_decode(dec, v, n);
    if (m > 0) {
        dec[m] = '\0';
        int dots = 0, printable = 1;
        for (long i = 0; i < m; i++) {
            if (dec[i] == '.') dots++;
            if (dec[i] < 0x21 || dec[i] > 0x7e) printable = 0;
        }
        if (dots == 2 && printable && (size_t)m == strlen((char *)dec)) return (char *)dec;
    }
    free(dec);
    return sim_xstrndup(v, n);
}

/* Walks the comma-separated offer. Returns 1 when some entry is supported,
 * and takes the first token-bearing entry into out. */
static int scan_subprotocols(const char *list, sim_ws_auth *out) {
    int supported = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        size_t len = (size_t)(end - start);
        if (!len) continue;
        if (len == 8 && strncmp(start, "jwt-auth", 8) == 0) {
            /* A bare marker: supported, the token comes with another entry or source. */
            supported = 1;
            if (!out->subprotocol) out->subprotocol = sim_xstrndup(start, len);
            continue;
        }
        for (int i = 0; subprotocol_prefixes[i]; i++) {
            size_t pl = strlen(subprotocol_prefixes[i]);
            if (len > pl && strncmp(start, subprotocol_prefixes[i], pl) == 0) {
                supported = 1;
                if (!out->token) {
                    out->token = subprotocol_token(start + pl, len - pl);
                    out->source = SIM_WS_TOKEN_SUBPROTOCOL;
                    free(out->subprotocol);
                    out->subprotocol = sim_xstrndup(start, len);
                }
                break;
            }
        }
    }
    return supported;
}

void sim_ws_auth_extract(const char *subprotocols, const char *authorization, const char *query,
                         sim_ws_auth *out) {
    memset(out, 0, sizeof(*out));
    if (subprotocols && *subprotocols) {
        if (!scan_subprotocols(subprotocols, out)) {
            out->unsupported = 1;
            return;
        }
        if (out->token) return;
    }
    if (authorization && sim_strncaseeq(authorization, "Bearer ", 7)) {
        const char *t = authorization + 7;
        while (*t == ' ') t++;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
        if (n) {
            out->token = sim_xstrndup(t, n);
            out->source = SIM_WS_TOKEN_HEADER;
            return;
        }
    }
    if (query && *query) {
        static const char *const names[] = {"token", "jwt", "access_token", NULL};
        char buf[8192];
        for (int i = 0; names[i]; i++) {
            if (sim_http_query_param(query, names[i], buf, sizeof(buf)) == 0 && buf[0]) {
                out->token = sim_xstrdup(buf);
                out->source = SIM_WS_TOKEN_QUERY;
                return;
            }
        }
    }
}

void sim_ws_auth_free(sim_ws_auth *a) {
    free(a->token);
    free(a->subprotocol);
    a->token = a->subprotocol = NULL;
}

/* ---- client messages --------------------------------------------------- */

typedef struct type_entry {
    const char *name;
    sim_ws_msg_kind kind;
    const char *canonical;   /* the name after aliases */
} type_entry;

/* Types and aliases of docs/contract.md §2.4; anything else is acknowledged. */
static const type_entry type_table[] = {
    {"user_message", SIM_WS_MSG_CHAT, "user_message"},
    {"message", SIM_WS_MSG_CHAT, "user_message"},
    {"user", SIM_WS_MSG_CHAT, "user_message"},
    {"user_input", SIM_WS_MSG_CHAT, "user_message"},
    {"chat_message", SIM_WS_MSG_CHAT, "user_message"},
    {"chat", SIM_WS_MSG_CHAT, "chat"},
    {"start_agent", SIM_WS_MSG_START_AGENT, "start_agent"},
    {"execute_agent", SIM_WS_MSG_START_AGENT, "start_agent"},
    {"ping", SIM_WS_MSG_PING, "ping"},
    {"heartbeat", SIM_WS_MSG_HEARTBEAT, "heartbeat"},
    {"pong", SIM_WS_MSG_PONG, "pong"},
    {NULL, SIM_WS_MSG_UNKNOWN, NULL},
};

const char *sim_ws_msg_name(const sim_ws_msg *m) {
    if (m->kind == SIM_WS_MSG_INVALID_JSON) return "invalid_json";
    if (m->kind == SIM_WS_MSG_BAD_FORMAT) return "bad_format";
    for (const type_entry *e = type_table; e->name; e++)
        if (m->type && strcmp(e->name, m->type) == 0) return e->canonical;
    return m->type ? m->type : "";
}

/* A string field from the payload object, else the top level; NULL when
 * absent, not a string or empty. */
static const char *field(const cJSON *root, const cJSON *payload, const char *name) {
    const cJSON *v = NULL;
    if (cJSON_IsObject(payload)) v = cJSON_GetObjectItemCaseSensitive(payload, name);
    if (!cJSON_IsString(v) || !v->valuestring[0]) v = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!cJSON_IsString(v) || !v->valuestring[0]) return NULL;
    return v->valuestring;
}

static char *dup_or_null(const char *s) {
    return s ? sim_xstrdup(s) : NULL;
}

/* The fields of a chat or start_agent message (out->kind set), each taken
 * by dup(src, name): an owned copy, or NULL when absent or empty. Both
 * readers below fill them here, so they cannot disagree on which. */
typedef char *(*field_dup)(const void *src, const char *name);

static void fill_fields(sim_ws_msg *out, field_dup dup, const void *src) {
    if (out->kind == SIM_WS_MSG_CHAT) {
        out->text = dup(src, "message");
        if (!out->text) out->text = dup(src, "content");
        if (!out->text) out->text = dup(src, "text");
    } else if (out->kind == SIM_WS_MSG_START_AGENT) {
        out->text = dup(src, "user_request");
    }
    if (out->kind == SIM_WS_MSG_CHAT || out->kind == SIM_WS_MSG_START_AGENT) {
        out->thread_id = dup(src, "thread_id");
        out->run_id = dup(src, "run_id");
    }
}

/* src: the root object and its "payload" member (or NULL). */
static char *cjson_field(const void *src, const char *name) {
    const cJSON *const *objects = src;
    return dup_or_null(field(objects[0], objects[1], name));
}

static sim_ws_msg_kind kind_of(const char *type) {
    for (const type_entry *e = type_table; e->name; e++)
        if (strcmp(e->name, type) == 0) return e->kind;
    return SIM_WS_MSG_UNKNOWN;
}

void sim_ws_parse_cjson(const char *data, size_t len, sim_ws_msg *out) {
    memset(out, 0, sizeof(*out));
    cJSON *root = sim_jcheck_parse(data, len, NULL);   /* garbage after the value: invalid */
    if (!root) {
        out->kind = SIM_WS_MSG_INVALID_JSON;
        return;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!cJSON_IsObject(root) || !cJSON_IsString(t) || !t->valuestring[0]) {
        out->kind = SIM_WS_MSG_BAD_FORMAT;
        cJSON_Delete(root);
        return;
    }
    out->type = sim_xstrdup(t->valuestring);
    out->kind = kind_of(t->valuestring);
    const cJSON *objects[2] = {root, cJSON_GetObjectItemCaseSensitive(root, "payload")};
    fill_fields(out, cjson_field, objects);
    cJSON_Delete(root);
}

/* ---- the common shape, without cJSON ----------------------------------- */

/* Nearly every client message is one flat object of plain strings,
 * {"type":"user_message","message":"..."}: that shape is read in place,
 * with the answers sim_ws_parse_cjson gives for it (the first member of a
 * name counts, as cJSON_GetObjectItemCaseSensitive finds it; a "payload"
 * that is a string is no object, so the fields are the top level's).
 * Anything else (an escape, a control byte, a number, a nested "payload",
 * more than FLAT_MAX members) is left to cJSON. */
#define FLAT_MAX 8

typedef struct flat_member {
    const char *key, *val;
    size_t klen, vlen;
} flat_member;

static const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p;
}

/* A string without escapes or control bytes at p (its opening quote);
 * returns the byte after the closing quote, or NULL. */
static const char *flat_string(const char *p, const char *end, const char **s, size_t *n) {
    if (p >= end || *p != '"') return NULL;
    const char *q = ++p;
    while (q < end && *q != '"') {
        if ((unsigned char)*q < 0x20 || *q == '\\') return NULL;
        q++;
    }
    if (q >= end) return NULL;
    *s = p;
    *n = (size_t)(q - p);
    return q + 1;
}

/* The members of a flat object, or -1 when data is not one. */
static int flat_members(const char *data, size_t len, flat_member m[FLAT_MAX]) {
    const char *p = data, *end = data + len;
    p = skip_space(p, end);
    if (p >= end || *p++ != '{') return -1;
    int n = 0;
    for (;;) {
        if (n == FLAT_MAX) return -1;
        flat_member *f = &m[n++];
        p = flat_string(skip_space(p, end), end, &f->key, &f->klen);
        if (!p) return -1;
        p = skip_space(p, end);
        if (p >= end || *p++ != ':') return -1;
        p = flat_string(skip_space(p, end), end, &f->val, &f->vlen);
        if (!p) return -1;
        p = skip_space(p, end);
        if (p >= end) return -1;
        if (*p == '}') break;
        if (*p++ != ',') return -1;
    }
    return skip_space(p + 1, end) == end ? n : -1;
}

/* The first member named key, as field() reads it: NULL when absent or empty. */
static const flat_member *flat_field(const flat_member *m, int n, const char *key) {
    size_t kl = strlen(key);
    for (int i = 0; i < n; i++)
        if (m[i].klen == kl && memcmp(m[i].key, key, kl) == 0) return m[i].vlen ? &m[i] : NULL;
    return NULL;
}

static char *flat_dup(const flat_member *f) {
    return f ? sim_xstrndup(f->val, f->vlen) : NULL;
}

typedef struct flat_object {
    const flat_member *m;
    int n;
} flat_object;

static char *flat_field_dup(const void *src, const char *name) {
    const flat_object *o = src;
    return flat_dup(flat_field(o->m, o->n, name));
}

void sim_ws_parse(const char *data, size_t len, sim_ws_msg *out) {
    flat_member m[FLAT_MAX];
    int n = data ? flat_members(data, len, m) : -1;
    if (n < 0) {
        sim_ws_parse_cjson(data, len, out);
        return;
    }
    memset(out, 0, sizeof(*out));
    const flat_member *t = flat_field(m, n, "type");
    if (!t) {
        out->kind = SIM_WS_MSG_BAD_FORMAT;
        return;
    }
    out->type = flat_dup(t);
    out->kind = kind_of(out->type);
    fill_fields(out, flat_field_dup, &(flat_object){m, n});
}

void sim_ws_msg_free(sim_ws_msg *m) {
    free(m->text);
    free(m->thread_id);
    free(m->run_id);
    free(m->type);
    m->text = m->thread_id = m->run_id = m->type = NULL;
}

/* An epoch-seconds member, always with a fraction (util.h). */
static void add_epoch(cJSON *j, const char *key, int64_t now_ms) {
    char num[SIM_EPOCH_LEN];
    sim_epoch_seconds(num, now_ms);
    cJSON_AddRawToObject(j, key, num);
}

static char *print_and_delete(cJSON *j) {
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    sim_assert(s);
    return s;
}

/* {"type":t,"data":{"timestamp":s,"user_id":uid},"timestamp":s}, s in epoch seconds */
static char *timed_reply(const char *type, const char *user_id, int64_t now_ms) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", type);
    cJSON *d = cJSON_AddObjectToObject(j, "data");
    add_epoch(d, "timestamp", now_ms);
    if (user_id) cJSON_AddStringToObject(d, "user_id", user_id);
    else cJSON_AddNullToObject(d, "user_id");
    add_epoch(j, "timestamp", now_ms);
    return print_and_delete(j);
}

char *sim_ws_reply(const sim_ws_msg *m, const char *user_id, int64_t now_ms) {
    switch (m->kind) {
    case SIM_WS_MSG_PING: return timed_reply("pong", user_id, now_ms);
    case SIM_WS_MSG_HEARTBEAT: return timed_reply("heartbeat_ack", user_id, now_ms);
    case SIM_WS_MSG_UNKNOWN: {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "type", "ack");
        cJSON_AddStringToObject(j, "received_type", m->type ? m->type : "");
        cJSON_AddStringToObject(j, "status", "acknowledged");
        add_epoch(j, "timestamp", now_ms);
        return print_and_delete(j);
    }
    case SIM_WS_MSG_INVALID_JSON:
        return sim_ws_error("JSON_PARSE_ERROR", "Invalid JSON in message", now_ms);
    case SIM_WS_MSG_BAD_FORMAT:
        return sim_ws_error("FORMAT_ERROR", "Message must be a JSON object with a string \"type\"",
                            now_ms);
    default: return NULL;
    }
}

/* ---- server messages --------------------------------------------------- */

static const char *const golden_path_events[] = {"agent_started", "agent_thinking",
                                                 "tool_executing", "tool_completed",
                                                 "agent_completed"};

char *sim_ws_welcome(sim_profile profile, const char *user_id, const char *conn_id, int64_t now_ms) {
    cJSON *j = cJSON_CreateObject();
    if (profile == SIM_PROFILE_LEGACY) {
        cJSON_AddStringToObject(j, "type", "system_message");
        cJSON *d = cJSON_AddObjectToObject(j, "data");
        cJSON_AddStringToObject(d, "event", "connection_established");
        cJSON_AddStringToObject(d, "connection_id", conn_id);
        cJSON_AddStringToObject(d, "user_id", user_id);
        cJSON_AddBoolToObject(d, "connection_ready", 1);
        cJSON_AddStringToObject(d, "environment", "staging");
        cJSON *cfg = cJSON_AddObjectToObject(d, "config");
        cJSON_AddNumberToObject(cfg, "heartbeat_interval", 30);
        cJSON_AddNumberToObject(cfg, "max_message_size", SIM_WS_MAX_MESSAGE);
        add_epoch(j, "timestamp", now_ms);
        return print_and_delete(j);
    }
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, now_ms);
    cJSON_AddStringToObject(j, "type", "connection_established");
    cJSON *d = cJSON_AddObjectToObject(j, "data");
    cJSON_AddStringToObject(d, "mode", "main");
    cJSON_AddStringToObject(d, "user_id", user_id);
    cJSON_AddStringToObject(d, "connection_id", conn_id);
    cJSON_AddItemToObject(d, "golden_path_events", cJSON_CreateStringArray(golden_path_events, 5));
    cJSON_AddStringToObject(d, "timestamp", iso);
    add_epoch(j, "timestamp", now_ms);
    cJSON_AddNullToObject(j, "server_id");
    cJSON_AddNullToObject(j, "correlation_id");
    return print_and_delete(j);
}

char *sim_ws_heartbeat(const char *user_id, const char *conn_id, int64_t now_ms) {
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, now_ms);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "heartbeat");
    cJSON *d = cJSON_AddObjectToObject(j, "data");
    cJSON_AddStringToObject(d, "user_id", user_id);
    cJSON_AddStringToObject(d, "connection_id", conn_id);
    cJSON_AddStringToObject(d, "timestamp", iso);
    add_epoch(j, "timestamp", now_ms);
    return print_and_delete(j);
}

char *sim_ws_error(const char *code, const char *text, int64_t now_ms) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "error_message");
    cJSON_AddStringToObject(j, "error_code", code);
    cJSON_AddStringToObject(j, "error_message", text);
    cJSON_AddObjectToObject(j, "details");
    add_epoch(j, "timestamp", now_ms);
    return print_and_delete(j);
}

/* ---- messages made by fault actions --------------------------------------- */

char *sim_ws_error_shaped(const char *code, const char *text, const char *details_json, int nested,
                          int64_t now_ms) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "error_message");
    cJSON *d = nested ? cJSON_AddObjectToObject(j, "data") : j;
    cJSON_AddStringToObject(d, "error_code", code && *code ? code : "AGENT_ERROR");
    cJSON_AddStringToObject(d, "error_message", text ? text : "");
    cJSON *det = details_json ? cJSON_Parse(details_json) : NULL;
    cJSON_AddItemToObject(d, "details", det ? det : cJSON_CreateObject());
    if (nested) {
        char iso[SIM_ISO_LEN];
        sim_iso_time(iso, now_ms);
        cJSON_AddStringToObject(d, "timestamp", iso);
    }
    add_epoch(j, "timestamp", now_ms);
    return print_and_delete(j);
}

char *sim_ws_replacement(const char *type, const char *code, const char *text, const char *run_id,
                         const char *user_id, const char *agent, int64_t now_ms) {
    text = text ? text : "";
    if (strcmp(type, "agent_error") != 0 && strcmp(type, "agent_death") != 0)
        return sim_ws_error(code && *code ? code : "AGENT_ERROR", text, now_ms);
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, now_ms);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", type);
    if (run_id) cJSON_AddStringToObject(j, "run_id", run_id);
    else cJSON_AddNullToObject(j, "run_id");
    if (user_id) cJSON_AddStringToObject(j, "user_id", user_id);
    else cJSON_AddNullToObject(j, "user_id");
    cJSON_AddStringToObject(j, "agent_name", agent ? agent : "");
    cJSON_AddStringToObject(j, "timestamp", iso);
    cJSON *d = cJSON_AddObjectToObject(j, "data");
    if (strcmp(type, "agent_error") == 0) {
        cJSON_AddStringToObject(d, "error_message", text);
        if (code && *code) cJSON_AddStringToObject(d, "error_code", code);
    } else {
        cJSON_AddStringToObject(d, "death_cause", text);
        cJSON_AddStringToObject(d, "recovery_action", "refresh_required");
    }
    return print_and_delete(j);
}

/* Finds `path` ("type", "data.status") in j: the item's parent and name, or
 * NULL when a step is missing or not an object. */
static cJSON *path_parent(cJSON *j, const char *path, const char **leaf) {
    cJSON *cur = j;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        if (!dot) {
            *leaf = p;
            return cJSON_IsObject(cur) ? cur : NULL;
        }
        char step[128];
        snprintf(step, sizeof(step), "%.*s", (int)(dot - p), p);
        cur = cJSON_GetObjectItemCaseSensitive(cur, step);
        if (!cJSON_IsObject(cur)) return NULL;
        p = dot + 1;
    }
}

/* Another JSON type for v: string → number, number → string, object or
 * array → string, bool or null → number. */
static cJSON *other_type(const cJSON *v) {
    if (cJSON_IsString(v)) {
        char *end;
        double d = strtod(v->valuestring, &end);
        return cJSON_CreateNumber(*v->valuestring && !*end ? d : 0);
    }
    if (cJSON_IsNumber(v)) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.15g", v->valuedouble);
        return cJSON_CreateString(buf);
    }
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        char *s = cJSON_PrintUnformatted(v);
        cJSON *r = cJSON_CreateString(s ? s : "");
        free(s);
        return r;
    }
    return cJSON_CreateNumber(0);
}

char *sim_ws_malform(const char *json, int mode, const char *field) {
    size_t len = strlen(json);
    if (mode == SIM_WS_MALFORM_INVALID_JSON) {
        /* Cut it off half way: an unterminated object, a text frame all the
         * same. Always invalid: an object needs its closing brace. */
        size_t keep = len / 2;
        char *s = sim_xmalloc(keep + 1);
        memcpy(s, json, keep);
        s[keep] = '\0';
        return s;
    }
    cJSON *j = cJSON_Parse(json);
    const char *leaf = NULL;
    cJSON *parent = j && field ? path_parent(j, field, &leaf) : NULL;
    cJSON *item = parent ? cJSON_GetObjectItemCaseSensitive(parent, leaf) : NULL;
    if (item && mode == SIM_WS_MALFORM_REMOVE_FIELD) {
        cJSON_DeleteItemFromObjectCaseSensitive(parent, leaf);
    } else if (item) {
        cJSON_ReplaceItemInObjectCaseSensitive(parent, leaf, other_type(item));
    }
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return s ? s : sim_xstrdup(json);
}
