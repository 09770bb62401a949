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

/* Appends ,"key":"s" to b. s is escaped so the result is valid JSON and
 * valid UTF-8: quotes, backslashes and control bytes are escaped, and a byte
 * that is not part of valid UTF-8 becomes \u00XX. */
void sim_json_member(sim_buf *b, const char *key, const char *s);

#endif
