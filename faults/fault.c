/* fault.c -- the decision point every wire crossing goes through: evaluates
 * the rules, writes the journal, counts the metrics.
 *
 * Determinism: whether a rule fires is a pure function of the seed, the rule
 * id and the subject's ordinals (connection ordinal, the rule's own match
 * count on that connection or service). Rules keep their own counters, so
 * adding a rule never changes another rule's decisions; the first rule (in
 * the order added) that fires gives the action. Only time windows (after_ms,
 * until_ms, ttl_ms) and service-scoped counts under concurrency depend on
 * timing, by their nature. */
#include "fault.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "rule.h"
#include "ruleset.h"
#include "utf8.h"
#include "util.h"

struct sim_faults {
    uint64_t seed;
    int64_t start_ms;
    sim_journal *journal;
    sim_ruleset rules;
    uint64_t crossings[SIM_NSVC][SIM_NPOINT];
    uint64_t ws_dropped;
    uint64_t fired_total;
    sim_fault_listener listener;
    void *listener_ctx;
    sim_network net;
    sim_service_mode mode[SIM_NSVC];
    uint64_t mode_upgrades[SIM_NSVC];   /* upgrades seen in the current mode */
    sim_buf line;            /* scratch for one journal line */
};

sim_faults *sim_faults_new(uint64_t seed, const char *journal_path, int64_t start_ms) {
    sim_faults *f = sim_xcalloc(1, sizeof(*f));
    f->seed = seed;
    f->start_ms = start_ms;
    f->journal = sim_journal_open(journal_path);
    if (!f->journal) {
        free(f);
        return NULL;
    }
    return f;
}

int64_t sim_faults_start_ms(const sim_faults *f) {
    return f->start_ms;
}

void sim_faults_free(sim_faults *f) {
    if (!f) return;
    sim_journal_free(f->journal);
    sim_ruleset_free(&f->rules);
    sim_buf_free(&f->line);
    free(f);
}

/* ---- journal ---------------------------------------------------------- */

/* One line per crossing, on every hot path: kept as values, formatted
 * when read (journal.h). */
static void journal_crossing(sim_faults *f, const sim_wire *w, int64_t now_ms, const sim_action *a) {
    sim_journal_add_crossing(f->journal, now_ms - f->start_ms, w, a);
}

void sim_faults_journal_event(sim_faults *f, int64_t now_ms, sim_service service,
                              const char *kind, const char *members) {
    if (!f) return;
    sim_buf *b = &f->line;
    b->len = 0;
    sim_buf_printf(b, "{\"t_ms\":%lld,\"svc\":\"%s\"", (long long)(now_ms - f->start_ms),
                   sim_service_name(service));
    sim_json_member(b, "event", kind);
    if (members && *members) sim_buf_printf(b, ",%s", members);
    sim_buf_append(b, "}", 1);
    sim_journal_add(f->journal, b->data, b->len);
}

uint64_t sim_faults_journal_count(const sim_faults *f) {
    return f ? sim_journal_count(f->journal) : 0;
}

uint64_t sim_faults_journal_oldest(const sim_faults *f) {
    return sim_journal_oldest(f->journal);
}

size_t sim_faults_journal_since(const sim_faults *f, uint64_t since, size_t limit, void *out) {
    return sim_journal_since(f->journal, since, limit, out);
}

void sim_faults_flush(sim_faults *f) {
    if (f) sim_journal_flush(f->journal);
}

/* ---- decisions -------------------------------------------------------- */

static int glob_ok(const char *pattern, const char *s) {
    return !pattern || (s && fnmatch(pattern, s, 0) == 0);
}

/* A pattern with its literal prefix known: the first byte, then the
 * prefix, then (only for a glob) fnmatch. */
static inline int pattern_ok(const char *pattern, size_t lit, int glob, const char *s) {
    if (!pattern) return 1;
    if (!s || (lit && s[0] != pattern[0]) || strncmp(pattern, s, lit) != 0) return 0;
    return glob ? fnmatch(pattern, s, 0) == 0 : s[lit] == '\0';
}

/* Cheapest tests first: on hot paths most rules fail on the name. The
 * place (service, point) is already given by the index. */
static int matches(const sim_rule *r, const sim_wire *w) {
    if (!pattern_ok(r->m_name, r->name_lit, r->name_glob, w->name)) return 0;
    if (r->m_conn && r->m_conn != w->conn) return 0;
    if (r->m_run && r->m_run != w->run) return 0;
    if (r->m_msg && r->m_msg != w->msg) return 0;
    if (r->m_user_run && r->m_user_run != w->user_run) return 0;
    if (!w->proto || r->proto[0] != w->proto[0] || strcmp(r->proto, w->proto) != 0) return 0;
    return pattern_ok(r->m_key, r->key_lit, r->key_glob, w->key) &&
           glob_ok(r->m_method, w->method) && glob_ok(r->m_user, w->user_id);
}

