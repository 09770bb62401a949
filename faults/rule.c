/* rule.c -- parses and validates fault rules. Two tables drive it: where a
 * rule can apply (`on`) and which actions exist with their parameters and the
 * places they make sense. Anything else is an error naming the JSON path. */
#include "rule.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jcheck.h"
#include "util.h"

/* ---- where ------------------------------------------------------------ */

enum {
    ON_HTTP_REQUEST = 1 << 0,
    ON_WS_ACCEPT = 1 << 1,
    ON_WS_MESSAGE = 1 << 2,
    ON_WS_SEND = 1 << 3,
    ON_AUTH_REQUEST = 1 << 4,
    ON_REDIS_ACCEPT = 1 << 5,
    ON_REDIS_COMMAND = 1 << 6,
    ON_AUTH_TOKEN = 1 << 7,
    ON_REDIS_MESSAGE = 1 << 8,
    ON_DEP_CONNECT = 1 << 9,
};
#define ON_HTTPISH (ON_HTTP_REQUEST | ON_AUTH_REQUEST)
#define ON_WS_ANY (ON_WS_ACCEPT | ON_WS_MESSAGE | ON_WS_SEND)
#define ON_EVERY_PLACE (ON_HTTPISH | ON_WS_ANY | ON_REDIS_ACCEPT | ON_REDIS_COMMAND | ON_AUTH_TOKEN | \
                        ON_REDIS_MESSAGE | ON_DEP_CONNECT)

static const struct where {
    const char *name;
    int bit;
    sim_service service;
    sim_wire_point point;
    const char *proto;
    sim_rule_scope default_scope;
} wheres[] = {
    {"http.request", ON_HTTP_REQUEST, SIM_SVC_BACKEND, SIM_WIRE_REQUEST, "http", SIM_SCOPE_SERVICE},
    {"ws.accept", ON_WS_ACCEPT, SIM_SVC_BACKEND, SIM_WIRE_ACCEPT, "ws", SIM_SCOPE_SERVICE},
    {"ws.message", ON_WS_MESSAGE, SIM_SVC_BACKEND, SIM_WIRE_REQUEST, "ws", SIM_SCOPE_CONNECTION},
    {"ws.send", ON_WS_SEND, SIM_SVC_BACKEND, SIM_WIRE_SEND, "ws", SIM_SCOPE_CONNECTION},
    {"auth.request", ON_AUTH_REQUEST, SIM_SVC_AUTH, SIM_WIRE_REQUEST, "http", SIM_SCOPE_SERVICE},
    {"auth.token", ON_AUTH_TOKEN, SIM_SVC_AUTH, SIM_WIRE_REQUEST, "jwt", SIM_SCOPE_SERVICE},
    {"redis.accept", ON_REDIS_ACCEPT, SIM_SVC_REDIS, SIM_WIRE_ACCEPT, "resp", SIM_SCOPE_SERVICE},
    {"redis.command", ON_REDIS_COMMAND, SIM_SVC_REDIS, SIM_WIRE_REQUEST, "resp", SIM_SCOPE_CONNECTION},
    {"redis.message", ON_REDIS_MESSAGE, SIM_SVC_REDIS, SIM_WIRE_SEND, "resp", SIM_SCOPE_CONNECTION},
    {"dep.connect", ON_DEP_CONNECT, SIM_SVC_BACKEND, SIM_WIRE_CONNECT, "dep", SIM_SCOPE_SERVICE},
};

/* ---- errors and typed getters ----------------------------------------- */

/* The rule's own path ("faults[2]", "rule") and the checker that formats
 * errors; keys below are given relative to it ("action.code"). */
typedef struct parser {
    const char *path;
    sim_jcheck jc;
} parser;

