/* The client side of the native protocol (docs/PROTOCOL.md sections 3-7, 10): building
 * HELLO, CANCEL and PING, and wording what a server's frame says. The hot-path parts
 * (REQUEST, the classifier) are inline in the header. */
#include "px_native_client.h"

#include <string.h>

int px_nc_hello(px_buf *out, const char *codec)
{
    px_frame h = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)codec,
                  .body_len = (uint32_t)strlen(codec)};
    return px_frame_append(out, &h);
}

int px_nc_cancel(px_buf *out, uint64_t id)
{
    px_frame c = {.type = PX_FRAME_CANCEL, .id = id};
    return px_frame_append(out, &c);
}

int px_nc_ping(px_buf *out, uint64_t id)
{
    px_frame p = {.type = PX_FRAME_PING, .id = id};
    return px_frame_append(out, &p);
}

px_status px_nc_err(const px_nc_msg *m, const char *peer, px_err *err)
{
    int n = (int)m->body_len;
    const char *text = (const char *)m->body;
    switch (m->kind) {
    case PX_NC_ERROR:
        return px_err_set(err, m->status, "%.*s", n, text);
    case PX_NC_CONN_ERROR:
        return px_err_set(err, m->status, "%s: %.*s", peer, n, text);
    case PX_NC_GOAWAY:
        if (m->status == PX_OK)
            return PX_OK;
        return px_err_set(err, m->status, "%s refused the connection: %.*s", peer, n, text);
    case PX_NC_UNEXPECTED:
        return px_err_set(err, PX_INTERNAL, "protocol error: unexpected %s frame from %s",
                          px_frame_type_name(m->type), peer);
    default:
        return PX_OK;
    }
}

px_status px_nc_hello_check(const px_nc_msg *m, const char *codec, const char *peer,
                            px_err *err)
{
    size_t n = strlen(codec);
    if (m->body_len == n && memcmp(m->body, codec, n) == 0)
        return PX_OK;
    return px_err_set(err, PX_INTERNAL,
                      "protocol error: %s answered HELLO with codec '%.*s', not '%s'", peer,
                      (int)(m->body_len > 64 ? 64 : m->body_len), (const char *)m->body, codec);
}