/* Counts this match for the rule and returns its ordinal (from 1) within
 * the rule's scope. */
static uint64_t count_match(sim_rule_slot *s, const sim_wire *w) {
    s->matched++;
    if (s->rule->scope == SIM_SCOPE_SERVICE) return s->matched;
    return sim_count_map_incr(&s->conn_counts, w->conn);
}

/* A connection closed: its counts go. Connection ordinals never come back. */
static void forget_connection(sim_faults *f, const sim_wire *w) {
    for (size_t i = 0; i < f->rules.all.n; i++) {
        sim_rule_slot *s = f->rules.all.v[i];
        const sim_rule *r = s->rule;
        if (r->scope == SIM_SCOPE_CONNECTION && r->service == w->service && w->proto &&
            strcmp(r->proto, w->proto) == 0)
            sim_count_map_del(&s->conn_counts, w->conn);
    }
}

static int fires(const sim_faults *f, const sim_rule_slot *s, const sim_wire *w, uint64_t ord, int64_t t_ms) {
    const sim_rule *r = s->rule;
    if (r->nth && ord != r->nth) return 0;
    if (r->every && ord % r->every != 0) return 0;
    if (r->first && ord > r->first) return 0;
    if (r->after && ord <= r->after) return 0;
    if (t_ms < r->after_ms) return 0;
    if (r->until_ms >= 0 && t_ms >= r->until_ms) return 0;
    if (r->times && s->fired >= r->times) return 0;
    if (r->p >= 0) {
        /* Service-scoped rules draw per match ordinal alone; connection-
         * scoped ones per (connection, ordinal on it). */
        uint64_t conn = r->scope == SIM_SCOPE_SERVICE ? 0 : w->conn;
        if (sim_unit(sim_mix(f->seed, r->id, conn, ord)) >= r->p) return 0;
    }
    return 1;
}

static void fill_action(const sim_faults *f, const sim_rule_slot *s, const sim_wire *w, uint64_t ord,
                        sim_action *out) {
    const sim_rule *r = s->rule;
    out->kind = r->kind;
    out->code = r->code;
    out->delay_ms = r->delay_ms;
    if (r->jitter_ms) {
        uint64_t conn = r->scope == SIM_SCOPE_SERVICE ? 0 : w->conn;
        double u = sim_unit(sim_mix(f->seed ^ 0x6a177e5ULL, r->id, conn, ord));
        out->delay_ms += (uint32_t)floor(u * (r->jitter_ms + 1));
    }
    out->text = r->text;
    out->field = r->field;
    out->mode = r->mode;
    out->error_code = r->error_code;
    out->details = r->details;
    out->nested = r->nested;
    out->rule_id = r->id;
}

static void expire_rules(sim_faults *f, int64_t now_ms);

/* Evaluates one candidate rule; remembers the earliest added that fires. */
static void consider(sim_faults *f, sim_rule_slot *s, const sim_wire *w, int64_t now_ms,
                     int64_t t_ms, sim_rule_slot **winner, uint64_t *winner_ord, int *expired) {
    if (s->expires_ms && now_ms >= s->expires_ms) {
        *expired = 1;
        return;
    }
    if (!matches(s->rule, w)) return;
    uint64_t ord = count_match(s, w);
    if ((!*winner || s->order < (*winner)->order) && fires(f, s, w, ord, t_ms)) {
        *winner = s;
        *winner_ord = ord;
    }
}

/* ---- the network ------------------------------------------------------ */

void sim_faults_set_network(sim_faults *f, const sim_network *net) {
    f->net = *net;
}

/* The band an HTTP request crosses, or NULL. */
static const sim_latency_band *network_band(const sim_faults *f, const sim_wire *w) {
    if (w->point != SIM_WIRE_REQUEST || !w->proto || strcmp(w->proto, "http") != 0) return NULL;
    const sim_latency_band *band = w->service == SIM_SVC_AUTH      ? &f->net.auth
                                   : w->service != SIM_SVC_BACKEND ? NULL
                                   : w->upgrade                    ? &f->net.ws_connect
                                                                   : &f->net.http;
    return band && band->max_ms ? band : NULL;
}

