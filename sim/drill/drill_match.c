/* drill_match.c -- matchers against values: eq and in by JSON type and value,
 * range on numbers, regex (POSIX ERE, compiled by the parser) on strings. */
#include "drill_match.h"

#include <cjson/cJSON.h>
#include <string.h>

static int same(const sim_value *a, const sim_value *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case SIM_VAL_NULL: return 1;
    case SIM_VAL_BOOL:
    case SIM_VAL_NUM: return a->num == b->num;
    case SIM_VAL_STR: return strcmp(a->str, b->str) == 0;
    }
    return 0;
}

int sim_drill_match(const sim_matcher *m, const sim_value *v) {
    switch (m->kind) {
    case SIM_MATCH_EQ: return same(&m->values[0], v);
    case SIM_MATCH_IN:
        for (size_t i = 0; i < m->nvalues; i++)
            if (same(&m->values[i], v)) return 1;
        return 0;
    case SIM_MATCH_RANGE:
        return v->type == SIM_VAL_NUM && v->num >= m->values[0].num && v->num <= m->values[1].num;
    case SIM_MATCH_REGEX:
        return v->type == SIM_VAL_STR && regexec(&m->re, v->str, 0, NULL, 0) == 0;
    }
    return 0;
}

sim_value sim_drill_json_value(const cJSON *v) {
    sim_value out = {.type = SIM_VAL_NULL};
    if (cJSON_IsBool(v)) {
        out.type = SIM_VAL_BOOL;
        out.num = cJSON_IsTrue(v);
    } else if (cJSON_IsNumber(v)) {
        out.type = SIM_VAL_NUM;
        out.num = v->valuedouble;
    } else if (cJSON_IsString(v)) {
        out.type = SIM_VAL_STR;
        out.str = v->valuestring;
    }
    return out;
}

void sim_drill_value_text(const sim_value *v, sim_buf *out) {
    switch (v->type) {
    case SIM_VAL_NULL: sim_buf_puts(out, "null"); break;
    case SIM_VAL_BOOL: sim_buf_puts(out, v->num != 0 ? "true" : "false"); break;
    case SIM_VAL_NUM: sim_buf_printf(out, "%.15g", v->num); break;
    case SIM_VAL_STR: sim_buf_printf(out, "\"%s\"", v->str); break;
    }
}

void sim_drill_matcher_text(const sim_matcher *m, sim_buf *out) {
    switch (m->kind) {
    case SIM_MATCH_EQ: sim_drill_value_text(&m->values[0], out); break;
    case SIM_MATCH_IN:
        sim_buf_puts(out, "one of [");
        for (size_t i = 0; i < m->nvalues; i++) {
            if (i) sim_buf_puts(out, ", ");
            sim_drill_value_text(&m->values[i], out);
        }
        sim_buf_puts(out, "]");
        break;
    case SIM_MATCH_RANGE:
        sim_buf_printf(out, "in [%.15g, %.15g]", m->values[0].num, m->values[1].num);
        break;
    case SIM_MATCH_REGEX: sim_buf_printf(out, "matching /%s/", m->values[0].str); break;
    }
}
