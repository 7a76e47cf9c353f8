/* The metadata section's wire codec: one pass that checks every entry of a received
 * section, and the append of one entry. */
#include "px_meta.h"

#include <stdio.h>
#include <string.h>

/* Messages show at most this much of a key, so that what follows it is not cut off. */
static int px__shown(size_t key_len) { return key_len > 40 ? 40 : (int)key_len; }

int px_meta_wire_check(const uint8_t *p, size_t len, size_t *count, size_t *at, char *what,
                       size_t cap)
{
    size_t off = 0, n = 0;
    while (off < len) {
        size_t klen = p[off];
        if (klen == 0) {
            *at = off;
            snprintf(what, cap, "key_len is 0 (a key has 1 to %d bytes)", PX_META_MAX_KEY);
            return -1;
        }
        if (klen > len - off - 1) {
            *at = off;
            snprintf(what, cap, "key_len %zu runs past the end of the section (%zu bytes left)",
                     klen, len - off - 1);
            return -1;
        }
        const char *key = (const char *)p + off + 1;
        for (size_t i = 0; i < klen; i++) {
            if (!px_meta_key_char((uint8_t)key[i])) {
                *at = off + 1 + i;
                snprintf(what, cap, "key byte 0x%02x is not one of a-z 0-9 - _ .",
                         (uint8_t)key[i]);
                return -1;
            }
        }
        size_t voff = off + 1 + klen;
        if (len - voff < 2) {
            *at = voff;
            snprintf(what, cap, "value_len of key '%.*s' needs 2 bytes, %zu left", px__shown(klen),
                     key, len - voff);
            return -1;
        }
        size_t vlen = (size_t)p[voff] << 8 | p[voff + 1];
        if (vlen > len - voff - 2) {
            *at = voff;
            snprintf(what, cap,
                     "value_len %zu of key '%.*s' runs past the end of the section (%zu bytes "
                     "left)", vlen, px__shown(klen), key, len - voff - 2);
            return -1;
        }
        if (!px_meta_key_is_bin(key, klen)) {
            const uint8_t *v = p + voff + 2;
            for (size_t i = 0; i < vlen; i++) {
                if (!px_meta_text_char(v[i])) {
                    *at = voff + 2 + i;
                    snprintf(what, cap,
                             "value byte 0x%02x of key '%.*s' is not printable ASCII "
                             "(0x20..0x7e; binary values need a key ending in -bin)",
                             v[i], px__shown(klen), key);
                    return -1;
                }
            }
        }
        off = voff + 2 + vlen;
        n++;
    }
    *count = n;
    return 0;
}

int px_meta_wire_append(px_buf *b, const char *key, size_t key_len, const void *value, size_t len)
{
    size_t need = 1 + key_len + 2 + len;
    if (px_buf_reserve(b, need) != 0)
        return -1;
    uint8_t *w = b->data + b->len;
    w[0] = (uint8_t)key_len;
    memcpy(w + 1, key, key_len);
    w[1 + key_len] = (uint8_t)(len >> 8);
    w[2 + key_len] = (uint8_t)len;
    if (len)
        memcpy(w + 3 + key_len, value, len);
    b->len += need;
    return 0;
}
