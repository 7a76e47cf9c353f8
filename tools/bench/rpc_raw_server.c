/* plexus-rpc-raw-server PORT: the raw libev baseline server (the limit of this machine):
 * reads all it can per wake-up, answers every complete frame, writes once. */
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
#include <fcntl.h>

#include "rpc_raw.h"

typedef struct px__rconn {
    ev_io rio, wio;
    px_raw_buf in, out;
} px__rconn;

static void px__rconn_close(struct ev_loop *ev, px__rconn *c)
{
    ev_io_stop(ev, &c->rio);
    ev_io_stop(ev, &c->wio);
    close(c->rio.fd);
    free(c->in.data);
    free(c->out.data);
    free(c);
}

/* Answers every complete request in c->in; returns -1 when out of memory or on a bad length. */
static int px__answer(px__rconn *c)
{
    while (c->in.len - c->in.off >= 4) {
        const uint8_t *p = c->in.data + c->in.off;
        uint32_t len = px_raw_get32(p);
        if (len != PX_RAW_REQ_BODY)
            return -1;
        if (c->in.len - c->in.off < 4 + len)
            break;
        if (px_raw_reserve(&c->out, 4 + PX_RAW_REP_BODY) != 0)
            return -1;
        uint8_t *o = c->out.data + c->out.len;
        px_raw_put32(o, PX_RAW_REP_BODY);
        px_raw_put32(o + 4, px_raw_get32(p + 4) + px_raw_get32(p + 8));
        c->out.len += 4 + PX_RAW_REP_BODY;
        c->in.off += 4 + len;
    }
    return 0;
}

static void px__write_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px__rconn *c = w->data;
    int r = px_raw_flush(w->fd, &c->out);
    if (r < 0)
        px__rconn_close(ev, c);
    else if (r > 0)
        ev_io_stop(ev, w);
}

static void px__read_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px__rconn *c = w->data;
    for (;;) {
        if (px_raw_reserve(&c->in, 65536) != 0) {
            px__rconn_close(ev, c);
            return;
        }
        size_t room = c->in.cap - c->in.len;
        ssize_t n = read(w->fd, c->in.data + c->in.len, room);
        if (n > 0) {
            c->in.len += (size_t)n;
            if (px__answer(c) != 0) {
                px__rconn_close(ev, c);
                return;
            }
            if ((size_t)n < room)
                break; /* the socket is drained: no need for a read that says EAGAIN */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        px__rconn_close(ev, c); /* closed by the peer, or an error */
        return;
    }
    /* One write for every reply of this wake-up. */
    if (!ev_is_active(&c->wio)) {
        int r = px_raw_flush(w->fd, &c->out);
        if (r < 0)
            px__rconn_close(ev, c);
        else if (r == 0)
            ev_io_start(ev, &c->wio);
    }
}

static void px__accept_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    for (;;) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        px__rconn *c = calloc(1, sizeof *c);
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
        fprintf(stderr, "usage: plexus-rpc-raw-server PORT (listens on 127.0.0.1:PORT)\n");
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1024) != 0) {
        fprintf(stderr, "plexus-rpc-raw-server: cannot listen on 127.0.0.1:%ld: %s\n", port,
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
    close(lfd);
    return 0;
}
