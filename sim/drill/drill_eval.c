/* drill_eval.c -- checks against evidence: one evaluator per kind of check,
 * each writing what it wanted and what it saw in words (docs/drills.md §4).
 * Nothing here runs or waits: attempts and journal lines in, verdicts out. */
#include "drill_eval.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drill_match.h"
#include "util.h"

#define LINE_EXCERPT 160   /* of a journal line quoted in a verdict */

/* One evaluator: fills exp and act, returns the status. */
typedef sim_verdict_status (*check_eval)(const sim_expect *e, const sim_expect_check *k,
                                         const sim_drill_step_outcome *steps,
                                         const sim_drill_journal *j, sim_buf *exp, sim_buf *act);

/* Between two parts of one verdict's text. */
static const char *sep(const sim_buf *b) {
    return b->len ? ", " : "";
}

/* "name <matcher>", for a field or a count. */
static void named_matcher(sim_buf *out, const char *name, const sim_matcher *m) {
    sim_buf_printf(out, "%s ", name);
    sim_drill_matcher_text(m, out);
}

static void fields_text(sim_buf *out, const sim_expect_fields *f) {
    for (size_t i = 0; i < f->n; i++) {
        if (i) sim_buf_puts(out, ", ");
        named_matcher(out, f->v[i].name, f->v[i].m);
    }
}

/* ---- a step's outcome ------------------------------------------------------ */

/* An attempt's result as docs/probes.md §2.1's JSON object, so that its
 * fields are null exactly where the probe's own output says null. */
static cJSON *attempt_json(const sim_probe_result *r) {
    sim_buf b = {0};
    sim_probe_result_json(r, "", &b);
    cJSON *j = cJSON_Parse(b.data);
    sim_buf_free(&b);
    sim_assert(j);
    return j;
}

/* 1 when every field matcher holds for r; "attempt N: field value, ..."
 * (the values of every matched field) into act when act is given. */
static int attempt_matches(const sim_expect_fields *f, const sim_probe_result *r, sim_buf *act) {
    cJSON *j = attempt_json(r);
    int all = 1;
    if (act) sim_buf_printf(act, "attempt %d:", r->attempt);
    for (size_t i = 0; i < f->n; i++) {
        sim_value v = sim_drill_json_value(cJSON_GetObjectItemCaseSensitive(j, f->v[i].name));
        all &= sim_drill_match(f->v[i].m, &v);
        if (act) {
            sim_buf_printf(act, "%s %s ", i ? "," : "", f->v[i].name);
            sim_drill_value_text(&v, act);
        }
    }
    /* A failed attempt's own words say where it failed, beyond the fields. */
    if (act && !r->ok) sim_buf_printf(act, " (%s)", r->detail);
    cJSON_Delete(j);
    return all;
}

static const sim_probe_result *attempt_by_ordinal(const sim_drill_step_outcome *o, int ordinal) {
    for (size_t i = 0; i < o->n; i++)
        if (o->attempts[i].attempt == ordinal) return &o->attempts[i];
    return NULL;
}

/* The first attempt that fails the fields, or NULL. */
static const sim_probe_result *first_mismatch(const sim_expect_check *k,
                                              const sim_drill_step_outcome *o) {
    for (size_t i = 0; i < o->n; i++)
        if (!attempt_matches(&k->result, &o->attempts[i], NULL)) return &o->attempts[i];
    return NULL;
}

static int eval_attempts(const sim_expect_check *k, const sim_drill_step_outcome *o,
                         sim_buf *exp, sim_buf *act) {
    sim_buf_puts(exp, sep(exp));
    sim_buf_puts(act, sep(act));
    if (k->attempts == SIM_ATTEMPTS_ALL) {
        sim_buf_puts(exp, "every attempt: ");
        fields_text(exp, &k->result);
        if (!o->n) {
            sim_buf_puts(act, "no attempts");
            return 0;
        }
        const sim_probe_result *bad = first_mismatch(k, o);
        attempt_matches(&k->result, bad ? bad : &o->attempts[0], act);
        if (!bad && o->n > 1) sim_buf_printf(act, " (and the other %zu alike)", o->n - 1);
        return !bad;
    }
    if (k->attempts == SIM_ATTEMPTS_ANY) {
        sim_buf_puts(exp, "some attempt: ");
        fields_text(exp, &k->result);
        for (size_t i = 0; i < o->n; i++)
            if (attempt_matches(&k->result, &o->attempts[i], NULL))
                return attempt_matches(&k->result, &o->attempts[i], act);
        sim_buf_printf(act, "none of %zu attempts", o->n);
        if (o->n) {
            sim_buf_puts(act, ", ");
            attempt_matches(&k->result, &o->attempts[0], act);
        }
        return 0;
    }
    sim_buf_puts(exp, "attempts [");
    for (size_t i = 0; i < k->nordinals; i++) sim_buf_printf(exp, "%s%d", i ? ", " : "", k->ordinals[i]);
    sim_buf_puts(exp, "]: ");
    fields_text(exp, &k->result);
    for (size_t i = 0; i < k->nordinals; i++) {
        const sim_probe_result *r = attempt_by_ordinal(o, k->ordinals[i]);
        if (!r) {
            sim_buf_printf(act, "attempt %d missing (%zu attempts)", k->ordinals[i], o->n);
            return 0;
        }
        if (!attempt_matches(&k->result, r, NULL)) return attempt_matches(&k->result, r, act);
    }
    return attempt_matches(&k->result, attempt_by_ordinal(o, k->ordinals[0]), act);
}

