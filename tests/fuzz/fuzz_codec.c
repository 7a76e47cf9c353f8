/* libFuzzer target: one codec's decoder (PX_FUZZ_CODEC) on calc.EchoMsg, through decode and
 * decode_with, and the round trip of whatever it accepts. Built once per codec by
 * tests/fuzz/CMakeLists.txt. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc.pb-c.h"
#include "fuzz_load.h"
#include "px_codec_abi.h"
#include "px_test_alloc.h"
#include "px_test_msg.h"

/*
 * The codec is loaded the way plexusd loads it (fuzz_load.c). For every input:
 *  - decode never crashes, leaks or reads out of bounds (ASan), and a refusal
 *    carries a message;
 *  - what decode accepts, encode must accept, and decoding that encoding again
 *    gives an equal message (the server echoes what it decoded, so an accepted
 *    input the codec cannot answer with is a bug);
 *  - decode_with (when the codec has it) answers exactly as decode does, takes every
 *    block from the allocator and gives each back once; and with the allocator
 *    refusing at a point chosen from the input, it answers RESOURCE_EXHAUSTED with
 *    nothing leaked or freed twice (the server's budget runs out at any point).
 */
static const px_codec_ops *ops;
static px_decode_with_fn decode_with;
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
    const px_module *mod;
    ops = px_fuzz_load_codec(PX_FUZZ_CODEC, &state, &mod);
    decode_with = px_codec_decode_with(mod);
    return 0;
}

/* The allocation to refuse, 1..n: picked by a hash of the input, so the fuzzer's
 * mutations move the failure point around the decoder as they move its path. */
static size_t fail_point(const uint8_t *data, size_t size, size_t n)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return 1 + (size_t)(h % n);
}

static void check_balanced(const px_test_alloc *t, const char *what)
{
    char why[256];
    if (!px_test_alloc_balanced(t, why, sizeof why))
        die(what, why);
}

/* The k-th allocation refused: a clean out-of-memory failure, all given back. */
static void check_refusal(const uint8_t *data, size_t size, size_t k)
{
    px_test_alloc t;
    px_test_alloc_init(&t, k);
    ProtobufCMessage *m = NULL;
    px_err err;
    px_err_clear(&err);
    px_status st = decode_with(state, &calc__echo_msg__descriptor, data, size, &t.a, &m, &err);
    if (st != PX_RESOURCE_EXHAUSTED || m != NULL)
        die("decode_with with a refused allocation did not fail as out of memory", err.msg);
    if (strstr(err.msg, "out of memory") == NULL)
        die("out-of-memory failure without saying so", err.msg);
    if (t.calls != k)
        die("decode_with went on allocating after a refusal", err.msg);
    check_balanced(&t, "decode_with with a refused allocation did not give back all it took");
}

/* decode_with gives what decode gave (m1, or a refusal with status st), then fails
 * cleanly when one of the allocations it made is refused. The refusal's text is not
 * compared: codec_xml's depends on whether its per-thread reader was reused (a reused
 * one loses libxml2's detail for some malformed prologs), with or without decode_with. */
static void check_decode_with(const uint8_t *data, size_t size, const ProtobufCMessage *m1, px_status st)
{
    px_test_alloc t;
    px_test_alloc_init(&t, 0);
    ProtobufCMessage *m = NULL;
    px_err err;
    px_err_clear(&err);
    px_status st2 = decode_with(state, &calc__echo_msg__descriptor, data, size, &t.a, &m, &err);
    if (st2 != st)
        die("decode and decode_with answer differently", err.msg);
    if (st != PX_OK && (m != NULL || err.msg[0] == 0))
        die("decode_with refused without an error message, or with a message", err.msg);
    char why[512];
    if (st == PX_OK && !px_test_msg_equal(m1, m, why, sizeof why))
        die("decode and decode_with give different messages", why);
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, &t.a);
    check_balanced(&t, "free_unpacked(msg, alloc) did not give back all decode_with took");
    if (t.calls == 0)
        return;
    check_refusal(data, size, fail_point(data, size, t.calls));
    check_refusal(data, size, t.calls); /* the last one: the message is whole but for it */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *desc = &calc__echo_msg__descriptor;
    ProtobufCMessage *m1 = NULL, *m2 = NULL;
    px_err err;
    px_err_clear(&err);
    px_status st = ops->decode(state, desc, data, size, &m1, &err);
    if (st != PX_OK) {
        if (m1)
            die("decode failed but returned a message", err.msg);
        if (err.msg[0] == 0)
            die("decode failed without a message", NULL);
        if (decode_with)
            check_decode_with(data, size, NULL, st);
        return 0;
    }
    if (!m1 || m1->descriptor != desc)
        die("decode succeeded without a calc.EchoMsg", NULL);
    if (decode_with)
        check_decode_with(data, size, m1, PX_OK);

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
