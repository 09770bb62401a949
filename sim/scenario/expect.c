/* expect.c -- parses and validates a scenario's `expect` section
 * (docs/drills.md) with the loader's voice: every error names the file, the
 * JSON path and the reason. Steps and checks are walked with key tables; a
 * check's kind is the one of its kind keys it has. */
#include "expect.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stagesim_breaker.h"
#include "util.h"

#define PATH_LEN 256
#define MAX_MS 86400000.0   /* one simulated day bounds every time in a drill */

const char *const sim_expect_breaker_states[] = {"closed", "open", "half_open", "forced_open",
                                                 "disabled", "metrics_only", NULL};

/* The result fields of docs/probes.md §2.1 a step check may match. */
static const char *const result_fields[] = {"ok", "stage", "failure", "expected", "got", "field",
                                            "http_status", "close_code", "close_reason",
                                            "event_ordinal", "latency_ms", NULL};

/* The journal members a filter may name (docs/faults.md "Journal",
 * docs/drills.md §4.4). */
static const char *const journal_members[] = {
    "t_ms", "svc", "proto", "point", "conn", "msg", "run", "method", "name", "key", "user",
    "status", "rule", "action", "delay_ms", "code", "latency_ms", "event", "breaker", "from",
    "to", "eligible_ms", "reason", NULL};

static int in_list(const char *const *list, const char *s) {
    for (; *list; list++)
        if (strcmp(*list, s) == 0) return 1;
    return 0;
}

static void join(char *out, const char *path, const char *key) {
    sim_jcheck_join(out, PATH_LEN, path, key);
}

/* A path too long for PATH_LEN is cut: it only names a place in a message. */
static void index_path(char *out, const char *path, size_t i) {
    if (snprintf(out, PATH_LEN, "%s[%zu]", path, i) >= PATH_LEN) out[PATH_LEN - 1] = '\0';
}

/* ---- matchers ------------------------------------------------------------ */

static void matcher_free(sim_matcher *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nvalues; i++) free((char *)m->values[i].str);
    free(m->values);
    if (m->kind == SIM_MATCH_REGEX) regfree(&m->re);
    free(m);
}

/* A JSON scalar as a value the matcher owns. */
static int parse_value(sim_jcheck *c, const cJSON *v, const char *path, sim_value *out) {
    memset(out, 0, sizeof(*out));
    if (cJSON_IsNull(v)) return 0;
    if (cJSON_IsBool(v)) {
        out->type = SIM_VAL_BOOL;
        out->num = cJSON_IsTrue(v);
    } else if (cJSON_IsNumber(v)) {
        out->type = SIM_VAL_NUM;
        out->num = v->valuedouble;
    } else if (cJSON_IsString(v)) {
        out->type = SIM_VAL_STR;
        out->str = sim_xstrdup(v->valuestring);
    } else {
        return sim_jcheck_fail(c, path, "must be a string, number, boolean or null, not %s",
                               sim_jcheck_type(v));
    }
    return 0;
}

static int parse_values(sim_jcheck *c, sim_matcher *m, const cJSON *arr, const char *path) {
    size_t n = (size_t)cJSON_GetArraySize(arr);
    m->values = sim_xcalloc(n ? n : 1, sizeof(sim_value));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        char p[PATH_LEN];
        index_path(p, path, m->nvalues);
        if (parse_value(c, it, p, &m->values[m->nvalues])) return -1;
        m->nvalues++;
    }
    return 0;
}

/* {"eq": v} | {"in": [..]} | {"range": [lo, hi]} | {"regex": "ERE"}; NULL on
 * an error. */