/* Adds the request's latency to what the rules decided (fault.h). */
static void add_latency(const sim_faults *f, const sim_wire *w, sim_action *out) {
    const sim_latency_band *band = network_band(f, w);
    if (!band || (out->kind != SIM_ACT_PASS && out->kind != SIM_ACT_DELAY &&
                  out->kind != SIM_ACT_REPLY))
        return;
    double u = sim_unit(sim_mix(f->seed ^ 0x1a7e9c1ULL, sim_service_name(w->service), w->conn,
                                w->msg));
    uint32_t span = band->max_ms - band->min_ms;
    out->latency_ms = band->min_ms + (uint32_t)floor(u * (span + 1));
    if (out->kind == SIM_ACT_PASS) out->kind = SIM_ACT_DELAY;
    out->delay_ms += out->latency_ms;
}

/* ---- life cycle ------------------------------------------------------- */

void sim_faults_set_mode(sim_faults *f, sim_service service, sim_service_mode mode) {
    f->mode[service] = mode;
    f->mode_upgrades[service] = 0;
}

sim_service_mode sim_faults_mode(const sim_faults *f, sim_service service) {
    return f ? f->mode[service] : SIM_MODE_RUNNING;
}

static void reply(sim_action *out, int status, const char *body, const char *rule) {
    out->kind = SIM_ACT_REPLY;
    out->code = status;
    out->text = body;
    out->field = "text/plain; charset=utf-8";
    out->rule_id = rule;
}

/* What a service that is not running answers (fault.h). */
static void mode_action(sim_faults *f, const sim_wire *w, sim_action *out) {
    static const char unavailable[] = "Service Unavailable", internal[] = "Internal Server Error";
    switch (f->mode[w->service]) {
    case SIM_MODE_DRAINING:
        reply(out, 503, unavailable, "lifecycle.draining");
        return;
    case SIM_MODE_CANNOT_START:
        reply(out, 503, "The request failed because the instance could not start successfully.",
              "lifecycle.cannot_start");
        return;
    case SIM_MODE_REDEPLOYING:
        if (w->upgrade) {
            uint64_t n = ++f->mode_upgrades[w->service];
            if (n <= 3) reply(out, n == 2 ? 503 : 500, n == 2 ? unavailable : internal,
                              "lifecycle.redeploying");
            else out->kind = SIM_ACT_HANG, out->rule_id = "lifecycle.redeploying";
        } else if (w->name && strncmp(w->name, "/api/", 5) == 0) {
            reply(out, 500, internal, "lifecycle.redeploying");
        } else {
            reply(out, 503, unavailable, "lifecycle.redeploying");
        }
        return;
    case SIM_MODE_RUNNING:
        return;
    }
}

void sim_faults_cross(sim_faults *f, const sim_wire *w, int64_t now_ms, sim_action *out) {
    memset(out, 0, sizeof(*out));
    if (!f) return;
    f->crossings[w->service][w->point]++;
    if (w->point == SIM_WIRE_CLOSE && f->rules.all.n) forget_connection(f, w);
    /* Redis commands and replies are not journaled one by one (the
     * history client's writes interleave across WebSocket connections,
     * which would make journals differ), nor is the control API, nor are
     * token checks (the request or upgrade that asked is), nor the
     * backend's own connection attempts (their number follows its back-off
     * clock); rule firings always are. */
    if (f->mode[w->service] != SIM_MODE_RUNNING && w->point == SIM_WIRE_REQUEST && w->proto &&
        strcmp(w->proto, "http") == 0) {
        mode_action(f, w, out);
        add_latency(f, w, out);
        journal_crossing(f, w, now_ms, out);
        return;
    }
    int journaled = !(w->service == SIM_SVC_REDIS &&
                      (w->point == SIM_WIRE_REQUEST || w->point == SIM_WIRE_SEND)) &&
                    w->service != SIM_SVC_CONTROL && /* tests polling it would change the journal */
                    !(w->proto && strcmp(w->proto, "jwt") == 0) && /* token checks: in the crossing that asked */
                    w->point != SIM_WIRE_CONNECT;
    const sim_place *pi = sim_ruleset_place(&f->rules, w->service, w->point);
    unsigned char c0 = w->name ? (unsigned char)w->name[0] : 0;
    const sim_name_bucket *b = sim_place_named(pi, w->name);
    int generic = sim_place_generic_may_match(pi, c0);
    if (!b && !generic) {
        /* No rule can match: the common case on hot paths. */
        if (f->net.http.max_ms | f->net.ws_connect.max_ms | f->net.auth.max_ms)
            add_latency(f, w, out);
        if (journaled) journal_crossing(f, w, now_ms, out);
        return;
    }
    int64_t t_ms = now_ms - f->start_ms;
    sim_rule_slot *winner = NULL;
    uint64_t winner_ord = 0;
    int expired = 0;
    /* Every candidate counts its match, whoever wins: a rule's counters,
     * and so its decisions, never depend on the other rules. */
    for (size_t k = 0; generic && k < pi->generic.n; k++)
        consider(f, pi->generic.v[k], w, now_ms, t_ms, &winner, &winner_ord, &expired);
    for (size_t k = 0; b && k < b->slots.n; k++)
        consider(f, b->slots.v[k], w, now_ms, t_ms, &winner, &winner_ord, &expired);
    if (winner) {
        fill_action(f, winner, w, winner_ord, out);
        winner->fired++;
        f->fired_total++;
        if (out->kind == SIM_ACT_DROP && w->proto && strcmp(w->proto, "ws") == 0 &&
            w->point == SIM_WIRE_SEND)
            f->ws_dropped++;
    }
    add_latency(f, w, out);
    if (journaled || winner) journal_crossing(f, w, now_ms, out);
    if (winner && f->listener) f->listener(f->listener_ctx, winner->rule->id, winner->fired);
    if (out->kind == SIM_ACT_MARK) {
        /* Journaled and counted, and nothing else: the crossings it watches
         * (Redis commands, say) are otherwise not journaled one by one. */
        uint32_t latency = out->latency_ms;
        memset(out, 0, sizeof(*out));
        out->latency_ms = latency;
    }
    if (expired) expire_rules(f, now_ms);
}

