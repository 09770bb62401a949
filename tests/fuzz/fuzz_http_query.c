/* fuzz_http_query.c -- libFuzzer harness for the pure HTTP helpers every
 * service routes with: sim_http_query_param and sim_route_find /
 * sim_route_param on arbitrary paths and queries, and utf8.h on what they
 * give back, since decoded values are what error bodies and journal lines
 * echo. Input: byte 0 picks the output size and the skipped route flags,
 * then "NAME\nMETHOD PATH?QUERY". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "http.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void none(void *ctx, const sim_http_request *req, sim_http_response *resp) {
    (void)ctx, (void)req, (void)resp;
}

/* Shapes the services' tables use: exact paths, a "{}" segment in the
 * middle, at the end, alone, before a trailing slash. Flags 1-4 let byte 0
 * skip rows. */
static const sim_route routes[] = {
    {"GET", "/faults", none, 0},          {"POST", "/faults", none, 1},
    {"GET", "/faults/{}", none, 2},       {"DELETE", "/faults/{}", none, 0},
    {"GET", "/api/threads/{}/messages", none, 4}, {"POST", "/x/{}/", none, 0},
    {"PUT", "/{}", none, 1},              {"GET", "/", none, 0},
    {NULL, NULL, NULL, 0},
};

/* A '&'-separated segment of query that starts "name=". Written apart
 * from http.c. */
static int has_param(const char *query, const char *name) {
    size_t n = strlen(name);
    for (const char *p = query;; p++) {
        size_t seg = strcspn(p, "&");
        if (seg > n && strncmp(p, name, n) == 0 && p[n] == '=') return 1;
        if (!p[seg]) return 0;
        p += seg;
    }
}

/* A match is the pattern with its "{}" replaced by the segment it took. */
static void check_route(const sim_route *r, const sim_http_request *req) {
    FZ_CHECK(strcmp(r->method, req->method) == 0 ||
             (strcmp(r->method, "GET") == 0 && strcmp(req->method, "HEAD") == 0));
    char seg[64];
    const char *hole = strstr(r->path, "{}");
    if (!hole) {
        FZ_CHECK(strcmp(r->path, req->path) == 0);
        return;
    }
    if (sim_route_param(r, req->path, seg, sizeof seg) != 0) {
        FZ_CHECK(strlen(req->path) >= sizeof seg);   /* only a segment too long fails */
        return;
    }
    FZ_CHECK(seg[0] && !strchr(seg, '/'));
    sim_buf b = {0};
    sim_buf_printf(&b, "%.*s%s%s", (int)(hole - r->path), r->path, seg, hole + 2);
    FZ_CHECK(strcmp(b.data, req->path) == 0);
    sim_buf_free(&b);
}

static void check_value(const char *v) {
    /* As a journal line member and as an error body: valid JSON, UTF-8. */
    sim_buf b = {0};
    sim_buf_puts(&b, "{\"t\":1");
    sim_json_member(&b, "v", v);
    sim_buf_puts(&b, "}");
    FZ_CHECK(fz_utf8_ok(b.data, b.len) && fz_json_ok(b.data, b.len));
    sim_buf_free(&b);
    sim_http_response r;
    sim_http_response_init(&r);
    sim_http_detail(&r, 422, v);
    fz_check_response(&r);
    sim_http_response_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t outlen = data[0] % 64 + 1;
    char *text = sim_xstrndup((const char *)data + 1, size - 1);
    /* utf8.h against the validator of fuzz_common.h, at every offset. */
    for (size_t i = 0; i < size - 1; i++)
        FZ_CHECK(sim_utf8_len((const unsigned char *)text + i) ==
                 fz_utf8_seq((const unsigned char *)text + i, size - 1 - i));
    char *nl = strchr(text, '\n');
    const char *name = text, *line = nl ? (*nl = '\0', nl + 1) : "";
    char *method = sim_xstrdup(line), *sp = strchr(method, ' ');
    char *path = sp ? (*sp = '\0', sp + 1) : method + strlen(method);
    char *q = strchr(path, '?');
    const char *query = q ? (*q = '\0', q + 1) : "";

    char *big = sim_xmalloc(size + 1), *small = sim_xmalloc(outlen);
    int found = sim_http_query_param(query, name, big, size + 1) == 0;
    FZ_CHECK(found == has_param(query, name));
    if (sim_http_query_param(query, name, small, outlen) == 0)
        FZ_CHECK(found && strlen(small) < outlen && strcmp(small, big) == 0);
    if (found) check_value(big);

    sim_http_request req = {.method = method, .path = path, .query = query};
    sim_route_miss miss;
    int skip = data[0] >> 6 ? 1 << ((data[0] >> 6) - 1) : 0;
    const sim_route *r = sim_route_find(routes, &req, skip, &miss);
    if (r) {
        FZ_CHECK(!(r->flags & skip));
        check_route(r, &req);
    } else {
        FZ_CHECK(memchr(miss.allow, '\0', sizeof miss.allow));
        FZ_CHECK((miss.status == 404 && !miss.allow[0]) || (miss.status == 405 && miss.allow[0]));
    }
    free(big);
    free(small);
    free(method);
    free(text);
    return 0;
}