static sim_matcher *parse_matcher(sim_jcheck *c, const cJSON *v, const char *path) {
    if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) != 1) {
        sim_jcheck_fail(c, path, "must be a matcher: an object with one of eq, in, range, regex");
        return NULL;
    }
    const cJSON *arg = v->child;
    static const char *const kinds[] = {"eq", "in", "range", "regex", NULL};
    size_t k = 0;
    while (kinds[k] && strcmp(kinds[k], arg->string) != 0) k++;
    if (!kinds[k]) {
        sim_jcheck_fail(c, path, "unknown matcher \"%s\" (eq, in, range, regex)", arg->string);
        return NULL;
    }
    char p[PATH_LEN];
    join(p, path, arg->string);
    sim_matcher *m = sim_xcalloc(1, sizeof(*m));
    m->kind = (sim_match_kind)k;
    int rc = 0;
    if (m->kind == SIM_MATCH_EQ) {
        m->values = sim_xcalloc(1, sizeof(sim_value));
        rc = parse_value(c, arg, p, &m->values[0]);
        m->nvalues = 1;
    } else if (m->kind == SIM_MATCH_IN) {
        rc = !cJSON_IsArray(arg) || !cJSON_GetArraySize(arg)
                 ? sim_jcheck_fail(c, p, "must be a non-empty array")
                 : parse_values(c, m, arg, p);
    } else if (m->kind == SIM_MATCH_RANGE) {
        rc = cJSON_GetArraySize(arg) != 2 || !cJSON_IsArray(arg) ||
                     !cJSON_IsNumber(arg->child) || !cJSON_IsNumber(arg->child->next)
                 ? sim_jcheck_fail(c, p, "must be [lo, hi], two numbers")
                 : parse_values(c, m, arg, p);
        if (!rc && m->values[0].num > m->values[1].num)
            rc = sim_jcheck_fail(c, p, "lo must not be greater than hi");
    } else {
        if (!cJSON_IsString(arg)) {
            rc = sim_jcheck_fail(c, p, "must be a string, not %s", sim_jcheck_type(arg));
        } else {
            m->kind = SIM_MATCH_EQ;   /* nothing to regfree until compiled */
            int e = regcomp(&m->re, arg->valuestring, REG_EXTENDED | REG_NOSUB);
            if (e) {
                char why[128];
                regerror(e, &m->re, why, sizeof(why));
                rc = sim_jcheck_fail(c, p, "invalid regex \"%s\": %s", arg->valuestring, why);
            } else {
                m->kind = SIM_MATCH_REGEX;
                m->values = sim_xcalloc(1, sizeof(sim_value));
                rc = parse_value(c, arg, p, &m->values[0]);
                m->nvalues = 1;
            }
        }
    }
    if (rc) {
        matcher_free(m);
        return NULL;
    }
    return m;
}

/* An optional matcher member; 0 (absent or parsed into *out) or -1. */
static int opt_matcher(sim_jcheck *c, const cJSON *obj, const char *path, const char *key,
                       sim_matcher **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return 0;
    char p[PATH_LEN];
    join(p, path, key);
    return (*out = parse_matcher(c, v, p)) ? 0 : -1;
}

static void fields_free(sim_expect_fields *f) {
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].name);
        matcher_free(f->v[i].m);
    }
    free(f->v);
}

/* The members of obj named in `names`, each a matcher, into f; members in
 * `own` are the caller's; any other member is an unknown key. */
static int parse_fields(sim_jcheck *c, const cJSON *obj, const char *path,
                        const char *const *names, const char *const *own, sim_expect_fields *f) {
    f->v = sim_xcalloc((size_t)cJSON_GetArraySize(obj) + 1, sizeof(sim_expect_field));
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        if (own && in_list(own, it->string)) continue;
        char p[PATH_LEN];
        join(p, path, it->string);
        if (!in_list(names, it->string)) return sim_jcheck_fail(c, p, "unknown key");
        sim_matcher *m = parse_matcher(c, it, p);
        if (!m) return -1;
        f->v[f->n].name = sim_xstrdup(it->string);
        f->v[f->n++].m = m;
    }
    return 0;
}

/* A journal filter member: an object of journal members. */
static int parse_filter(sim_jcheck *c, const cJSON *obj, const char *path, const char *key,
                        sim_expect_fields *f, int *present) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (present) *present = v != NULL;
    if (!v) return 0;
    char p[PATH_LEN];
    join(p, path, key);
    if (sim_jcheck_object(c, v, p)) return -1;
    return parse_fields(c, v, p, journal_members, NULL, f);
}

/* ---- steps ----------------------------------------------------------------- */