__attribute__((format(printf, 3, 4)))
static int fail(parser *ps, const char *key, const char *fmt, ...) {
    char reason[400], path[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (key)
        sim_jcheck_join(path, sizeof(path), ps->path, key);
    else
        snprintf(path, sizeof(path), "%s", ps->path);
    return sim_jcheck_fail(&ps->jc, path, "%s", reason);
}

/* The path of a member object given as a prefix "action." (or "" for the
 * rule itself). */
static const char *subpath(const parser *ps, const char *prefix, char *out, size_t outlen) {
    if (!*prefix) return ps->path;
    snprintf(out, outlen, "%s.%.*s", ps->path, (int)strlen(prefix) - 1, prefix);
    return out;
}

static int check_keys(parser *ps, const cJSON *obj, const char *prefix, const char *const *allowed) {
    char p[256];
    return sim_jcheck_keys(&ps->jc, obj, subpath(ps, prefix, p, sizeof(p)), allowed);
}

static int get_str(parser *ps, const cJSON *obj, const char *prefix, const char *key, char **dst) {
    char p[256];
    return sim_jcheck_string(&ps->jc, obj, subpath(ps, prefix, p, sizeof(p)), key, dst, 0);
}

/* Number member in [min, max]; integer when `integer`. Absent: *present = 0. */
static int get_num(parser *ps, const cJSON *obj, const char *prefix, const char *key, double min,
                   double max, int integer, double *dst, int *present) {
    char p[256];
    return sim_jcheck_number(&ps->jc, obj, subpath(ps, prefix, p, sizeof(p)), key, min, max, integer,
                             dst, present);
}

static int get_count(parser *ps, const cJSON *obj, const char *key, uint64_t *dst) {
    double d = 0;
    int present;
    if (get_num(ps, obj, "", key, 1, 1e15, 1, &d, &present)) return -1;
    if (present) *dst = (uint64_t)d;
    return 0;
}

/* ---- actions ---------------------------------------------------------- */

typedef int (*action_parse_fn)(parser *ps, const cJSON *a, sim_rule *r);

/* WebSocket close codes a server may put on the wire (RFC 6455 7.4):
 * 1005, 1006 and 1015 are for reporting only, 1004 is reserved. */
static int close_code_ok(int code, const char **why) {
    if (code == 1005 || code == 1006 || code == 1015) {
        *why = "is not sendable (reserved for reporting a missing or abnormal close)";
        return 0;
    }
    if ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
        (code >= 3000 && code <= 4999))
        return 1;
    *why = "is not a sendable close code (1000-1003, 1007-1014, 3000-4999)";
    return 0;
}

static int parse_close(parser *ps, const cJSON *a, sim_rule *r) {
    static const char *const keys[] = {"kind", "code", "reason", "send_first", NULL};
    double code = 1011;
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(a, "send_first");
    if (first && !cJSON_IsBool(first))
        return fail(ps, "action.send_first", "must be a boolean, not %s", sim_jcheck_type(first));
    if (cJSON_IsTrue(first) && strcmp(r->on, "ws.send") != 0)
        return fail(ps, "action.send_first", "only applies on ws.send");
    r->mode = cJSON_IsTrue(first) ? SIM_CLOSE_AFTER_SEND : SIM_CLOSE_INSTEAD;
    if (check_keys(ps, a, "action.", keys) ||
        get_num(ps, a, "action.", "code", 0, 65535, 1, &code, NULL) ||
        get_str(ps, a, "action.", "reason", &r->text))
        return -1;
    const char *why;
    if (!close_code_ok((int)code, &why)) return fail(ps, "action.code", "%d %s", (int)code, why);
    if (r->text && strlen(r->text) > 123) return fail(ps, "action.reason", "must be at most 123 bytes");
    r->code = (int)code;
    if (!r->text) r->text = sim_xstrdup(code == 1011 ? "Internal error" : "");
    return 0;
}

static int parse_delay(parser *ps, const cJSON *a, sim_rule *r) {
    static const char *const keys[] = {"kind", "ms", "jitter_ms", NULL};
    double ms = 0, jitter = 0;
    int present;
    if (check_keys(ps, a, "action.", keys) ||
        get_num(ps, a, "action.", "ms", 0, 3600000, 1, &ms, &present) ||
        get_num(ps, a, "action.", "jitter_ms", 0, 3600000, 1, &jitter, NULL))
        return -1;
    if (!present) return fail(ps, "action.ms", "is required");
    r->delay_ms = (uint32_t)ms;
    r->jitter_ms = (uint32_t)jitter;
    return 0;
}

