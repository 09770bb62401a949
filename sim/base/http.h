/* http.h -- a pure HTTP request/response pair shared by the three HTTP
 * services (backend routes over libwebsockets, auth and control API over
 * libmicrohttpd). Route code takes a request and fills a response; it never
 * sees a socket, so it is unit-testable and every library glue file is thin. */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct sim_http_request sim_http_request;

/* Looks up a request header by case-insensitive name; NULL when absent.
 * The returned string is borrowed, valid for the duration of the request. */
typedef const char *(*sim_http_header_fn)(const sim_http_request *req, const char *name);

struct sim_http_request {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* without the query string */
    const char *query;    /* after '?', or "" */
    const char *body;     /* may be NULL when body_len == 0 */
    size_t body_len;
    int64_t now_ms;       /* the simulator's clock (clock.h) */
    sim_http_header_fn header;
    void *impl;           /* for the glue's header function */
    int64_t arrived_ms;   /* when the request arrived (long polls) */
};

typedef struct sim_http_response {
    int status;
    const char *content_type;   /* static string; default application/json */
    sim_buf body;
    char extra_headers[256];    /* "Name: value\r\n" lines, may be empty */
    /* Long poll: a handler that cannot answer yet sets retry_ms > 0 and
     * leaves the rest alone; the glue holds the connection and calls it
     * again with the same request after retry_ms (req->arrived_ms unchanged). */
    unsigned retry_ms;
} sim_http_response;

void sim_http_response_init(sim_http_response *r);
void sim_http_response_free(sim_http_response *r);

/* Sets status and a JSON body. Takes ownership of json (a cJSON *). */
void sim_http_json(sim_http_response *r, int status, void *json);
/* Sets status and {"detail": text}: the FastAPI shape of every error. */
void sim_http_detail(sim_http_response *r, int status, const char *text);

/* "Authorization: Bearer <t>" -> t (borrowed), else NULL. */
const char *sim_http_bearer(const sim_http_request *req);

/* Copies the URL-decoded value of query parameter `name` into out.
 * Returns 0 when found, -1 when absent or too long. */
int sim_http_query_param(const char *query, const char *name, char *out, size_t outlen);

/* Reason phrase for a status code ("Not Found"). */
const char *sim_http_reason(int status);

/* A complete HTTP/1.1 response with `connection: close`, for the places that
 * write to a socket no HTTP library owns (a refusal, an upgrade answered
 * before lws); extra_headers ("Name: value\r\n" lines) may be NULL. Returns
 * its length (truncated to outlen - 1). */
size_t sim_http_raw(char *out, size_t outlen, int status, const char *ctype,
                    const char *extra_headers, const char *body);

/* Checks a request head (its first byte to its empty line, CRLFs included)
 * the way uvicorn's parser refuses heads: a request line that is not
 * METHOD SP target SP HTTP/d.d, a header line without a name and a colon
 * (folded lines included), a Content-Length that is not digits or two that
 * differ, Content-Length beside Transfer-Encoding, HTTP/1.1 without Host,
 * a NUL byte. Returns 0 for a head fit to be served, else the status to
 * answer (400; 505 for an HTTP version other than 1.0 and 1.1; 501 for a
 * Transfer-Encoding other than chunked) with its reason in *detail
 * (static). */
int sim_http_head_check(const char *head, size_t len, const char **detail);

/* Adds the headers Google's front end put on every staging response
 * (Server: Google Frontend, Via: 1.1 google, an X-Cloud-Trace-Context made
 * from the seed and the request's ordinals) to r->extra_headers. */
void sim_http_front_end_headers(sim_http_response *r, uint64_t seed, uint64_t conn,
                                uint64_t msg);

/* ---- route tables ------------------------------------------------------
 * Every HTTP service answers from a static table of {method, path, handler}
 * ended by a row with a NULL path. A handler gets the service's own context
 * and fills the response. */

typedef void (*sim_route_fn)(void *ctx, const sim_http_request *req, sim_http_response *resp);

typedef struct sim_route {
    const char *method;   /* "GET" also answers HEAD */
    const char *path;     /* exact; a "{}" segment matches one non-empty segment */
    sim_route_fn fn;
    int flags;            /* the service's own (auth required, legacy only, ...) */
} sim_route;

/* Why no row answered: 404 when no row has the path, 405 when rows have it
 * under other methods (then listed in allow, "GET, POST"). */
typedef struct sim_route_miss {
    int status;
    char allow[64];
} sim_route_miss;

/* The first row for req's method and path, ignoring rows with any of
 * skip_flags; NULL with miss filled when there is none. */
const sim_route *sim_route_find(const sim_route *table, const sim_http_request *req,
                                int skip_flags, sim_route_miss *miss);
/* Copies the "{}" segment of path under r's pattern into out. 0, or -1 when
 * r has none or it does not fit in outlen - 1 bytes. */
int sim_route_param(const sim_route *r, const char *path, char *out, size_t outlen);

#endif