static const char *const step_common[] = {"id", "probe", "count", "concurrency", "interval_ms",
                                          "timeout_ms", "start_ms", "after", "delay_ms",
                                          "every_ms", "until_ms", "breaker", NULL};

/* Each probe's own options (docs/drills.md §2.1). */
static const struct probe_keys {
    const char *probe;
    const char *const *keys;
} probe_table[] = {
    {"golden-path", (const char *const[]){"email", "password", "e2e_key", "token_source",
                                          "ws_path", NULL}},
    {"health", (const char *const[]){"service", "path", "status", "fields", "max_latency_ms",
                                     NULL}},
    {"auth", (const char *const[]){"email", "password", "e2e_key", NULL}},
    {"redis", (const char *const[]){"password", NULL}},
};

static void step_free(sim_expect_step *s) {
    free(s->id);
    free(s->probe);
    free(s->breaker);
    free(s->email);
    free(s->password);
    free(s->e2e_key);
    free(s->token_source);
    free(s->ws_path);
    free(s->path);
    for (size_t i = 0; i < s->nfields; i++) {
        free(s->field_paths[i]);
        free(s->field_values[i]);
    }
    free(s->field_paths);
    free(s->field_values);
}

static int step_index(const sim_expect *e, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(e->steps[i].id, id) == 0) return (int)i;
    return -1;
}

/* Health's body fields: {"dotted.path": "value", ...}. */
static int parse_health_fields(sim_jcheck *c, sim_expect_step *s, const cJSON *obj,
                               const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "fields");
    if (!v) return 0;
    char p[PATH_LEN];
    join(p, path, "fields");
    if (sim_jcheck_object(c, v, p)) return -1;
    size_t n = (size_t)cJSON_GetArraySize(v);
    s->field_paths = sim_xcalloc(n + 1, sizeof(char *));
    s->field_values = sim_xcalloc(n + 1, sizeof(char *));
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        char fp[PATH_LEN];
        join(fp, p, it->string);
        if (!*it->string) return sim_jcheck_fail(c, p, "a field's path must not be empty");
        if (!cJSON_IsString(it)) return sim_jcheck_fail(c, fp, "must be a string, not %s",
                                                        sim_jcheck_type(it));
        s->field_paths[s->nfields] = sim_xstrdup(it->string);
        s->field_values[s->nfields++] = sim_xstrdup(it->valuestring);
    }
    return 0;
}

/* When the step runs: start_ms, after (+ delay_ms) or every_ms (+ until_ms). */
static int parse_when(sim_jcheck *c, sim_expect *e, size_t idx, const cJSON *obj,
                      const char *path) {
    sim_expect_step *s = &e->steps[idx];
    double start = 0, delay = 0, every = 0, until = 0;
    int has_start, has_delay, has_every, has_until;
    char *after = NULL;
    if (sim_jcheck_number(c, obj, path, "start_ms", 0, MAX_MS, 1, &start, &has_start) ||
        sim_jcheck_number(c, obj, path, "delay_ms", 0, MAX_MS, 1, &delay, &has_delay) ||
        sim_jcheck_number(c, obj, path, "every_ms", 1, MAX_MS, 1, &every, &has_every) ||
        sim_jcheck_number(c, obj, path, "until_ms", 0, MAX_MS, 1, &until, &has_until) ||
        sim_jcheck_string(c, obj, path, "after", &after, 0))
        return -1;
    char p[PATH_LEN];
    int rc = 0;
    if (after) {
        int j = step_index(e, idx, after);
        join(p, path, "after");
        if (has_start || has_every)
            rc = sim_jcheck_fail(c, p, "not with start_ms or every_ms");
        else if (j < 0)
            rc = sim_jcheck_fail(c, p, "\"%s\" is not a step listed before this one", after);
        s->when = SIM_STEP_AFTER;
        s->after = j < 0 ? 0 : (size_t)j;
    } else if (has_every) {
        s->when = SIM_STEP_EVERY;
        join(p, path, "until_ms");
        if (!has_until) rc = sim_jcheck_fail(c, p, "is required with every_ms");
        else if (until < start) rc = sim_jcheck_fail(c, p, "must not be before start_ms");
    } else {
        s->when = SIM_STEP_AT;
    }
    if (!rc && has_delay && !after) rc = sim_jcheck_fail(c, path, "delay_ms goes with after");
    if (!rc && has_until && !has_every) rc = sim_jcheck_fail(c, path, "until_ms goes with every_ms");
    free(after);
    s->start_ms = (int64_t)start;
    s->delay_ms = (int64_t)delay;
    s->every_ms = (int64_t)every;
    s->until_ms = (int64_t)until;
    return rc;
}