static int parse_none(parser *ps, const cJSON *a, sim_rule *r) {
    (void)r;
    static const char *const keys[] = {"kind", NULL};
    return check_keys(ps, a, "action.", keys);
}

/* An HTTP status, optionally after a delay: staging's 503s took seconds. */
static int parse_status(parser *ps, const cJSON *a, sim_rule *r) {
    static const char *const keys[] = {"kind", "status", "body", "content_type", "ms", "jitter_ms", NULL};
    double status = 0, ms = 0, jitter = 0;
    int present;
    if (check_keys(ps, a, "action.", keys) ||
        get_num(ps, a, "action.", "status", 100, 599, 1, &status, &present) ||
        get_str(ps, a, "action.", "body", &r->text) ||
        get_str(ps, a, "action.", "content_type", &r->field) ||
        get_num(ps, a, "action.", "ms", 0, 3600000, 1, &ms, NULL) ||
        get_num(ps, a, "action.", "jitter_ms", 0, 3600000, 1, &jitter, NULL))
        return -1;
    if (!present) return fail(ps, "action.status", "is required");
    r->code = (int)status;
    r->delay_ms = (uint32_t)ms;
    r->jitter_ms = (uint32_t)jitter;
    return 0;
}

static int parse_error(parser *ps, const cJSON *a, sim_rule *r) {
    static const char *const keys[] = {"kind", "text", NULL};
    if (check_keys(ps, a, "action.", keys) || get_str(ps, a, "action.", "text", &r->text)) return -1;
    if (!r->text || !*r->text) return fail(ps, "action.text", "is required (e.g. \"LOADING Redis is loading the dataset in memory\")");
    if (strpbrk(r->text, "\r\n")) return fail(ps, "action.text", "must not contain CR or LF");
    return 0;
}

static int parse_refuse(parser *ps, const cJSON *a, sim_rule *r) {
    static const char *const keys[] = {"kind", "ms", NULL};
    double ms = 0;
    int present;
    if (r->point == SIM_WIRE_CONNECT) return parse_none(ps, a, r);   /* one attempt refused */
    if (check_keys(ps, a, "action.", keys) ||
        get_num(ps, a, "action.", "ms", 1, 86400000, 1, &ms, &present))
        return -1;
    if (!present) return fail(ps, "action.ms", "is required");
    r->delay_ms = (uint32_t)ms;
    return 0;
}

static int parse_slow(parser *ps, const cJSON *a, sim_rule *r) {
    static const char *const keys[] = {"kind", "bytes_per_s", NULL};
    double rate = 0;
    int present;
    if (check_keys(ps, a, "action.", keys) ||
        get_num(ps, a, "action.", "bytes_per_s", 1, 1e9, 1, &rate, &present))
        return -1;
    if (!present) return fail(ps, "action.bytes_per_s", "is required");
    r->code = (int)rate;
    return 0;
}

static int parse_malform(parser *ps, const cJSON *a, sim_rule *r) {
    static const char *const keys[] = {"kind", "mode", "field", NULL};
    static const char *const modes[] = {"remove_field", "wrong_type", "invalid_json"};
    char *mode = NULL;
    if (check_keys(ps, a, "action.", keys) || get_str(ps, a, "action.", "mode", &mode) ||
        get_str(ps, a, "action.", "field", &r->field)) {
        free(mode);
        return -1;
    }
    r->mode = -1;
    for (int i = 0; i < 3; i++)
        if (mode && strcmp(mode, modes[i]) == 0) r->mode = i;
    int bad = r->mode < 0;
    if (bad) fail(ps, "action.mode", "must be \"remove_field\", \"wrong_type\" or \"invalid_json\"");
    free(mode);
    if (bad) return -1;
    if (r->mode != SIM_MALFORM_INVALID_JSON && !r->field)
        return fail(ps, "action.field", "is required for mode remove_field and wrong_type");
    return 0;
}

