/* plexusd: the master <-> worker channel's framing (channel.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "channel.h"
#include "plexus/px_metrics.h"

int px_chan_send(int fd, uint32_t kind, uint32_t seq, const void *body, size_t len)
{
    px_chan_hdr h = {kind, seq, len};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)body, len}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    while (iov[0].iov_len + iov[1].iov_len > 0) {
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        for (int i = 0; i < 2 && w > 0; i++) {
            size_t k = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
            w -= (ssize_t)k;
        }
    }
    return 0;
}

int px_chan_read_all(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

void px_chan_serve(int fd)
{
    px_chan_hdr h;
    while (px_chan_read_all(fd, &h, sizeof h) == 0) {
        char skip[256];
        for (uint64_t left = h.len; left > 0;) { /* a request carries no body today */
            size_t k = left < sizeof skip ? (size_t)left : sizeof skip;
            if (px_chan_read_all(fd, skip, k) != 0)
                return;
            left -= k;
        }
        if (h.kind != PX_CHAN_METRICS)
            continue;
        size_t len = 0;
        char *text = px_metrics_text(&len);
        int bad = px_chan_send(fd, PX_CHAN_METRICS, h.seq, text ? text : "", text ? len : 0);
        free(text);
        if (bad)
            return;
    }
}

int px_chan_rx_fill(px_chan_rx *rx, int fd)
{
    int some = 0;
    for (;;) {
        if (rx->cap - rx->len < 4096) {
            size_t cap = rx->cap ? rx->cap * 2 : 16384;
            char *b = realloc(rx->buf, cap);
            if (b == NULL)
                return -1;
            rx->buf = b;
            rx->cap = cap;
        }
        ssize_t r = recv(fd, rx->buf + rx->len, rx->cap - rx->len, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return some;
        if (r <= 0)
            return -1;
        rx->len += (size_t)r;
        some = 1;
    }
}

int px_chan_rx_peek(const px_chan_rx *rx, px_chan_hdr *hdr, const char **body)
{
    if (rx->len < sizeof *hdr)
        return 0;
    memcpy(hdr, rx->buf, sizeof *hdr);
    if (rx->len - sizeof *hdr < hdr->len)
        return 0;
    *body = rx->buf + sizeof *hdr;
    return 1;
}

void px_chan_rx_pop(px_chan_rx *rx)
{
    px_chan_hdr h;
    memcpy(&h, rx->buf, sizeof h);
    size_t n = sizeof h + (size_t)h.len;
    memmove(rx->buf, rx->buf + n, rx->len - n);
    rx->len -= n;
}

void px_chan_rx_free(px_chan_rx *rx)
{
    free(rx->buf);
    *rx = (px_chan_rx){0};
}