static int parse_probe_options(sim_jcheck *c, sim_expect_step *s, const cJSON *obj,
                               const char *path) {
    char *service = NULL;
    double status = 200, max_latency = -1;
    if (sim_jcheck_string(c, obj, path, "email", &s->email, cJSON_HasObjectItem(obj, "email")) ||
        sim_jcheck_string(c, obj, path, "password", &s->password, 0) ||
        sim_jcheck_string(c, obj, path, "e2e_key", &s->e2e_key, cJSON_HasObjectItem(obj, "e2e_key")) ||
        sim_jcheck_string(c, obj, path, "token_source", &s->token_source, 0) ||
        sim_jcheck_string(c, obj, path, "ws_path", &s->ws_path, cJSON_HasObjectItem(obj, "ws_path")) ||
        sim_jcheck_string(c, obj, path, "service", &service, 0) ||
        sim_jcheck_string(c, obj, path, "path", &s->path, cJSON_HasObjectItem(obj, "path")) ||
        sim_jcheck_number(c, obj, path, "status", 100, 599, 1, &status, NULL) ||
        sim_jcheck_number(c, obj, path, "max_latency_ms", 0, MAX_MS, 1, &max_latency, NULL) ||
        parse_health_fields(c, s, obj, path))
        goto bad;
    s->status = (int)status;
    s->max_latency_ms = (int64_t)max_latency;
    char p[PATH_LEN];
    if (s->token_source && strcmp(s->token_source, "query") && strcmp(s->token_source, "header") &&
        strcmp(s->token_source, "subprotocol")) {
        join(p, path, "token_source");
        sim_jcheck_fail(c, p, "must be query, header or subprotocol, not \"%s\"", s->token_source);
        goto bad;
    }
    if (service && strcmp(service, "backend") && strcmp(service, "auth")) {
        join(p, path, "service");
        sim_jcheck_fail(c, p, "must be backend or auth, not \"%s\"", service);
        goto bad;
    }
    s->health_auth = service && strcmp(service, "auth") == 0;
    if (s->path && s->path[0] != '/') {
        join(p, path, "path");
        sim_jcheck_fail(c, p, "must start with /");
        goto bad;
    }
    if (strcmp(s->probe, "golden-path") == 0 && s->password && s->e2e_key) {
        sim_jcheck_fail(c, path, "password or e2e_key, not both");
        goto bad;
    }
    free(service);
    return 0;
bad:
    free(service);
    return -1;
}

