/* gRPC's text encodings over HTTP/2 headers: grpc-timeout, grpc-message's percent-
 * encoding, and call metadata <-> headers (-bin values in base64). Small enough to
 * write here: nghttp2 leaves header values to the application, and gRPC defines them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_int.h"
#include "px_cu.h"

int64_t gr_timeout_parse(const uint8_t *v, size_t len)
{
    /* "TimeoutValue: positive integer as ASCII string of at most 8 digits" then a unit */
    if (len < 2 || len > 9)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    int64_t us;
    switch (v[len - 1]) {
    case 'H': us = n * 3600 * 1000000; break;
    case 'M': us = n * 60 * 1000000; break;
    case 'S': us = n * 1000000; break;
    case 'm': us = n * 1000; break;
    case 'u': us = n; break;
    case 'n': us = (n + 999) / 1000; break; /* rounded up: a deadline never becomes none */
    default: return -1;
    }
    return us > 0 ? us : 1; /* "0S" has expired already; 0 would mean no deadline */
}

size_t gr_percent_encode(const char *msg, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const uint8_t *p = (const uint8_t *)msg; *p; p++) {
        int plain = *p >= 0x20 && *p <= 0x7e && *p != '%';
        if (o + (plain ? 1 : 3) >= cap)
            break;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (cap)
        out[o] = 0;
    return o;
}

static int gr_is(const uint8_t *name, size_t len, const char *s)
{
    return strlen(s) == len && memcmp(name, s, len) == 0;
}

int gr_header_reserved(const uint8_t *name, size_t len)
{
    static const char *const transport[] = {
        "content-type", "te", "host", "connection", "keep-alive", "proxy-connection",
        "transfer-encoding", "upgrade", "content-length", "user-agent",
    };
    if (len == 0 || name[0] == ':' || (len >= 5 && memcmp(name, "grpc-", 5) == 0))
        return 1;
    for (size_t i = 0; i < sizeof transport / sizeof transport[0]; i++)
        if (gr_is(name, len, transport[i]))
            return 1;
    return 0;
}

static int gr_key_byte(uint8_t b)
{
    return (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '_' || b == '.';
}

px_status gr_meta_from_header(px_buf *meta, const uint8_t *name, size_t nlen,
                              const uint8_t *value, size_t vlen, char *why, size_t cap)
{
    if (nlen > 255) {
        snprintf(why, cap, "metadata key '%.40s...' has %zu bytes (at most 255)", name, nlen);
        return PX_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < nlen; i++)
        if (!gr_key_byte(name[i])) {
            snprintf(why, cap, "metadata key '%.*s': byte 0x%02x is not one of a-z 0-9 - _ .",
                     (int)nlen, name, name[i]);
            return PX_INVALID_ARGUMENT;
        }
    uint8_t *bin = NULL;
    size_t blen = 0;
    if (nlen > 4 && memcmp(name + nlen - 4, "-bin", 4) == 0) {
        size_t bad_at = 0;
        int rc = px__cu_b64_decode((const char *)value, vlen, NULL, &bin, &blen, &bad_at);
        if (rc == -1)
            goto oom;
        if (rc == -2) {
            snprintf(why, cap, "metadata %.*s: the value is not base64 (byte %zu)", (int)nlen,
                     name, bad_at);
            return PX_INVALID_ARGUMENT;
        }
        value = bin;
        vlen = blen;
    } else {
        for (size_t i = 0; i < vlen; i++)
            if (value[i] < 0x20 || value[i] > 0x7e) {
                snprintf(why, cap, "metadata %.*s: value byte 0x%02x is not printable ASCII "
                         "(binary values need a key ending in -bin)", (int)nlen, name, value[i]);
                return PX_INVALID_ARGUMENT;
            }
    }
    if (vlen > 65535) {
        free(bin);
        snprintf(why, cap, "metadata %.*s: the value has %zu bytes (at most 65535)", (int)nlen,
                 name, vlen);
        return PX_INVALID_ARGUMENT;
    }
    uint8_t kl = (uint8_t)nlen, vl[2] = {(uint8_t)(vlen >> 8), (uint8_t)vlen};
    size_t at = meta->len;
    if (px_buf_append(meta, &kl, 1) != 0 || px_buf_append(meta, name, nlen) != 0 ||
        px_buf_append(meta, vl, 2) != 0 || px_buf_append(meta, value, vlen) != 0) {
        meta->len = at;
        free(bin);
        goto oom;
    }
    free(bin);
    return PX_OK;
oom:
    snprintf(why, cap, "server out of memory for the request metadata");
    return PX_RESOURCE_EXHAUSTED;
}

size_t gr_meta_count(const uint8_t *meta, size_t len)
{
    size_t n = 0;
    for (size_t at = 0; at + 3 <= len; n++)
        at += 3 + meta[at] + ((size_t)meta[at + 1 + meta[at]] << 8 | meta[at + 2 + meta[at]]);
    return n;
}

int gr_meta_to_nv(const uint8_t *meta, size_t len, nghttp2_nv *nva, size_t *k, char **b64,
                  size_t *nb)
{
    for (size_t at = 0; at + 3 <= len;) {
        size_t kl = meta[at];
        const uint8_t *key = meta + at + 1, *v = key + kl + 2;
        size_t vl = (size_t)key[kl] << 8 | key[kl + 1];
        at += 3 + kl + vl;
        if (gr_header_reserved(key, kl))
            continue;
        nghttp2_nv e = {(uint8_t *)key, (uint8_t *)v, kl, vl, NGHTTP2_NV_FLAG_NONE};
        if (kl > 4 && memcmp(key + kl - 4, "-bin", 4) == 0) {
            size_t el;
            if (!(b64[*nb] = px__cu_b64_encode(v, vl, &el)))
                return -1;
            e.value = (uint8_t *)b64[(*nb)++];
            e.valuelen = el;
        }
        nva[(*k)++] = e;
    }
    return 0;
}
