/* test_utf8.c -- what goes out is valid UTF-8: sequence lengths, JSON
 * members, and JSON text from cJSON with bytes that are not UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "utf8.h"

static void test_len(void) {
    is_int(sim_utf8_len((const unsigned char *)"a"), 1, "ASCII");
    is_int(sim_utf8_len((const unsigned char *)"\xc3\xa9"), 2, "two bytes");
    is_int(sim_utf8_len((const unsigned char *)"\xe2\x82\xac"), 3, "three bytes");
    is_int(sim_utf8_len((const unsigned char *)"\xf0\x9f\x98\x80"), 4, "four bytes");
    is_int(sim_utf8_len((const unsigned char *)"\xc0\xaf"), 0, "overlong refused");
    is_int(sim_utf8_len((const unsigned char *)"\xed\xa0\x80"), 0, "surrogate (cJSON's \\ud800) refused");
    is_int(sim_utf8_len((const unsigned char *)"\xf4\x90\x80\x80"), 0, "beyond U+10FFFF refused");
    is_int(sim_utf8_len((const unsigned char *)"\xe2\x82"), 0, "truncated at the NUL");
    is_int(sim_utf8_len((const unsigned char *)"\xff"), 0, "0xff refused");
}

static void test_fix_json(void) {
    sim_buf b = {0};
    sim_buf_puts(&b, "{\"type\":\"ok\",\"text\":\"caf\xc3\xa9\"}");
    char *before = sim_xstrdup(b.data);
    sim_utf8_fix_json(&b, 0);
    is_str(b.data, before, "valid text is left as it is");
    free(before);
    b.len = 0;
    sim_buf_puts(&b, "{\"type\":\"\xed\xa0\x80x\xff\"}");
    sim_utf8_fix_json(&b, 0);
    is_str(b.data, "{\"type\":\"\\u00ed\\u00a0\\u0080x\\u00ff\"}", "each bad byte escaped");
    b.len = 0;
    sim_buf_puts(&b, "prefix\xff|{\"a\":\"\xc3\"}");
    sim_utf8_fix_json(&b, 7);
    ok(memcmp(b.data, "prefix\xff|", 8) == 0, "bytes before `from` untouched");
    is_str(b.data + 8, "{\"a\":\"\\u00c3\"}", "a lone lead byte escaped");
    sim_buf_free(&b);
}

static void test_member(void) {
    sim_buf b = {0};
    sim_json_member(&b, "k", "q\"\\\n\xff");
    is_str(b.data, ",\"k\":\"q\\\"\\\\\\u000a\\u00ff\"", "quotes, backslash, control and bad bytes");
    sim_buf_free(&b);
}

int main(void) {
    test_len();
    test_fix_json();
    test_member();
    return tap_done();
}
