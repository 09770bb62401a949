/* http.c -- helpers for the pure request/response pair of http.h. */
#include "http.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void sim_http_response_init(sim_http_response *r) {
    memset(r, 0, sizeof(*r));
    r->status = 200;
    r->content_type = "application/json";
}

void sim_http_response_free(sim_http_response *r) {
    sim_buf_free(&r->body);
}

void sim_http_json(sim_http_response *r, int status, void *json) {
    cJSON *j = json;
    char *text = cJSON_PrintUnformatted(j);
    r->status = status;
    r->content_type = "application/json";
    r->body.len = 0;
    sim_buf_puts(&r->body, text ? text : "null");
    sim_utf8_fix_json(&r->body, 0);
    free(text);
    cJSON_Delete(j);
}

void sim_http_detail(sim_http_response *r, int status, const char *text) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "detail", text);
    sim_http_json(r, status, j);
}

const char *sim_http_bearer(const sim_http_request *req) {
    const char *h = req->header ? req->header(req, "Authorization") : NULL;
    if (!h || !sim_strncaseeq(h, "Bearer ", 7)) return NULL;
    h += 7;
    while (*h == ' ') h++;
    return *h ? h : NULL;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int sim_http_query_param(const char *query, const char *name, char *out, size_t outlen) {
    size_t nlen = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t seglen = end ? (size_t)(end - p) : strlen(p);
        if (seglen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1, *vend = p + seglen;
            size_t o = 0;
            while (v < vend) {
                int c = (unsigned char)*v;
                if (c == '%' && vend - v >= 3 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                    c = hexval(v[1]) * 16 + hexval(v[2]);
                    v += 3;
                } else {
                    if (c == '+') c = ' ';
                    v++;
                }
                if (o + 1 >= outlen) return -1;
                out[o++] = (char)c;
            }
            out[o] = '\0';
            return 0;
        }
        p = end ? end + 1 : NULL;
    }
    return -1;
}

const char *sim_http_reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* ---- route tables ---------------------------------------------------------- */

/* Matches path against pattern, where a "{}" segment stands for one
 * non-empty segment; *param and *paramlen get that segment (NULL/0 when the
 * pattern has none). */
static int path_match(const char *pattern, const char *path, const char **param,
                      size_t *paramlen) {
    *param = NULL;
    *paramlen = 0;
    while (*pattern && *path) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            size_t n = strcspn(path, "/");
            if (!n) return 0;
            *param = path;
            *paramlen = n;
            pattern += 2;
            path += n;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*pattern && !*path;
}

