/* The native protocol, built into the core (as nginx builds its core modules in) and
 * reached through the same PROTOCOL interface as any module: `native` in a listener's
 * `protocols:` or an upstream's `protocol:`. */
#include "px_native.h"

const px_protocol_ops px_native_ops = {
    /* Framing is a function of the answer alone: workers frame their own replies. */
    .flags = PX_PROTO_STATELESS_REPLY,
    .detect = px_native_detect,
    .conn_open = px_native_conn_open,
    .conn_recv = px_native_conn_recv,
    .msg_size = px_native_msg_size,
    .reply_begin = px_native_reply_begin,
    .reply_end = px_native_reply_end,
    .reply_error = px_native_reply_error,
    .goaway = px_native_goaway,
    .conn_fail = px_native_conn_fail,
    .conn_close = px_native_conn_close,
    .client_open = px_native_client_open,
    .client_request = px_native_client_request,
    .client_cancel = px_native_client_cancel,
    .client_ping = px_native_client_ping,
    .client_next = px_native_client_next,
    .client_msg_size = px_native_msg_size,
};

const px_module px_proto_native_module = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_PROTOCOL,
    .name = "native",
    .version = "1.0.0",
    .description = "Plexus's own framing (docs/PROTOCOL.md), both sides",
    .ops = &px_native_ops,
};
