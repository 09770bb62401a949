/* fuzz_common.h -- what the libFuzzer harnesses share: a check that aborts
 * (so libFuzzer reports the input), a UTF-8 validator written apart from
 * sim/base/utf8.c (so a bug there cannot hide itself), the "every byte that
 * goes out" check on a sim_http_response, and the text framing that turns
 * one input into a few HTTP requests. Everything is static inline: each
 * harness uses only part of it. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "util.h"

/* An invariant the code under test broke: abort() is what libFuzzer turns
 * into a crash report with the input saved. */
#define FZ_CHECK(cond)                                                                 \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* Length of the well-formed UTF-8 sequence at s (n bytes readable), or 0.
 * Straight from Unicode's table 3-7 of well-formed byte sequences: no
 * overlongs, no surrogates, nothing past U+10FFFF. */
static inline size_t fz_utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) len = 3, lo = 0xa0;
    else if (c == 0xed) len = 3, hi = 0x9f;
    else if (c >= 0xe1 && c <= 0xef) len = 3;
    else if (c == 0xf0) len = 4, lo = 0x90;
    else if (c == 0xf4) len = 4, hi = 0x8f;
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

static inline int fz_utf8_ok(const char *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = fz_utf8_seq(s + i, n - i))) return 0;
    return 1;
}

/* For harnesses that load a scenario: its secret and E2E key decide (the
 * auth store prefers these variables to them), and only errors are logged. */
static inline void fz_scenario_decides(void) {
    unsetenv("JWT_SECRET_STAGING");
    unsetenv("JWT_SECRET_KEY");
    unsetenv("E2E_OAUTH_SIMULATION_KEY");
    sim_log_set_level(SIM_LOG_ERROR);
}

/* n bytes of JSON text, all of them one value. */
static inline int fz_json_ok(const char *p, size_t n) {
    const char *end = NULL;
    cJSON *j = n ? cJSON_ParseWithLengthOpts(p, n, &end, 0) : NULL;
    int ok = j && end == p + n;
    cJSON_Delete(j);
    return ok;
}

/* What issue 10 asks of every reply: a status, a body of valid UTF-8 with
 * no NUL, valid JSON when the content type says JSON (one value per line
 * for NDJSON), and extra headers that are whole "Name: value\r\n" lines
 * (no CR or LF a client put there). A long poll that asks to be called
 * again has no reply yet. */
static inline void fz_check_response(const sim_http_response *r) {
    if (r->retry_ms) return;
    FZ_CHECK(r->status >= 100 && r->status <= 599);
    const char *body = r->body.data ? r->body.data : "";
    size_t len = r->body.len;
    FZ_CHECK(memchr(body, '\0', len) == NULL);
    FZ_CHECK(fz_utf8_ok(body, len));
    const char *ct = r->content_type ? r->content_type : "application/json";
    if (strstr(ct, "ndjson")) {
        for (const char *p = body, *nl; p < body + len; p = nl + 1) {
            nl = memchr(p, '\n', (size_t)(body + len - p));
            FZ_CHECK(nl && fz_json_ok(p, (size_t)(nl - p)));
        }
    } else if (strstr(ct, "json")) {
        FZ_CHECK(fz_json_ok(body, len));
    }
    const char *h = r->extra_headers;
    FZ_CHECK(memchr(h, '\0', sizeof r->extra_headers) != NULL);
    for (const char *eol; *h; h = eol + 2) {
        eol = strstr(h, "\r\n");
        const char *colon = strchr(h, ':');
        FZ_CHECK(eol && colon && colon < eol && colon > h);
        for (const char *c = h; c < eol; c++)
            FZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
    }
}

/* ---- requests from text -------------------------------------------------
 * One input is up to FZ_MAX_REQS requests separated by a line "%%":
 *
 *     METHOD PATH[?QUERY]
 *     Name: value            (zero or more header lines)
 *                            (an empty line)
 *     body bytes, any, up to the next "\n%%\n"
 *
 * In header values and bodies "$A", "$R" and "$E" stand for the harness's
 * current access token, refresh token and an expired access token: the
 * fuzzer cannot forge an HMAC, and without real tokens the routes behind a
 * token check would never run. */

#define FZ_MAX_REQS 6
#define FZ_MAX_HEADERS 12