static int parse_step(sim_jcheck *c, sim_expect *e, size_t idx, const cJSON *obj,
                      const char *path) {
    sim_expect_step *s = &e->steps[idx];
    s->count = s->concurrency = 1;
    s->timeout_ms = 10000;
    if (sim_jcheck_object(c, obj, path) || sim_jcheck_string(c, obj, path, "id", &s->id, 1) ||
        sim_jcheck_string(c, obj, path, "probe", &s->probe, 1))
        return -1;
    char p[PATH_LEN];
    if (step_index(e, idx, s->id) >= 0) {
        join(p, path, "id");
        return sim_jcheck_fail(c, p, "duplicate step id \"%s\"", s->id);
    }
    const struct probe_keys *pk = NULL;
    for (size_t k = 0; k < sizeof(probe_table) / sizeof(probe_table[0]); k++)
        if (strcmp(probe_table[k].probe, s->probe) == 0) pk = &probe_table[k];
    if (!pk) {
        join(p, path, "probe");
        return sim_jcheck_fail(c, p, "unknown probe \"%s\" (golden-path, health, auth, redis)",
                               s->probe);
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        if (in_list(step_common, it->string) || in_list(pk->keys, it->string)) continue;
        join(p, path, it->string);
        int other = 0;
        for (size_t k = 0; k < sizeof(probe_table) / sizeof(probe_table[0]); k++)
            other |= in_list(probe_table[k].keys, it->string);
        return other ? sim_jcheck_fail(c, p, "not an option of the %s probe", s->probe)
                     : sim_jcheck_fail(c, p, "unknown key");
    }
    double count = 1, conc = 1, interval = 0, timeout = 10000;
    if (sim_jcheck_number(c, obj, path, "count", 1, 100000, 1, &count, NULL) ||
        sim_jcheck_number(c, obj, path, "concurrency", 1, 1000, 1, &conc, NULL) ||
        sim_jcheck_number(c, obj, path, "interval_ms", 0, MAX_MS, 1, &interval, NULL) ||
        sim_jcheck_number(c, obj, path, "timeout_ms", 1, MAX_MS, 1, &timeout, NULL) ||
        sim_jcheck_string(c, obj, path, "breaker", &s->breaker, cJSON_HasObjectItem(obj, "breaker")) ||
        parse_when(c, e, idx, obj, path) || parse_probe_options(c, s, obj, path))
        return -1;
    s->count = (int)count;
    s->concurrency = (int)conc;
    s->interval_ms = (int64_t)interval;
    s->timeout_ms = (int64_t)timeout;
    if (s->breaker) {
        stagesim_breaker_config cfg;
        char why[160];
        if (stagesim_breaker_config_parse(s->breaker, &cfg, why, sizeof(why))) {
            join(p, path, "breaker");
            return sim_jcheck_fail(c, p, "%s", why);
        }
    }
    return 0;
}

/* ---- checks ---------------------------------------------------------------- */

static int rule_known(const cJSON *faults, const char *id) {
    const cJSON *r;
    cJSON_ArrayForEach(r, faults) {
        const cJSON *rid = cJSON_GetObjectItemCaseSensitive(r, "id");
        if (cJSON_IsString(rid) && strcmp(rid->valuestring, id) == 0) return 1;
    }
    return 0;
}

/* A rule id member that must name one of the scenario's rules. */
static int parse_rule_ref(sim_jcheck *c, const cJSON *obj, const cJSON *faults, const char *path,
                          const char *key, char **dst) {
    if (sim_jcheck_string(c, obj, path, key, dst, 1)) return -1;
    if (rule_known(faults, *dst)) return 0;
    char p[PATH_LEN];
    join(p, path, key);
    return sim_jcheck_fail(c, p, "no fault rule \"%s\" in this scenario", *dst);
}

static int parse_step_ref(sim_jcheck *c, const sim_expect *e, const cJSON *obj, const char *path,
                          const char *key, size_t *dst) {
    char *id = NULL;
    if (sim_jcheck_string(c, obj, path, key, &id, 1)) return -1;
    int j = step_index(e, e->nsteps, id);
    if (j < 0) {
        char p[PATH_LEN];
        join(p, path, key);
        sim_jcheck_fail(c, p, "no step \"%s\"", id);
    }
    free(id);
    *dst = j < 0 ? 0 : (size_t)j;
    return j < 0 ? -1 : 0;
}

static int parse_attempts(sim_jcheck *c, sim_expect_check *k, const cJSON *obj, const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "attempts");
    char p[PATH_LEN];
    join(p, path, "attempts");
    k->attempts = SIM_ATTEMPTS_ALL;
    if (!v) return 0;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "all") == 0) return 0;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "any") == 0) {
        k->attempts = SIM_ATTEMPTS_ANY;
        return 0;
    }
    if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v))
        return sim_jcheck_fail(c, p, "must be \"all\", \"any\" or a non-empty array of attempt ordinals");
    k->attempts = SIM_ATTEMPTS_LIST;
    k->ordinals = sim_xcalloc((size_t)cJSON_GetArraySize(v), sizeof(int));
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 1e9 ||
            it->valuedouble != (double)(int)it->valuedouble) {
            char ip[PATH_LEN];
            index_path(ip, p, k->nordinals);
            return sim_jcheck_fail(c, ip, "must be an attempt ordinal (an integer >= 1)");
        }
        k->ordinals[k->nordinals++] = (int)it->valuedouble;
    }
    return 0;
}

