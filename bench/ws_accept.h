/* ws_accept.h -- SHA-1 and base64, only for RFC 6455's Sec-WebSocket-Accept:
 * shared by bench/ws_ref.c (the server computes it) and bench/ws_load.c (the
 * client checks it), which are built with nothing but cc. Header-only. */
#ifndef BENCH_WS_ACCEPT_H
#define BENCH_WS_ACCEPT_H

#include <stdint.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static uint32_t ws_rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

/* SHA-1 of up to 119 bytes (a key and the GUID); longer input gives zeros. */
static void ws_sha1(const unsigned char *data, size_t len, unsigned char out[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    unsigned char m[192];
    size_t total = ((len + 8) / 64 + 1) * 64;
    memset(out, 0, 20);
    if (total > sizeof(m)) return;
    memset(m, 0, total);
    memcpy(m, data, len);
    m[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) m[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)m[off + 4 * i] << 24 | (uint32_t)m[off + 4 * i + 1] << 16 |
                   (uint32_t)m[off + 4 * i + 2] << 8 | m[off + 4 * i + 3];
        for (int i = 16; i < 80; i++) w[i] = ws_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
            else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
            else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
            else f = b ^ c ^ d, k = 0xCA62C1D6;
            uint32_t t = ws_rol(a, 5) + f + e + k + w[i];
            e = d, d = c, c = ws_rol(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}

static void ws_b64(const unsigned char *in, size_t n, char *out) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

/* The Sec-WebSocket-Accept of a key of len bytes (at most 64): 28
 * characters and a NUL into out. */
static void ws_accept(const char *key, size_t len, char out[29]) {
    unsigned char cat[64 + sizeof(WS_GUID)], dig[20];
    if (len > 64) len = 64;
    memcpy(cat, key, len);
    memcpy(cat + len, WS_GUID, sizeof(WS_GUID) - 1);
    ws_sha1(cat, len + sizeof(WS_GUID) - 1, dig);
    ws_b64(dig, 20, out);
}

#endif