typedef struct fz_request {
    sim_http_request req;        /* first: the header callback casts back */
    sim_buf line;                /* method, path and query, NUL-separated */
    char *names[FZ_MAX_HEADERS], *values[FZ_MAX_HEADERS];
    size_t nheaders;
    char *body;                  /* exactly body_len bytes: ASan sees a read past it */
} fz_request;

static inline const char *fz_header(const sim_http_request *req, const char *name) {
    const fz_request *f = (const fz_request *)req;
    for (size_t i = 0; i < f->nheaders; i++)
        if (sim_strcaseeq(f->names[i], name)) return f->values[i];
    return NULL;
}

/* Copies n bytes of s into out with the token markers replaced. */
static inline void fz_subst(sim_buf *out, const char *s, size_t n, const char *const tokens[3]) {
    out->len = 0;
    sim_buf_append(out, "", 0);
    for (size_t i = 0; i < n; i++) {
        const char *m = i + 1 < n && s[i] == '$' ? strchr("ARE", s[i + 1]) : NULL;
        if (m && s[i + 1]) {
            sim_buf_puts(out, tokens[m - "ARE"]);
            i++;
        } else {
            sim_buf_append(out, s + i, 1);
        }
    }
}

/* Parses one request from s[0..n) (the separator already cut off). */
static inline void fz_request_parse(fz_request *f, const char *s, size_t n, int64_t now_ms,
                                    const char *const tokens[3]) {
    memset(f, 0, sizeof *f);
    const char *end = s + n, *eol = memchr(s, '\n', n);
    if (!eol) eol = end;
    /* "METHOD PATH?QUERY" -> "METHOD\0PATH\0QUERY\0" */
    sim_buf_append(&f->line, s, (size_t)(eol - s));
    char *line = f->line.data;
    size_t ll = strlen(line);   /* a NUL in the line ends it */
    char *sp = strchr(line, ' ');
    char *path = sp ? (*sp = '\0', sp + 1) : line + ll;
    char *q = strchr(path, '?');
    f->req.method = line;
    f->req.path = path;
    f->req.query = q ? (*q = '\0', q + 1) : "";
    f->req.now_ms = f->req.arrived_ms = now_ms;
    f->req.header = fz_header;
    const char *p = eol < end ? eol + 1 : end;
    sim_buf tmp = {0};
    while (p < end && *p != '\n') {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && f->nheaders < FZ_MAX_HEADERS) {
            const char *v = colon + 1;
            while (v < eol && *v == ' ') v++;
            f->names[f->nheaders] = sim_xstrndup(p, (size_t)(colon - p));
            fz_subst(&tmp, v, (size_t)(eol - v), tokens);
            f->values[f->nheaders++] = sim_xstrdup(tmp.data);
        }
        p = eol < end ? eol + 1 : end;
    }
    if (p < end) p++;   /* the empty line */
    fz_subst(&tmp, p, (size_t)(end - p), tokens);
    if (tmp.len) {
        f->body = sim_xmalloc(tmp.len);
        memcpy(f->body, tmp.data, tmp.len);
    }
    f->req.body = f->body;
    f->req.body_len = tmp.len;
    sim_buf_free(&tmp);
}

static inline void fz_request_free(fz_request *f) {
    sim_buf_free(&f->line);
    for (size_t i = 0; i < f->nheaders; i++) {
        free(f->names[i]);
        free(f->values[i]);
    }
    free(f->body);
}

/* Splits data into requests and calls fn on each; fn gets a response to
 * fill and the harness checks it after. Returns the number of requests. */
typedef void (*fz_handler)(void *ctx, fz_request *f, sim_http_response *r);

static inline size_t fz_run_requests(const uint8_t *data, size_t size, int64_t now_ms,
                                     const char *const tokens[3], fz_handler fn, void *ctx) {
    const char *s = (const char *)data, *end = s + size;
    size_t k = 0;
    while (k < FZ_MAX_REQS && (s < end || k == 0)) {
        const char *sep = memmem(s, (size_t)(end - s), "\n%%\n", 4);
        const char *stop = sep ? sep : end;
        fz_request f;
        fz_request_parse(&f, s, (size_t)(stop - s), now_ms + (int64_t)k * 1000, tokens);
        sim_http_response r;
        sim_http_response_init(&r);
        fn(ctx, &f, &r);
        fz_check_response(&r);
        sim_http_response_free(&r);
        fz_request_free(&f);
        k++;
        if (!sep) break;
        s = sep + 4;
    }
    return k;
}

#endif
