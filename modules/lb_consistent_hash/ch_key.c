/* consistent_hash: the per-call key, hashed from a named request field via its descriptor. */
#include <string.h>
#include "lb_consistent_hash.h"

/*
 * FNV-1a, written out: ten lines, no dependency, and a ring must hash the same in
 * every process and release, which a library's seeded or versioned hash does not
 * promise. Its weak high bits are fixed by the mixer the ring applies on top.
 */
uint64_t ch_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t ch_int_key(uint64_t v)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    return ch_fnv1a(CH_FNV_OFFSET, le, sizeof le);
}

/* Set or not: proto2 `has_` flags, proto3 `optional` and oneof members say; plain
 * proto3 scalars are always present. */
static int ch_field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *)msg;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_MESSAGE)
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
    return 1;
}

ch_key_result ch_field_key(const ProtobufCMessage *msg, const char *name, uint64_t *key)
{
    if (msg == NULL || msg->descriptor == NULL)
        return CH_KEY_ABSENT;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
    if (f == NULL)
        return CH_KEY_ABSENT;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return CH_KEY_BAD_TYPE;
    if (!ch_field_present(msg, f))
        return CH_KEY_ABSENT;
    const void *v = (const char *)msg + f->offset;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)v;
        if (s == NULL || s[0] == '\0')
            return CH_KEY_ABSENT;
        *key = ch_fnv1a(CH_FNV_OFFSET, s, strlen(s));
        return CH_KEY_OK;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = v;
        if (b->len == 0)
            return CH_KEY_ABSENT;
        *key = ch_fnv1a(CH_FNV_OFFSET, b->data, b->len);
        return CH_KEY_OK;
    }
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        *key = ch_int_key((uint64_t)(int64_t) * (const int32_t *)v);
        return CH_KEY_OK;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *key = ch_int_key(*(const uint32_t *)v);
        return CH_KEY_OK;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *key = ch_int_key(*(const uint64_t *)v);
        return CH_KEY_OK;
    case PROTOBUF_C_TYPE_BOOL:
        *key = ch_int_key(*(const protobuf_c_boolean *)v ? 1 : 0);
        return CH_KEY_OK;
    default: /* float, double, message */
        return CH_KEY_BAD_TYPE;
    }
}
