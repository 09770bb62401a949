/* test_util.c -- buffers, deterministic mixing, time text, query parsing. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util.h"

static void test_buf(void) {
    sim_buf b = {0};
    sim_buf_puts(&b, "hello");
    sim_buf_printf(&b, " %d", 42);
    is_str(b.data, "hello 42", "buf append and printf");
    sim_buf_consume(&b, 6);
    is_str(b.data, "42", "consume drops the prefix");
    for (int i = 0; i < 1000; i++) sim_buf_append(&b, "x", 1);
    is_int(b.len, 1002, "buf grows");
    sim_buf_free(&b);
    ok(b.data == NULL && b.len == 0, "free resets");
}

static void test_mix(void) {
    ok(sim_mix(1, "conn", 1, 0) == sim_mix(1, "conn", 1, 0), "mix is a function");
    ok(sim_mix(1, "conn", 1, 0) != sim_mix(2, "conn", 1, 0), "seed changes it");
    ok(sim_mix(1, "conn", 1, 0) != sim_mix(1, "run", 1, 0), "label changes it");
    ok(sim_mix(1, "conn", 1, 0) != sim_mix(1, "conn", 2, 0), "ordinal a changes it");
    ok(sim_mix(1, "conn", 1, 0) != sim_mix(1, "conn", 1, 1), "ordinal b changes it");
    /* Uniformity, roughly: the mean of 100000 draws near 0.5. */
    double sum = 0;
    for (uint64_t i = 0; i < 100000; i++) sum += sim_unit(sim_mix(7, "p", i, 0));
    ok(fabs(sum / 100000 - 0.5) < 0.01, "sim_unit is about uniform (mean %.4f)", sum / 100000);
    char hex[33];
    sim_hex(hex, 32, sim_mix(1, "x", 0, 0));
    is_int(strlen(hex), 32, "hex length");
    ok(strspn(hex, "0123456789abcdef") == 32, "hex digits only");
}