static int parse_step_check(sim_jcheck *c, const sim_expect *e, const cJSON *faults,
                            sim_expect_check *k, const cJSON *obj, const char *path) {
    static const char *const own[] = {"id", "step", "passed", "failed", "attempts", NULL};
    (void)faults;
    if (parse_step_ref(c, e, obj, path, "step", &k->step) ||
        opt_matcher(c, obj, path, "passed", &k->passed) ||
        opt_matcher(c, obj, path, "failed", &k->failed) || parse_attempts(c, k, obj, path) ||
        parse_fields(c, obj, path, result_fields, own, &k->result))
        return -1;
    if (!k->passed && !k->failed && !k->result.n)
        return sim_jcheck_fail(c, path, "needs passed, failed or a result field (%s, ...)",
                               "stage, failure, close_code");
    if (cJSON_HasObjectItem(obj, "attempts") && !k->result.n)
        return sim_jcheck_fail(c, path, "attempts needs a result field to match");
    return 0;
}

static int parse_rule_check(sim_jcheck *c, const sim_expect *e, const cJSON *faults,
                            sim_expect_check *k, const cJSON *obj, const char *path) {
    static const char *const keys[] = {"id", "rule", "fired", NULL};
    (void)e;
    if (sim_jcheck_keys(c, obj, path, keys) ||
        parse_rule_ref(c, obj, faults, path, "rule", &k->rule) ||
        opt_matcher(c, obj, path, "fired", &k->fired))
        return -1;
    if (!k->fired) {
        char p[PATH_LEN];
        join(p, path, "fired");
        return sim_jcheck_fail(c, p, "is required");
    }
    return 0;
}

static int parse_journal_check(sim_jcheck *c, const sim_expect *e, const cJSON *faults,
                               sim_expect_check *k, const cJSON *obj, const char *path) {
    static const char *const keys[] = {"id", "journal", "count", "from", "until", NULL};
    (void)e, (void)faults;
    if (sim_jcheck_keys(c, obj, path, keys) ||
        parse_filter(c, obj, path, "journal", &k->filter, NULL) ||
        parse_filter(c, obj, path, "from", &k->from, &k->has_from) ||
        parse_filter(c, obj, path, "until", &k->until, &k->has_until) ||
        opt_matcher(c, obj, path, "count", &k->count))
        return -1;
    if (!k->count) {
        char p[PATH_LEN];
        join(p, path, "count");
        return sim_jcheck_fail(c, p, "is required");
    }
    return 0;
}

/* A state name, lower case (compared without case later). */
static int parse_state(sim_jcheck *c, const cJSON *v, const char *path, char **dst) {
    if (!cJSON_IsString(v))
        return sim_jcheck_fail(c, path, "must be a string, not %s", sim_jcheck_type(v));
    for (const char *const *s = sim_expect_breaker_states; *s; s++)
        if (strcasecmp(*s, v->valuestring) == 0) {
            *dst = sim_xstrdup(*s);
            return 0;
        }
    return sim_jcheck_fail(c, path, "unknown breaker state \"%s\" (closed, open, half_open, "
                           "forced_open, disabled, metrics_only)", v->valuestring);
}

static int parse_entry(sim_jcheck *c, sim_breaker_entry *en, const cJSON *obj, const char *path) {
    static const char *const keys[] = {"state", "at_ms", "after_prev_ms", "time", NULL};
    char *time = NULL;
    char p[PATH_LEN];
    join(p, path, "state");
    if (sim_jcheck_object(c, obj, path) || sim_jcheck_keys(c, obj, path, keys))
        return -1;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "state");
    if (!st) return sim_jcheck_fail(c, p, "is required");
    if (parse_state(c, st, p, &en->state) || opt_matcher(c, obj, path, "at_ms", &en->at_ms) ||
        opt_matcher(c, obj, path, "after_prev_ms", &en->after_prev_ms) ||
        sim_jcheck_string(c, obj, path, "time", &time, 0))
        return -1;
    int rc = 0;
    if (time && strcmp(time, "observed") && strcmp(time, "eligible")) {
        join(p, path, "time");
        rc = sim_jcheck_fail(c, p, "must be observed or eligible, not \"%s\"", time);
    }
    en->eligible = time && strcmp(time, "eligible") == 0;
    free(time);
    return rc;
}

