/* The server side of the native protocol (docs/PROTOCOL.md) as a PROTOCOL module's
 * server half: frames in, requests to the core, answers framed without a copy (the
 * codec encodes between px_frame_begin and px_frame_end). */
#include <stdlib.h>
#include <string.h>

#include "px_frame.h"
#include "px_native.h"

/* A connection's state: the codec its HELLO chose. */
typedef struct px_nsconn {
    px_pconn *pc;
    const px_pcodec *codec; /* NULL until the HELLO */
} px_nsconn;

px_detect px_native_detect(const uint8_t *buf, size_t len)
{
    /* The magic "PX" and version 1, as far as they have arrived. */
    static const uint8_t want[3] = {PX_FRAME_MAGIC >> 8, PX_FRAME_MAGIC & 0xff, PX_FRAME_VERSION};
    size_t n = len < sizeof want ? len : sizeof want;
    if (memcmp(buf, want, n) != 0)
        return PX_DETECT_NO;
    return n == sizeof want ? PX_DETECT_YES : PX_DETECT_MORE;
}

int px_native_conn_open(void *state, px_pconn *pc, void **cs)
{
    (void)state;
    px_nsconn *n = calloc(1, sizeof *n);
    if (!n)
        return -1;
    n->pc = pc;
    px_pconn_charge(pc, (int64_t)sizeof *n);
    *cs = n;
    return 0;
}

void px_native_conn_close(void *cs)
{
    px_nsconn *n = cs;
    px_pconn_charge(n->pc, -(int64_t)sizeof *n);
    free(n);
}

static void px__hello(px_nsconn *n, const px_frame *f)
{
    if (n->codec) {
        px_pconn_fail(n->pc, PX_INVALID_ARGUMENT, "protocol error: a second HELLO");
        return;
    }
    px_err err;
    n->codec = px_pconn_codec(n->pc, (const char *)f->body, f->body_len, &err);
    if (!n->codec) {
        px_pconn_fail(n->pc, err.status, "%s", err.msg);
        return;
    }
    /* The answer announces max_inflight in its deadline_ms field (docs/PROTOCOL.md §4):
     * a field with no meaning in a HELLO, so an older client ignores it. */
    px_frame h = {.type = PX_FRAME_HELLO, .deadline_ms = px_pconn_limits(n->pc)->max_inflight,
                  .body = f->body, .body_len = f->body_len};
    px_frame_append(px_pconn_out(n->pc), &h);
    px_pconn_ready(n->pc);
}

static void px__request(px_nsconn *n, const px_frame *f)
{
    if (!n->codec) {
        px_pconn_fail(n->pc, PX_FAILED_PRECONDITION,
                      "protocol error: REQUEST before HELLO: open the connection with a HELLO "
                      "naming a codec");
        return;
    }
    if (f->id == 0) {
        /* Id 0 names the connection in ERROR frames: a request may not use it. */
        px_pconn_fail(n->pc, PX_INVALID_ARGUMENT, "protocol error: request id 0 is reserved");
        return;
    }
    px_preq r = {.id = f->id, .method = (const char *)f->method, .method_len = f->method_len,
                 .meta = f->meta, .meta_len = f->meta_len, .body = f->body,
                 .body_len = f->body_len, .timeout_us = (int64_t)f->deadline_ms * 1000,
                 .codec = n->codec};
    px_pconn_request(n->pc, &r);
}

size_t px_native_conn_recv(void *cs, const uint8_t *buf, size_t len)
{
    px_nsconn *n = cs;
    const px_plimits *lim = px_pconn_limits(n->pc);
    size_t off = 0;
    for (;;) {
        px_frame f;
        size_t used = 0;
        px_err err;
        px_parse_result r = px_frame_parse(buf + off, len - off, lim->max_meta, lim->max_body, &f,
                                           &used, &err);
        if (r == PX_PARSE_NEED_MORE)
            break;
        if (r == PX_PARSE_ERROR) {
            /* The stream cannot be resynchronised: answer what is in progress, say why,
             * then hang up. */
            px_pconn_fail(n->pc, err.status, "protocol error: %s", err.msg);
            return len;
        }
        switch (f.type) {
        case PX_FRAME_REQUEST:
            px__request(n, &f);
            break;
        case PX_FRAME_HELLO:
            px__hello(n, &f);
            break;
        case PX_FRAME_PING: {
            px_frame p = {.type = PX_FRAME_PONG, .id = f.id};
            px_frame_append(px_pconn_out(n->pc), &p);
            break;
        }
        case PX_FRAME_CANCEL:
            /* The client has already failed the call and drops a late reply; the reply
             * still goes out (it counts as a late response there), as it always did. */
            break;
        default:
            px_pconn_fail(n->pc, PX_INVALID_ARGUMENT,
                          "protocol error: unexpected %s frame from a client",
                          px_frame_type_name(f.type));
            break;
        }
        off += used;
        /* The memory budget may pause reading between requests (the read that brought
         * these was allowed already). */
        if (off >= len || !px_pconn_more(n->pc))
            break;
    }
    return off;
}

size_t px_native_msg_size(const uint8_t *buf, size_t len) { return px_frame_total(buf, len); }

size_t px_native_reply_begin(void *cs, px_buf *out, uint64_t id, const uint8_t *meta,
                             size_t meta_len)
{
    (void)cs;
    px_frame f = {.type = PX_FRAME_RESPONSE, .id = id, .meta = meta, .meta_len = (uint32_t)meta_len};
    size_t off = px_frame_begin(out, &f);
    return off == (size_t)-1 ? SIZE_MAX : off;
}

size_t px_native_reply_end(void *cs, px_buf *out, size_t mark)
{
    (void)cs;
    return px_frame_end(out, mark);
}

int px_native_reply_error(void *cs, px_buf *out, uint64_t id, px_status st, int not_executed,
                          const char *msg, const uint8_t *meta, size_t meta_len)
{
    (void)cs;
    px_frame f = {.type = PX_FRAME_ERROR, .flags = not_executed ? PX_FRAME_F_NOT_EXECUTED : 0,
                  .status = (uint16_t)st, .id = id, .meta = meta, .meta_len = (uint32_t)meta_len,
                  .body = (const uint8_t *)msg, .body_len = (uint32_t)strlen(msg)};
    return px_frame_append(out, &f);
}

void px_native_goaway(void *cs, px_buf *out, px_status st, const char *why)
{
    (void)cs;
    px_frame g = {.type = PX_FRAME_GOAWAY, .status = (uint16_t)st, .body = (const uint8_t *)why,
                  .body_len = (uint32_t)strlen(why)};
    px_frame_append(out, &g);
}

void px_native_conn_fail(void *cs, px_buf *out, px_status st, const char *msg)
{
    (void)cs;
    px_frame_append_error(out, 0, st, msg);
}
