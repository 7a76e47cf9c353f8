/* plexus-rpc-raw-client PORT [...]: the raw libev baseline client: C connections with D
 * requests in flight each, every reply answered by the next request in the same write. */
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

#include "rpc_peer.h"
#include "rpc_raw.h"

typedef struct px__cconn {
    ev_io rio, wio;
    px_raw_buf in, out;
    int64_t *sent_at; /* ring of D send times: replies come back in order */
    unsigned head, count;
} px__cconn;

typedef struct px__run {
    const px_peer_args *a;
    px__cconn *conns;
    px_peer_result r;
    int64_t t_measure, t_end;
    double cpu0;
    uint64_t sent, received;
    int cpu_taken;
} px__run;

static px__run px__R;

static int px__queue(px__cconn *c, int64_t now)
{
    px__run *R = &px__R;
    if (R->a->calls && R->sent >= R->a->calls)
        return 0;
    if (px_raw_reserve(&c->out, 4 + PX_RAW_REQ_BODY) != 0)
        return -1;
    uint8_t *p = c->out.data + c->out.len;
    px_raw_put32(p, PX_RAW_REQ_BODY);
    px_raw_put32(p + 4, 1);
    px_raw_put32(p + 8, 2);
    memcpy(p + 12, PX_RAW_TAG, 16);
    c->out.len += 4 + PX_RAW_REQ_BODY;
    c->sent_at[(c->head + c->count) % (unsigned)R->a->inflight] = now;
    c->count++;
    R->sent++;
    return 0;
}

static void px__fail(const char *what)
{
    fprintf(stderr, "plexus-rpc-raw-client: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void px__flush(struct ev_loop *ev, px__cconn *c)
{
    int r = px_raw_flush(c->rio.fd, &c->out);
    if (r < 0)
        px__fail("write");
    if (r == 0 && !ev_is_active(&c->wio))
        ev_io_start(ev, &c->wio);
}

static void px__write_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px__cconn *c = w->data;
    if (px_raw_flush(w->fd, &c->out) < 0)
        px__fail("write");
    if (c->out.off == c->out.len)
        ev_io_stop(ev, w);
}

static void px__read_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px__cconn *c = w->data;
    px__run *R = &px__R;
    int64_t now = px_peer_now_ns(); /* one clock read per wake-up, as a batching client does */
    for (;;) {
        if (px_raw_reserve(&c->in, 65536) != 0)
            px__fail("out of memory");
        size_t room = c->in.cap - c->in.len;
        ssize_t n = read(w->fd, c->in.data + c->in.len, room);
        if (n == 0) {
            errno = ECONNRESET;
            px__fail("the server closed the connection");
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            px__fail("read");
        }
        c->in.len += (size_t)n;
        while (c->in.len - c->in.off >= 4 + PX_RAW_REP_BODY) {
            if (px_raw_get32(c->in.data + c->in.off) != PX_RAW_REP_BODY || c->count == 0) {
                errno = EPROTO;
                px__fail("unexpected reply");
            }
            c->in.off += 4 + PX_RAW_REP_BODY;
            int64_t t = c->sent_at[c->head];
            c->head = (c->head + 1) % (unsigned)R->a->inflight;
            c->count--;
            R->received++;
            if (now >= R->t_measure && now < R->t_end)
                px_hist_add(&R->r.hist, (uint64_t)(now - t));
            if (px__queue(c, now) != 0)
                px__fail("out of memory");
        }
        if ((size_t)n < room)
            break;
    }
    px__flush(ev, c);
    if (R->a->calls && R->received >= R->a->calls)
        ev_break(ev, EVBREAK_ALL);
}

static void px__measure_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px__R.cpu0 = px_peer_cpu_s();
    px__R.cpu_taken = 1;
}

static void px__end_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    ev_break(ev, EVBREAK_ALL);
}

static int px__connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        px__fail("connect to the server");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

int main(int argc, char **argv)
{
    px_peer_args a;
    int rc = px_peer_parse(argc, argv, &a);
    if (rc != 0)
        return rc;
    px__run *R = &px__R;
    R->a = &a;
    px_hist_reset(&R->r.hist);
    struct ev_loop *ev = ev_default_loop(0);
    R->conns = calloc((size_t)a.connections, sizeof *R->conns);
    if (R->conns == NULL)
        px__fail("out of memory");
    int64_t t0 = px_peer_now_ns();
    R->t_measure = t0 + (int64_t)(a.warmup_s * 1e9);
    R->t_end = R->t_measure + (int64_t)(a.duration_s * 1e9);
    for (int i = 0; i < a.connections; i++) {
        px__cconn *c = &R->conns[i];
        int fd = px__connect(a.port);
        if ((c->sent_at = calloc((size_t)a.inflight, sizeof *c->sent_at)) == NULL)
            px__fail("out of memory");
        ev_io_init(&c->rio, px__read_cb, fd, EV_READ);
        ev_io_init(&c->wio, px__write_cb, fd, EV_WRITE);
        c->rio.data = c->wio.data = c;
        ev_io_start(ev, &c->rio);
        for (int k = 0; k < a.inflight; k++)
            if (px__queue(c, px_peer_now_ns()) != 0)
                px__fail("out of memory");
        px__flush(ev, c);
    }
    ev_timer measure_w, end_w;
    ev_timer_init(&measure_w, px__measure_cb, a.warmup_s, 0);
    ev_timer_init(&end_w, px__end_cb, (double)(R->t_end - px_peer_now_ns()) / 1e9, 0);
    if (a.warmup_s > 0)
        ev_timer_start(ev, &measure_w);
    else
        px__measure_cb(ev, &measure_w, 0);
    ev_timer_start(ev, &end_w);
    ev_run(ev, 0);
    int64_t end = px_peer_now_ns();
    if (end > R->t_end)
        end = R->t_end;
    R->r.calls_total = R->received;
    R->r.client_cpu_s = R->cpu_taken ? px_peer_cpu_s() - R->cpu0 : 0;
    R->r.measured_s = end > R->t_measure ? (double)(end - R->t_measure) / 1e9 : 0;
    px_peer_print_json(&a, "raw", "raw", &R->r);
    for (int i = 0; i < a.connections; i++) {
        close(R->conns[i].rio.fd);
        free(R->conns[i].in.data);
        free(R->conns[i].out.data);
        free(R->conns[i].sent_at);
    }
    free(R->conns);
    return R->r.hist.n > 0 ? 0 : 1;
}
