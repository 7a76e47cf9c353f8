/* The metadata section of a frame (docs/PROTOCOL.md §2.3): checking, reading and
 * writing its entries, and the struct behind the public px_meta (plexus/px_meta.h). */
#ifndef PX_META_H
#define PX_META_H

#include <stddef.h>
#include <stdint.h>
#include "plexus/px_buf.h"
#include "plexus/px_meta.h"

/*
 * An entry, repeated without gaps:
 *   key_len    1 byte        1..255
 *   key        key_len bytes a-z 0-9 - _ .
 *   value_len  2 bytes, BE   0..65535
 *   value      value_len     any byte when the key ends in "-bin", else 0x20..0x7e
 */
#define PX_META_MAX_KEY 255
#define PX_META_MAX_VALUE 65535
/* The largest max_meta a config accepts: no peer takes a bigger section. */
#define PX_META_MAX_SECTION (16u << 20)

/** One entry of a checked section; pointers into the section. */
typedef struct px_meta_entry {
    const char *key;
    size_t key_len;
    const uint8_t *value;
    size_t len;
} px_meta_entry;

/**
 * Checks a whole section. 0 when every entry is well formed, with *count entries; -1
 * with *at the offset of the first bad byte (for a length that runs past the end, the
 * offset of that length field) and what saying what is wrong there.
 */
int px_meta_wire_check(const uint8_t *p, size_t len, size_t *count, size_t *at, char *what,
                       size_t cap);

/** The entry at off of a checked section; returns the offset of the next one. */
static inline size_t px_meta_wire_next(const uint8_t *p, size_t off, px_meta_entry *e)
{
    e->key_len = p[off];
    e->key = (const char *)p + off + 1;
    off += 1 + e->key_len;
    e->len = (size_t)p[off] << 8 | p[off + 1];
    e->value = p + off + 2;
    return off + 2 + e->len;
}

/** Appends one entry, unchecked (the caller checked key and value). 0, or -1 on OOM. */
int px_meta_wire_append(px_buf *b, const char *key, size_t key_len, const void *value, size_t len);

/** Whether a key of that many bytes names a binary value (it ends in "-bin"). */
static inline int px_meta_key_is_bin(const char *key, size_t key_len)
{
    return key_len >= 4 && key[key_len - 4] == '-' && key[key_len - 3] == 'b' &&
           key[key_len - 2] == 'i' && key[key_len - 1] == 'n';
}

/** Whether c may appear in a key: a-z 0-9 - _ . */
static inline int px_meta_key_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/** Whether c may appear in the value of a key without "-bin": printable ASCII. */
static inline int px_meta_text_char(uint8_t c) { return c >= 0x20 && c <= 0x7e; }

/*
 * The public px_meta: the section's encoding itself, so that sending it is a memcpy and
 * adding an entry allocates only when the buffer grows. A view (px_meta_view) reads
 * bytes someone else owns (a frame, a call record) and is never written.
 */
struct px_meta {
    px_buf enc;
    size_t count;
    uint64_t cursor; /* atomic: index << 32 | offset of the entry px_meta_at found last */
};

/** Makes m a read-only view of a checked section of count entries. */
static inline void px_meta_view(px_meta *m, const uint8_t *p, size_t len, size_t count)
{
    m->enc = (px_buf){.data = (uint8_t *)p, .len = len, .cap = len, .borrowed = 1};
    m->count = count;
    m->cursor = 0;
}

/** Replaces m's entries by a copy of a checked section. 0, or -1 on OOM (m emptied). */
int px_meta_assign(px_meta *m, const uint8_t *p, size_t len, size_t count);

#endif
