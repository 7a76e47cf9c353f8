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

px_status px_cmsg_err(const px_cmsg *m, const char *peer, px_err *err)
{
    int n = (int)m->body_len;
    const char *text = (const char *)m->body;
    switch (m->kind) {
    case PX_CMSG_ERROR:
        return px_err_set(err, m->status, "%.*s", n, text);
    case PX_CMSG_CONN_ERROR:
        return px_err_set(err, m->status, "%s: %.*s", peer, n, text);
    case PX_CMSG_GOAWAY:
        if (m->status == PX_OK)
            return PX_OK;
        return px_err_set(err, m->status, "%s refused the connection: %.*s", peer, n, text);
    case PX_CMSG_UNEXPECTED:
        return px_err_set(err, PX_INTERNAL, "protocol error: unexpected %s frame from %s",
                          px_frame_type_name(m->type), peer);
    default:
        return PX_OK;
    }
}

px_status px_cmsg_ready_check(const px_cmsg *m, const char *codec, const char *peer,
                            px_err *err)
{
    size_t n = strlen(codec);
    if (m->body_len == n && memcmp(m->body, codec, n) == 0)
        return PX_OK;
    return px_err_set(err, PX_INTERNAL,
                      "protocol error: %s answered HELLO with codec '%.*s', not '%s'", peer,
                      (int)(m->body_len > 64 ? 64 : m->body_len), (const char *)m->body, codec);
}

/* ---- the client half of the native PROTOCOL module ---------------------------- */

int px_native_client_open(void *state, const char *codec, px_buf *out, void **cs)
{
    *cs = state; /* nothing per connection: every frame says all it means */
    return px_nc_hello(out, codec);
}

int px_native_client_request(void *cs, px_buf *out, const px_creq *r, const uint8_t *body,
                             size_t len)
{
    (void)cs;
    px_nc_request q = {.id = r->id, .deadline_ms = px_nc_deadline_ms(r->timeout_us != 0, r->timeout_us),
                       .method = r->method, .method_len = (uint16_t)r->method_len,
                       .meta = r->meta, .meta_len = (uint32_t)r->meta_len};
    return px_nc_request_append(out, &q, body, len);
}

int px_native_client_cancel(void *cs, px_buf *out, uint64_t id)
{
    (void)cs;
    return px_nc_cancel(out, id);
}

int px_native_client_ping(void *cs, px_buf *out, uint64_t id)
{
    (void)cs;
    return px_nc_ping(out, id);
}

int px_native_client_next(void *cs, const uint8_t *buf, size_t len, const px_plimits *lim,
                          px_buf *out, px_cmsg *m, size_t *used, px_err *err)
{
    (void)cs;
    (void)out;
    px_frame f;
    *used = 0;
    px_parse_result r = px_frame_parse(buf, len, lim->max_meta, lim->max_body, &f, used, err);
    if (r == PX_PARSE_NEED_MORE)
        return PX_CNEXT_MORE;
    if (r == PX_PARSE_ERROR)
        return PX_CNEXT_ERROR;
    px_nc_classify(&f, m);
    return PX_CNEXT_MSG;
}
