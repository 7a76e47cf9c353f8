/* Non-blocking connection: batched reads and writes, refcounted lifetime, byte
 * accounting, read pauses, and an ordered close (answers, then the final ERROR, then
 * the socket). */
#include "px_conn.h"
#include "px_conn_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PX_READ_CHUNK (64 * 1024)
/* Room for the rest of a header whose message size is not known yet (a native frame's
 * header is 32 bytes). */
#define PX_HEADER_GUESS 64
/* A drained output buffer above this size is given back when the last flush used less
 * than a quarter of it: a burst of large replies is over, its memory need not stay. */
#define PX_OUT_KEEP (64 * 1024)

static void px__conn_flush_hook(px_flushable *f);
static void px__conn_read_cb(struct ev_loop *ev, ev_io *w, int revents);

void px_conn_ref(px_conn *c) { c->refs++; }

static inline void px__conn_account(px_conn *c)
{
    size_t b = c->in.cap + c->out.cap;
    if (b != c->bufs) {
        px_conn_charge(c, (int64_t)b - (int64_t)c->bufs);
        c->bufs = b;
    }
}

void px_conn_account(px_conn *c) { px__conn_account(c); }

void px_conn_unref(px_conn *c)
{
    if (--c->refs == 0) {
        px_buf_free(&c->in);
        px_buf_free(&c->out);
        px_conn_account(c);
        if (c->ops->on_free)
            c->ops->on_free(c);
    }
}

void px_conn_close(px_conn *c, const px_err *why)
{
    if (c->closed)
        return;
    c->closed = 1;
    ev_io_stop(c->loop->ev, &c->rio);
    ev_io_stop(c->loop->ev, &c->wio);
    if (c->tls)
        px__conn_tls_end(c, why == NULL || why->status == PX_OK);
    close(c->fd);
    c->fd = -1;
    /* Nothing more will be written; the input goes when the read callback is done with it. */
    px_buf_free(&c->out);
    c->out_off = 0;
    px_conn_account(c);
    px_err ok = {0};
    c->ops->on_close(c, why ? why : &ok);
    px_conn_unref(c); /* the reference the open connection held */
}

void px_conn_abort(px_conn *c, const px_err *why)
{
    if (c->closed)
        return;
    while (!c->connecting && !c->tls_hs && c->out_off < c->out.len) {
        ssize_t n = px__conn_send(c, c->out.data + c->out_off, c->out.len - c->out_off);
        if (n <= 0)
            break;
        c->out_off += (size_t)n;
    }
    /* Unread input makes close() send a reset, which can make the peer's kernel drop
     * the answers just written before they are read. */
    char sink[4096];
    for (int i = 0; i < 64 && read(c->fd, sink, sizeof sink) > 0; i++) {
    }
    px_conn_close(c, why);
}

void px__conn_fail_errno(px_conn *c, const char *what, int e)
{
    px_err err;
    if (e == EPROTO && c->tls)
        px_err_set(&err, PX_UNAVAILABLE, "%s %s: TLS: %s", what, c->peer, px__conn_tls_why(c));
    else if (e == 0)
        px_err_set(&err, PX_UNAVAILABLE, "%s closed the connection", c->peer);
    else
        px_err_set(&err, PX_UNAVAILABLE, "%s %s: %s", what, c->peer, strerror(e));
    px_conn_close(c, &err);
}

/* A finishing connection whose owner is idle: the final ERROR is queued once, and the
 * socket closes when everything is written (from the flush hook, never in the middle
 * of the caller's work). */
static void px__conn_end_if_idle(px_conn *c)
{
    if (c->closed || !c->finishing || (c->ops->busy && c->ops->busy(c)))
        return;
    if (c->has_final && !c->final_sent) {
        c->final_sent = 1;
        if (c->ops->write_final)
            c->ops->write_final(c, &c->why);
    }
    if (c->connecting) {
        px_conn_close(c, &c->why);
        return;
    }
    if (px_loop_want_flush(c->loop, &c->flush))
        px_conn_ref(c);
}

