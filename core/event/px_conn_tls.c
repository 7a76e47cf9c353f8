/* A connection's TLS: the handshake driven by the loop's read and write events, then
 * the record layer in place of read(2) and write(2) (px_conn_int.h). After the
 * handshake a read or a write costs one branch more than plaintext. */
#include <stdio.h>
#include <sys/socket.h>

#include "px_conn_int.h"
#include "px_log.h"
#include "px_tls.h"

/* The first byte of every TLS record of a handshake (ContentType handshake). */
#define PX_TLS_RECORD_HANDSHAKE 0x16

int px_conn_tls(px_conn *c, px_tls_ctx *t, int server, px_err *err)
{
    c->tls = px_tls_conn_new(t, c->fd, server, c->peer, err);
    if (!c->tls)
        return -1;
    c->tls_hs = 1;
    c->tls_hs_started = 0; /* a server looks at the first byte; a client waits for connect */
    return 0;
}

const char *px__conn_tls_why(const px_conn *c) { return px_tls_error(c->tls); }

void px__conn_tls_end(px_conn *c, int orderly)
{
    if (orderly && !c->tls_hs)
        px_tls_shutdown(c->tls);
    px_tls_conn_free(c->tls);
    c->tls = NULL;
}

/* Reads and drops what the peer has sent already, so that the close that follows is
 * a FIN, not a reset: a reset makes the peer's kernel drop what we wrote last (the
 * refusal, the TLS alert) before the peer reads it. */
static void px__conn_drain(px_conn *c)
{
    char sink[512];
    for (int i = 0; i < 16 && read(c->fd, sink, sizeof sink) > 0; i++) {
    }
}

/* One step of the handshake: 1 when it completed and records may be read, 0 when it
 * waits for the socket or the connection closed. */
static int px__conn_tls_step(px_conn *c)
{
    int r = px_tls_handshake(c->tls);
    if (r == PX_TLS_WANT_READ) {
        ev_io_stop(c->loop->ev, &c->wio);
        return 0;
    }
    if (r == PX_TLS_WANT_WRITE) {
        ev_io_start(c->loop->ev, &c->wio);
        return 0;
    }
    if (r != PX_TLS_DONE) {
        px_err e;
        px_err_set(&e, PX_UNAVAILABLE, "TLS handshake with %s failed: %s", c->peer,
                   px_tls_error(c->tls));
        px__conn_drain(c); /* the alert OpenSSL wrote must reach the peer */
        px_conn_close(c, &e);
        return 0;
    }
    c->tls_hs = 0;
    px_log_debug("TLS with %s: %s, ALPN '%s'%s", c->peer, px_tls_version(c->tls),
                 px_tls_alpn(c->tls), px_tls_resumed(c->tls) ? ", session resumed" : "");
    ev_io_stop(c->loop->ev, &c->wio);
    if (c->connecting) {
        px__conn_connected(c); /* reading starts, on_connected, what waited is written */
        /* Records that came with the handshake's last flight were read ahead: the
         * socket will not say so. */
        if (!c->closed && c->tls && px_tls_pending(c->tls))
            ev_feed_event(c->loop->ev, &c->rio, EV_READ);
        return 0;
    }
    return 1;
}

void px__conn_tls_begin(px_conn *c)
{
    c->tls_hs_started = 1;
    ev_io_start(c->loop->ev, &c->rio);
    px__conn_tls_step(c);
}

/* A server's first readable event: a client that is not speaking TLS gets a refusal it
 * can read, in its own protocol, instead of bytes it would take for garbage. */
static int px__conn_tls_first(px_conn *c)
{
    unsigned char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n <= 0) {
        px_err e;
        px_err_set(&e, PX_UNAVAILABLE, "%s closed the connection before the TLS handshake",
                   c->peer);
        px_conn_close(c, &e);
        return 0;
    }
    if (b != PX_TLS_RECORD_HANDSHAKE) {
        px_buf out = {0};
        if (c->ops->not_tls)
            c->ops->not_tls(c, &out);
        if (out.len && send(c->fd, out.data, out.len, MSG_NOSIGNAL) < 0) {
            /* the peer is gone already: nothing to tell */
        }
        px_buf_free(&out);
        px__conn_drain(c);
        px_err e;
        px_err_set(&e, PX_UNAVAILABLE, "%s sent plaintext to a TLS listener", c->peer);
        c->tls_hs = 0; /* nothing of TLS to end */
        px_conn_close(c, &e);
        return 0;
    }
    c->tls_hs_started = 1;
    return 1;
}

int px__conn_tls_ready(px_conn *c)
{
    if (c->tls_wr) { /* a write waited for this input */
        c->tls_wr = 0;
        px__conn_flush(c);
        if (c->closed)
            return 0;
    }
    if (!c->tls_hs)
        return 1;
    if (!c->tls_hs_started && !px__conn_tls_first(c))
        return 0;
    return px__conn_tls_step(c);
}

void px__conn_tls_writable(px_conn *c)
{
    if (c->tls_rw) { /* a read waited for the socket to take its output */
        c->tls_rw = 0;
        ev_io_stop(c->loop->ev, &c->wio);
        ev_feed_event(c->loop->ev, &c->rio, EV_READ);
        px__conn_flush(c);
        return;
    }
    if (px__conn_tls_step(c))
        ev_feed_event(c->loop->ev, &c->rio, EV_READ); /* records may be buffered already */
}

ssize_t px__conn_tls_recv(px_conn *c, void *p, size_t n)
{
    ssize_t r = px_tls_read(c->tls, p, n);
    if (r > 0)
        return r;
    switch (r) {
    case PX_TLS_EOF:
        return 0;
    case PX_TLS_WANT_WRITE:
        c->tls_rw = 1;
        ev_io_start(c->loop->ev, &c->wio);
        /* fall through */
    case PX_TLS_WANT_READ:
        errno = EAGAIN;
        return -1;
    default:
        errno = EPROTO;
        return -1;
    }
}

ssize_t px__conn_tls_send(px_conn *c, const void *p, size_t n)
{
    ssize_t r = px_tls_write(c->tls, p, n);
    if (r > 0)
        return r;
    switch (r) {
    case PX_TLS_WANT_READ:
        c->tls_wr = 1;
        /* fall through */
    case PX_TLS_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    default:
        errno = EPROTO;
        return -1;
    }
}
