/* health_check.c -- status, body fields and latency of one HTTP answer. */
#include "health_check.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sim_health_field_parse(char *arg, sim_health_field *f) {
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return -1;
    *eq = '\0';
    f->path = arg;
    f->value = eq + 1;
    return 0;
}

/* The member named by one path segment: a key of an object, an index of an
 * array. */
static const cJSON *step_into(const cJSON *node, const char *seg, size_t len) {
    char key[256];
    if (len >= sizeof(key)) return NULL;
    memcpy(key, seg, len);
    key[len] = '\0';
    if (cJSON_IsObject(node)) return cJSON_GetObjectItemCaseSensitive(node, key);
    if (!cJSON_IsArray(node) || !len) return NULL;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)key[i])) return NULL;
    return cJSON_GetArrayItem(node, atoi(key));
}

int sim_health_field_text(const void *json, const char *path, char *out, size_t outlen) {
    const cJSON *node = json;
    for (const char *seg = path; node;) {
        const char *dot = strchr(seg, '.');
        size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
        node = step_into(node, seg, len);
        if (!dot) break;
        seg = dot + 1;
    }
    if (!node) return -1;
    if (cJSON_IsString(node)) {
        snprintf(out, outlen, "%s", node->valuestring);
        return 0;
    }
    char *s = cJSON_PrintUnformatted(node);
    sim_assert(s);
    snprintf(out, outlen, "%s", s);
    free(s);
    return 0;
}

/* The first expected field that is absent or holds another value; 1 when
 * all hold. */
static int check_fields(const sim_health_expect *e, const cJSON *body, sim_probe_result *r) {
    for (size_t i = 0; i < e->nfields; i++) {
        const sim_health_field *f = &e->fields[i];
        char got[128];
        int found = sim_health_field_text(body, f->path, got, sizeof(got)) == 0;
        if (found && strcmp(got, f->value) == 0) continue;
        if (found) sim_probe_fail(r, "field", "field", "%s is \"%s\"", f->path, got);
        else sim_probe_fail(r, "field", "field", "%s missing", f->path);
        SIM_PROBE_SET(r->field, f->path);
        SIM_PROBE_SET(r->expected, f->value);
        SIM_PROBE_SET(r->got, found ? got : "");
        return 0;
    }
    return 1;
}

int sim_health_check(const sim_health_expect *e, int status, const char *body, size_t len,
                     int64_t latency_ms, sim_probe_result *r) {
    r->http_status = status;
    if (status != e->status) {
        sim_probe_fail(r, "status", "status", "HTTP %d", status);
        snprintf(r->expected, sizeof(r->expected), "%d", e->status);
        snprintf(r->got, sizeof(r->got), "%d", status);
        return 0;
    }
    if (e->nfields) {
        cJSON *j = cJSON_ParseWithLength(body ? body : "", len);
        int held = 0;
        if (!j) {
            sim_probe_fail(r, "body", "body", "the body is not JSON");
            SIM_PROBE_SET(r->expected, "a JSON body");
        } else {
            held = check_fields(e, j, r);
        }
        cJSON_Delete(j);
        if (!held) return 0;
    }
    if (e->max_latency_ms >= 0 && latency_ms > e->max_latency_ms) {
        sim_probe_fail(r, "latency", "latency", "answered in %lld ms", (long long)latency_ms);
        snprintf(r->expected, sizeof(r->expected), "<= %lld ms", (long long)e->max_latency_ms);
        snprintf(r->got, sizeof(r->got), "%lld ms", (long long)latency_ms);
        return 0;
    }
    r->ok = 1;
    return 1;
}
