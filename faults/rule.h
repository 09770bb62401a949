/* rule.h -- a fault rule after validation: where it applies, what it
 * matches, when it fires and what it does. Parsed from JSON by rule.c; the
 * engine in fault.c only evaluates these. */
#ifndef SIM_RULE_H
#define SIM_RULE_H
#ifndef SIM_IN_FAULTS
#error "rule.h is private to faults/"
#endif

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef enum { SIM_SCOPE_CONNECTION, SIM_SCOPE_SERVICE } sim_rule_scope;

typedef struct sim_rule {
    char *id;
    char *description;
    char *on;                   /* "ws.send", ... as written */
    sim_service service;
    sim_wire_point point;
    const char *proto;          /* "http", "ws" or "resp" */

    /* match: NULL / 0 means any */
    char *m_name, *m_method, *m_key, *m_user;
    /* The literal part of m_name / m_key before any wildcard, and whether
     * a wildcard follows: most names are rejected by a prefix compare,
     * without fnmatch, on the hot paths. */
    size_t name_lit, key_lit;
    int name_glob, key_glob;
    uint64_t m_conn, m_run, m_msg, m_user_run;

    /* when: 0 means unset (p < 0 unset, until_ms < 0 unset) */
    uint64_t nth, every, first, after, times;
    double p;
    int64_t after_ms, until_ms;
    int64_t ttl_ms;
    sim_rule_scope scope;

    /* action */
    sim_action_kind kind;
    int code;
    uint32_t delay_ms, jitter_ms;
    char *text;
    char *field;
    char *error_code;           /* REPLACE: error_code of the message */
    char *details;              /* REPLACE error_message: its details object, compact JSON, or NULL */
    int nested;                 /* REPLACE error_message: its fields under "data" */
    int mode;
    char *json;                 /* the rule as given, for listings */
} sim_rule;

/* Parses and validates a rule (cJSON *). Returns a rule the caller frees with
 * sim_rule_free, or NULL with "path.key: reason" in err. */
sim_rule *sim_rule_parse(const void *json, const char *path, char *err, size_t errlen);
void sim_rule_free(sim_rule *r);

#endif