static void test_time(void) {
    char t[SIM_ISO_LEN];
    sim_iso_time(t, 1758110096500);
    is_str(t, "2025-09-17T11:54:56.500000+00:00", "iso time");
    /* The arithmetic version against gmtime_r and strftime, which it
     * replaced: every day boundary, leap day and century around, negative
     * times, both ends of the clamp. */
    int bad = 0, n = 0;
    const int64_t fixed[] = {0, -1, 1, 86399999, 86400000, -86400000, -86400001,
                             951782400000LL, 951868800000LL, 4107542400000LL, 253402300799999LL,
                             -30610224000000LL, 1709164800123LL};
    const int64_t nfixed = (int64_t)(sizeof(fixed) / sizeof(fixed[0]));
    for (int64_t i = -4000; i < 4000 + nfixed; i++) {
        int64_t ms = i < 4000 ? i * 86400000LL * 37 + (i * 7919) % 86400000 : fixed[i - 4000];
        char want[SIM_ISO_LEN];
        int64_t r = ms % 1000;
        if (r < 0) r += 1000;
        time_t secs = (time_t)((ms - r) / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        size_t k = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(want + k, sizeof(want) - k, ".%06ld+00:00", (long)r * 1000);
        sim_iso_time(t, ms);
        n++;
        if (strcmp(t, want) != 0 && bad++ == 0) printf("# %lld: %s, not %s\n", (long long)ms, t, want);
    }
    is_int(bad, 0, "%d times as strftime wrote them", n);
    /* strftime's %Y wrote year 1 as "1"; ISO 8601 (and Python) say 0001. */
    sim_iso_time(t, -62135596800000LL);
    is_str(t, "0001-01-01T00:00:00.000000+00:00", "years under 1000 in four digits");
    sim_iso_time(t, 253402300800000LL * 2);
    is_str(t, "9999-12-31T23:59:59.999000+00:00", "clamped at the top");
    sim_iso_time(t, -62167219200000LL * 2);
    is_str(t, "0000-01-01T00:00:00.000000+00:00", "clamped at the bottom");
    /* Epoch seconds keep their fraction on a whole second: a client that
     * checks for a float saw an integer once a second (cJSON prints
     * 1700000000.0 as 1700000000). */
    char e[SIM_EPOCH_LEN];
    sim_epoch_seconds(e, 1700000000000LL);
    is_str(e, "1700000000.000", "a whole second keeps its fraction");
    sim_epoch_seconds(e, 1700000000123LL);
    is_str(e, "1700000000.123", "milliseconds");
    sim_epoch_seconds(e, -1);
    is_str(e, "-0.001", "before 1970: the same number");
    sim_epoch_seconds(e, INT64_MIN);
    is_str(e, "-9223372036854775.808", "the smallest");
}

/* The hot-path appenders against printf and cJSON. */
static void test_fast_text(void) {
    sim_buf b = {0};
    const uint64_t u[] = {0, 7, 10, 99, 1000, 18446744073709551615ULL};
    const int64_t i[] = {0, -1, -10, 42, INT64_MIN, INT64_MAX};
    char want[64];
    for (int k = 0; k < 6; k++) {
        b.len = 0;
        sim_buf_u64(&b, u[k]);
        snprintf(want, sizeof(want), "%llu", (unsigned long long)u[k]);
        is_str(b.data, want, "u64 %s", want);
        b.len = 0;
        sim_buf_i64(&b, i[k]);
        snprintf(want, sizeof(want), "%lld", (long long)i[k]);
        is_str(b.data, want, "i64 %s", want);
    }
    char all[256];
    for (int k = 1; k < 256; k++) all[k - 1] = (char)k;
    all[255] = '\0';
    b.len = 0;
    sim_buf_json_str(&b, all);
    cJSON *s = cJSON_CreateString(all);
    char *c = cJSON_PrintUnformatted(s);
    is_str(b.data, c, "every byte escaped as cJSON escapes it");
    free(c);
    cJSON_Delete(s);
    b.len = 0;
    sim_buf_json_str(&b, "");
    is_str(b.data, "\"\"", "empty string");
    /* Strings of plain runs and escapes in every position and word offset,
     * against cJSON and against the byte-by-byte rule. */
    static const char pick[] = "ab \"\\\n\x01\x1f\x7f\xc3\xa9zzzzzzzz";
    int differ = 0, plain_wrong = 0;
    uint64_t x = 88172645463325252ULL;
    for (int k = 0; k < 20000; k++) {
        char str[48];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = x % 41;
        for (size_t m = 0; m < n; m++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            str[m] = pick[x % (sizeof(pick) - 1)];
        }
        str[n] = '\0';
        b.len = 0;
        sim_buf_json_str(&b, str);
        cJSON *js = cJSON_CreateString(str);
        char *cs = cJSON_PrintUnformatted(js);
        differ += strcmp(b.data, cs) != 0;
        free(cs);
        cJSON_Delete(js);
        int plain = 1, ascii = 1;
        for (size_t m = 0; m < n; m++) {
            if ((unsigned char)str[m] < 0x20 || str[m] == '"' || str[m] == '\\') plain = 0;
            if ((unsigned char)str[m] >= 0x80) ascii = 0;
        }
        plain_wrong += sim_json_plain(str, n) != plain;
        plain_wrong += sim_json_plain_ascii(str, n) != (plain && ascii);
        /* sim_json_str_len is what sim_buf_json_str wrote */
        plain_wrong += sim_json_str_len(str, n) != b.len;
    }
    is_int(differ, 0, "20000 mixed strings escaped as cJSON escapes them");
    is_int(plain_wrong, 0, "and judged plain (and plain ASCII) exactly, their escaped length known");
    sim_buf_free(&b);
}

int main(void) {
    test_buf();
    test_mix();
    test_time();
    test_fast_text();
    return tap_done();
}
