/* Codec helpers: whether a field of a protobuf-c message is set, and so written. */
#include <string.h>
#include "px_codec_util.h"

int px__cu_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *)m;
    const void *p = base + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return 1;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void *const *)p != NULL;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (f->type == PROTOBUF_C_TYPE_STRING) /* unset proto2 strings point at their default */
            return *(void *const *)p != NULL && *(void *const *)p != f->default_value;
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
    }
    switch (f->type) { /* LABEL_NONE: proto3 implicit presence */
    case PROTOBUF_C_TYPE_STRING:
        return *(char *const *)p != NULL && **(char *const *)p != '\0';
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len > 0;
    default: {
        /* Compare the bits, so -0.0 is kept as the value it is. */
        static const uint8_t zero[sizeof(ProtobufCBinaryData)];
        return memcmp(p, zero, px__cu_value_size(f->type)) != 0;
    }
    }
}
