/* A framed, non-blocking connection owned by one loop: reads every complete frame
 * per wake-up, buffers output and writes it once per loop iteration. */
#ifndef PX_CONN_H
#define PX_CONN_H

#include <ev.h>
#include <stdint.h>
#include "plexus/px_buf.h"
#include "plexus/px_status.h"
#include "px_frame.h"
#include "px_loop.h"
#include "px_net.h"

typedef struct px_conn px_conn;

typedef struct px_conn_ops {
    /** A frame arrived. Its pointers are valid until return. May close the conn. */
    void (*on_frame)(px_conn *c, const px_frame *f);
    /** The connection closed (once): why->status PX_OK for an orderly close. */
    void (*on_close)(px_conn *c, const px_err *why);
    /** A pending connect completed (client side). May be NULL. */
    void (*on_connected)(px_conn *c);
    /** Last reference dropped after close: the owner frees its container. */
    void (*on_free)(px_conn *c);
} px_conn_ops;

struct px_conn {
    px_loop *loop;
    int fd;
    ev_io rio, wio;
    px_buf in;             /* an incomplete frame's bytes; empty (unallocated) otherwise */
    ev_tstamp partial_since; /* loop time an incomplete frame started waiting; 0 = none */
    px_buf out;            /* frames waiting to be written, from out_off */
    size_t out_off;
    px_flushable flush;
    const px_conn_ops *ops;
    uint64_t max_meta, max_body;
    unsigned refs;
    unsigned connecting : 1, closed : 1, close_after_flush : 1, reading : 1, read_paused : 1;
    size_t out_high_water; /* unsent bytes beyond which reading pauses; 0 = never */
    px_err why;            /* reason given to on_close after a deferred close */
    /* "127.0.0.1:7101", "[::1]:7101", for messages: holds any numeric name; a client's
     * configured host name past 69 characters is cut short. */
    char peer[PX_NET_NAME_MAX];
};

/** Takes ownership of fd (non-blocking). connecting: a connect is in progress. */
void px_conn_init(px_conn *c, px_loop *loop, int fd, const px_conn_ops *ops,
                  uint64_t max_meta, uint64_t max_body, int connecting, const char *peer);
/** The output buffer to append frames to; schedules a flush this iteration. */
px_buf *px_conn_out(px_conn *c);
/** Closes now (idempotent): stops watchers, closes fd, calls on_close with why. */
void px_conn_close(px_conn *c, const px_err *why);
/** Closes once everything buffered has been written (e.g. after an ERROR frame). */
void px_conn_close_after_flush(px_conn *c);
void px_conn_ref(px_conn *c);
void px_conn_unref(px_conn *c);

#endif
