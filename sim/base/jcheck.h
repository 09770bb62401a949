/* jcheck.h -- validating JSON configuration (scenario files, fault rules)
 * before it is used. Every error names the JSON path and the reason, after
 * an optional origin: "scenarios/x.json: agent.gap_ms: must be >= 0". Only
 * the first error is kept. */
#ifndef SIM_JCHECK_H
#define SIM_JCHECK_H

#include <stddef.h>

typedef struct cJSON cJSON;

typedef struct sim_jcheck {
    const char *origin;   /* file name put before every message, or NULL */
    char *err;
    size_t errlen;
    int failed;
} sim_jcheck;

/* Parses exactly one JSON value from the len bytes at data: trailing bytes
 * other than whitespace make it invalid (cJSON alone accepts
 * `{"type":"ping"} garbage`). NULL on error, with the offset of the first
 * byte that is wrong in *error_at (may be NULL). Caller frees. */
cJSON *sim_jcheck_parse(const char *data, size_t len, size_t *error_at);

/* Records "origin: path: reason" (path may be empty). Returns -1. */
int sim_jcheck_fail(sim_jcheck *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "a string", "an object", ... for messages. */
const char *sim_jcheck_type(const cJSON *v);
/* path + "." + key, or key alone when path is empty. */
void sim_jcheck_join(char *out, size_t outlen, const char *path, const char *key);

/* Each returns 0, or -1 with the error recorded. Absent optional members
 * leave *dst alone. */
int sim_jcheck_object(sim_jcheck *c, const cJSON *v, const char *path);
/* Every key of obj must be in allowed (NULL-terminated). */
int sim_jcheck_keys(sim_jcheck *c, const cJSON *obj, const char *path, const char *const *allowed);
/* A string member; required ones must be present and non-empty. *dst is
 * replaced by a copy the caller frees. */
int sim_jcheck_string(sim_jcheck *c, const cJSON *obj, const char *path, const char *key,
                      char **dst, int required);
/* A number member in [min, max], integral when `integer`. *present (may be
 * NULL) tells whether it was there. */
int sim_jcheck_number(sim_jcheck *c, const cJSON *obj, const char *path, const char *key,
                      double min, double max, int integer, double *dst, int *present);
/* An array of non-empty strings (non-empty itself when `nonempty`); replaces
 * *dst / *n, which the caller frees string by string. */
int sim_jcheck_strings(sim_jcheck *c, const cJSON *obj, const char *path, const char *key,
                       char ***dst, size_t *n, int nonempty);

#endif
