/* libFuzzer target: one codec's decoder (PX_FUZZ_CODEC) on calc.EchoMsg, and the
 * round trip of whatever it accepts. Built once per codec by tests/fuzz/CMakeLists.txt. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc.pb-c.h"
#include "fuzz_load.h"
#include "px_test_msg.h"

/*
 * The codec is loaded the way plexusd loads it (fuzz_load.c). For every input:
 *  - decode never crashes, leaks or reads out of bounds (ASan), and a refusal
 *    carries a message;
 *  - what decode accepts, encode must accept, and decoding that encoding again
 *    gives an equal message (the server echoes what it decoded, so an accepted
 *    input the codec cannot answer with is a bug).
 */
static const px_codec_ops *ops;
static void *state;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_codec_%s: %s%s%s\n", PX_FUZZ_CODEC, what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

/*
 * libprotobuf-c (1.4.1) writes a proto3 float or double with implicit presence only
 * when `value != 0`, so -0.0 is dropped and reads back as +0.0 (protobuf's C++ and
 * the other codecs keep the sign). That is the library's packing rule, not this
 * codec's bug: for protobuf, compare with such zeros folded to +0.0.
 */
static void fold_negative_zeros(ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    char *base = (char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        void *p = base + f->offset;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t n = *(size_t *)(base + f->quantifier_offset);
                for (size_t k = 0; k < n; k++)
                    fold_negative_zeros((*(ProtobufCMessage ***)p)[k]);
            } else if (*(ProtobufCMessage **)p &&
                       (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
                        *(uint32_t *)(base + f->quantifier_offset) == f->id)) {
                fold_negative_zeros(*(ProtobufCMessage **)p);
            }
            continue;
        }
        if (f->label != PROTOBUF_C_LABEL_NONE || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        if (f->type == PROTOBUF_C_TYPE_DOUBLE && *(double *)p == 0)
            *(double *)p = 0.0;
        else if (f->type == PROTOBUF_C_TYPE_FLOAT && *(float *)p == 0)
            *(float *)p = 0.0f;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ops = px_fuzz_load_codec(PX_FUZZ_CODEC, &state);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *desc = &calc__echo_msg__descriptor;
    ProtobufCMessage *m1 = NULL, *m2 = NULL;
    px_err err;
    px_err_clear(&err);
    if (ops->decode(state, desc, data, size, &m1, &err) != PX_OK) {
        if (m1)
            die("decode failed but returned a message", err.msg);
        if (err.msg[0] == 0)
            die("decode failed without a message", NULL);
        return 0;
    }
    if (!m1 || m1->descriptor != desc)
        die("decode succeeded without a calc.EchoMsg", NULL);

    px_buf b1 = {0};
    px_err_clear(&err);
    if (ops->encode(state, m1, &b1, &err) != PX_OK)
        die("cannot encode a message the codec decoded", err.msg);
    px_err_clear(&err);
    if (ops->decode(state, desc, b1.data, b1.len, &m2, &err) != PX_OK)
        die("cannot decode the codec's own encoding", err.msg);
    char why[512];
    if (strcmp(PX_FUZZ_CODEC, "protobuf") == 0)
        fold_negative_zeros(m1);
    if (!px_test_msg_equal(m1, m2, why, sizeof why))
        die("decode(encode(m)) differs from m", why);

    protobuf_c_message_free_unpacked(m1, NULL);
    protobuf_c_message_free_unpacked(m2, NULL);
    px_buf_free(&b1);
    return 0;
}
