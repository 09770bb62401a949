/* test_http.c -- the pure HTTP request helpers. */
#include "http.h"
#include "tap.h"

#include <string.h>

static void test_query(void) {
    char v[64];
    is_int(sim_http_query_param("a=1&token=ab%2Bc+d&x=", "token", v, sizeof(v)), 0, "param found");
    is_str(v, "ab+c d", "param decoded");
    is_int(sim_http_query_param("tokenx=1", "token", v, sizeof(v)), -1, "prefix is not a match");
    is_int(sim_http_query_param("", "token", v, sizeof(v)), -1, "empty query");
    is_int(sim_http_query_param("token=0123456789", "token", v, 5), -1, "too long is refused");
}

/* Each head with the status sim_http_head_check gives it. */
static void test_head_check(void) {
    static const struct { const char *head; int status; } cases[] = {
        {"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"GET /health HTTP/1.0\r\n\r\n", 0},
        {"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\ncontent-length:3\r\n\r\n", 0},
        {"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", 0},
        {"GET /a?x=%zz HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n", 0},
        {"GARBAGE\r\n\r\n", 400},
        {"GET /health\r\n\r\n", 400},
        {"GET  /health HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"GET /health HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400},
        {"GET /health HTTP/1.1\r\n\r\n", 400},
        {"GET /health HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", 400},
        {"GET /health HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        {"GET /health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
        {"GET /health HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n", 400},
        {"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n", 400},
        {"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
        {"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
        {"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"GET /health HTTP/0.9\r\nHost: x\r\n\r\n", 505},
        {"\r\n\r\n", 400},
        {"GET /health HTTP/1.1\r\nHost: x\r\n", 400},   /* no empty line */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = NULL;
        int st = sim_http_head_check(cases[i].head, strlen(cases[i].head), &why);
        is_int(st, cases[i].status, "head %zu: %s", i, cases[i].head);
        ok(st == 0 || (why && *why), "head %zu has a reason", i);
    }
    const char *why;
    is_int(sim_http_head_check("GET / HTTP/1.1\r\nHost: x\0\r\n\r\n", 24, &why), 400, "a NUL byte");
    is_str(sim_http_reason(431), "Request Header Fields Too Large", "431's reason");
    is_str(sim_http_reason(505), "HTTP Version Not Supported", "505's reason");
}

int main(void) {
    test_query();
    test_head_check();
    return tap_done();
}
