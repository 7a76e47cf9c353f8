/* Codec helpers: building a decoded message field by field in protobuf-c layout, from the caller's allocator. */
#include <stdlib.h>
#include <string.h>
#include "px_cu.h"

/* Frees what one value of f at p owns and leaves the empty value, as free_unpacked would judge it. */
static void px__cu_clear_value(const ProtobufCFieldDescriptor *f, void *p, ProtobufCAllocator *alloc)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char **s = p;
        if (*s != f->default_value) /* the default is static */
            px__cu_free(alloc, *s);
        *s = NULL;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        const ProtobufCBinaryData *def = f->default_value;
        if (def == NULL || b->data != def->data)
            px__cu_free(alloc, b->data);
        b->data = NULL;
        b->len = 0;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage **sub = p;
        if (*sub != NULL)
            protobuf_c_message_free_unpacked(*sub, alloc);
        *sub = NULL;
        break;
    }
    default:
        break; /* numbers own nothing */
    }
}

void *px__cu_singular_begin_slow(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                 ProtobufCAllocator *alloc)
{
    char *base = (char *)m;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
        if (*which != 0) {
            const ProtobufCFieldDescriptor *set =
                protobuf_c_message_descriptor_get_field(m->descriptor, *which);
            if (set != NULL)
                px__cu_clear_value(set, base + set->offset, alloc);
            *which = 0; /* unset until the new value is whole */
        }
    } else {
        px__cu_clear_value(f, base + f->offset, alloc);
    }
    return base + f->offset;
}

void *px__cu_repeated_grow(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t add,
                           ProtobufCAllocator *alloc)
{
    char *base = (char *)m;
    size_t n = *(size_t *)(base + f->quantifier_offset);
    char **arr = (char **)(base + f->offset);
    size_t size = px_pb_value_size(f->type);
    if (add > SIZE_MAX / size - n)
        return NULL;
    size_t want = px__cu_capacity(n + add);
    if (want > SIZE_MAX / size)
        return NULL;
    char *grown;
    if (alloc == NULL) {
        /* malloc's arrays may grow in place. */
        if ((grown = realloc(*arr, want * size)) == NULL)
            return NULL;
    } else {
        /* ProtobufCAllocator has no realloc: a new array, the counted elements copied. On
         * failure the old array stays attached, for free_unpacked. */
        if ((grown = alloc->alloc(alloc->allocator_data, want * size)) == NULL)
            return NULL;
        if (n > 0)
            memcpy(grown, *arr, n * size);
        px__cu_free(alloc, *arr);
    }
    *arr = grown;
    return grown + n * size;
}
