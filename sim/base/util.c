/* util.c -- buffers, allocation, logging, deterministic mixing, time text. */
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- allocation ------------------------------------------------------- */

static void oom(size_t n) {
    fprintf(stderr, "stagesim: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sim_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *sim_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *sim_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *sim_xstrdup(const char *s) {
    return sim_xstrndup(s, strlen(s));
}

char *sim_xstrndup(const char *s, size_t n) {
    char *p = sim_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- buffers ---------------------------------------------------------- */

void sim_buf_reserve(sim_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = sim_xrealloc(b->data, cap);
    b->cap = cap;
}

void sim_buf_append(sim_buf *b, const void *p, size_t n) {
    sim_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sim_buf_puts(sim_buf *b, const char *s) {
    sim_buf_append(b, s, strlen(s));
}

void sim_buf_vprintf(sim_buf *b, const char *fmt, va_list ap) {
    /* Try the free space first: most appends fit, and one pass is enough. */
    char scratch[1];
    size_t avail = b->cap > b->len ? b->cap - b->len : 0;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(avail ? b->data + b->len : scratch, avail ? avail : sizeof(scratch), fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    if ((size_t)n >= avail) {
        sim_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
}

void sim_buf_printf(sim_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sim_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void sim_buf_consume(sim_buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) b->data[b->len] = '\0';
}

void sim_buf_free(sim_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- logging ---------------------------------------------------------- */

static int log_level = SIM_LOG_INFO;

void sim_log_set_level(int level) {
    log_level = level;
}

void sim_log(int level, const char *fmt, ...) {
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > log_level) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stagesim %s: ", names[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void sim_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "stagesim: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

/* ---- deterministic mixing --------------------------------------------- */

/* splitmix64's finaliser: a bijection with good avalanche, so nearby
 * ordinals give unrelated outputs. */
static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sim_mix(uint64_t seed, const char *label, uint64_t a, uint64_t b) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over the label */
    for (const unsigned char *p = (const unsigned char *)label; p && *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h = mix64(h ^ mix64(seed));
    h = mix64(h ^ a);
    return mix64(h ^ (b * 0x9e3779b97f4a7c15ULL));
}

double sim_unit(uint64_t h) {
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

void sim_hex(char *out, size_t hexchars, uint64_t h) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < hexchars; i++) {
        if (i && i % 16 == 0) h = mix64(h);
        out[i] = digits[(h >> (60 - 4 * (i % 16))) & 0xf];
    }
    out[hexchars] = '\0';
}

/* ---- time and strings ------------------------------------------------- */

void sim_iso_time(char *out, int64_t epoch_ms) {
    /* Inside the years gmtime_r and the format can hold: never garbage. */
    if (epoch_ms < -62167219200000LL) epoch_ms = -62167219200000LL;
    if (epoch_ms > 253402300799999LL) epoch_ms = 253402300799999LL;
    int64_t ms = epoch_ms % 1000;
    if (ms < 0) ms += 1000;
    time_t secs = (time_t)((epoch_ms - ms) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, SIM_ISO_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, SIM_ISO_LEN - n, ".%06ld+00:00", (long)ms * 1000);
}

int sim_strcaseeq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

int sim_strncaseeq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
        if (!a[i]) return 1;
    }
    return 1;
}

int sim_secret_eq(const void *av, size_t la, const void *bv, size_t lb) {
    const unsigned char *a = av, *b = bv;
    size_t n = la > lb ? la : lb;
    volatile unsigned char diff = la != lb;
    /* Every byte of the longer one is compared (against the other's bytes
     * again from its start), so the loop never ends at the first mismatch. */
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((la ? a[i % la] : 0) ^ (lb ? b[i % lb] : 0));
    return diff == 0;
}
