/* test_http.c -- the pure HTTP request helpers. */
#include "http.h"
#include "tap.h"

static void test_query(void) {
    char v[64];
    is_int(sim_http_query_param("a=1&token=ab%2Bc+d&x=", "token", v, sizeof(v)), 0, "param found");
    is_str(v, "ab+c d", "param decoded");
    is_int(sim_http_query_param("tokenx=1", "token", v, sizeof(v)), -1, "prefix is not a match");
    is_int(sim_http_query_param("", "token", v, sizeof(v)), -1, "empty query");
    is_int(sim_http_query_param("token=0123456789", "token", v, 5), -1, "too long is refused");
}

int main(void) {
    test_query();
    return tap_done();
}
