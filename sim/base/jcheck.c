/* jcheck.c -- typed, path-naming accessors for validating JSON configuration;
 * shared by the scenario loader and the fault rule parser so that both
 * speak with one voice. */
#include "jcheck.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define PATH_MAX_LEN 256

int sim_jcheck_fail(sim_jcheck *c, const char *path, const char *fmt, ...) {
    if (c->failed) return -1;
    c->failed = 1;
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    const char *origin = c->origin ? c->origin : "";
    const char *osep = c->origin ? ": " : "";
    if (path && *path)
        snprintf(c->err, c->errlen, "%s%s%s: %s", origin, osep, path, reason);
    else
        snprintf(c->err, c->errlen, "%s%s%s", origin, osep, reason);
    return -1;
}

const char *sim_jcheck_type(const cJSON *v) {
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

void sim_jcheck_join(char *out, size_t outlen, const char *path, const char *key) {
    if (path && *path)
        snprintf(out, outlen, "%s.%s", path, key);
    else
        snprintf(out, outlen, "%s", key);
}

int sim_jcheck_object(sim_jcheck *c, const cJSON *v, const char *path) {
    if (cJSON_IsObject(v)) return 0;
    return sim_jcheck_fail(c, path, "must be an object, not %s", sim_jcheck_type(v));
}

int sim_jcheck_keys(sim_jcheck *c, const cJSON *obj, const char *path, const char *const *allowed) {
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, it->string) != 0) a++;
        if (!*a) {
            char p[PATH_MAX_LEN];
            sim_jcheck_join(p, sizeof(p), path, it->string);
            return sim_jcheck_fail(c, p, "unknown key");
        }
    }
    return 0;
}

int sim_jcheck_string(sim_jcheck *c, const cJSON *obj, const char *path, const char *key,
                      char **dst, int required) {
    char p[PATH_MAX_LEN];
    sim_jcheck_join(p, sizeof(p), path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return required ? sim_jcheck_fail(c, p, "is required") : 0;
    if (!cJSON_IsString(v)) return sim_jcheck_fail(c, p, "must be a string, not %s", sim_jcheck_type(v));
    if (required && !*v->valuestring) return sim_jcheck_fail(c, p, "must not be empty");
    free(*dst);
    *dst = sim_xstrdup(v->valuestring);
    return 0;
}

int sim_jcheck_number(sim_jcheck *c, const cJSON *obj, const char *path, const char *key,
                      double min, double max, int integer, double *dst, int *present) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (present) *present = v != NULL;
    if (!v) return 0;
    char p[PATH_MAX_LEN];
    sim_jcheck_join(p, sizeof(p), path, key);
    if (!cJSON_IsNumber(v)) return sim_jcheck_fail(c, p, "must be a number, not %s", sim_jcheck_type(v));
    double d = v->valuedouble;
    if (integer && d != floor(d)) return sim_jcheck_fail(c, p, "must be an integer");
    if (d < min) return sim_jcheck_fail(c, p, integer ? "must be >= %.0f" : "must be >= %g", min);
    if (d > max) return sim_jcheck_fail(c, p, integer ? "must be <= %.0f" : "must be <= %g", max);
    *dst = d;
    return 0;
}

int sim_jcheck_strings(sim_jcheck *c, const cJSON *obj, const char *path, const char *key,
                       char ***dst, size_t *n, int nonempty) {
    char p[PATH_MAX_LEN];
    sim_jcheck_join(p, sizeof(p), path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return 0;
    if (!cJSON_IsArray(v)) return sim_jcheck_fail(c, p, "must be an array, not %s", sim_jcheck_type(v));
    size_t count = (size_t)cJSON_GetArraySize(v);
    if (nonempty && count == 0) return sim_jcheck_fail(c, p, "must not be empty");
    for (size_t i = 0; i < *n; i++) free((*dst)[i]);
    free(*dst);
    *dst = sim_xcalloc(count ? count : 1, sizeof(char *));
    *n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsString(it) || !*it->valuestring) {
            char ip[PATH_MAX_LEN + 24];
            snprintf(ip, sizeof(ip), "%s[%zu]", p, *n);
            return sim_jcheck_fail(c, ip, "must be a non-empty string");
        }
        (*dst)[(*n)++] = sim_xstrdup(it->valuestring);
    }
    return 0;
}

cJSON *sim_jcheck_parse(const char *data, size_t len, size_t *error_at) {
    const char *end = NULL;
    cJSON *j = data ? cJSON_ParseWithLengthOpts(data, len, &end, 0) : NULL;
    if (j && end) {
        for (const char *p = end; p < data + len; p++)
            if (!strchr(" \t\r\n", *p) || !*p) {
                cJSON_Delete(j);
                j = NULL;
                end = p;
                break;
            }
    }
    if (!j && error_at) *error_at = end && data && end >= data ? (size_t)(end - data) : 0;
    return j;
}
