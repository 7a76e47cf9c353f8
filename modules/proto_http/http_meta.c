/* proto_http's metadata: a header `px-meta-KEY: VALUE` is the entry KEY = VALUE (a key
 * ending in -bin carries its value base64-encoded, as gRPC does), both ways; the entry
 * `traceparent` (W3C Trace Context) is the plain header `traceparent`. The core
 * checks the entries' keys and values (docs/PROTOCOL.md §2.3) when the call arrives. */
#include <string.h>
#include <px_cu.h>

#include "http_int.h"

const char *http_meta_add(px_buf *meta, const char *key, size_t key_len, const char *value,
                          size_t len)
{
    if (key_len == 0 || key_len > 255)
        return "a px-meta- header names a key of 1 to 255 characters";
    uint8_t *bin = NULL;
    size_t bin_len = 0, bad_at = 0;
    if (key_len > 4 && memcmp(key + key_len - 4, "-bin", 4) == 0) {
        if (px__cu_b64_decode(value, len, NULL, &bin, &bin_len, &bad_at) != 0)
            return "the value of a px-meta-*-bin header is not base64";
        value = (const char *)bin;
        len = bin_len;
    }
    const char *why = NULL;
    uint8_t hdr[3] = {(uint8_t)key_len, (uint8_t)(len >> 8), (uint8_t)len};
    if (len > 65535)
        why = "a metadata value has more than 65535 bytes";
    else if (px_buf_append(meta, hdr, 1) != 0 || px_buf_append(meta, key, key_len) != 0 ||
             px_buf_append(meta, hdr + 1, 2) != 0 || px_buf_append(meta, value, len) != 0)
        why = "out of memory";
    free(bin);
    return why;
}

int http_meta_headers(px_buf *out, const uint8_t *meta, size_t meta_len)
{
    /* The core hands over response metadata it has checked: the walk trusts it. */
    size_t i = 0;
    while (i + 1 <= meta_len) {
        size_t kl = meta[i];
        if (i + 1 + kl + 2 > meta_len)
            return 0;
        const char *key = (const char *)meta + i + 1;
        size_t vl = (size_t)meta[i + 1 + kl] << 8 | meta[i + 2 + kl];
        const uint8_t *val = meta + i + 3 + kl;
        if (i + 3 + kl + vl > meta_len)
            return 0;
        i += 3 + kl + vl;
        /* W3C Trace Context's own header, which tracers along the way read as it is. */
        int plain = kl == 11 && memcmp(key, "traceparent", 11) == 0;
        if ((!plain && px_buf_append(out, HTTP_META_PREFIX, strlen(HTTP_META_PREFIX)) != 0) ||
            px_buf_append(out, key, kl) != 0 || px_buf_append(out, ": ", 2) != 0)
            return -1;
        if (kl > 4 && memcmp(key + kl - 4, "-bin", 4) == 0) {
            size_t n = 0;
            char *b64 = px__cu_b64_encode(val, vl, &n);
            int rc = b64 ? px_buf_append(out, b64, n) : -1;
            free(b64);
            if (rc != 0)
                return -1;
        } else if (px_buf_append(out, val, vl) != 0) {
            return -1;
        }
        if (px_buf_append(out, "\r\n", 2) != 0)
            return -1;
    }
    return 0;
}
