/* The public px_meta: an ordered list of entries kept as their wire encoding, with the
 * key and value rules checked as entries are added. */
#include <stdlib.h>
#include <string.h>

#include "px_meta.h"

px_meta *px_meta_new(void) { return calloc(1, sizeof(px_meta)); }

void px_meta_free(px_meta *m)
{
    if (!m)
        return;
    px_buf_free(&m->enc);
    free(m);
}

void px_meta_clear(px_meta *m)
{
    if (!m)
        return;
    m->enc.len = 0;
    m->count = 0;
    m->cursor = 0;
}

/* Why key may not be sent, or PX_OK. */
static px_status px__key_check(const char *key, px_err *err)
{
    if (!key || !key[0])
        return px_err_set(err, PX_INVALID_ARGUMENT, "metadata key is empty");
    size_t n = strlen(key);
    if (n > PX_META_MAX_KEY)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "metadata key '%.40s...' has %zu bytes (at most %d)", key, n,
                          PX_META_MAX_KEY);
    for (size_t i = 0; i < n; i++)
        if (!px_meta_key_char((uint8_t)key[i]))
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "metadata key '%.64s': byte %zu (0x%02x) is not one of a-z 0-9 - "
                              "_ . (keys are lowercase)", key, i, (uint8_t)key[i]);
    /* Reserved: px- for the framework itself (e.g. trace context), grpc- for gRPC. */
    if (strncmp(key, "px-", 3) == 0 || strncmp(key, "grpc-", 5) == 0)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "metadata key '%.64s' is reserved: keys beginning with px- belong to "
                          "Plexus, keys beginning with grpc- to gRPC", key);
    return PX_OK;
}

px_status px_meta_add(px_meta *m, const char *key, const void *value, size_t len, px_err *err)
{
    if (!m || (!value && len))
        return px_err_set(err, PX_INVALID_ARGUMENT, "px_meta_add: missing argument");
    if (px__key_check(key, err) != PX_OK)
        return PX_INVALID_ARGUMENT;
    size_t klen = strlen(key);
    if (len > PX_META_MAX_VALUE)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "metadata value of key '%s' has %zu bytes (at most %d)", key, len,
                          PX_META_MAX_VALUE);
    if (!px_meta_key_is_bin(key, klen)) {
        const uint8_t *v = value;
        for (size_t i = 0; i < len; i++)
            if (!px_meta_text_char(v[i]))
                return px_err_set(err, PX_INVALID_ARGUMENT,
                                  "metadata value of key '%s': byte %zu (0x%02x) is not printable "
                                  "ASCII (0x20..0x7e); binary values need a key ending in -bin",
                                  key, i, v[i]);
    }
    size_t need = 1 + klen + 2 + len;
    if (need > PX_META_MAX_SECTION - m->enc.len)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "metadata would grow to %zu bytes, past %u (the largest max_meta)",
                          m->enc.len + need, PX_META_MAX_SECTION);
    if (px_meta_wire_append(&m->enc, key, klen, value, len) != 0)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    m->count++;
    return PX_OK;
}

px_status px_meta_add_str(px_meta *m, const char *key, const char *value, px_err *err)
{
    return px_meta_add(m, key, value, value ? strlen(value) : 0, err);
}

const void *px_meta_get(const px_meta *m, const char *key, size_t *len)
{
    if (!m || !key)
        return NULL;
    size_t klen = strlen(key);
    for (size_t off = 0, i = 0; i < m->count; i++) {
        px_meta_entry e;
        off = px_meta_wire_next(m->enc.data, off, &e);
        if (e.key_len == klen && memcmp(e.key, key, klen) == 0) {
            if (len)
                *len = e.len;
            return e.value;
        }
    }
    return NULL;
}

size_t px_meta_count(const px_meta *m) { return m ? m->count : 0; }

int px_meta_at(const px_meta *m, size_t i, const char **key, size_t *key_len,
               const void **value, size_t *len)
{
    if (!m || i >= m->count)
        return -1;
    /* Entries have no index: walk from the last one found (a loop over i is then O(1)
     * a step). One atomic word, so that threads reading the same list stay correct. */
    uint64_t *cursor = (uint64_t *)&m->cursor;
    uint64_t c = __atomic_load_n(cursor, __ATOMIC_RELAXED);
    size_t at = (size_t)(c >> 32), off = (uint32_t)c;
    if (at > i)
        at = off = 0;
    px_meta_entry e;
    for (;;) {
        size_t next = px_meta_wire_next(m->enc.data, off, &e);
        if (at == i)
            break;
        off = next;
        at++;
    }
    __atomic_store_n(cursor, (uint64_t)i << 32 | off, __ATOMIC_RELAXED);
    if (key)
        *key = e.key;
    if (key_len)
        *key_len = e.key_len;
    if (value)
        *value = e.value;
    if (len)
        *len = e.len;
    return 0;
}

int px_meta_assign(px_meta *m, const uint8_t *p, size_t len, size_t count)
{
    px_meta_clear(m);
    if (px_buf_append(&m->enc, p, len) != 0)
        return -1;
    m->count = count;
    return 0;
}
