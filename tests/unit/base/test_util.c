/* test_util.c -- buffers, deterministic mixing, time text, query parsing. */
#include <math.h>
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
}

int main(void) {
    test_buf();
    test_mix();
    test_time();
    return tap_done();
}