static int parse_replace(parser *ps, const cJSON *a, sim_rule *r) {
    static const char *const keys[] = {"kind", "type", "code", "text", "details", "nested", NULL};
    static const char *const types[] = {"agent_error", "agent_death", "error_message"};
    if (check_keys(ps, a, "action.", keys) || get_str(ps, a, "action.", "type", &r->field) ||
        get_str(ps, a, "action.", "text", &r->text))
        return -1;
    int known = 0;
    for (int i = 0; i < 3; i++)
        if (r->field && strcmp(r->field, types[i]) == 0) known = 1, r->mode = i;
    if (!known) return fail(ps, "action.type", "must be \"agent_error\", \"agent_death\" or \"error_message\"");
    if (get_str(ps, a, "action.", "code", &r->error_code)) return -1;
    if (!r->text) r->text = sim_xstrdup("");
    /* Staging's other error_message shape (S6): the fields under "data",
     * with details of its own. */
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(a, "details");
    const cJSON *nested = cJSON_GetObjectItemCaseSensitive(a, "nested");
    int is_error_message = strcmp(r->field, "error_message") == 0;
    if (details && !cJSON_IsObject(details)) return fail(ps, "action.details", "must be an object");
    if (nested && !cJSON_IsBool(nested)) return fail(ps, "action.nested", "must be true or false");
    if ((details || nested) && !is_error_message)
        return fail(ps, details ? "action.details" : "action.nested", "is only for type \"error_message\"");
    if (details) r->details = cJSON_PrintUnformatted(details);
    r->nested = nested && cJSON_IsTrue(nested);
    return 0;
}

static int parse_misroute(parser *ps, const cJSON *a, sim_rule *r) {
    static const char *const keys[] = {"kind", "user", NULL};
    if (check_keys(ps, a, "action.", keys) || get_str(ps, a, "action.", "user", &r->field)) return -1;
    if (!r->field || !*r->field) return fail(ps, "action.user", "is required");
    return 0;
}

static const struct action_def {
    const char *name;
    sim_action_kind kind;
    int where;                  /* ON_* bits where it makes sense */
    action_parse_fn parse;
} actions[] = {
    {"close", SIM_ACT_CLOSE, ON_WS_ANY, parse_close},
    {"abort", SIM_ACT_ABORT, ON_WS_ANY | ON_REDIS_ACCEPT | ON_REDIS_COMMAND, parse_none},
    {"reset", SIM_ACT_ABORT, ON_HTTPISH | ON_REDIS_ACCEPT | ON_REDIS_COMMAND, parse_none},
    {"hang", SIM_ACT_HANG, ON_WS_ANY | ON_HTTPISH | ON_REDIS_ACCEPT | ON_REDIS_COMMAND | ON_DEP_CONNECT,
     parse_none},
    {"drop", SIM_ACT_DROP, ON_WS_MESSAGE | ON_WS_SEND | ON_REDIS_COMMAND | ON_REDIS_MESSAGE, parse_none},
    {"delay", SIM_ACT_DELAY, ON_WS_MESSAGE | ON_WS_SEND | ON_HTTPISH | ON_REDIS_COMMAND, parse_delay},
    {"duplicate", SIM_ACT_DUPLICATE, ON_WS_SEND, parse_none},
    {"hold", SIM_ACT_HOLD, ON_WS_SEND, parse_none},
    {"malform", SIM_ACT_MALFORM, ON_WS_SEND, parse_malform},
    {"replace", SIM_ACT_REPLACE, ON_WS_MESSAGE | ON_WS_SEND | ON_WS_ACCEPT, parse_replace},
    {"stall", SIM_ACT_STALL, ON_WS_SEND, parse_none},
    {"misroute", SIM_ACT_MISROUTE, ON_WS_SEND, parse_misroute},
    {"status", SIM_ACT_REPLY, ON_HTTPISH, parse_status},
    {"empty", SIM_ACT_EMPTY, ON_HTTPISH, parse_none},
    {"slow", SIM_ACT_SLOW, ON_HTTPISH, parse_slow},
    {"error", SIM_ACT_REPLY, ON_REDIS_COMMAND, parse_error},
    {"partial", SIM_ACT_PARTIAL, ON_REDIS_COMMAND, parse_none},
    {"refuse", SIM_ACT_REFUSE, ON_REDIS_ACCEPT | ON_DEP_CONNECT, parse_refuse},
    {"unresolved", SIM_ACT_UNRESOLVED, ON_DEP_CONNECT, parse_none},
    {"mark", SIM_ACT_MARK, ON_EVERY_PLACE, parse_none},
    {"reject", SIM_ACT_REPLY, ON_AUTH_TOKEN, parse_none},
};

