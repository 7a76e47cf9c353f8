/* CODEC "binary": the seed article's self-describing binary format (serial number, key, value), versioned. */
#include "bin_int.h"

static px_status px__bin_encode(void *state, const ProtobufCMessage *msg, px_buf *out, px_err *err)
{
    (void)state;
    px_err local;
    if (err == NULL)
        err = &local;
    if (px__cu_check_encode("binary", msg, err) != PX_OK)
        return err->status;
    return px__bin_encode_message(msg, out, err);
}

/* The body of both decode ops, inlined into each: a small message decodes in about a
 * thousand instructions, and plain decode calling decode_with added 1%. */
static inline __attribute__((always_inline)) px_status
px__bin_decode_into(void *state, const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                    ProtobufCAllocator *alloc, ProtobufCMessage **out, px_err *err)
{
    (void)state;
    px_err local;
    if (err == NULL)
        err = &local;
    *out = NULL;
    if (px__cu_check_decode("binary", desc, err) != PX_OK)
        return err->status;
    if (data == NULL && len > 0)
        return px_err_set(err, PX_INVALID_ARGUMENT, "binary: cannot decode %s: no data", desc->name);
    if (data == NULL)
        data = (const uint8_t *)""; /* offsets in messages are taken from a real pointer */
    return px__bin_decode_message(desc, data, len, alloc, out, err);
}

static px_status px__bin_decode_with(void *state, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                                     size_t len, ProtobufCAllocator *alloc, ProtobufCMessage **out, px_err *err)
{
    return px__bin_decode_into(state, desc, data, len, alloc, out, err);
}

/* NULL allocator: malloc / free, as protobuf_c_message_free_unpacked(msg, NULL) expects. */
static px_status px__bin_decode(void *state, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                                size_t len, ProtobufCMessage **out, px_err *err)
{
    return px__bin_decode_into(state, desc, data, len, NULL, out, err);
}

static const px_codec_ops px__bin_ops = {
    .content_type = "application/x-plexus-binary",
    .encode = px__bin_encode,
    .decode = px__bin_decode,
    .decode_with = px__bin_decode_with,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_CODEC,
    .name = "binary",
    .version = "1.0.0",
    .description = "self-describing binary entries (serial number, key, value), format version 1",
    .ops = &px__bin_ops,
};