/* Stops reading for good; why is kept for on_close (and sent when it is a final error). */
static void px__conn_stop_reading(px_conn *c)
{
    c->finishing = 1;
    c->paused = 0;
    c->partial_since = 0;
    ev_io_stop(c->loop->ev, &c->rio);
}

void px_conn_finish(px_conn *c, const px_err *final)
{
    if (c->closed)
        return;
    if (final && !c->has_final) {
        c->why = *final;
        c->has_final = 1;
    }
    px__conn_stop_reading(c);
    px__conn_end_if_idle(c);
}

void px_conn_close_after_flush(px_conn *c) { px_conn_finish(c, NULL); }

void px_conn_idle(px_conn *c) { px__conn_end_if_idle(c); }

/* Asks the owner whether reading may go on; pauses the connection when it may not. */
static int px__conn_may_read(px_conn *c)
{
    if (c->closed || c->finishing)
        return 0;
    if (!c->ops->may_read)
        return 1;
    px__conn_account(c);
    if (c->held < c->read_free_below || c->ops->may_read(c))
        return 1;
    c->paused = 1;
    c->partial_since = 0; /* the wait is ours, not the peer's: no read_timeout meanwhile */
    ev_io_stop(c->loop->ev, &c->rio);
    return 0;
}

int px_conn_may_read(px_conn *c) { return px__conn_may_read(c); }

void px_conn_resume(px_conn *c)
{
    if (!c->paused || c->closed || c->finishing)
        return;
    if (c->ops->may_read) {
        px_conn_account(c);
        if (!c->ops->may_read(c))
            return;
    }
    c->paused = 0;
    if (c->in.len)
        c->partial_since = ev_now(c->loop->ev);
    ev_io_start(c->loop->ev, &c->rio);
    /* Frames the pause left in c->in may be whole already, and the peer may send
     * nothing more: run the read callback once even without new bytes. */
    ev_feed_event(c->loop->ev, &c->rio, EV_READ);
}

/* What a protocol may leave unconsumed: a message's header, metadata and body. */
static inline size_t px__conn_unconsumed_max(const px_conn *c)
{
    return (size_t)(c->max_meta + c->max_body) + PX_READ_CHUNK;
}

/* Hands buf[0..len) to the protocol; returns the bytes consumed (all of them once the
 * connection is finishing or closed). The protocol takes what it can; the core bounds
 * what it leaves. */
static size_t px__conn_dispatch(px_conn *c, const uint8_t *buf, size_t len)
{
    size_t used = c->ops->on_bytes(c, buf, len);
    if (c->closed || c->finishing)
        return len;
    if (used > len)
        used = len;
    if (len - used > px__conn_unconsumed_max(c)) {
        px_err final;
        px_err_set(&final, PX_RESOURCE_EXHAUSTED,
                   "protocol error: a message of more than %zu bytes (max_meta + max_frame "
                   "+ 64 KiB)",
                   px__conn_unconsumed_max(c));
        px_conn_finish(c, &final);
        return len;
    }
    return used;
}

/* Grows the buffer to exactly cap bytes (not to the next power of two): c->in holds
 * one frame at a time and its capacity is charged to the connection. */
