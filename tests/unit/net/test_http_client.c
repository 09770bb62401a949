/* test_http_client.c -- the HTTP reply parser of sim/net/http_client.c. */
#include <string.h>

#include "http_client.h"
#include "tap.h"

static int parse(const char *text, int eof, int *status, size_t *off, size_t *len) {
    return sim_http_reply_parse(text, strlen(text), eof, status, off, len);
}

int main(void) {
    int st = 0;
    size_t off = 0, len = 0;
    const char *ok200 = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: 13\r\n\r\n{\"valid\":true}";
    is_int(parse(ok200, 0, &st, &off, &len), 1, "complete by Content-Length");
    is_int(st, 200, "status");
    is_int(len, 13, "body length from Content-Length, not what follows");
    ok(strncmp(ok200 + off, "{\"valid\":true", 13) == 0, "body offset");
    is_int(parse("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nshort", 0, &st, &off, &len), 0,
           "short body: more needed");
    is_int(parse("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nshort", 1, &st, &off, &len), -1,
           "short body at eof: broken");
    is_int(parse("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 19\r\n\r\nService Unavailable",
                 0, &st, &off, &len), 1, "lower-case header name");
    is_int(st, 503, "a 503");
    is_int(parse("HTTP/1.0 200 OK\r\n\r\nto the end", 0, &st, &off, &len), 0,
           "no length: read to the end");
    is_int(parse("HTTP/1.0 200 OK\r\n\r\nto the end", 1, &st, &off, &len), 1, "complete at eof");
    is_int(len, 10, "the rest is the body");
    is_int(parse("HTTP/1.1 200 OK\r\nContent-", 0, &st, &off, &len), 0, "head incomplete");
    is_int(parse("SSH-2.0-OpenSSH\r\n\r\n", 0, &st, &off, &len), -1, "not HTTP");
    is_int(parse("HTTP/1.1 999 Nope\r\n\r\n", 1, &st, &off, &len), -1, "status out of range");
    is_int(parse("HTTP/1.1 abc\r\n\r\n", 1, &st, &off, &len), -1, "no status");
    is_int(parse("", 1, &st, &off, &len), -1, "nothing at eof");
    return tap_done();
}
