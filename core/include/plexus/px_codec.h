/* CODEC modules: turn a protobuf-c message into bytes and back. */
#ifndef PLEXUS_PX_CODEC_H
#define PLEXUS_PX_CODEC_H

#include <protobuf-c/protobuf-c.h>
#include "px_buf.h"
#include "px_module.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A codec walks the message's ProtobufCMessageDescriptor (the reflection every
 * generated message carries). The codec's name on the wire is its module name.
 * Both hooks may be called concurrently from several threads with the same state.
 */
typedef struct px_codec_ops {
    const char *content_type; /**< e.g. "application/x-protobuf" */
    /** Appends the encoding of msg to out. PX_OK, or an error status with err filled. */
    px_status (*encode)(void *state, const ProtobufCMessage *msg, px_buf *out, px_err *err);
    /**
     * Decodes len bytes into a new message of type desc. The message must be laid
     * out as protobuf-c lays it out and allocated with malloc, so that the core
     * frees it with protobuf_c_message_free_unpacked(msg, NULL). Bad input returns
     * PX_INVALID_ARGUMENT with a message saying what and at which byte/field; it
     * never reads outside data[0..len).
     */
    px_status (*decode)(void *state, const ProtobufCMessageDescriptor *desc,
                        const uint8_t *data, size_t len, ProtobufCMessage **out,
                        px_err *err);
    /**
     * ABI 1.1, optional: read only from modules built with abi_minor >= 1 (NULL: the
     * core uses decode). decode, with every byte of the message and of what it points
     * to taken from alloc; the core frees it with
     * protobuf_c_message_free_unpacked(msg, alloc). The server passes an allocator
     * backed by the call's own record, so a small request costs no malloc, and with
     * a budget: an allocator that refuses returns NULL with errno set to ENOMEM (as
     * malloc does), and the codec then frees what it built and fails with
     * PX_RESOURCE_EXHAUSTED.
     */
    px_status (*decode_with)(void *state, const ProtobufCMessageDescriptor *desc,
                             const uint8_t *data, size_t len, ProtobufCAllocator *alloc,
                             ProtobufCMessage **out, px_err *err);
} px_codec_ops;

/** The type of px_codec_ops.decode_with. */
typedef px_status (*px_codec_decode_with_fn)(void *state, const ProtobufCMessageDescriptor *desc,
                                             const uint8_t *data, size_t len,
                                             ProtobufCAllocator *alloc, ProtobufCMessage **out,
                                             px_err *err);

/** Codec module m's decode_with, or NULL when m is not a codec, predates ABI 1.1 (its op
 *  table ends before the field) or has none. */
static inline px_codec_decode_with_fn px_codec_decode_with(const px_module *m)
{
    if (m->kind != PX_MOD_CODEC || m->abi_major != 1 || m->abi_minor < 1)
        return NULL;
    return ((const px_codec_ops *)m->ops)->decode_with;
}

/*
 * A codec outside a call: an instance of codec module name, loaded through cfg's
 * module search path and configured with its directives' defaults, for a program that
 * encodes or decodes on its own (the CLI turns JSON arguments into requests, the codec
 * bench times every codec). Since ABI 1.5 (new functions only).
 */
struct px_config;
typedef struct px_codec_handle px_codec_handle;
/** name: a codec module's name ("json"), found as cfg's modules are, or the path of a
 *  codec_*.so file (it holds a '/'). cfg NULL: the handle loads the module itself, from
 *  PLEXUS_MODULE_PATH then the installed directory. scope names the user in the
 *  module's messages ("plexus call"). */
PX_API px_status px_codec_open(const struct px_config *cfg, const char *name,
                               const char *scope, px_codec_handle **out, px_err *err);
PX_API const px_codec_ops *px_codec_handle_ops(const px_codec_handle *h);
/** The state to pass to the ops. */
PX_API void *px_codec_handle_state(const px_codec_handle *h);
/** The module, and the file it came from. */
PX_API const px_module *px_codec_handle_module(const px_codec_handle *h);
PX_API const char *px_codec_handle_path(const px_codec_handle *h);
/** Destroys the instance; the module stays loaded until cfg is freed (without cfg: is
 *  unloaded now). NULL is a no-op. */
PX_API void px_codec_close(px_codec_handle *h);

/** Bytes one value of this type occupies in a protobuf-c struct or repeated array. */
static inline size_t px_pb_value_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int); /* generated enums are forced to int size */
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return sizeof(uint32_t); /* 32-bit integers, float */
    }
}

#ifdef __cplusplus
}
#endif
#endif