static int parse_since(sim_jcheck *c, const sim_expect *e, const cJSON *faults,
                       sim_expect_check *k, const cJSON *obj, const char *path) {
    static const char *const keys[] = {"step", "rule", NULL};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "since");
    if (!v) return 0;
    char p[PATH_LEN];
    join(p, path, "since");
    if (sim_jcheck_object(c, v, p) || sim_jcheck_keys(c, v, p, keys)) return -1;
    if (cJSON_GetArraySize(v) != 1) return sim_jcheck_fail(c, p, "must have one of step, rule");
    if (cJSON_HasObjectItem(v, "step")) {
        k->since_step = 1;
        return parse_step_ref(c, e, v, p, "step", &k->since_step_index);
    }
    return parse_rule_ref(c, v, faults, p, "rule", &k->since_rule);
}

static int parse_breaker_check(sim_jcheck *c, const sim_expect *e, const cJSON *faults,
                               sim_expect_check *k, const cJSON *obj, const char *path) {
    static const char *const keys[] = {"id", "breaker", "svc", "sequence", "never", "since", NULL};
    if (sim_jcheck_keys(c, obj, path, keys) ||
        sim_jcheck_string(c, obj, path, "breaker", &k->breaker, 1) ||
        sim_jcheck_string(c, obj, path, "svc", &k->svc, cJSON_HasObjectItem(obj, "svc")) ||
        parse_since(c, e, faults, k, obj, path))
        return -1;
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(obj, "sequence");
    const cJSON *never = cJSON_GetObjectItemCaseSensitive(obj, "never");
    char p[PATH_LEN];
    if (!seq && !never) return sim_jcheck_fail(c, path, "needs sequence or never");
    if (seq) {
        join(p, path, "sequence");
        if (!cJSON_IsArray(seq) || !cJSON_GetArraySize(seq))
            return sim_jcheck_fail(c, p, "must be a non-empty array of states");
        k->has_seq = 1;
        k->seq = sim_xcalloc((size_t)cJSON_GetArraySize(seq), sizeof(sim_breaker_entry));
        const cJSON *it;
        cJSON_ArrayForEach(it, seq) {
            char ip[PATH_LEN];
            index_path(ip, p, k->nseq);
            if (parse_entry(c, &k->seq[k->nseq++], it, ip)) return -1;
        }
    }
    if (never) {
        join(p, path, "never");
        if (!cJSON_IsArray(never) || !cJSON_GetArraySize(never))
            return sim_jcheck_fail(c, p, "must be a non-empty array of states");
        k->never = sim_xcalloc((size_t)cJSON_GetArraySize(never), sizeof(char *));
        const cJSON *it;
        cJSON_ArrayForEach(it, never) {
            char ip[PATH_LEN];
            index_path(ip, p, k->nnever);
            if (parse_state(c, it, ip, &k->never[k->nnever++])) return -1;
        }
    }
    return 0;
}

typedef int (*check_parser)(sim_jcheck *c, const sim_expect *e, const cJSON *faults,
                            sim_expect_check *k, const cJSON *obj, const char *path);

/* A check's kind is the one of these keys it has. */
static const struct check_kind {
    const char *key;
    sim_check_kind kind;
    check_parser parse;
} check_table[] = {
    {"step", SIM_CHECK_STEP, parse_step_check},
    {"rule", SIM_CHECK_RULE, parse_rule_check},
    {"journal", SIM_CHECK_JOURNAL, parse_journal_check},
    {"breaker", SIM_CHECK_BREAKER, parse_breaker_check},
};

