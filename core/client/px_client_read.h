/* The one reader of what a server sends, for every client connection on a loop (the
 * async client's connections and the health probe): client_next one message at a time,
 * each handed to on_msg, until the protocol needs more bytes or the connection ends.
 * Inline so that on the async client's per-message path on_msg is a direct call. */
#ifndef PX_CLIENT_READ_H
#define PX_CLIENT_READ_H

#include "plexus/px_protocol.h"
#include "px_conn.h"

/** Returns the bytes consumed. A protocol error closes c (INTERNAL, naming the peer: the
 *  server is at fault, as the blocking client words it). Bytes the protocol appended
 *  to c->out (acknowledgements it owes the server: HTTP/2's SETTINGS ACK, PING answers)
 *  are flushed. */
static inline size_t px_client_read(px_conn *c, const px_protocol_ops *p, void *pstate,
                                    const px_plimits *lim, const uint8_t *buf, size_t len,
                                    void (*on_msg)(px_conn *c, const px_cmsg *m))
{
    size_t off = 0, out_was = c->out.len;
    int empty = 0;
    while (!c->closed && !c->finishing) {
        px_cmsg m;
        size_t used = 0;
        px_err err;
        int r = p->client_next(pstate, buf + off, len - off, lim, &c->out, &m, &used, &err);
        off += used;
        if (r == PX_CNEXT_MORE)
            break;
        if (r == PX_CNEXT_MSG && used == 0 && ++empty > 1) {
            /* Only a synthesized READY may take no bytes: a loop otherwise. */
            r = PX_CNEXT_ERROR;
            px_err_set(&err, PX_INTERNAL, "messages that consumed no bytes");
        }
        if (r == PX_CNEXT_ERROR) {
            px_err final;
            px_err_set(&final, PX_INTERNAL, "protocol error from %s: %s", c->peer, err.msg);
            px_conn_close(c, &final);
            break;
        }
        on_msg(c, &m);
    }
    if (c->out.len != out_was && !c->closed)
        px_conn_out(c); /* the protocol owed the server something: flush it */
    return off;
}

#endif
