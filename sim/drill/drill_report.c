/* drill_report.c -- the three renderings of a drill's verdicts. Each says
 * the seed and the time scale, and that the scale is not applied to
 * external clients: a reader comparing with staging must know. */
#include "drill_report.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static const char scale_note[] = "the time scale does not apply to external clients";

static const char *const status_word[] = {
    [SIM_VERDICT_PASS] = "PASS", [SIM_VERDICT_FAIL] = "FAIL", [SIM_VERDICT_ERROR] = "ERROR"};
static const char *const status_json[] = {
    [SIM_VERDICT_PASS] = "pass", [SIM_VERDICT_FAIL] = "fail", [SIM_VERDICT_ERROR] = "error"};

void sim_drill_tally_of(const sim_drill_verdicts *v, sim_drill_tally *t) {
    memset(t, 0, sizeof(*t));
    t->tests = v->n;
    for (size_t i = 0; i < v->n; i++) {
        t->passed += v->v[i].status == SIM_VERDICT_PASS;
        t->failures += v->v[i].status == SIM_VERDICT_FAIL;
        t->errors += v->v[i].status == SIM_VERDICT_ERROR;
    }
}

void sim_drill_report_human(const sim_drill_report *r, sim_buf *out) {
    for (size_t i = 0; i < r->verdicts->n; i++) {
        const sim_drill_verdict *v = &r->verdicts->v[i];
        sim_buf_printf(out, "%s %s: expected %s; actual %s\n", status_word[v->status], v->id,
                       v->expected, v->actual);
    }
    sim_drill_tally t;
    sim_drill_tally_of(r->verdicts, &t);
    sim_buf_printf(out, "drill %s (%s): %zu checks, %zu passed, %zu failed, %zu errors; "
                        "seed %llu, time scale %g (%s); %.1f s; journal %zu lines, digest %s\n",
                   r->name, r->file, t.tests, t.passed, t.failures, t.errors,
                   (unsigned long long)r->seed, r->time_scale, scale_note,
                   (double)r->elapsed_ms / 1000.0, r->journal_lines, r->digest);
}

void sim_drill_report_json(const sim_drill_report *r, sim_buf *out) {
    sim_drill_tally t;
    sim_drill_tally_of(r->verdicts, &t);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "drill", r->name);
    cJSON_AddStringToObject(j, "file", r->file);
    cJSON_AddNumberToObject(j, "seed", (double)r->seed);
    cJSON_AddNumberToObject(j, "time_scale", r->time_scale);
    cJSON_AddStringToObject(j, "time_scale_note", scale_note);
    cJSON_AddBoolToObject(j, "ok", t.failures + t.errors == 0);
    cJSON_AddNumberToObject(j, "tests", (double)t.tests);
    cJSON_AddNumberToObject(j, "passed", (double)t.passed);
    cJSON_AddNumberToObject(j, "failures", (double)t.failures);
    cJSON_AddNumberToObject(j, "errors", (double)t.errors);
    cJSON_AddNumberToObject(j, "elapsed_ms", (double)r->elapsed_ms);
    cJSON_AddStringToObject(j, "digest", r->digest);
    cJSON_AddNumberToObject(j, "journal_lines", (double)r->journal_lines);
    cJSON *checks = cJSON_AddArrayToObject(j, "checks");
    for (size_t i = 0; i < r->verdicts->n; i++) {
        const sim_drill_verdict *v = &r->verdicts->v[i];
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "id", v->id);
        cJSON_AddStringToObject(c, "status", status_json[v->status]);
        cJSON_AddStringToObject(c, "expected", v->expected);
        cJSON_AddStringToObject(c, "actual", v->actual);
        cJSON_AddItemToArray(checks, c);
    }
    char *text = cJSON_PrintUnformatted(j);
    size_t from = out->len;
    sim_buf_puts(out, text);
    /* Verdicts quote what came over the wire, which may not be UTF-8. */
    sim_utf8_fix_json(out, from);
    sim_buf_puts(out, "\n");
    free(text);
    cJSON_Delete(j);
}

/* ---- JUnit ------------------------------------------------------------------ */

void sim_drill_xml_escape(sim_buf *out, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        switch (*p) {
        case '&': sim_buf_puts(out, "&amp;"); p++; continue;
        case '<': sim_buf_puts(out, "&lt;"); p++; continue;
        case '>': sim_buf_puts(out, "&gt;"); p++; continue;
        case '"': sim_buf_puts(out, "&quot;"); p++; continue;
        case '\'': sim_buf_puts(out, "&apos;"); p++; continue;
        case '\n': case '\r': case '\t': sim_buf_puts(out, " "); p++; continue;
        default: break;
        }
        size_t n = *p < 0x20 ? 0 : sim_utf8_len(p);
        if (n) {
            sim_buf_append(out, p, n);
            p += n;
        } else {
            sim_buf_puts(out, "?");
            p++;
        }
    }
}

static void attr(sim_buf *out, const char *name, const char *value) {
    sim_buf_printf(out, " %s=\"", name);
    sim_drill_xml_escape(out, value);
    sim_buf_puts(out, "\"");
}

void sim_drill_junit_open(sim_buf *out) {
    sim_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
}

static void property(sim_buf *out, const char *name, const char *value) {
    sim_buf_puts(out, "      <property");
    attr(out, "name", name);
    attr(out, "value", value);
    sim_buf_puts(out, "/>\n");
}

void sim_drill_junit_suite(const sim_drill_report *r, sim_buf *out) {
    sim_drill_tally t;
    sim_drill_tally_of(r->verdicts, &t);
    sim_buf_puts(out, "  <testsuite");
    attr(out, "name", r->name);
    sim_buf_printf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" time=\"%.3f\"",
                   t.tests, t.failures, t.errors, (double)r->elapsed_ms / 1000.0);
    attr(out, "file", r->file);
    sim_buf_puts(out, ">\n    <properties>\n");
    char num[64];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)r->seed);
    property(out, "seed", num);
    snprintf(num, sizeof(num), "%g", r->time_scale);
    property(out, "time_scale", num);
    property(out, "time_scale_note", scale_note);
    property(out, "digest", r->digest);
    sim_buf_puts(out, "    </properties>\n");
    for (size_t i = 0; i < r->verdicts->n; i++) {
        const sim_drill_verdict *v = &r->verdicts->v[i];
        sim_buf_puts(out, "    <testcase");
        attr(out, "name", v->id);
        attr(out, "classname", r->name);
        sim_buf_puts(out, " time=\"0\"");
        if (v->status == SIM_VERDICT_PASS) {
            sim_buf_puts(out, "/>\n");
            continue;
        }
        sim_buf msg = {0};
        sim_buf_printf(&msg, "expected %s, actual %s", v->expected, v->actual);
        sim_buf_printf(out, ">\n      <%s", v->status == SIM_VERDICT_FAIL ? "failure" : "error");
        attr(out, "message", msg.data);
        sim_buf_printf(out, " type=\"%s\"/>\n    </testcase>\n",
                       v->status == SIM_VERDICT_FAIL ? "expectation" : "not_evaluated");
        sim_buf_free(&msg);
    }
    sim_buf_puts(out, "  </testsuite>\n");
}

void sim_drill_junit_close(sim_buf *out) {
    sim_buf_puts(out, "</testsuites>\n");
}