static int px__buf_fit(px_buf *b, size_t cap)
{
    if (b->cap >= cap)
        return 0;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* Room in c->in for the rest of the incomplete message it starts with: up to the
 * message's length once its header says it, growing with what has arrived rather than with what
 * the header claims (a header alone may not make the server reserve max_frame). */
static int px__conn_in_room(px_conn *c)
{
    size_t len = c->in.len, total = 0;
    size_t want = len + PX_HEADER_GUESS;
    if (c->ops->msg_size) /* else sizes are unknown: grow with what arrives */
        total = c->ops->msg_size(c, c->in.data, len);
    else
        want = len < PX_READ_CHUNK ? len + PX_READ_CHUNK : 2 * len;
    if (total > len) {
        want = len < PX_READ_CHUNK ? len + PX_READ_CHUNK : 2 * len;
        if (want > total)
            want = total;
    }
    return px__buf_fit(&c->in, want);
}

/* Dispatches the frames in dst (the loop's scratch buffer or c->in) and leaves the
 * unconsumed tail in c->in. */
static void px__conn_take(px_conn *c, px_buf *dst)
{
    px_buf *scratch = &c->loop->scratch;
    size_t used = px__conn_dispatch(c, dst->data, dst->len);
    if (c->closed) {
        scratch->len = 0;
        return;
    }
    size_t rest = dst->len - used;
    if (dst == scratch) {
        scratch->len = 0;
        if (rest) {
            if (px__buf_fit(&c->in, rest) != 0) {
                px_err err;
                px_err_set(&err, PX_RESOURCE_EXHAUSTED, "out of memory reading from %s", c->peer);
                px_conn_close(c, &err);
                return;
            }
            memcpy(c->in.data, dst->data + used, rest);
            c->in.len = rest;
        }
    } else if (rest == 0) {
        px_buf_free(&c->in);
    } else if (used) {
        memmove(c->in.data, c->in.data + used, rest);
        c->in.len = rest;
    }
    if (c->in.len == 0 || c->paused)
        c->partial_since = 0;
    else if (c->partial_since == 0)
        c->partial_since = ev_now(c->loop->ev);
}

/*
 * Reads go into the loop's shared scratch buffer and frames are dispatched from
 * there; only the tail of an incomplete frame is copied into the connection's own
 * buffer, so an idle connection holds no input memory.
 */
static void px__conn_read_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px_conn *c = w->data;
    px_buf *scratch = &c->loop->scratch;
    px_conn_ref(c); /* callbacks below may close the connection */
    if (__builtin_expect(c->tls != NULL, 0) && !px__conn_tls_ready(c)) {
        px_conn_unref(c); /* handshaking, or closed */
        return;
    }
    /* Frames a pause left behind go before anything new. */
    if (c->in.len && !c->closed && !c->finishing)
        px__conn_take(c, &c->in);
    for (;;) {
        if (!px__conn_may_read(c))
            break;
        px_buf *dst = c->in.len ? &c->in : scratch;
        int rc = dst == scratch ? px_buf_reserve(dst, PX_READ_CHUNK) : px__conn_in_room(c);
        if (rc != 0) {
            px_err err;
            px_err_set(&err, PX_RESOURCE_EXHAUSTED, "out of memory reading from %s", c->peer);
            px_conn_close(c, &err);
            break;
        }
        size_t room = dst->cap - dst->len;
        ssize_t n = px__conn_recv(c, dst->data + dst->len, room);
        if (n > 0) {
            dst->len += (size_t)n;
            px__conn_take(c, dst);
            if ((size_t)n < room)
                break;
            continue;
        }
        if (n == 0) {
            if (c->ops->busy) {
                /* EOF means the peer will send no more, not that it reads no more:
                 * answer the calls in progress, then close. */
                if (!c->has_final)
                    px_err_set(&c->why, PX_UNAVAILABLE, "%s closed the connection", c->peer);
                px_conn_finish(c, NULL);
            } else {
                px__conn_fail_errno(c, "read from", 0);
            }
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            px__conn_fail_errno(c, "read from", errno);
        break;
    }
    if (c->closed || c->finishing)
        px_buf_free(&c->in); /* no frame on it will be read any more */
    px_conn_account(c);
    px_conn_unref(c);
}

static void px__conn_write_failed(px_conn *c, int e)
{
    /* What the peer said before it reset (a GOAWAY with its reason) beats the errno. */
    if (c->ops->read_on_reset && !c->finishing) {
        px_conn_ref(c);
        px__conn_read_cb(c->loop->ev, &c->rio, EV_READ);
        int gone = c->closed;
        px_conn_unref(c);
        if (gone)
            return;
    }
    px__conn_fail_errno(c, "write to", e);
}

static void px__conn_write_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px_conn *c = w->data;
    if (c->tls && c->tls_hs_started && (c->tls_hs || c->tls_rw)) {
        px__conn_tls_writable(c);
        return;
    }
    if (c->connecting) {
        int e = 0;
        socklen_t l = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
        if (e) {
            px__conn_fail_errno(c, "connect to", e);
            return;
        }
        if (c->tls) {
            px__conn_tls_begin(c); /* connecting until the handshake is done */
            return;
        }
        px__conn_connected(c);
        return;
    }
    px__conn_flush(c);
}

