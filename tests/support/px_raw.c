/* Test helper: raw protocol over a socket. */
#include "px_raw.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int px_raw_connect(int port)
{
    signal(SIGPIPE, SIG_IGN); /* a test writing to a connection the server closed must live */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

int px_raw_send(int fd, const px_frame *frames, int n)
{
    px_buf b = {0};
    for (int i = 0; i < n; i++)
        px_frame_append(&b, &frames[i]);
    ssize_t w = write(fd, b.data, b.len);
    int ok = w == (ssize_t)b.len;
    px_buf_free(&b);
    return ok ? 0 : -1;
}

int px_raw_hello(int fd, const char *codec)
{
    px_frame h = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)codec,
                  .body_len = (uint32_t)strlen(codec)};
    return px_raw_send(fd, &h, 1);
}

int px_raw_next(px_raw_reader *r, px_frame *f)
{
    if (r->used) {
        memmove(r->buf, r->buf + r->used, r->len - r->used);
        r->len -= r->used;
        r->used = 0;
    }
    for (;;) {
        size_t used;
        px_err err;
        if (px_frame_parse(r->buf, r->len, 1 << 16, sizeof r->buf, f, &used, &err) == PX_PARSE_OK) {
            r->used = used;
            snprintf(r->text, sizeof r->text, "%.*s", (int)f->body_len, (const char *)f->body);
            return 0;
        }
        ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
        if (n <= 0)
            return -1;
        r->len += (size_t)n;
    }
}

int px_raw_closed(px_raw_reader *r)
{
    px_frame f;
    while (px_raw_next(r, &f) == 0) {
    }
    char c;
    return read(r->fd, &c, 1) == 0;
}
