/* Codec helpers: base64 for bytes fields (RFC 4648). Hand-written: neither jansson nor libxml2 offers
 * one, and it is a few lines. */
#include <stdlib.h>
#include "px_cu.h"

static const char px__cu_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *px__cu_b64_encode(const uint8_t *data, size_t len, size_t *out_len)
{
    if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
        return NULL;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *o++ = px__cu_b64_alphabet[v >> 18];
        *o++ = px__cu_b64_alphabet[(v >> 12) & 63];
        *o++ = px__cu_b64_alphabet[(v >> 6) & 63];
        *o++ = px__cu_b64_alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
        *o++ = px__cu_b64_alphabet[v >> 18];
        *o++ = px__cu_b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < len ? px__cu_b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    if (out_len != NULL)
        *out_len = (size_t)(o - out);
    return out;
}

/* Value of one digit in either alphabet (standard "+/" or URL-safe "-_"), -1 if none. */
static int px__cu_b64_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int px__cu_b64_decode(const char *text, size_t len, ProtobufCAllocator *alloc, uint8_t **out,
                      size_t *out_len, size_t *bad_at)
{
    *out = NULL;
    *out_len = 0;
    /* Padding is optional, but when present it completes a 4-digit group. */
    size_t digits = len;
    while (digits > 0 && len - digits < 2 && text[digits - 1] == '=')
        digits--;
    if (digits < len && len % 4 != 0) {
        *bad_at = digits;
        return -2;
    }
    if (digits % 4 == 1) { /* a lone digit carries only 6 bits: no whole byte */
        *bad_at = digits - 1;
        return -2;
    }
    size_t n = digits / 4 * 3 + (digits % 4 == 0 ? 0 : digits % 4 - 1);
    if (n == 0)
        return 0;
    uint8_t *buf = px__cu_alloc(alloc, n); /* the bytes field itself */
    if (buf == NULL)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < digits; i++) {
        int d = px__cu_b64_digit(text[i]);
        if (d < 0) {
            px__cu_free(alloc, buf);
            *bad_at = i;
            return -2;
        }
        acc = acc << 6 | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
        }
        acc &= (1u << bits) - 1; /* keep only the bits not yet emitted */
    }
    *out = buf;
    *out_len = o;
    return 0;
}