void px__conn_connected(px_conn *c)
{
    c->connecting = 0;
    if (!c->finishing)
        ev_io_start(c->loop->ev, &c->rio);
    if (c->ops->on_connected)
        c->ops->on_connected(c);
    if (c->closed)
        return;
    px__conn_flush(c);
}

/* The loop's per-iteration hook: the queued connection held a reference (it may have
 * been closed since, by a read that met EOF in the same iteration). */
static void px__conn_flush_hook(px_flushable *f)
{
    px_conn *c = (px_conn *)((char *)f - offsetof(px_conn, flush));
    px__conn_flush(c);
    px_conn_unref(c);
}

void px__conn_flush(px_conn *c)
{
    if (c->closed || c->connecting)
        return;
    if (__builtin_expect(c->tls_hs, 0)) {
        /* Nothing goes out before the handshake; a connection told to end then just
         * closes (it has no call to answer). */
        if (c->finishing && !(c->ops->busy && c->ops->busy(c)))
            px_conn_close(c, &c->why);
        return;
    }
    while (c->out_off < c->out.len) {
        ssize_t n = px__conn_send(c, c->out.data + c->out_off, c->out.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->tls_wr) /* else the next readable event writes again */
                ev_io_start(c->loop->ev, &c->wio);
            px_conn_account(c);
            return;
        }
        px__conn_write_failed(c, n < 0 ? errno : EPIPE);
        return;
    }
    size_t used = c->out.len;
    c->out.len = c->out_off = 0;
    if (c->out.cap > PX_OUT_KEEP && used < c->out.cap / 4)
        px_buf_free(&c->out);
    ev_io_stop(c->loop->ev, &c->wio);
    px_conn_account(c);
    if (c->finishing) {
        if (c->ops->busy && c->ops->busy(c))
            return;
        if (c->has_final && !c->final_sent) {
            px__conn_end_if_idle(c); /* queues the final ERROR and flushes again */
            return;
        }
        px_conn_close(c, &c->why);
        return;
    }
    if (c->paused)
        px_conn_resume(c); /* the peer took what we owed it: perhaps listen again */
}

void px_conn_init(px_conn *c, px_loop *loop, int fd, const px_conn_ops *ops,
                  uint64_t max_meta, uint64_t max_body, int connecting, const char *peer)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->fd = fd;
    c->ops = ops;
    c->max_meta = max_meta;
    c->max_body = max_body;
    c->refs = 1;
    c->connecting = connecting ? 1 : 0;
    c->flush.flush = px__conn_flush_hook;
    snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "peer");
    ev_io_init(&c->rio, px__conn_read_cb, fd, EV_READ);
    ev_io_init(&c->wio, px__conn_write_cb, fd, EV_WRITE);
    c->rio.data = c->wio.data = c;
    if (connecting)
        ev_io_start(loop->ev, &c->wio);
    else
        ev_io_start(loop->ev, &c->rio);
}

px_buf *px_conn_out(px_conn *c)
{
    if (!c->closed && !c->connecting && px_loop_want_flush(c->loop, &c->flush))
        px_conn_ref(c);
    return &c->out;
}
