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
    uint8_t *data; /**< malloc'd storage, or NULL when cap == 0 */
    size_t len;    /**< bytes in use */
    size_t cap;    /**< bytes allocated */
} px_buf;

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