/* ---- rule registry ---------------------------------------------------- */

static int is_expired(void *ctx, const sim_rule_slot *s) {
    int64_t now_ms = *(const int64_t *)ctx;
    if (!s->expires_ms || now_ms < s->expires_ms) return 0;
    sim_info("fault rule %s expired (ttl_ms)", s->rule->id);
    return 1;
}

static void expire_rules(sim_faults *f, int64_t now_ms) {
    sim_ruleset_remove_if(&f->rules, is_expired, &now_ms);
}

void sim_faults_expire(sim_faults *f, int64_t now_ms) {
    for (size_t i = 0; i < f->rules.all.n; i++) {
        const sim_rule_slot *s = f->rules.all.v[i];
        if (s->expires_ms && now_ms >= s->expires_ms) {
            expire_rules(f, now_ms);
            return;
        }
    }
}

int sim_fault_rule_check(const void *rule, const char *path, char *err, size_t errlen) {
    sim_rule *r = sim_rule_parse(rule, path, err, errlen);
    sim_rule_free(r);
    return r ? 0 : -1;
}

int sim_faults_add(sim_faults *f, const void *rule, const char *path, int runtime, int64_t now_ms,
                   char *err, size_t errlen) {
    sim_rule *r = sim_rule_parse(rule, path, err, errlen);
    if (!r) return -1;
    if (sim_ruleset_find(&f->rules, r->id)) {
        snprintf(err, errlen, "%s.id: duplicate rule id \"%s\"", path, r->id);
        sim_rule_free(r);
        return -1;
    }
    if (r->ttl_ms && !runtime) {
        snprintf(err, errlen, "%s.ttl_ms: only for rules added at run time", path);
        sim_rule_free(r);
        return -1;
    }
    sim_ruleset_add(&f->rules, r, runtime, r->ttl_ms ? now_ms + r->ttl_ms : 0);
    return 0;
}

int sim_faults_add_all(sim_faults *f, const void *rules, int64_t now_ms, char *err, size_t errlen) {
    const cJSON *arr = rules, *it;
    size_t i = 0;
    cJSON_ArrayForEach(it, arr) {
        char path[32];
        snprintf(path, sizeof(path), "faults[%zu]", i++);
        if (sim_faults_add(f, it, path, 0, now_ms, err, errlen)) return -1;
    }
    return 0;
}

int sim_faults_remove(sim_faults *f, const char *id) {
    sim_rule_slot *s = sim_ruleset_find(&f->rules, id);
    if (!s) return -1;
    sim_ruleset_remove(&f->rules, s);
    return 0;
}

static int any(void *ctx, const sim_rule_slot *s) {
    (void)ctx, (void)s;
    return 1;
}

void sim_faults_clear(sim_faults *f) {
    sim_ruleset_remove_if(&f->rules, any, NULL);
}

static int is_runtime(void *ctx, const sim_rule_slot *s) {
    (void)ctx;
    return s->runtime;
}

void sim_faults_reset(sim_faults *f) {
    sim_ruleset_remove_if(&f->rules, is_runtime, NULL);
    for (size_t i = 0; i < f->rules.all.n; i++) {
        sim_rule_slot *s = f->rules.all.v[i];
        s->fired = s->matched = 0;
        sim_count_map_free(&s->conn_counts);
    }
}