static int method_ok(const char *route_method, const char *method) {
    return strcmp(route_method, method) == 0 ||
           (strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

const sim_route *sim_route_find(const sim_route *table, const sim_http_request *req,
                                int skip_flags, sim_route_miss *miss) {
    const char *param;
    size_t paramlen;
    memset(miss, 0, sizeof(*miss));
    miss->status = 404;
    for (const sim_route *r = table; r->path; r++) {
        if ((r->flags & skip_flags) || !path_match(r->path, req->path, &param, &paramlen))
            continue;
        if (method_ok(r->method, req->method)) return r;
        miss->status = 405;
        size_t used = strlen(miss->allow);
        if (used + strlen(r->method) + 3 < sizeof(miss->allow))
            snprintf(miss->allow + used, sizeof(miss->allow) - used, "%s%s", used ? ", " : "",
                     r->method);
    }
    return NULL;
}

int sim_route_param(const sim_route *r, const char *path, char *out, size_t outlen) {
    const char *param;
    size_t n;
    if (!path_match(r->path, path, &param, &n) || !param || n >= outlen) return -1;
    memcpy(out, param, n);
    out[n] = '\0';
    return 0;
}

/* ---- Google's front end ------------------------------------------------- */

void sim_http_front_end_headers(sim_http_response *r, uint64_t seed, uint64_t conn,
                                uint64_t msg) {
    char trace[33];
    sim_hex(trace, 32, sim_mix(seed, "trace", conn, msg));
    uint64_t span = sim_mix(seed, "span", conn, msg) >> 1;
    size_t used = strlen(r->extra_headers);
    snprintf(r->extra_headers + used, sizeof(r->extra_headers) - used,
             "Server: Google Frontend\r\nVia: 1.1 google\r\nX-Cloud-Trace-Context: %s/%llu;o=1\r\n",
             trace, (unsigned long long)span);
}

size_t sim_http_raw(char *out, size_t outlen, int status, const char *ctype,
                    const char *extra_headers, const char *body) {
    int n = snprintf(out, outlen,
                     "HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n"
                     "%sconnection: close\r\n\r\n%s",
                     status, sim_http_reason(status), ctype, strlen(body),
                     extra_headers ? extra_headers : "", body);
    return n < 0 ? 0 : ((size_t)n < outlen ? (size_t)n : outlen - 1);
}

/* ---- request heads ---------------------------------------------------------- */

/* RFC 9110 tchar: what a method or a header name is made of. */
static int is_tchar(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int refuse_head(const char **detail, int status, const char *text) {
    *detail = text;
    return status;
}

int sim_http_head_check(const char *head, size_t len, const char **detail) {
    const char *end = head + len, *eol = NULL;
    for (const char *p = head; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n') {
            eol = p;
            break;
        }
    if (!eol || memchr(head, '\0', len)) return refuse_head(detail, 400, "Bad Request");
    /* METHOD SP target SP HTTP/d.d */
    const char *p = head;
    while (p < eol && is_tchar((unsigned char)*p)) p++;
    if (p == head || p == eol || *p != ' ') return refuse_head(detail, 400, "Bad Request");
    const char *target = ++p;
    while (p < eol && (unsigned char)*p > ' ' && *p != 0x7f) p++;
    if (p == target || p == eol || *p != ' ') return refuse_head(detail, 400, "Bad Request");
    const char *ver = ++p;
    if (eol - ver != 8 || memcmp(ver, "HTTP/", 5) != 0 || !isdigit((unsigned char)ver[5]) ||
        ver[6] != '.' || !isdigit((unsigned char)ver[7]))
        return refuse_head(detail, 400, "Bad Request");
    if (ver[5] != '1' || (ver[7] != '0' && ver[7] != '1'))
        return refuse_head(detail, 505, "HTTP Version Not Supported");
    int http11 = ver[7] == '1', host = 0, te = 0, cl = 0, blank = 0;
    long long clen = -1;
    /* name ":" value, one a line; the head ends with an empty line. */
    for (const char *line = eol + 2; line < end; line = eol + 2) {
        eol = NULL;
        for (const char *q = line; q + 1 < end; q++)
            if (q[0] == '\r' && q[1] == '\n') {
                eol = q;
                break;
            }
        if (!eol) return refuse_head(detail, 400, "Bad Request");
        if (eol == line) {
            blank = 1;
            break;
        }
        const char *q = line;
        while (q < eol && is_tchar((unsigned char)*q)) q++;
        /* No name, no colon, a space before it, or a folded line. */
        if (q == line || q == eol || *q != ':') return refuse_head(detail, 400, "Bad Request");
        size_t nl = (size_t)(q - line);
        const char *v = q + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        if (nl == 4 && sim_strncaseeq(line, "host", 4)) host = 1;
        if (nl == 17 && sim_strncaseeq(line, "transfer-encoding", 17)) {
            if (te || ve - v != 7 || !sim_strncaseeq(v, "chunked", 7))
                return refuse_head(detail, 501, "Not Implemented");
            te = 1;
        }
        if (nl == 14 && sim_strncaseeq(line, "content-length", 14)) {
            long long n = 0;
            if (v == ve || ve - v > 18) return refuse_head(detail, 400, "Bad Request");
            for (const char *d = v; d < ve; d++) {
                if (!isdigit((unsigned char)*d)) return refuse_head(detail, 400, "Bad Request");
                n = n * 10 + (*d - '0');
            }
            /* The same length twice is one length (RFC 9110 8.6); two are
             * a request smuggler's. */
            if (cl && n != clen) return refuse_head(detail, 400, "Bad Request");
            cl = 1;
            clen = n;
        }
    }
    if (!blank) return refuse_head(detail, 400, "Bad Request");
    if (te && cl) return refuse_head(detail, 400, "Bad Request");
    if (http11 && !host) return refuse_head(detail, 400, "Bad Request");
    return 0;
}
