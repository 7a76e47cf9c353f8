/* A growable byte buffer: what codecs append their output to. */
#ifndef PLEXUS_PX_BUF_H
#define PLEXUS_PX_BUF_H

#include <stddef.h>
#include <stdint.h>
#include "px_export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct px_buf {
    uint8_t *data; /**< storage (malloc'd unless borrowed), or NULL when cap == 0 */
    size_t len;    /**< bytes in use */
    size_t cap;    /**< bytes available at data */
    int borrowed;  /**< data is the owner's storage (px_buf_borrow): growth moves to the heap */
} px_buf;

/** Starts b on the caller's storage of cap bytes: small contents need no malloc. */
static inline void px_buf_borrow(px_buf *b, void *storage, size_t cap)
{
    b->data = (uint8_t *)storage;
    b->len = 0;
    b->cap = cap;
    b->borrowed = 1;
}

/** Ensures room for n more bytes; returns 0, or -1 when out of memory. */
PX_API int px_buf_reserve(px_buf *b, size_t n);
/** Appends n bytes; returns 0, or -1 when out of memory. */
PX_API int px_buf_append(px_buf *b, const void *p, size_t n);
/** Frees the storage and zeroes the buffer. */
PX_API void px_buf_free(px_buf *b);

#ifdef __cplusplus
}
#endif
#endif
