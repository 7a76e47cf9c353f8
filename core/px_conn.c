/* Framed non-blocking connection: batched reads and writes, refcounted lifetime. */
#include "px_conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PX_READ_CHUNK (64 * 1024)

static void px__conn_flush_hook(px_flushable *f);
static void px__conn_flush(px_conn *c);

void px_conn_ref(px_conn *c) { c->refs++; }

void px_conn_unref(px_conn *c)
{
    if (--c->refs == 0) {
        px_buf_free(&c->in);
        px_buf_free(&c->out);
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
    close(c->fd);
    c->fd = -1;
    px_err ok = {0};
    c->ops->on_close(c, why ? why : &ok);
    px_conn_unref(c); /* the reference the open connection held */
}

static void px__conn_fail_errno(px_conn *c, const char *what, int e)
{
    px_err err;
    if (e == 0)
        px_err_set(&err, PX_UNAVAILABLE, "%s closed the connection", c->peer);
    else
        px_err_set(&err, PX_UNAVAILABLE, "%s %s: %s", what, c->peer, strerror(e));
    px_conn_close(c, &err);
}

/* Dispatches every complete frame in buf[0..len); returns the bytes consumed. */
static size_t px__conn_dispatch(px_conn *c, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (!c->closed && !c->close_after_flush) {
        px_frame f;
        size_t used = 0;
        px_err err;
        px_parse_result r = px_frame_parse(buf + off, len - off, c->max_meta, c->max_body, &f,
                                           &used, &err);
        if (r == PX_PARSE_NEED_MORE)
            break;
        if (r == PX_PARSE_ERROR) {
            /* The stream cannot be resynchronised: say why, then hang up. */
            char msg[600];
            snprintf(msg, sizeof msg, "protocol error: %s", err.msg);
            px_frame_append_error(px_conn_out(c), 0, err.status, msg);
            px_err_set(&c->why, err.status, "%s", msg);
            px_conn_close_after_flush(c);
            return len;
        }
        c->ops->on_frame(c, &f);
        off += used;
    }
    return c->closed || c->close_after_flush ? len : off;
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
    for (;;) {
        if (c->out_high_water && c->out.len - c->out_off > c->out_high_water) {
            /* A peer that sends but does not read would have us buffer its answers
             * without bound: stop reading it until the output drains. */
            c->read_paused = 1;
            ev_io_stop(c->loop->ev, &c->rio);
            break;
        }
        px_buf *dst = c->in.len ? &c->in : scratch;
        if (px_buf_reserve(dst, PX_READ_CHUNK) != 0) {
            px_err err;
            px_err_set(&err, PX_RESOURCE_EXHAUSTED, "out of memory reading from %s", c->peer);
            px_conn_close(c, &err);
            break;
        }
        size_t room = dst->cap - dst->len;
        ssize_t n = read(c->fd, dst->data + dst->len, room);
        if (n > 0) {
            dst->len += (size_t)n;
            size_t used = px__conn_dispatch(c, dst->data, dst->len);
            size_t rest = dst->len - used;
            if (dst == scratch) {
                if (rest && !c->closed && px_buf_append(&c->in, dst->data + used, rest) != 0) {
                    px_err err;
                    px_err_set(&err, PX_RESOURCE_EXHAUSTED, "out of memory reading from %s", c->peer);
                    px_conn_close(c, &err);
                }
                scratch->len = 0;
            } else if (rest == 0) {
                px_buf_free(&c->in);
            } else if (used) {
                memmove(c->in.data, c->in.data + used, rest);
                c->in.len = rest;
            }
            if (c->in.len == 0)
                c->partial_since = 0;
            else if (c->partial_since == 0)
                c->partial_since = ev_now(ev);
            if (c->closed || c->close_after_flush || (size_t)n < room)
                break;
            continue;
        }
        if (n == 0) {
            px__conn_fail_errno(c, "read from", 0);
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            px__conn_fail_errno(c, "read from", errno);
        break;
    }
    px_conn_unref(c);
}

static void px__conn_write_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px_conn *c = w->data;
    if (c->connecting) {
        int e = 0;
        socklen_t l = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
        if (e) {
            px__conn_fail_errno(c, "connect to", e);
            return;
        }
        c->connecting = 0;
        ev_io_start(c->loop->ev, &c->rio);
        if (c->ops->on_connected)
            c->ops->on_connected(c);
        if (c->closed)
            return;
    }
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

static void px__conn_flush(px_conn *c)
{
    if (c->closed || c->connecting)
        return;
    while (c->out_off < c->out.len) {
        ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(c->loop->ev, &c->wio);
            return;
        }
        px__conn_fail_errno(c, "write to", n < 0 ? errno : EPIPE);
        return;
    }
    c->out.len = c->out_off = 0;
    ev_io_stop(c->loop->ev, &c->wio);
    if (c->close_after_flush) {
        px_conn_close(c, &c->why);
        return;
    }
    if (c->read_paused) {
        /* The peer took what we owed it: listen to it again. */
        c->read_paused = 0;
        ev_io_start(c->loop->ev, &c->rio);
    }
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

void px_conn_close_after_flush(px_conn *c)
{
    if (c->closed)
        return;
    c->close_after_flush = 1;
    ev_io_stop(c->loop->ev, &c->rio);
    if (!c->connecting && px_loop_want_flush(c->loop, &c->flush))
        px_conn_ref(c);
}
