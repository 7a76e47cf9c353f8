/* plexusd: the channel between the master and a worker, a SOCK_STREAM socketpair made
 * before the fork. Every message is a header and len bytes of body: the worker says
 * READY once it serves, and answers each METRICS request (seq) with its metrics text
 * under the same seq, so that a reply the master gave up waiting for is recognised and
 * dropped when it comes late. */
#ifndef PX_PLEXUSD_CHANNEL_H
#define PX_PLEXUSD_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

enum { PX_CHAN_READY = 1, PX_CHAN_METRICS = 2 };

typedef struct px_chan_hdr {
    uint32_t kind; /* PX_CHAN_* */
    uint32_t seq;
    uint64_t len; /* body bytes that follow */
} px_chan_hdr;

/** Writes a whole message (blocking, retrying short writes and EINTR): 0, or -1 when the
 *  peer is gone. */
int px_chan_send(int fd, uint32_t kind, uint32_t seq, const void *body, size_t len);
/** Reads exactly n bytes (blocking): 0, or -1 at EOF or on an error. */
int px_chan_read_all(int fd, void *buf, size_t n);

/** A worker's side: answers each METRICS request on fd with px_metrics_text until the
 *  channel closes (EOF, or an error). */
void px_chan_serve(int fd);

/** What the master has read from a worker so far: bytes up to a whole message. */
typedef struct px_chan_rx {
    char *buf;
    size_t len, cap;
} px_chan_rx;

/** Reads what fd has now (non-blocking) into rx: 1 read some, 0 nothing yet, -1 EOF or
 *  an error (the worker is gone). */
int px_chan_rx_fill(px_chan_rx *rx, int fd);
/** The first whole message in rx (*hdr, *body pointing into rx): 1, or 0 when none is
 *  complete yet. px_chan_rx_pop drops it once used. */
int px_chan_rx_peek(const px_chan_rx *rx, px_chan_hdr *hdr, const char **body);
void px_chan_rx_pop(px_chan_rx *rx);
void px_chan_rx_free(px_chan_rx *rx);

#endif