static void check_free(sim_expect_check *k) {
    free(k->id);
    matcher_free(k->passed);
    matcher_free(k->failed);
    free(k->ordinals);
    fields_free(&k->result);
    free(k->rule);
    matcher_free(k->fired);
    fields_free(&k->filter);
    fields_free(&k->from);
    fields_free(&k->until);
    matcher_free(k->count);
    free(k->breaker);
    free(k->svc);
    for (size_t i = 0; i < k->nseq; i++) {
        free(k->seq[i].state);
        matcher_free(k->seq[i].at_ms);
        matcher_free(k->seq[i].after_prev_ms);
    }
    free(k->seq);
    for (size_t i = 0; i < k->nnever; i++) free(k->never[i]);
    free(k->never);
    free(k->since_rule);
}

static int parse_check(sim_jcheck *c, sim_expect *e, const cJSON *faults, size_t idx,
                       const cJSON *obj, const char *path) {
    sim_expect_check *k = &e->checks[idx];
    if (sim_jcheck_object(c, obj, path) || sim_jcheck_string(c, obj, path, "id", &k->id, 1))
        return -1;
    char p[PATH_LEN];
    join(p, path, "id");
    if (strcmp(k->id, SIM_EXPECT_DIGEST_CHECK) == 0)
        return sim_jcheck_fail(c, p, "\"%s\" is the digest comparison's own id", k->id);
    for (size_t i = 0; i < idx; i++)
        if (strcmp(e->checks[i].id, k->id) == 0)
            return sim_jcheck_fail(c, p, "duplicate check id \"%s\"", k->id);
    const struct check_kind *kind = NULL;
    size_t nkinds = 0;
    for (size_t i = 0; i < sizeof(check_table) / sizeof(check_table[0]); i++)
        if (cJSON_HasObjectItem(obj, check_table[i].key)) kind = &check_table[i], nkinds++;
    if (nkinds != 1)
        return sim_jcheck_fail(c, path, "needs exactly one of step, rule, journal, breaker");
    k->kind = kind->kind;
    return kind->parse(c, e, faults, k, obj, path);
}

/* ---- the section ----------------------------------------------------------- */

sim_expect *sim_expect_parse(sim_jcheck *c, const cJSON *v, const cJSON *faults) {
    static const char *const keys[] = {"time_scale", "steps", "checks", NULL};
    sim_expect *e = sim_xcalloc(1, sizeof(*e));
    e->time_scale = 1;
    if (sim_jcheck_object(c, v, "expect") || sim_jcheck_keys(c, v, "expect", keys) ||
        sim_jcheck_number(c, v, "expect", "time_scale", 0.001, 1e6, 0, &e->time_scale, NULL))
        goto bad;
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(v, "steps");
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(v, "checks");
    if (steps && !cJSON_IsArray(steps)) {
        sim_jcheck_fail(c, "expect.steps", "must be an array, not %s", sim_jcheck_type(steps));
        goto bad;
    }
    if (!cJSON_IsArray(checks) || !cJSON_GetArraySize(checks)) {
        sim_jcheck_fail(c, "expect.checks", checks ? "must be a non-empty array" : "is required");
        goto bad;
    }
    e->steps = sim_xcalloc((size_t)cJSON_GetArraySize(steps) + 1, sizeof(sim_expect_step));
    const cJSON *it;
    cJSON_ArrayForEach(it, steps) {
        char p[PATH_LEN];
        index_path(p, "expect.steps", e->nsteps);
        if (parse_step(c, e, e->nsteps++, it, p)) goto bad;
    }
    e->checks = sim_xcalloc((size_t)cJSON_GetArraySize(checks), sizeof(sim_expect_check));
    cJSON_ArrayForEach(it, checks) {
        char p[PATH_LEN];
        index_path(p, "expect.checks", e->nchecks);
        if (parse_check(c, e, faults, e->nchecks++, it, p)) goto bad;
    }
    return e;
bad:
    sim_expect_free(e);
    return NULL;
}

void sim_expect_free(sim_expect *e) {
    if (!e) return;
    for (size_t i = 0; i < e->nsteps; i++) step_free(&e->steps[i]);
    free(e->steps);
    for (size_t i = 0; i < e->nchecks; i++) check_free(&e->checks[i]);
    free(e->checks);
    free(e);
}
