/* test_base64url.c -- base64url encoding and strict decoding. */
#include <string.h>

#include "base64url.h"
#include "tap.h"

static void test_b64(void) {
    static const struct { const char *in, *out; } v[] = {
        {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"},
        {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[32];
        unsigned char back[32];
        size_t n = sim_b64url_encode(out, (const unsigned char *)v[i].in, strlen(v[i].in));
        is_str(out, v[i].out, "b64url encode of %zu bytes", strlen(v[i].in));
        is_int(n, strlen(v[i].out), "encode length %zu", i);
        long m = sim_b64url_decode(back, out, n);
        ok(m == (long)strlen(v[i].in) && memcmp(back, v[i].in, (size_t)m) == 0,
           "decode round trip %zu", i);
    }
    unsigned char b[16];
    is_int(sim_b64url_decode(b, "Zg==", 4), 1, "padding accepted");
    is_int(sim_b64url_decode(b, "+/8", 3), 2, "standard alphabet accepted");
    ok(b[0] == 0xfb && b[1] == 0xff, "standard alphabet decodes like url-safe");
    is_int(sim_b64url_decode(b, "Z", 1), -1, "lone trailing character rejected");
    is_int(sim_b64url_decode(b, "Zh", 2), -1, "non-zero leftover bits rejected");
    is_int(sim_b64url_decode(b, "Zm*v", 4), -1, "invalid character rejected");
    is_int(sim_b64url_decode(b, "Zm9v.", 5), -1, "dot rejected");
    is_int(sim_b64url_decode(b, "", 0), 0, "empty decodes to nothing");
}

int main(void) {
    test_b64();
    return tap_done();
}
