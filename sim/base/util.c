/* util.c -- buffers, allocation, logging, deterministic mixing, time text. */
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void sim_buf_grow(sim_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = sim_xrealloc(b->data, cap);
    b->cap = cap;
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

void sim_buf_u64(sim_buf *b, uint64_t v) {
    size_t n = 1;
    for (uint64_t t = v; t >= 10; t /= 10) n++;
    sim_buf_reserve(b, n);
    char *end = b->data + b->len + n;
    b->len += n;
    *end = '\0';
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
}

void sim_buf_i64(sim_buf *b, int64_t v) {
    if (v < 0) {
        sim_buf_append(b, "-", 1);
        sim_buf_u64(b, 0 - (uint64_t)v);
    } else {
        sim_buf_u64(b, (uint64_t)v);
    }
}

/* 1 when none of the 8 bytes of x needs a JSON escape (a control byte, a
 * quote or a backslash): the classic "has a byte less than n" and "has a
 * zero byte" word tests, exact as yes/no answers. */
static int json_plain8(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    uint64_t bad = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs);
    return !(bad & highs);
}

/* How many of the n bytes at s need no JSON escape before the first that does. */
static size_t json_plain_prefix(const char *s, size_t n) {
    size_t i = 0;
    for (uint64_t x; i + 8 <= n; i += 8) {
        memcpy(&x, s + i, 8);
        if (!json_plain8(x)) break;
    }
    const unsigned char *p = (const unsigned char *)s;
    while (i < n && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\') i++;
    return i;
}

int sim_json_plain(const char *s, size_t n) {
    return json_plain_prefix(s, n) == n;
}

int sim_json_plain_ascii(const char *s, size_t n) {
    const uint64_t highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (uint64_t x; i + 8 <= n; i += 8) {
        memcpy(&x, s + i, 8);
        if ((x & highs) || !json_plain8(x)) return 0;
    }
    for (const unsigned char *p = (const unsigned char *)s; i < n; i++)
        if (p[i] < 0x20 || p[i] >= 0x80 || p[i] == '"' || p[i] == '\\') return 0;
    return 1;
}

/* The escape of a byte that needs one (json_plain_prefix stopped at it),
 * as cJSON's print_string_ptr writes it: \" \\ \b \f \n \r \t, else \u00xx.
 * Returns its length, 2 or 6. */
static size_t json_escape(char e[6], unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    e[0] = '\\';
    switch (c) {
    case '"': e[1] = '"'; return 2;
    case '\\': e[1] = '\\'; return 2;
    case '\b': e[1] = 'b'; return 2;
    case '\f': e[1] = 'f'; return 2;
    case '\n': e[1] = 'n'; return 2;
    case '\r': e[1] = 'r'; return 2;
    case '\t': e[1] = 't'; return 2;
    default:
        e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
        return 6;
    }
}

size_t sim_json_str_len(const char *s, size_t n) {
    size_t out = n + 2;
    char e[6];
    for (size_t i = json_plain_prefix(s, n); i < n; i += json_plain_prefix(s + i, n - i))
        out += json_escape(e, (unsigned char)s[i++]) - 1;
    return out;
}

/* Strings are mostly plain: plain runs are found 8 bytes at a time and
 * copied in one go; the answer quotes the prompt, so a run of text follows
 * each escape too. */
char *sim_json_str_put(char *o, const char *s, size_t n) {
    *o++ = '"';
    for (size_t i = 0;;) {
        size_t run = json_plain_prefix(s + i, n - i);
        memcpy(o, s + i, run);
        o += run;
        i += run;
        if (i == n) break;
        o += json_escape(o, (unsigned char)s[i++]);
    }
    *o++ = '"';
    return o;
}

void sim_buf_json_str(sim_buf *b, const char *s) {
    size_t len = strlen(s);
    if (json_plain_prefix(s, len) == len) {   /* nearly always: one pass */
        sim_buf_reserve(b, len + 2);
        char *o = b->data + b->len;
        o[0] = '"';
        memcpy(o + 1, s, len);
        o[len + 1] = '"';
        b->len += len + 2;
    } else {
        sim_buf_reserve(b, sim_json_str_len(s, len));
        b->len = (size_t)(sim_json_str_put(b->data + b->len, s, len) - b->data);
    }
    b->data[b->len] = '\0';
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
    /* 16 digits from each 64-bit value, then the next one, mixed */
    for (size_t i = 0; i < hexchars; i += 16, h = mix64(h)) {
        size_t n = hexchars - i < 16 ? hexchars - i : 16;
        for (size_t k = 0; k < n; k++) out[i + k] = digits[(h >> (60 - 4 * k)) & 0xf];
    }
    out[hexchars] = '\0';
}

/* ---- time and strings ------------------------------------------------- */

void sim_epoch_seconds(char *out, int64_t epoch_ms) {
    /* magnitude then sign: -1 ms is -0.001, and INT64_MIN does not overflow */
    uint64_t mag = epoch_ms < 0 ? 0 - (uint64_t)epoch_ms : (uint64_t)epoch_ms;
    snprintf(out, SIM_EPOCH_LEN, "%s%llu.%03u", epoch_ms < 0 ? "-" : "",
             (unsigned long long)(mag / 1000), (unsigned)(mag % 1000));
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's days_from_civil,
 * inverted): arithmetic only, so a timestamp per event costs no gmtime,
 * strftime or printf. Valid for every year the clamp below allows. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *p, unsigned v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

static void iso_time(char *out, int64_t epoch_ms) {
    /* Inside the years 0000-9999: never garbage. */
    if (epoch_ms < -62167219200000LL) epoch_ms = -62167219200000LL;
    if (epoch_ms > 253402300799999LL) epoch_ms = 253402300799999LL;
    int64_t ms = epoch_ms % 1000;
    if (ms < 0) ms += 1000;
    int64_t secs = (epoch_ms - ms) / 1000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    unsigned sod = (unsigned)(secs - days * 86400);
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    char *p = put_digits(out, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, mo, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)ms * 1000, 6);
    memcpy(p, "+00:00", 7);
}

void sim_iso_time(char *out, int64_t epoch_ms) {
    /* The same millisecond asked for again (every event of a batch, its
     * journal and history lines): the last text, per thread, as each
     * simulator has its own. */
    static _Thread_local struct {
        int64_t ms;
        int ok;
        char text[sizeof("2025-09-17T12:34:56.789000+00:00")];   /* always this long */
    } last;
    if (last.ok && last.ms == epoch_ms) {
        memcpy(out, last.text, sizeof(last.text));
        return;
    }
    iso_time(out, epoch_ms);
    last.ms = epoch_ms;
    last.ok = 1;
    memcpy(last.text, out, sizeof(last.text));
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
