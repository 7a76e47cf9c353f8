/* plexus-rpc-hold PORT: a native-protocol server that answers calc.Calculator/Add at once
 * and never answers any other method, so a client can keep 100k calls pending on it. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "calc.pb-c.h"
#include "px_frame.h"

#define PX__ADD "calc.Calculator/Add"

typedef struct px__hconn {
    ev_io rio, wio;
    px_buf in, out;
    size_t in_off, out_off;
} px__hconn;

static uint64_t px__held; /* requests left unanswered, reported at exit */

static void px__close(struct ev_loop *ev, px__hconn *c)
{
    ev_io_stop(ev, &c->rio);
    ev_io_stop(ev, &c->wio);
    close(c->rio.fd);
    px_buf_free(&c->in);
    px_buf_free(&c->out);
    free(c);
}

/* The reply of one Add request, appended to out; -1 when the request does not decode. */
static int px__add(px_buf *out, const px_frame *f)
{
    Calc__AddRequest *req = calc__add_request__unpack(NULL, f->body_len, f->body);
    if (req == NULL)
        return -1;
    Calc__AddReply rep = CALC__ADD_REPLY__INIT;
    rep.sum = (int64_t)req->a + req->b;
    calc__add_request__free_unpacked(req, NULL);
    uint8_t body[16];
    px_frame r = {.type = PX_FRAME_RESPONSE, .id = f->id, .body = body,
                  .body_len = (uint32_t)calc__add_reply__pack(&rep, body)};
    return px_frame_append(out, &r);
}

/* Handles every complete frame of c->in; -1 on a protocol error. */
static int px__frames(px__hconn *c)
{
    for (;;) {
        px_frame f;
        size_t used = 0;
        px_err err;
        px_parse_result r = px_frame_parse(c->in.data + c->in_off, c->in.len - c->in_off, 1 << 20,
                                           1 << 24, &f, &used, &err);
        if (r == PX_PARSE_NEED_MORE)
            return 0;
        if (r == PX_PARSE_ERROR) {
            fprintf(stderr, "plexus-rpc-hold: %s\n", err.msg);
            return -1;
        }
        c->in_off += used;
        int rc = 0;
        if (f.type == PX_FRAME_HELLO) {
            px_frame h = {.type = PX_FRAME_HELLO, .body = f.body, .body_len = f.body_len};
            rc = px_frame_append(&c->out, &h);
        } else if (f.type == PX_FRAME_PING) {
            px_frame p = {.type = PX_FRAME_PONG, .id = f.id};
            rc = px_frame_append(&c->out, &p);
        } else if (f.type == PX_FRAME_REQUEST) {
            if (f.method_len == sizeof PX__ADD - 1 && memcmp(f.method, PX__ADD, f.method_len) == 0)
                rc = px__add(&c->out, &f);
            else
                px__held++;
        }
        if (rc != 0)
            return -1;
    }
}

static int px__flush(struct ev_loop *ev, px__hconn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = write(c->rio.fd, c->out.data + c->out_off, c->out.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(ev, &c->wio);
            return 0;
        }
        return -1;
    }
    c->out.len = c->out_off = 0;
    ev_io_stop(ev, &c->wio);
    return 0;
}

static void px__write_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px__hconn *c = w->data;
    if (px__flush(ev, c) != 0)
        px__close(ev, c);
}

static void px__read_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px__hconn *c = w->data;
    for (;;) {
        if (c->in_off > 0) { /* keep only the incomplete tail */
            memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
            c->in.len -= c->in_off;
            c->in_off = 0;
        }
        if (px_buf_reserve(&c->in, 65536) != 0) {
            px__close(ev, c);
            return;
        }
        size_t room = c->in.cap - c->in.len;
        ssize_t n = read(w->fd, c->in.data + c->in.len, room);
        if (n > 0) {
            c->in.len += (size_t)n;
            if (px__frames(c) != 0) {
                px__close(ev, c);
                return;
            }
            if ((size_t)n < room)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        px__close(ev, c);
        return;
    }
    if (px__flush(ev, c) != 0)
        px__close(ev, c);
}

static void px__accept_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    int fd;
    while ((fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        px__hconn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        ev_io_init(&c->rio, px__read_cb, fd, EV_READ);
        ev_io_init(&c->wio, px__write_cb, fd, EV_WRITE);
        c->rio.data = c->wio.data = c;
        ev_io_start(ev, &c->rio);
    }
}

static void px__stop_cb(struct ev_loop *ev, ev_signal *w, int revents)
{
    ev_break(ev, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    long port = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: plexus-rpc-hold PORT (listens on 127.0.0.1:PORT)\n");
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 128) != 0) {
        fprintf(stderr, "plexus-rpc-hold: cannot listen on 127.0.0.1:%ld: %s\n", port,
                strerror(errno));
        return 1;
    }
    struct ev_loop *ev = ev_default_loop(0);
    ev_io accept_w;
    ev_io_init(&accept_w, px__accept_cb, lfd, EV_READ);
    ev_io_start(ev, &accept_w);
    ev_signal term_w, int_w;
    ev_signal_init(&term_w, px__stop_cb, SIGTERM);
    ev_signal_init(&int_w, px__stop_cb, SIGINT);
    ev_signal_start(ev, &term_w);
    ev_signal_start(ev, &int_w);
    ev_run(ev, 0);
    fprintf(stderr, "plexus-rpc-hold: %llu requests held unanswered\n", (unsigned long long)px__held);
    close(lfd);
    return 0;
}
