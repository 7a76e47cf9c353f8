/* The blocking client's connections (the seed's getConnection / putConnection): up to
 * pool_size long-lived connections per endpoint, shared by every caller thread under one
 * mutex, each used by one caller at a time; and their IO, bounded by poll(2). */
#ifndef PX_SYNC_POOL_H
#define PX_SYNC_POOL_H

#include <stddef.h>
#include <stdint.h>
#include "px_client_int.h"

typedef struct px_bconn {
    int fd;            /* non-blocking */
    px_ep *ep;
    px_buf in;         /* read, not consumed yet: an incomplete frame, or frames behind
                        * the last reply (late answers the next reader drops) */
    struct px_bconn *next;
    struct px_tls_conn *tls; /* NULL: plaintext */
    const px_protocol_ops *proto; /* the upstream's protocol ... */
    void *pstate;                 /* ... and its state for this connection */
} px_bconn;

/** A request id for one attempt: a per-client counter, never 0, never reused. */
uint64_t px_sync_next_id(px_client *c);

/**
 * getConnection: an idle connection to ep that the server has not closed or said
 * GOAWAY on, a new one (connected and HELLO sent, bounded by the connect timeout and
 * deadline_us) while ep has fewer than pool_size, or, with wait, the next one put back
 * before deadline_us. Without wait, PX_OK with *out NULL when none is free.
 */
px_status px_sync_get(px_client *c, px_ep *ep, int64_t deadline_us, int wait, px_bconn **out,
                      px_err *err);
/** putConnection: back to the pool, or closed when it can no longer be trusted or its
 *  endpoint is no longer listed. */
void px_sync_put(px_client *c, px_bconn *b, int healthy);

/** poll(2)'s timeout for a monotonic time until_us: whole ms rounded up, -1 for 0. */
int px_sync_poll_ms(int64_t until_us);
/** Writes all of p, waiting for room until deadline_us (0: no limit). */
px_status px_bconn_send(px_bconn *b, const uint8_t *p, size_t n, int64_t deadline_us,
                        px_err *err);
/** Writes p (a small frame) only if the socket takes all of it now: 0, else -1 (part of
 *  a frame may have gone: the connection can no longer be trusted). */
int px_bconn_send_now(px_bconn *b, const uint8_t *p, size_t n);
/** Reads what the socket has into b->in, without waiting: bytes read, 0 when nothing
 *  was there, -1 with err when the server closed the connection or it failed. */
int px_bconn_read(px_bconn *b, px_err *err);
/** Drops the first n bytes of b->in (a frame handled). */
void px_bconn_consume(px_bconn *b, size_t n);

#endif
