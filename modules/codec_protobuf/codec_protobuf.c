/* CODEC "protobuf": libprotobuf-c pack/unpack, byte-identical to any protobuf implementation. */
#include <errno.h>
#include <plexus/plexus.h>

#include "pb_depth.h"
#include "pb_field0.h"

static int px__is_message_desc(const ProtobufCMessageDescriptor *desc)
{
    return desc != NULL && desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
}

static px_status px__pb_encode(void *state, const ProtobufCMessage *msg, px_buf *out, px_err *err)
{
    (void)state;
    if (msg == NULL || !px__is_message_desc(msg->descriptor))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "protobuf: cannot encode: not a protobuf-c message (bad descriptor magic)");
    size_t size = protobuf_c_message_get_packed_size(msg);
    if (size == 0)
        return PX_OK; /* an all-default message encodes to no bytes */
    if (px_buf_reserve(out, size) != 0)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "protobuf: out of memory reserving %zu bytes for %s", size,
                          msg->descriptor->name);
    /* Pack straight into the buffer's spare room: no intermediate copy. */
    size_t written = protobuf_c_message_pack(msg, out->data + out->len);
    if (written != size)
        return px_err_set(err, PX_INTERNAL, "protobuf: packed %zu bytes of %s, expected %zu",
                          written, msg->descriptor->name, size);
    out->len += written;
    return PX_OK;
}

static px_status px__pb_decode_with(void *state, const ProtobufCMessageDescriptor *desc,
                                    const uint8_t *data, size_t len, ProtobufCAllocator *alloc,
                                    ProtobufCMessage **out, px_err *err)
{
    (void)state;
    *out = NULL;
    if (!px__is_message_desc(desc))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "protobuf: cannot decode: not a protobuf-c message descriptor (bad magic)");
    unsigned info = px_pb_desc_info(desc); /* one lookup for both guards */
    if (!px_pb_depth_ok(desc, info, data, len))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "protobuf: %s nests deeper than %d levels", desc->name, PX_PB_MAX_DEPTH);
    /* unpack answers NULL for bad input and for a refused allocation alike; an
     * allocator that refuses sets errno to ENOMEM, as malloc does (the decode_with
     * contract, plexus/px_codec.h), which tells them apart at no cost per allocation. */
    errno = 0;
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, alloc, len, data);
    if (msg == NULL && errno == ENOMEM) /* unpack gave back what it had built */
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "protobuf: cannot decode %s from %zu bytes: out of memory", desc->name, len);
    if (msg == NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT, "protobuf: cannot decode %s from %zu bytes",
                          desc->name, len);
    /* Field 0 can only hide among unknown fields, here or in a sub-message. */
    if ((msg->n_unknown_fields || (info & PX_PB_HAS_MESSAGES)) &&
        px_pb_has_field0(msg)) {
        protobuf_c_message_free_unpacked(msg, alloc);
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "protobuf: cannot decode %s: a field with number 0 (numbers start at 1)",
                          desc->name);
    }
    *out = msg;
    return PX_OK;
}

static px_status px__pb_decode(void *state, const ProtobufCMessageDescriptor *desc,
                               const uint8_t *data, size_t len, ProtobufCMessage **out,
                               px_err *err)
{
    return px__pb_decode_with(state, desc, data, len, NULL, out, err);
}

static const px_codec_ops px__pb_ops = {
    .content_type = "application/x-protobuf",
    .encode = px__pb_encode,
    .decode = px__pb_decode,
    .decode_with = px__pb_decode_with,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_CODEC,
    .name = "protobuf",
    .version = "1.0.0",
    .description = "protobuf binary wire format (libprotobuf-c)",
    .ops = &px__pb_ops,
};
