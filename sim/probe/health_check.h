/* health_check.h -- the health probe's verdict, pure: an HTTP answer
 * (status, body, latency) against what is expected of it. */
#ifndef SIM_HEALTH_CHECK_H
#define SIM_HEALTH_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "probe_result.h"

/* A body field that must hold a value: `path` is dotted keys into the JSON
 * body ("status", "checks.redis.status"; a number indexes an array), `value`
 * is compared with the field's text: a string as it is, anything else as
 * compact JSON (true, 900, null). */
typedef struct sim_health_field {
    const char *path;
    const char *value;
} sim_health_field;

typedef struct sim_health_expect {
    int status;                      /* the HTTP status wanted */
    const sim_health_field *fields;  /* borrowed */
    size_t nfields;
    int64_t max_latency_ms;          /* < 0: no bound */
} sim_health_expect;

/* Splits "path=value" at the first '='; both sides borrowed from arg, which
 * is modified. Returns 0, or -1 when there is no '=' or the path is empty. */
int sim_health_field_parse(char *arg, sim_health_field *f);

/* Checks, in order, the status, that the body is JSON (only when fields are
 * expected), each field, then the latency; the first that fails is put into
 * r (stage status | body | field | latency; http_status is always set).
 * Returns 1 when everything holds, else 0. */
int sim_health_check(const sim_health_expect *e, int status, const char *body, size_t len,
                     int64_t latency_ms, sim_probe_result *r);

/* The text of the field at a dotted path in json (a cJSON *), into out;
 * returns 0, or -1 when there is no such field. Shared with the auth probe. */
int sim_health_field_text(const void *json, const char *path, char *out, size_t outlen);

#endif
