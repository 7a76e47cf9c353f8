/* px_codec_util.h: setting up a new protobuf-c message, which fields a codec writes, which are maps. */
#include <string.h>
#include "plexus/px_codec.h"
#include "plexus/px_codec_util.h"

void px_pb_message_init(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m)
{
    if (d->message_init != NULL) {
        d->message_init(m);
        return;
    }
    memset(m, 0, d->sizeof_message);
    m->descriptor = d;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *dv = f->default_value;
        if (dv == NULL || f->label == PROTOBUF_C_LABEL_REPEATED ||
            (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) /* a oneof starts unset */
            continue;
        void *at = (char *)m + f->offset;
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
            memcpy(at, &dv, sizeof dv); /* the default itself is the value */
        else
            memcpy(at, dv, px_pb_value_size(f->type));
    }
}

int px_pb_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
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
        return memcmp(p, zero, px_pb_value_size(f->type)) != 0;
    }
    }
}

size_t px_pb_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(const size_t *)((const char *)m + f->quantifier_offset);
    return px_pb_present(m, f) ? 1 : 0;
}

int px_pb_is_map(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return 0;
    const ProtobufCMessageDescriptor *e = f->descriptor;
    if (e->n_fields != 2 || e->fields[0].id != 1 || strcmp(e->fields[0].name, "key") != 0 ||
        e->fields[1].id != 2 || strcmp(e->fields[1].name, "value") != 0)
        return 0;
    size_t plen = strlen(d->name);
    if (strncmp(e->name, d->name, plen) != 0 || e->name[plen] != '.')
        return 0;
    /* protoc's MapEntryName: CamelCase of the field name (first letter up) + "Entry". */
    const char *s = e->name + plen + 1;
    int upper = 1;
    for (const char *c = f->name; *c != '\0'; c++) {
        if (*c == '_') {
            upper = 1;
            continue;
        }
        char want = upper && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        upper = 0;
        if (*s++ != want)
            return 0;
    }
    return strcmp(s, "Entry") == 0;
}