/* ---- the rule --------------------------------------------------------- */

static int valid_id(const char *id) {
    if (!*id || strlen(id) > 64) return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

static int parse_match(parser *ps, const cJSON *m, sim_rule *r) {
    static const char *const keys[] = {"name", "method", "key", "user", "conn", "run", "msg",
                                       "user_run", NULL};
    if (!cJSON_IsObject(m)) return fail(ps, "match", "must be an object, not %s", sim_jcheck_type(m));
    double conn = 0, run = 0, msg = 0, user_run = 0;
    if (check_keys(ps, m, "match.", keys) || get_str(ps, m, "match.", "name", &r->m_name) ||
        get_str(ps, m, "match.", "method", &r->m_method) || get_str(ps, m, "match.", "key", &r->m_key) ||
        get_str(ps, m, "match.", "user", &r->m_user) ||
        get_num(ps, m, "match.", "conn", 1, 1e15, 1, &conn, NULL) ||
        get_num(ps, m, "match.", "run", 1, 1e15, 1, &run, NULL) ||
        get_num(ps, m, "match.", "msg", 1, 1e15, 1, &msg, NULL) ||
        get_num(ps, m, "match.", "user_run", 1, 1e15, 1, &user_run, NULL))
        return -1;
    r->m_user_run = (uint64_t)user_run;
    r->m_conn = (uint64_t)conn;
    r->m_run = (uint64_t)run;
    r->m_msg = (uint64_t)msg;
    return 0;
}

sim_rule *sim_rule_parse(const void *json, const char *path, char *err, size_t errlen) {
    static const char *const keys[] = {"id", "description", "on", "match", "nth", "every", "first",
                                       "after", "p", "after_ms", "until_ms", "times", "ttl_ms",
                                       "scope", "action", NULL};
    const cJSON *j = json;
    parser ps = {.path = path, .jc = {.err = err, .errlen = errlen}};
    if (!cJSON_IsObject(j)) {
        fail(&ps, NULL, "must be an object, not %s", sim_jcheck_type(j));
        return NULL;
    }
    sim_rule *r = sim_xcalloc(1, sizeof(*r));
    r->p = -1;
    r->until_ms = -1;
    char *scope = NULL;
    const struct where *where = NULL;
    const cJSON *v;
    double d;
    int present;

    if (check_keys(&ps, j, "", keys) || get_str(&ps, j, "", "id", &r->id) ||
        get_str(&ps, j, "", "description", &r->description) || get_str(&ps, j, "", "on", &r->on) ||
        get_str(&ps, j, "", "scope", &scope))
        goto bad;
    if (!r->id) { fail(&ps, "id", "is required"); goto bad; }
    if (!valid_id(r->id)) { fail(&ps, "id", "must be 1-64 characters of A-Z a-z 0-9 - _ ."); goto bad; }
    if (!r->on) { fail(&ps, "on", "is required"); goto bad; }
    for (size_t i = 0; i < sizeof(wheres) / sizeof(wheres[0]); i++)
        if (strcmp(wheres[i].name, r->on) == 0) where = &wheres[i];
    if (!where) {
        fail(&ps, "on", "unknown place \"%s\" (http.request, ws.accept, ws.message, ws.send, "
             "auth.request, auth.token, redis.accept, redis.command, redis.message, dep.connect)", r->on);
        goto bad;
    }
    r->service = where->service;
    r->point = where->point;
    r->proto = where->proto;
    r->scope = where->default_scope;
    if (scope) {
        if (strcmp(scope, "connection") == 0) r->scope = SIM_SCOPE_CONNECTION;
        else if (strcmp(scope, "service") == 0) r->scope = SIM_SCOPE_SERVICE;
        else { fail(&ps, "scope", "must be \"connection\" or \"service\""); goto bad; }
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "match")) && parse_match(&ps, v, r)) goto bad;
    if (get_count(&ps, j, "nth", &r->nth) || get_count(&ps, j, "every", &r->every) ||
        get_count(&ps, j, "first", &r->first) || get_count(&ps, j, "times", &r->times))
        goto bad;
    d = 0;
    if (get_num(&ps, j, "", "after", 0, 1e15, 1, &d, NULL)) goto bad;
    r->after = (uint64_t)d;
    if (get_num(&ps, j, "", "p", 0, 1, 0, &r->p, &present)) goto bad;
    if (!present) r->p = -1;
    double after_ms = 0, until_ms = -1, ttl_ms = 0;
    if (get_num(&ps, j, "", "after_ms", 0, 1e12, 1, &after_ms, NULL)) goto bad;
    if (get_num(&ps, j, "", "until_ms", 0, 1e12, 1, &until_ms, &present)) goto bad;
    r->after_ms = (int64_t)after_ms;
    r->until_ms = present ? (int64_t)until_ms : -1;
    if (r->until_ms >= 0 && r->until_ms <= r->after_ms) {
        fail(&ps, "until_ms", "must be greater than after_ms");
        goto bad;
    }
    if (get_num(&ps, j, "", "ttl_ms", 1, 1e12, 1, &ttl_ms, NULL)) goto bad;
    r->ttl_ms = (int64_t)ttl_ms;

    v = cJSON_GetObjectItemCaseSensitive(j, "action");
    if (!v) { fail(&ps, "action", "is required"); goto bad; }
    if (!cJSON_IsObject(v)) { fail(&ps, "action", "must be an object, not %s", sim_jcheck_type(v)); goto bad; }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(v, "kind");
    if (!kind) { fail(&ps, "action.kind", "is required"); goto bad; }
    if (!cJSON_IsString(kind)) { fail(&ps, "action.kind", "must be a string, not %s", sim_jcheck_type(kind)); goto bad; }
    const struct action_def *def = NULL;
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(actions[i].name, kind->valuestring) == 0) def = &actions[i];
    if (!def) { fail(&ps, "action.kind", "unknown action \"%s\"", kind->valuestring); goto bad; }
    if (!(def->where & where->bit)) {
        fail(&ps, "action.kind", "\"%s\" does not apply on %s", def->name, r->on);
        goto bad;
    }
    r->kind = def->kind;
    if (def->parse(&ps, v, r)) goto bad;
    if (r->m_name) {
        r->name_lit = strcspn(r->m_name, "*?[\\");
        r->name_glob = r->m_name[r->name_lit] != '\0';
    }
    if (r->m_key) {
        r->key_lit = strcspn(r->m_key, "*?[\\");
        r->key_glob = r->m_key[r->key_lit] != '\0';
    }
    r->json = cJSON_PrintUnformatted(j);
    free(scope);
    return r;
bad:
    free(scope);
    sim_rule_free(r);
    return NULL;
}

void sim_rule_free(sim_rule *r) {
    if (!r) return;
    free(r->id);
    free(r->description);
    free(r->on);
    free(r->m_name);
    free(r->m_method);
    free(r->m_key);
    free(r->m_user);
    free(r->text);
    free(r->field);
    free(r->error_code);
    free(r->details);
    free(r->json);
    free(r);
}
