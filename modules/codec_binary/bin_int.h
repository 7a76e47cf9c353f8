/* Internal to codec_binary: the format's constants, byte order and the encoder and decoder entry points. */
#ifndef PX_CODEC_BINARY_INT_H
#define PX_CODEC_BINARY_INT_H

#include <endian.h>
#include <stdint.h>
#include <string.h>
#include <plexus/plexus.h>
#include "px_cu.h"

/* The root entry's serial number: the format version this module writes and reads. */
#define PX__BIN_VERSION 1u

/* Every integer of the format is little-endian: what the hosts we run on store. */
static inline uint32_t px__bin_rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return le32toh(v);
}

static inline uint64_t px__bin_rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return le64toh(v);
}

static inline uint8_t *px__bin_wr32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof v);
    return p + sizeof v;
}

static inline uint8_t *px__bin_wr64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof v);
    return p + sizeof v;
}

/* Bytes a value of this type takes in the format: fixed for scalars, 0 for string,
 * bytes and message (their value length says). */
static inline size_t px__bin_width(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_BOOL:
        return 1;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 0;
    default:
        return 4; /* 32-bit integers, enum, float */
    }
}

/** Appends the encoding of msg (header and entries) to out; err on failure (out unchanged). */
px_status px__bin_encode_message(const ProtobufCMessage *msg, px_buf *out, px_err *err);

/** Decodes a whole document of type desc into a message built from alloc (NULL: malloc);
 *  err on failure, with what was built given back to alloc. */
px_status px__bin_decode_message(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                                 size_t len, ProtobufCAllocator *alloc, ProtobufCMessage **out,
                                 px_err *err);

#endif
