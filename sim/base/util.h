/* util.h -- small things every module needs: growable buffers, logging,
 * deterministic hashing for made-up values, and time formatting.
 *
 * Nothing here reads the clock on its own: callers pass the time. */
#ifndef SIM_UTIL_H
#define SIM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A growable byte buffer, always NUL-terminated when data != NULL.
 * Zero-initialise ({0}) to get an empty one; free with sim_buf_free. */
typedef struct sim_buf {
    char *data;
    size_t len;
    size_t cap;
} sim_buf;

/* Room for `extra` more bytes and the NUL. */
void sim_buf_grow(sim_buf *b, size_t extra);
/* Inline: events and journal lines are dozens of small appends each, and a
 * call per append cost more than its copy (issue 11). */
static inline void sim_buf_reserve(sim_buf *b, size_t extra) {
    if (b->len + extra + 1 > b->cap) sim_buf_grow(b, extra);
}
static inline void sim_buf_append(sim_buf *b, const void *p, size_t n) {
    sim_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}
static inline void sim_buf_puts(sim_buf *b, const char *s) {
    sim_buf_append(b, s, strlen(s));
}
void sim_buf_printf(sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_buf_vprintf(sim_buf *b, const char *fmt, va_list ap);
/* Decimal integers and JSON strings without printf (hot paths). The string
 * is escaped exactly as cJSON prints it; bytes >= 0x80 go as they are. */
void sim_buf_u64(sim_buf *b, uint64_t v);
void sim_buf_i64(sim_buf *b, int64_t v);
void sim_buf_json_str(sim_buf *b, const char *s);
/* 1 when the n bytes at s go into a JSON string as they are (no control
 * byte, quote or backslash): what sim_buf_json_str would copy unchanged. */
int sim_json_plain(const char *s, size_t n);
/* The same, and all ASCII (so valid UTF-8 too): one pass for the usual text. */
int sim_json_plain_ascii(const char *s, size_t n);
/* The n bytes at s as a JSON string, quotes included, as sim_buf_json_str
 * writes them: its length, and the string itself written at o (room for
 * sim_json_str_len bytes; no NUL), returning the end. */
size_t sim_json_str_len(const char *s, size_t n);
char *sim_json_str_put(char *o, const char *s, size_t n);
/* Drops the first n bytes (consumed input). */
void sim_buf_consume(sim_buf *b, size_t n);
void sim_buf_free(sim_buf *b);

/* Allocation that aborts on failure: out of memory is not a client error. */
void *sim_xmalloc(size_t n);
void *sim_xcalloc(size_t n, size_t size);
void *sim_xrealloc(void *p, size_t n);
char *sim_xstrdup(const char *s);
char *sim_xstrndup(const char *s, size_t n);

/* Logging to stderr. stdout carries only the READY line. */
enum { SIM_LOG_ERROR, SIM_LOG_WARN, SIM_LOG_INFO, SIM_LOG_DEBUG };
void sim_log_set_level(int level);
void sim_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define sim_error(...) sim_log(SIM_LOG_ERROR, __VA_ARGS__)
#define sim_warn(...)  sim_log(SIM_LOG_WARN, __VA_ARGS__)
#define sim_info(...)  sim_log(SIM_LOG_INFO, __VA_ARGS__)
#define sim_debug(...) sim_log(SIM_LOG_DEBUG, __VA_ARGS__)

/* Programmer errors abort with file:line; bad input never reaches this. */
#define sim_assert(cond) \
    ((cond) ? (void)0 : sim_assert_fail(#cond, __FILE__, __LINE__))
void sim_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

/* Deterministic mixing: every value the simulator makes up (ids, jitter,
 * random choices) is sim_mix(seed, label, a, b) for the subject's own
 * ordinals, never a function of arrival order or of the clock. */
uint64_t sim_mix(uint64_t seed, const char *label, uint64_t a, uint64_t b);
/* Maps a 64-bit hash to [0, 1). */
double sim_unit(uint64_t h);
/* Writes `hexchars` lowercase hex digits of h (and more from re-mixing if
 * hexchars > 16) plus a NUL into out (size >= hexchars + 1). */
void sim_hex(char *out, size_t hexchars, uint64_t h);

/* Epoch seconds as Python's time.time() prints them, always with a
 * fraction ("1700000000.000", never "1700000000": a client checking for a
 * float must not see an integer once a second), as JSON number text. out
 * must hold SIM_EPOCH_LEN bytes. */
#define SIM_EPOCH_LEN 32
void sim_epoch_seconds(char *out, int64_t epoch_ms);

/* FastAPI-style ISO-8601 UTC time for epoch milliseconds:
 * "2025-09-17T12:34:56.789000+00:00". out must hold SIM_ISO_LEN bytes. */
#define SIM_ISO_LEN 40
void sim_iso_time(char *out, int64_t epoch_ms);

/* 1 when the two secrets (tokens, keys, passwords; binary-safe) are equal,
 * in a time that depends on their lengths only, never on where they differ. */
int sim_secret_eq(const void *a, size_t alen, const void *b, size_t blen);

/* Case-insensitive ASCII compare helpers. */
int sim_strcaseeq(const char *a, const char *b);
int sim_strncaseeq(const char *a, const char *b, size_t n);

#endif