static cJSON *slot_json(const sim_rule_slot *s, int64_t now_ms) {
    cJSON *j = cJSON_Parse(s->rule->json);
    cJSON_AddNumberToObject(j, "fired", (double)s->fired);
    cJSON_AddNumberToObject(j, "matched", (double)s->matched);
    cJSON_AddBoolToObject(j, "runtime", s->runtime);
    if (s->expires_ms) cJSON_AddNumberToObject(j, "expires_in_ms", (double)(s->expires_ms - now_ms));
    return j;
}

void *sim_faults_list(const sim_faults *f, int64_t now_ms) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < f->rules.all.n; i++) {
        const sim_rule_slot *s = f->rules.all.v[i];
        if (!s->expires_ms || now_ms < s->expires_ms) cJSON_AddItemToArray(arr, slot_json(s, now_ms));
    }
    return arr;
}

void *sim_faults_get(const sim_faults *f, const char *id, int64_t now_ms) {
    const sim_rule_slot *s = sim_ruleset_find(&f->rules, id);
    if (!s || (s->expires_ms && now_ms >= s->expires_ms)) return NULL;
    return slot_json(s, now_ms);
}

uint64_t sim_faults_fired(const sim_faults *f, const char *id) {
    const sim_rule_slot *s = sim_ruleset_find(&f->rules, id);
    return s ? s->fired : 0;
}

size_t sim_faults_count(const sim_faults *f) {
    return f->rules.all.n;
}

void sim_faults_set_listener(sim_faults *f, sim_fault_listener fn, void *ctx) {
    f->listener = fn;
    f->listener_ctx = ctx;
}

/* ---- metrics ---------------------------------------------------------- */

void sim_faults_metrics(const sim_faults *f, void *out) {
    sim_buf *b = out;
    sim_buf_puts(b, "# HELP stagesim_crossings_total Wire crossings seen by the decision point.\n"
                    "# TYPE stagesim_crossings_total counter\n");
    for (int s = 0; s < SIM_NSVC; s++)
        for (int p = 0; p < SIM_NPOINT; p++)
            sim_buf_printf(b, "stagesim_crossings_total{service=\"%s\",point=\"%s\"} %llu\n",
                           sim_service_name(s), sim_wire_point_name(p), (unsigned long long)f->crossings[s][p]);
    sim_buf_printf(b, "# HELP stagesim_connections_total Connections accepted.\n"
                      "# TYPE stagesim_connections_total counter\n");
    for (int s = 0; s < SIM_NSVC; s++)
        sim_buf_printf(b, "stagesim_connections_total{service=\"%s\"} %llu\n", sim_service_name(s),
                       (unsigned long long)f->crossings[s][SIM_WIRE_ACCEPT]);
    sim_buf_printf(b, "# HELP stagesim_messages_total Requests, client messages and commands read.\n"
                      "# TYPE stagesim_messages_total counter\n");
    for (int s = 0; s < SIM_NSVC; s++)
        sim_buf_printf(b, "stagesim_messages_total{service=\"%s\"} %llu\n", sim_service_name(s),
                       (unsigned long long)f->crossings[s][SIM_WIRE_REQUEST]);
    sim_buf_printf(b, "# HELP stagesim_events_sent_total WebSocket events and replies about to be sent.\n"
                      "# TYPE stagesim_events_sent_total counter\n"
                      "stagesim_events_sent_total %llu\n"
                      "# HELP stagesim_events_dropped_total WebSocket events dropped by rules.\n"
                      "# TYPE stagesim_events_dropped_total counter\n"
                      "stagesim_events_dropped_total %llu\n"
                      "# HELP stagesim_faults_fired_total Rule firings, per rule.\n"
                      "# TYPE stagesim_faults_fired_total counter\n",
                   (unsigned long long)(f->crossings[SIM_SVC_BACKEND][SIM_WIRE_SEND] - f->ws_dropped),
                   (unsigned long long)f->ws_dropped);
    for (size_t i = 0; i < f->rules.all.n; i++)
        sim_buf_printf(b, "stagesim_faults_fired_total{rule=\"%s\"} %llu\n",
                       f->rules.all.v[i]->rule->id, (unsigned long long)f->rules.all.v[i]->fired);
    sim_buf_printf(b, "# HELP stagesim_journal_lines_total Journal lines written.\n"
                      "# TYPE stagesim_journal_lines_total counter\n"
                      "stagesim_journal_lines_total %llu\n",
                   (unsigned long long)sim_journal_count(f->journal));
}
