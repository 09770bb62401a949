/* utf8.c -- text that goes out: UTF-8 checks and JSON strings that are
 * always valid, whatever bytes they were made from. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one. */
size_t sim_utf8_len(const unsigned char *p) {
    if (p[0] < 0x80) return 1;
    size_t n = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!n || (n == 2 && p[0] < 0xc2) || (n == 4 && p[0] > 0xf4)) return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    uint32_t cp = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) cp = (cp << 6) | (p[i] & 0x3f);
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;   /* overlong, surrogate or out of range */
    return n;
}

/* Bytes that are not UTF-8 (a percent-decoded path, a binary Redis key)
 * become \u00XX, so every journal line parses. */
void sim_json_text(sim_buf *b, const char *s) {
    /* Plain ASCII (nearly every value) is copied while it is checked. */
    size_t len = strlen(s);
    sim_buf_reserve(b, len);
    char *o = b->data + b->len;
    const unsigned char *p = (const unsigned char *)s;
    while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') *o++ = (char)*p++;
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    while (*p) {
        /* Plain ASCII runs (nearly everything) are copied in one append. */
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        if (p > run) {
            sim_buf_append(b, run, (size_t)(p - run));
            continue;
        }
        size_t n = sim_utf8_len(p);
        if (*p == '"' || *p == '\\') {
            sim_buf_printf(b, "\\%c", *p);
            n = 1;
        } else if (*p < 0x20 || !n) {
            sim_buf_printf(b, "\\u%04x", *p);
            n = 1;
        } else {
            sim_buf_append(b, p, n);
        }
        p += n;
    }
}

int sim_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (p < end) {
        /* Text that goes out is mostly ASCII: 8 bytes at a time while they
         * are, none of them NUL (the "has a zero byte" word test). */
        if (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            if (!(x & highs) && !((x - ones) & ~x & highs)) {
                p += 8;
                continue;
            }
        }
        if (*p < 0x80) {
            if (!*p) return 0;
            p++;
            continue;
        }
        size_t k = sim_utf8_len(p);
        if (!k || (size_t)(end - p) < k) return 0;
        p += k;
    }
    return 1;
}

void sim_utf8_fix_json(sim_buf *b, size_t from) {
    size_t i = from;
    /* Eight bytes at a time while they are ASCII: every body goes through. */
    for (uint64_t w; i + 8 <= b->len; i += 8) {
        memcpy(&w, b->data + i, 8);
        if (w & 0x8080808080808080ull) break;
    }
    while (i < b->len && (unsigned char)b->data[i] < 0x80) i++;
    if (i == b->len) return;   /* ASCII: the common case */
    sim_buf out = {0};
    sim_buf_append(&out, b->data, i);
    while (i < b->len) {
        const unsigned char *p = (const unsigned char *)b->data + i;
        size_t n = *p < 0x80 ? 1 : sim_utf8_len(p);
        if (n && i + n <= b->len) {
            sim_buf_append(&out, p, n);
            i += n;
        } else {
            sim_buf_printf(&out, "\\u%04x", *p);
            i++;
        }
    }
    sim_buf_free(b);
    *b = out;
}