static int eval_count(const char *name, const sim_matcher *m, int count, sim_buf *exp,
                      sim_buf *act) {
    if (!m) return 1;
    sim_buf_puts(exp, sep(exp));
    named_matcher(exp, name, m);
    sim_buf_printf(act, "%s%s %d", sep(act), name, count);
    sim_value v = {.type = SIM_VAL_NUM, .num = count};
    return sim_drill_match(m, &v);
}

static sim_verdict_status eval_step(const sim_expect *e, const sim_expect_check *k,
                                    const sim_drill_step_outcome *steps,
                                    const sim_drill_journal *j, sim_buf *exp, sim_buf *act) {
    (void)j;
    const sim_drill_step_outcome *o = &steps[k->step];
    const char *id = e->steps[k->step].id;
    if (!o->started) {
        sim_buf_printf(exp, "step %s to run", id);
        sim_buf_printf(act, "step %s did not start%s%s", id, o->error[0] ? ": " : "", o->error);
        return SIM_VERDICT_ERROR;
    }
    int passed = 0;
    for (size_t i = 0; i < o->n; i++) passed += o->attempts[i].ok;
    int held = eval_count("passed", k->passed, passed, exp, act);
    held &= eval_count("failed", k->failed, (int)o->n - passed, exp, act);
    if (k->result.n) held &= eval_attempts(k, o, exp, act);
    return held ? SIM_VERDICT_PASS : SIM_VERDICT_FAIL;
}

/* ---- journal facts ----------------------------------------------------------- */

static int line_matches(const sim_expect_fields *f, const cJSON *line) {
    for (size_t i = 0; i < f->n; i++) {
        sim_value v = sim_drill_json_value(cJSON_GetObjectItemCaseSensitive(line, f->v[i].name));
        if (!sim_drill_match(f->v[i].m, &v)) return 0;
    }
    return 1;
}

