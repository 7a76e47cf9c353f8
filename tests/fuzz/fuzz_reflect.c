/* libFuzzer target: reflection's descriptor rebuild (core/builtin/px_reflect_dyn.c), the
 * parser `plexus call HOST:PORT` runs on what a server sends. The input is the bytes of a
 * plexus.reflection.v1.FileDescriptorsReply (a google.protobuf.FileDescriptorSet). Whatever
 * it is: no crash, leak or out-of-bounds read (ASan), and a refusal says why. What is
 * accepted must be usable: the same input, read as a message of every method's input type
 * through libprotobuf-c with the rebuilt descriptor, must pack again to the size
 * libprotobuf-c computes, and pass protobuf_c_message_check. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexus/px_descset.h"
#include "px_reflect.h"
#include "px_descriptor.pb-c.h"
#include "px_reflection.pb-c.h"

static void try_message(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size, data);
    if (m == NULL)
        return;
    if (!protobuf_c_message_check(m)) {
        fprintf(stderr, "fuzz_reflect: a message of %s unpacked but fails the check\n", d->name);
        abort();
    }
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL || protobuf_c_message_pack(m, buf) != len) {
        fprintf(stderr, "fuzz_reflect: %s packed to another size than computed\n", d->name);
        abort();
    }
    free(buf);
    protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ProtobufCMessage *reply = protobuf_c_message_unpack(
        &plexus__reflection__v1__file_descriptors_reply__descriptor, NULL, size, data);
    if (reply == NULL)
        return 0;
    const Plexus__Reflection__V1__FileDescriptorsReply *r = (const void *)reply;
    px_descset *d = NULL;
    px_err err;
    px_err_clear(&err);
    if (px_descset_build(r->file, r->n_file, &d, &err) != PX_OK) {
        if (err.msg[0] == '\0') {
            fprintf(stderr, "fuzz_reflect: a refusal without a message\n");
            abort();
        }
    } else {
        /* Every message type is reached through a method of some file, or by name. */
        for (size_t f = 0; f < r->n_file; f++) {
            ProtobufCMessage *fm = protobuf_c_message_unpack(
                &google__protobuf__file_descriptor_proto__descriptor, NULL, r->file[f].len,
                r->file[f].data);
            const Google__Protobuf__FileDescriptorProto *fp = (const void *)fm;
            for (size_t i = 0; fp != NULL && i < fp->n_message_type; i++) {
                char full[512];
                snprintf(full, sizeof full, "%s%s%s", fp->package ? fp->package : "",
                         fp->package && fp->package[0] ? "." : "",
                         fp->message_type[i]->name ? fp->message_type[i]->name : "");
                const ProtobufCMessageDescriptor *md = px_descset_message(d, full);
                if (md != NULL)
                    try_message(md, data, size);
            }
            if (fm != NULL)
                protobuf_c_message_free_unpacked(fm, NULL);
        }
        px_descset_free(d);
    }
    protobuf_c_message_free_unpacked(reply, NULL);
    return 0;
}
