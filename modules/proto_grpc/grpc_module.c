/* proto_grpc: gRPC over HTTP/2 cleartext (h2c with prior knowledge), server half.
 *
 * nghttp2 (Debian's libnghttp2) does all of HTTP/2: framing, HPACK, flow control,
 * stream states, the floods it knows. The module drives a server session in memory
 * mode: conn_recv hands it the bytes that arrived, and what it has to send is
 * appended to the connection's out; no socket is touched. Unary calls only: a request
 * is one length-prefixed message ended by the client's END_STREAM; the answer is
 * HEADERS, one DATA message, then trailers with grpc-status and grpc-message (or one
 * trailers-only HEADERS for an error). docs/PROTOCOLS.md "gRPC over HTTP/2". */
#include <string.h>

#include "grpc_client.h"
#include "grpc_int.h"

/* Every h2c connection opens with the 24-byte preface: nothing else starts with "PRI ". */
static px_detect gr_detect(const uint8_t *buf, size_t len)
{
    size_t n = len < GR_PREFACE_LEN ? len : GR_PREFACE_LEN;
    if (memcmp(buf, GR_PREFACE, n) != 0)
        return PX_DETECT_NO;
    return len >= GR_PREFACE_LEN ? PX_DETECT_YES : PX_DETECT_MORE;
}

int gr_conn_open(void *state, px_pconn *pc, void **cs);
size_t gr_conn_recv(void *cs, const uint8_t *buf, size_t len);
void gr_goaway(void *cs, px_buf *out, px_status st, const char *why);
void gr_conn_fail(void *cs, px_buf *out, px_status st, const char *msg);
void gr_conn_close(void *cs);

static const px_protocol_ops gr_ops = {
    /* stateful (HPACK, streams): replies are framed on the IO thread; RST_STREAM frees */
    .flags = PX_PROTO_CANCEL_FREES,
    .detect = gr_detect,
    .conn_open = gr_conn_open,
    .conn_recv = gr_conn_recv,
    .reply_begin = gr_reply_begin,
    .reply_end = gr_reply_end,
    .reply_error = gr_reply_error,
    .goaway = gr_goaway,
    .conn_fail = gr_conn_fail,
    .conn_close = gr_conn_close,
    .client_open = gc_open,
    .client_request = gc_request,
    .client_cancel = gc_cancel,
    .client_ping = gc_ping,
    .client_next = gc_next,
    .client_close = gc_close,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_PROTOCOL,
    .name = "grpc",
    .version = "0.1.0",
    .description = "gRPC over HTTP/2 cleartext (h2c), unary calls, with libnghttp2",
    .ops = &gr_ops,
};
