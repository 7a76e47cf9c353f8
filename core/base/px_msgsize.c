/* Measuring a decoded message's heap: the server's decode budget for codecs that have
 * no allocator hook (decode_with), which can only be checked after decoding. */
#include "px_msgsize.h"

#include <string.h>

#include "plexus/px_codec.h"

/* What one value at p owns beyond its slot. */
static size_t px__owned(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s && s != f->default_value ? strlen(s) + 1 : 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        const ProtobufCBinaryData *def = f->default_value;
        return b->data && !(def && b->data == def->data) ? b->len : 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        return m ? px_msg_heap_size(m) : 0;
    }
    default:
        return 0;
    }
}

size_t px_msg_heap_size(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    size_t total = d->sizeof_message;
    const char *base = (const char *)msg;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)(base + f->offset);
            if (!n || !arr)
                continue;
            size_t vs = px_pb_value_size(f->type);
            total += n * vs;
            for (size_t k = 0; k < n; k++)
                total += px__owned(f, arr + k * vs);
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue; /* another member of the oneof holds the storage */
        total += px__owned(f, base + f->offset);
    }
    total += msg->n_unknown_fields * sizeof(ProtobufCMessageUnknownField);
    for (unsigned i = 0; i < msg->n_unknown_fields; i++)
        total += msg->unknown_fields[i].len;
    return total;
}
