/* Test helper: raw protocol over a socket. */
#include "px_raw.h"

#include "calc.pb-c.h"

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

px_raw_reader px_raw_open(int port, const char *codec)
{
    px_raw_reader r = {.fd = px_raw_connect(port)};
    px_frame f;
    if (r.fd >= 0 && (px_raw_hello(r.fd, codec) != 0 || px_raw_next(&r, &f) != 0 ||
                      f.type != PX_FRAME_HELLO)) {
        close(r.fd);
        r.fd = -1;
    }
    return r;
}

int px_raw_send_add(px_raw_reader *r, uint64_t id, const uint8_t *meta, uint32_t meta_len)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 20;
    req.b = 22;
    uint8_t body[32];
    size_t len = protobuf_c_message_pack(&req.base, body);
    px_frame q = {.type = PX_FRAME_REQUEST, .id = id, .method = (const uint8_t *)"calc.Calculator/Add",
                  .method_len = 19, .meta = meta, .meta_len = meta_len, .body = body,
                  .body_len = (uint32_t)len};
    return px_raw_send(r->fd, &q, 1);
}

int px_raw_add(px_raw_reader *r, uint64_t id)
{
    px_frame f;
    if (px_raw_send_add(r, id, NULL, 0) != 0 || px_raw_next(r, &f) != 0 ||
        f.type != PX_FRAME_RESPONSE || f.id != id)
        return -1;
    Calc__AddReply *rep = calc__add_reply__unpack(NULL, f.body_len, f.body);
    int ok = rep && rep->sum == 42;
    calc__add_reply__free_unpacked(rep, NULL);
    return ok ? 0 : -1;
}
