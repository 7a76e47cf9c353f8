/* A non-blocking connection owned by one loop: hands what arrives to its protocol, buffers output and writes it once per loop iteration, counts the bytes
 * it holds, and closes in order (calls in progress answered, output written, then the
 * socket closed). */
#ifndef PX_CONN_H
#define PX_CONN_H

#include <ev.h>
#include <stdint.h>
#include "plexus/px_buf.h"
#include "plexus/px_status.h"
#include "px_loop.h"
#include "px_mem.h"
#include "px_net.h"

typedef struct px_conn px_conn;

typedef struct px_conn_ops {
    /**
     * Bytes arrived: the connection's protocol consumes what it can and returns how
     * many. The rest is handed back with what follows; past max_meta + max_body + 64 KiB
     * unconsumed, the connection fails. Between messages it asks px_conn_may_read
     * whether to go on. May close the conn.
     */
    size_t (*on_bytes)(px_conn *c, const uint8_t *buf, size_t len);
    /** The size of the message buf starts with, once known (0: not yet), so that the
     *  input buffer grows to it and no further. May be NULL: it grows with arrivals. */
    size_t (*msg_size)(px_conn *c, const uint8_t *buf, size_t len);
    /** Appends the last words of px_conn_finish's final error. May be NULL: none. */
    void (*write_final)(px_conn *c, const px_err *e);
    /** The connection closed (once): why->status PX_OK for an orderly close. */
    void (*on_close)(px_conn *c, const px_err *why);
    /** A pending connect completed (client side). May be NULL. */
    void (*on_connected)(px_conn *c);
    /** Last reference dropped after close: the owner frees its container. */
    void (*on_free)(px_conn *c);
    /**
     * Nonzero while the owner has calls in progress whose answers must still be
     * written (server side). Such a connection, on EOF from the peer or on a protocol
     * error, stops reading but closes only once it is no longer busy and its output
     * is written (px_conn_idle tells it to look again). NULL: on EOF the connection
     * closes at once (client side: the server will answer nothing more).
     */
    int (*busy)(px_conn *c);
    /** Whether the connection may read more input now (a memory budget). NULL: always.
     *  When it says no, reading pauses until px_conn_resume. */
    int (*may_read)(px_conn *c);
    /** On a failed write, first read and dispatch what the peer sent before it reset
     *  the connection (a GOAWAY or ERROR saying why). */
    int read_on_reset;
    /** TLS server side: the peer's first byte is not a TLS record. Appends a plaintext
     *  refusal its protocol can read (sent as is, then the connection closes). May be
     *  NULL: it just closes. */
    void (*not_tls)(px_conn *c, px_buf *out);
} px_conn_ops;

struct px_tls_conn;
struct px_tls_ctx;

struct px_conn {
    px_loop *loop;
    int fd;
    ev_io rio, wio;
    px_buf in;             /* unread frames: an incomplete one, or those a pause left */
    ev_tstamp partial_since; /* loop time an incomplete frame started waiting; 0 = none */
    px_buf out;            /* frames waiting to be written, from out_off */
    size_t out_off;
    px_flushable flush;
    const px_conn_ops *ops;
    uint64_t max_meta, max_body;
    unsigned refs;
    unsigned connecting : 1, closed : 1, finishing : 1, paused : 1, has_final : 1,
        final_sent : 1;
    /* TLS: the handshake is under way (a client is `connecting` until it completes);
     * it has started (a client's TCP connect completed); a write waits for input, a
     * read for the socket to take output (TLS 1.2 renegotiation, a TLS 1.3 key update). */
    unsigned tls_hs : 1, tls_hs_started : 1, tls_wr : 1, tls_rw : 1;
    struct px_tls_conn *tls; /* NULL: plaintext */
    px_mem *mem;           /* the loop's account this connection's bytes go to; may be NULL */
    int64_t held;          /* bytes held for this connection: its buffers + the owner's charges */
    int64_t read_free_below; /* while held is under this, reading goes on without asking may_read */
    size_t bufs;           /* the buffers' capacity last counted into held */
    px_err why;            /* reason given to on_close after a deferred close */
    /* "127.0.0.1:7101", "[::1]:7101", for messages: holds any numeric name; a client's
     * configured host name past 69 characters is cut short. */
    char peer[PX_NET_NAME_MAX];
};

/** Takes ownership of fd (non-blocking). connecting: a connect is in progress. */
void px_conn_init(px_conn *c, px_loop *loop, int fd, const px_conn_ops *ops,
                  uint64_t max_meta, uint64_t max_body, int connecting, const char *peer);
/**
 * Puts TLS under the connection, right after px_conn_init: a server's handshake starts
 * with the first readable event, a client's once its connect completes (it stays
 * `connecting`, and on_connected waits, until the handshake is done; its output waits
 * too). -1 with err when the session cannot be made (the connection is still open).
 */
int px_conn_tls(px_conn *c, struct px_tls_ctx *t, int server, px_err *err);
/** The output buffer to append frames to; schedules a flush this iteration. */
px_buf *px_conn_out(px_conn *c);
/** Closes now (idempotent): stops watchers, closes fd, calls on_close with why. */
void px_conn_close(px_conn *c, const px_err *why);
/**
 * Stops reading and closes in order: once the owner is not busy and everything
 * buffered is written. final, when not NULL, is sent last as an ERROR with id 0 (its
 * status and message) and is the reason given to on_close.
 */
void px_conn_finish(px_conn *c, const px_err *final);
/** Writes what the socket takes at once, without waiting, then closes (a deadline ran
 *  out: what is queued is the last word, as far as it goes). */
void px_conn_abort(px_conn *c, const px_err *why);
/** Closes once everything buffered has been written (px_conn_finish without a final error). */
void px_conn_close_after_flush(px_conn *c);
/** The owner is perhaps no longer busy: a finishing connection may close now. */
void px_conn_idle(px_conn *c);
/** Whether on_bytes may go on to the next message: 0 once the connection is closing,
 *  or when may_read says no (reading then pauses until px_conn_resume). */
int px_conn_may_read(px_conn *c);
/** Reading was paused by may_read: look again, and read (and dispatch frames already
 *  buffered) in the next loop iteration when it now says yes. */
void px_conn_resume(px_conn *c);
/** Counts d more (or fewer) bytes as held by this connection (owner's memory). */
static inline void px_conn_charge(px_conn *c, int64_t d)
{
    c->held += d;
    if (c->mem)
        px_mem_add(c->mem, d);
}
/** Brings held up to date with the buffers' current capacity. */
void px_conn_account(px_conn *c);
void px_conn_ref(px_conn *c);
void px_conn_unref(px_conn *c);

#endif
