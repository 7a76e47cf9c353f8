/* Codec helpers: building a decoded message field by field in protobuf-c layout, with malloc. */
#include <stdlib.h>
#include "px_codec_util.h"

ProtobufCMessage *px__cu_msg_new(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (m != NULL)
        d->message_init(m);
    return m;
}

/* Frees what one value of f at p owns and leaves the empty value, as free_unpacked would judge it. */
static void px__cu_clear_value(const ProtobufCFieldDescriptor *f, void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char **s = p;
        if (*s != NULL && *s != f->default_value) /* the default is static */
            free(*s);
        *s = NULL;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        const ProtobufCBinaryData *def = f->default_value;
        if (b->data != NULL && (def == NULL || b->data != def->data))
            free(b->data);
        b->data = NULL;
        b->len = 0;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage **sub = p;
        if (*sub != NULL)
            protobuf_c_message_free_unpacked(*sub, NULL);
        *sub = NULL;
        break;
    }
    default:
        break; /* numbers own nothing */
    }
}

void *px__cu_singular_begin_slow(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    char *base = (char *)m;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
        if (*which != 0) {
            const ProtobufCFieldDescriptor *set =
                protobuf_c_message_descriptor_get_field(m->descriptor, *which);
            if (set != NULL)
                px__cu_clear_value(set, base + set->offset);
            *which = 0; /* unset until the new value is whole */
        }
    } else {
        px__cu_clear_value(f, base + f->offset);
    }
    return base + f->offset;
}

void *px__cu_repeated_grow(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t add)
{
    char *base = (char *)m;
    size_t n = *(size_t *)(base + f->quantifier_offset);
    char **arr = (char **)(base + f->offset);
    size_t size = px__cu_value_size(f->type);
    if (add > SIZE_MAX / size - n)
        return NULL;
    size_t want = px__cu_capacity(n + add);
    if (want > SIZE_MAX / size)
        return NULL;
    char *grown = realloc(*arr, want * size);
    if (grown == NULL)
        return NULL;
    *arr = grown;
    return grown + n * size;
}