static const char *member_str(const cJSON *line, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(line, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t member_ms(const cJSON *line, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(line, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static void line_excerpt(sim_buf *out, const cJSON *line) {
    char *text = cJSON_PrintUnformatted(line);
    size_t len = strlen(text);
    sim_buf_append(out, text, len > LINE_EXCERPT ? LINE_EXCERPT : len);
    if (len > LINE_EXCERPT) sim_buf_puts(out, "...");
    free(text);
}

/* The first line carrying "rule": id, or -1. */
static long first_firing(const sim_drill_journal *j, const char *rule) {
    for (size_t i = 0; i < j->n; i++) {
        const char *r = member_str(j->lines[i], "rule");
        if (r && strcmp(r, rule) == 0) return (long)i;
    }
    return -1;
}

static sim_verdict_status eval_rule(const sim_expect *e, const sim_expect_check *k,
                                    const sim_drill_step_outcome *steps,
                                    const sim_drill_journal *j, sim_buf *exp, sim_buf *act) {
    (void)e, (void)steps;
    int fired = 0;
    for (size_t i = 0; i < j->n; i++) {
        const char *r = member_str(j->lines[i], "rule");
        fired += r && strcmp(r, k->rule) == 0;
    }
    sim_buf_printf(exp, "rule %s fired ", k->rule);
    sim_drill_matcher_text(k->fired, exp);
    sim_buf_printf(act, "rule %s fired %d", k->rule, fired);
    sim_value v = {.type = SIM_VAL_NUM, .num = fired};
    return sim_drill_match(k->fired, &v) ? SIM_VERDICT_PASS : SIM_VERDICT_FAIL;
}

static sim_verdict_status eval_journal(const sim_expect *e, const sim_expect_check *k,
                                       const sim_drill_step_outcome *steps,
                                       const sim_drill_journal *j, sim_buf *exp, sim_buf *act) {
    (void)e, (void)steps;
    size_t from = 0, until = j->n;
    if (k->has_from) {
        while (from < j->n && !line_matches(&k->from, j->lines[from])) from++;
        if (from == j->n) {
            sim_buf_puts(exp, "a journal line matching from: ");
            fields_text(exp, &k->from);
            sim_buf_puts(act, "no journal line matches from");
            return SIM_VERDICT_ERROR;
        }
        from++;
    }
    if (k->has_until)
        for (until = from; until < j->n && !line_matches(&k->until, j->lines[until]);) until++;
    int count = 0;
    long first = -1;
    for (size_t i = from; i < until; i++)
        if (line_matches(&k->filter, j->lines[i])) {
            if (first < 0) first = (long)i;
            count++;
        }
    int held = eval_count("count", k->count, count, exp, act);
    sim_buf_puts(exp, " of lines with ");
    fields_text(exp, &k->filter);
    if (k->has_from) {
        sim_buf_puts(exp, " after the first with ");
        fields_text(exp, &k->from);
    }
    if (k->has_until) {
        sim_buf_puts(exp, " before the next with ");
        fields_text(exp, &k->until);
    }
    if (!held && first >= 0) {
        sim_buf_printf(act, ", the first line %ld: ", first + 1);
        line_excerpt(act, j->lines[first]);
    }
    return held ? SIM_VERDICT_PASS : SIM_VERDICT_FAIL;
}

/* ---- a breaker's life ---------------------------------------------------------- */

typedef struct state_at {
    const char *state;
    int64_t observed_ms, eligible_ms;
} state_at;

/* The breaker's states (docs/drills.md §4.4) into a new array; *n its length. */
static state_at *breaker_states(const sim_expect_check *k, const sim_drill_journal *j, size_t *n) {
    state_at *s = sim_xcalloc(j->n + 2, sizeof(state_at));
    s[0].state = "closed";
    *n = 1;
    for (size_t i = 0; i < j->n; i++) {
        const cJSON *l = j->lines[i];
        const char *ev = member_str(l, "event"), *name = member_str(l, "breaker");
        const char *svc = member_str(l, "svc"), *from = member_str(l, "from");
        const char *to = member_str(l, "to");
        if (!ev || strcmp(ev, "breaker") || !name || strcmp(name, k->breaker) || !from || !to ||
            (k->svc && (!svc || strcmp(svc, k->svc))))
            continue;
        if (*n == 1) s[0].state = from;
        s[*n] = (state_at){to, member_ms(l, "t_ms"), member_ms(l, "eligible_ms")};
        (*n)++;
    }
    return s;
}

static void entry_text(sim_buf *out, const sim_breaker_entry *en) {
    sim_buf_puts(out, en->state);
    if (!en->at_ms && !en->after_prev_ms) return;
    sim_buf_printf(out, " (%s", en->eligible ? "eligible, " : "");
    if (en->at_ms) named_matcher(out, "at_ms", en->at_ms);
    if (en->at_ms && en->after_prev_ms) sim_buf_puts(out, ", ");
    if (en->after_prev_ms) named_matcher(out, "after_prev_ms", en->after_prev_ms);
    sim_buf_puts(out, ")");
}

static void states_text(sim_buf *out, const state_at *s, size_t n, int64_t origin) {
    for (size_t i = 0; i < n; i++) {
        sim_buf_printf(out, "%s%s@%lld", i ? " -> " : "", s[i].state,
                       (long long)(s[i].observed_ms - (i ? origin : 0)));
        if (i && s[i].eligible_ms != s[i].observed_ms)
            sim_buf_printf(out, " (eligible %lld)", (long long)(s[i].eligible_ms - origin));
    }
}

/* The first way the states differ from the expected sequence, into why;
 * 1 when they do not. */
static int sequence_holds(const sim_expect_check *k, const state_at *s, size_t n, int64_t origin,
                          sim_buf *why) {
    if (n != k->nseq) {
        sim_buf_printf(why, "%zu states, expected %zu", n, k->nseq);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const sim_breaker_entry *en = &k->seq[i];
        if (strcasecmp(s[i].state, en->state) != 0) {
            sim_buf_printf(why, "state %zu is %s, expected %s", i + 1, s[i].state, en->state);
            return 0;
        }
        int64_t t = i == 0 ? 0 : en->eligible ? s[i].eligible_ms : s[i].observed_ms;
        sim_value at = {.type = SIM_VAL_NUM, .num = (double)(t - origin)};
        if (en->at_ms && !sim_drill_match(en->at_ms, &at)) {
            sim_buf_printf(why, "%s at_ms %lld", en->state, (long long)(t - origin));
            return 0;
        }
        sim_value gap = {.type = SIM_VAL_NUM, .num = i ? (double)(t - s[i - 1].observed_ms) : 0};
        if (en->after_prev_ms && (i == 0 || !sim_drill_match(en->after_prev_ms, &gap))) {
            sim_buf_printf(why, "%s after_prev_ms %lld", en->state, (long long)gap.num);
            return 0;
        }
    }
    return 1;
}

/* The origin of at_ms: 0, a step's start or a rule's first firing; -1 with
 * the reason in act when it never happened. */
static int breaker_origin(const sim_expect *e, const sim_expect_check *k,
                          const sim_drill_step_outcome *steps, const sim_drill_journal *j,
                          int64_t *origin, sim_buf *act) {
    *origin = 0;
    if (k->since_step) {
        if (!steps[k->since_step_index].started) {
            sim_buf_printf(act, "step %s never started", e->steps[k->since_step_index].id);
            return -1;
        }
        *origin = steps[k->since_step_index].start_ms;
    } else if (k->since_rule) {
        long i = first_firing(j, k->since_rule);
        if (i < 0) {
            sim_buf_printf(act, "rule %s never fired", k->since_rule);
            return -1;
        }
        *origin = member_ms(j->lines[i], "t_ms");
    }
    return 0;
}

static sim_verdict_status eval_breaker(const sim_expect *e, const sim_expect_check *k,
                                       const sim_drill_step_outcome *steps,
                                       const sim_drill_journal *j, sim_buf *exp, sim_buf *act) {
    sim_buf_printf(exp, "breaker %s: ", k->breaker);
    for (size_t i = 0; i < k->nseq; i++) {
        if (i) sim_buf_puts(exp, " -> ");
        entry_text(exp, &k->seq[i]);
    }
    if (k->nnever) sim_buf_printf(exp, "%snever", k->nseq ? "; " : "");
    for (size_t i = 0; i < k->nnever; i++) sim_buf_printf(exp, "%s %s", i ? "," : "", k->never[i]);
    int64_t origin;
    if (breaker_origin(e, k, steps, j, &origin, act)) return SIM_VERDICT_ERROR;
    size_t n;
    state_at *s = breaker_states(k, j, &n);
    sim_buf_printf(act, "breaker %s: ", k->breaker);
    states_text(act, s, n, origin);
    sim_buf why = {0};
    int held = !k->has_seq || sequence_holds(k, s, n, origin, &why);
    for (size_t i = 0; held && i < n; i++)
        for (size_t m = 0; m < k->nnever; m++)
            if (strcasecmp(s[i].state, k->never[m]) == 0) {
                sim_buf_printf(&why, "%s occurred", s[i].state);
                held = 0;
            }
    if (!held) sim_buf_printf(act, "; %s", why.data);
    sim_buf_free(&why);
    free(s);
    return held ? SIM_VERDICT_PASS : SIM_VERDICT_FAIL;
}

/* ---- all checks ------------------------------------------------------------------ */

static const check_eval evaluators[] = {
    [SIM_CHECK_STEP] = eval_step,
    [SIM_CHECK_RULE] = eval_rule,
    [SIM_CHECK_JOURNAL] = eval_journal,
    [SIM_CHECK_BREAKER] = eval_breaker,
};

void sim_drill_verdict_add(sim_drill_verdicts *out, const char *id, sim_verdict_status status,
                           const char *expected, const char *actual) {
    out->v = sim_xrealloc(out->v, (out->n + 1) * sizeof(sim_drill_verdict));
    out->v[out->n++] = (sim_drill_verdict){sim_xstrdup(id), status, sim_xstrdup(expected),
                                           sim_xstrdup(actual)};
}

void sim_drill_evaluate(const sim_expect *e, const sim_drill_step_outcome *steps,
                        const sim_drill_journal *j, sim_drill_verdicts *out) {
    for (size_t i = 0; i < e->nchecks; i++) {
        const sim_expect_check *k = &e->checks[i];
        sim_buf exp = {0}, act = {0};
        sim_verdict_status st = evaluators[k->kind](e, k, steps, j, &exp, &act);
        sim_drill_verdict_add(out, k->id, st, exp.data ? exp.data : "", act.data ? act.data : "");
        sim_buf_free(&exp);
        sim_buf_free(&act);
    }
}

void sim_drill_verdicts_free(sim_drill_verdicts *out) {
    for (size_t i = 0; i < out->n; i++) {
        free(out->v[i].id);
        free(out->v[i].expected);
        free(out->v[i].actual);
    }
    free(out->v);
    memset(out, 0, sizeof(*out));
}
