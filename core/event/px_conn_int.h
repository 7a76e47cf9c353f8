/* Between a connection's plain IO (px_conn.c) and its TLS (px_conn_tls.c). */
#ifndef PX_CONN_INT_H
#define PX_CONN_INT_H

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include "px_conn.h"

/** Writes what is buffered now (as the loop's flush hook does). */
void px__conn_flush(px_conn *c);
/** The connect (and TLS handshake) completed: reading starts, on_connected, flush. */
void px__conn_connected(px_conn *c);
/** Closes with an UNAVAILABLE "what peer: errno's text" (EPROTO with TLS: its reason). */
void px__conn_fail_errno(px_conn *c, const char *what, int e);

/* ---- px_conn_tls.c ---- */
/** A client's TCP connect completed: the handshake starts. */
void px__conn_tls_begin(px_conn *c);
/** Read event on a TLS connection: 1 when records may be read (the handshake is done),
 *  0 when it is still under way or the connection closed. */
int px__conn_tls_ready(px_conn *c);
/** Write event while the handshake, or a read, waits for the socket. */
void px__conn_tls_writable(px_conn *c);
ssize_t px__conn_tls_recv(px_conn *c, void *p, size_t n);
ssize_t px__conn_tls_send(px_conn *c, const void *p, size_t n);
/** Why the session failed. */
const char *px__conn_tls_why(const px_conn *c);
/** The connection closes: close_notify when orderly, and the session freed. */
void px__conn_tls_end(px_conn *c, int orderly);

/* read(2) and write(2), or the TLS record layer: -1 with errno EAGAIN when it must
 * wait, EPROTO when TLS failed; 0 from recv at the end. */
static inline ssize_t px__conn_recv(px_conn *c, void *p, size_t n)
{
    if (__builtin_expect(c->tls != NULL, 0))
        return px__conn_tls_recv(c, p, n);
    return read(c->fd, p, n);
}

static inline ssize_t px__conn_send(px_conn *c, const void *p, size_t n)
{
    if (__builtin_expect(c->tls != NULL, 0))
        return px__conn_tls_send(c, p, n);
    /* Not write(2): on a connection the peer closed it raises SIGPIPE, which would kill
     * a program embedding the library that does not ignore it. */
    return send(c->fd, p, n, MSG_NOSIGNAL);
}

#endif
