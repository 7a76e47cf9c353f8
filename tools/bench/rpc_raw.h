/* The raw-socket baseline: 4-byte big-endian length frames over TCP, what both ends share. */
#ifndef PX_RPC_RAW_H
#define PX_RPC_RAW_H

#include <stddef.h>
#include <stdint.h>

/*
 * Request body: int32 a, int32 b, 16 bytes of tag (the calc.AddRequest payload without
 * an encoding); reply body: int32 a + b. Replies come back in request order, so a
 * connection needs no request ids: that is the least any RPC can do on the wire.
 */
#define PX_RAW_REQ_BODY 24
#define PX_RAW_REP_BODY 4
#define PX_RAW_TAG "0123456789abcdef"

/** A byte buffer that grows by doubling; the raw ends reuse one per connection. */
typedef struct px_raw_buf {
    uint8_t *data;
    size_t len, off, cap; /* bytes [off, len) are pending */
} px_raw_buf;

/** Room for n more bytes after len (compacting first); 0 or -1 when out of memory. */
int px_raw_reserve(px_raw_buf *b, size_t n);
/**
 * Writes b's pending bytes to fd until done or EAGAIN. Returns 1 when all were
 * written, 0 when some remain (wait for writability), -1 on a socket error.
 */
int px_raw_flush(int fd, px_raw_buf *b);

static inline void px_raw_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t px_raw_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
