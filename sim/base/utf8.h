/* utf8.h -- text that goes out: UTF-8 checks and JSON strings that are
 * always valid, whatever bytes they were made from. */
#ifndef SIM_UTF8_H
#define SIM_UTF8_H

#include <stddef.h>

#include "util.h"

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one
 * (overlong, surrogate, out of range, truncated). p[0] must be readable;
 * stops at a NUL. */
size_t sim_utf8_len(const unsigned char *p);

/* Appends s to b as the inside of a JSON string, escaped so the result is
 * valid JSON and valid UTF-8: quotes, backslashes and control bytes are
 * escaped, and a byte that is not part of valid UTF-8 becomes \u00XX. */
void sim_json_text(sim_buf *b, const char *s);

/* Appends ,"key":"s" to b, s as sim_json_text makes it. Inline: keys are
 * literals, and journal lines are made of these. */
static inline void sim_json_member(sim_buf *b, const char *key, const char *s) {
    sim_buf_append(b, ",\"", 2);
    sim_buf_puts(b, key);
    sim_buf_append(b, "\":\"", 3);
    sim_json_text(b, s);
    sim_buf_append(b, "\"", 1);
}

/* 1 when the n bytes at s are valid UTF-8 (NUL-free). */
int sim_utf8_valid(const char *s, size_t n);

/* Makes JSON text that may carry invalid UTF-8 inside its strings (cJSON
 * prints string bytes as they are, and decodes \ud800 into bytes that are
 * not UTF-8) valid: each byte from b->data + from on that is not part of a
 * valid sequence becomes \u00XX. The text's structure is ASCII, so such a
 * byte is always inside a string. The one rule for every JSON body and
 * text frame stagesim sends. */
void sim_utf8_fix_json(sim_buf *b, size_t from);

#endif
