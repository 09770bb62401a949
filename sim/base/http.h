/* http.h -- a pure HTTP request/response pair shared by the three HTTP
 * services (backend routes over libwebsockets, auth and control API over
 * libmicrohttpd). Route code takes a request and fills a response; it never
 * sees a socket, so it is unit-testable and every library glue file is thin. */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include <stddef.h>
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
    double now;           /* epoch seconds, from the loop */
    sim_http_header_fn header;
    void *impl;           /* for the glue's header function */
    double arrived;       /* loop time the request arrived (long polls) */
};

typedef struct sim_http_response {
    int status;
    const char *content_type;   /* static string; default application/json */
    sim_buf body;
    char extra_headers[256];    /* "Name: value\r\n" lines, may be empty */
    /* Long poll: a handler that cannot answer yet sets retry_ms > 0 and
     * leaves the rest alone; the glue holds the connection and calls it
     * again with the same request after retry_ms (req->arrived unchanged). */
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

#endif
