/* Field number 0 is not valid protobuf, but libprotobuf-c (1.4.1) accepts its tag when
 * it is written in more than one byte (80 00), keeps it as an unknown field and packs it
 * back as the one-byte tag 00, which it then refuses: a server echoing such a message
 * would send bytes no client decodes. Found by tests/fuzz/fuzz_codec_protobuf. */
#include "pb_field0.h"

#include <stddef.h>
#include <stdint.h>

/* Recursion follows message fields only; the decoder's depth limit bounds it. */
int px_pb_has_field0(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned f = 0; f < d->n_fields; f++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[f];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + fd->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)(base + fd->offset);
            for (size_t k = 0; k < n; k++)
                if (items[k] && px_pb_has_field0(items[k]))
                    return 1;
            continue;
        }
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
            continue; /* another member of the oneof is set: the pointer is not ours */
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + fd->offset);
        if (sub && px_pb_has_field0(sub))
            return 1;
    }
    return 0;
}
