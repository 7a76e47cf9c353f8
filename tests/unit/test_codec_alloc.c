/* Unit tests of decode_with in every standard codec: each byte of a decoded message comes from the
 * caller's allocator and goes back through it, and an allocator that refuses at any point makes the
 * decode fail cleanly (RESOURCE_EXHAUSTED, out of memory, all it built given back). Leaks, double
 * frees and stray frees also show under ASan, which runs this driver too.
 *
 * How many refusals: every k of every sample but those needing more than
 * PX__EVERY_K_MAX allocations (Echo 15: about 3,600, which alone would take most of a
 * minute of json and xml parsing, a minute more under ASan and minutes under TSan):
 * their first and last PX__ENDS, and every PX__STRIDE-th between. With
 * PX_TEST_EVERY_K=1 in the environment, every k of every sample (14,540 refusing
 * decodes; run it under ASan after changing a decoder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>
#include "calc.pb-c.h"
#include "px_arena.h"
#include "px_codec_abi.h"
#include "px_test_alloc.h"
#include "px_test_calc.h"
#include "px_test_module.h"
#include "px_test_msg.h"

#define PX__EVERY_K_MAX 1000
#define PX__ENDS 100
#define PX__STRIDE 11 /* prime: not in step with the repeating patterns of a long sample */

typedef struct codec {
    const char *file;
    void *handle;
    const px_module *mod;
    const px_codec_ops *ops;
    px_decode_with_fn decode_with;
} codec;

static codec codecs[] = {
    { .file = "codec_protobuf.so" },
    { .file = "codec_json.so" },
    { .file = "codec_xml.so" },
    { .file = "codec_binary.so" },
};
#define N_CODECS (sizeof codecs / sizeof codecs[0])

/* The corpus: the conformance suite's EchoMsg samples, then the benchmark's AddRequest. */
static size_t corpus_count(void)
{
    return px_test_echo_sample_count() + 1;
}

static const ProtobufCMessage *corpus_msg(size_t i, Calc__EchoMsg *echo, Calc__AddRequest *add,
                                          const char **what)
{
    if (i < px_test_echo_sample_count()) {
        *what = px_test_echo_sample(i, echo);
        return &echo->base;
    }
    static char tag[] = "0123456789abcdef";
    calc__add_request__init(add);
    add->a = 1;
    add->b = 2;
    add->tag = tag;
    *what = "AddRequest{a, b, 16-byte tag}";
    return &add->base;
}

/* Sample i encoded by c, as an exact-size heap block (ASan sees a read past it). */
static uint8_t *encode_corpus(const codec *c, size_t i, const ProtobufCMessage **msg, size_t *len)
{
    static Calc__EchoMsg echo;
    static Calc__AddRequest add;
    const char *what;
    *msg = corpus_msg(i, &echo, &add, &what);
    px_buf out = { 0 };
    px_err err;
    px_err_clear(&err);
    if (c->ops->encode(NULL, *msg, &out, &err) != PX_OK)
        fail_msg("%s: sample %zu (%s): encode: %s", c->mod->name, i, what, err.msg);
    uint8_t *copy = malloc(out.len > 0 ? out.len : 1);
    assert_non_null(copy);
    if (out.len > 0)
        memcpy(copy, out.data, out.len);
    *len = out.len;
    px_buf_free(&out);
    return copy;
}

static px_status decode_with(const codec *c, const ProtobufCMessageDescriptor *d, const uint8_t *data,
                             size_t len, px_test_alloc *t, ProtobufCMessage **out, px_err *err)
{
    px_err_clear(err);
    *out = (ProtobufCMessage *)&out; /* poison: a refusal must set NULL */
    return c->decode_with(NULL, d, data, len, &t->a, out, err);
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODECS; i++) {
        codec *c = &codecs[i];
        if ((c->mod = px_test_load_module(c->file, &c->handle)) == NULL)
            return -1;
        c->ops = c->mod->ops;
        c->decode_with = px_codec_decode_with(c->mod);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODECS; i++)
        if (codecs[i].handle != NULL)
            dlclose(codecs[i].handle);
    return 0;
}

/* Each codec is built for ABI 1.1 and fills decode_with, so the core reads it. */
static void test_every_codec_has_decode_with(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODECS; i++) {
        if (codecs[i].mod->abi_minor < 1 || codecs[i].decode_with == NULL)
            fail_msg("%s: no decode_with (abi_minor %u)", codecs[i].mod->name,
                     (unsigned)codecs[i].mod->abi_minor);
    }
}

/* The benchmark request decodes into the server's per-call arena (core/px_server.c: 256
 * bytes) without a malloc, whatever the codec: the point of decode_with. */
static void test_small_request_needs_no_malloc(void **state)
{
    (void)state;
    size_t add = corpus_count() - 1;
    for (size_t i = 0; i < N_CODECS; i++) {
        const codec *c = &codecs[i];
        const ProtobufCMessage *want;
        size_t len;
        uint8_t *data = encode_corpus(c, add, &want, &len);
        _Alignas(16) unsigned char mem[256];
        px_arena a;
        px_arena_init(&a, mem, sizeof mem);
        ProtobufCMessage *got;
        px_err err;
        px_err_clear(&err);
        if (c->decode_with(NULL, want->descriptor, data, len, &a.alloc, &got, &err) != PX_OK)
            fail_msg("%s: %s", c->mod->name, err.msg);
        px_assert_msg_equal(want, got);
        if (a.spilled != 0 || (unsigned char *)got < mem || (unsigned char *)got >= mem + sizeof mem)
            fail_msg("%s: AddRequest spilled %u blocks to malloc", c->mod->name, a.spilled);
        px_arena_free_message(&a, got);
        free(data);
    }
}

/*
 * Every sample decodes through the allocator to the message it was, equal to what
 * plain decode gives, and free_unpacked(msg, alloc) gives back every block and every
 * byte. Returns the allocations each sample needs in calls[].
 */
static void check_accounting(const codec *c, size_t *calls)
{
    const ProtobufCMessageDescriptor *d;
    for (size_t i = 0; i < corpus_count(); i++) {
        const ProtobufCMessage *want;
        size_t len;
        uint8_t *data = encode_corpus(c, i, &want, &len);
        d = want->descriptor;
        px_test_alloc t;
        px_test_alloc_init(&t, 0);
        ProtobufCMessage *got, *plain;
        px_err err;
        if (decode_with(c, d, data, len, &t, &got, &err) != PX_OK)
            fail_msg("%s: sample %zu: decode_with: %s", c->mod->name, i, err.msg);
        char why[512];
        if (!px_test_msg_equal(want, got, why, sizeof why))
            fail_msg("%s: sample %zu: decode_with: %s", c->mod->name, i, why);
        px_err_clear(&err);
        if (c->ops->decode(NULL, d, data, len, &plain, &err) != PX_OK)
            fail_msg("%s: sample %zu: decode: %s", c->mod->name, i, err.msg);
        if (!px_test_msg_equal(plain, got, why, sizeof why))
            fail_msg("%s: sample %zu: decode and decode_with differ: %s", c->mod->name, i, why);
        protobuf_c_message_free_unpacked(plain, NULL);
        calls[i] = t.calls;
        if (t.calls == 0 || t.bytes_alloc < d->sizeof_message)
            fail_msg("%s: sample %zu: %zu allocations, %zu bytes: the message is not from the allocator",
                     c->mod->name, i, t.calls, t.bytes_alloc);
        protobuf_c_message_free_unpacked(got, &t.a);
        if (!px_test_alloc_balanced(&t, why, sizeof why))
            fail_msg("%s: sample %zu: after free_unpacked(msg, alloc): %s", c->mod->name, i, why);
        free(data);
    }
}

static int every_k(void)
{
    const char *e = getenv("PX_TEST_EVERY_K");
    return e != NULL && strcmp(e, "1") == 0;
}

/* Whether the k-th of n allocations is refused in this run (see the top of the file). */
static int refuse_k(size_t k, size_t n)
{
    return n <= PX__EVERY_K_MAX || every_k() || k <= PX__ENDS || k > n - PX__ENDS || k % PX__STRIDE == 0;
}

/*
 * The k-th allocation refused, for each k a sample's decode makes (refuse_k): RESOURCE_EXHAUSTED,
 * no message, an error that says out of memory, no allocation after the refusal, and
 * everything built so far given back through the allocator exactly once. Returns the
 * decodes made.
 */
static size_t check_fail_at_k(const codec *c, size_t i, size_t n_calls)
{
    const ProtobufCMessage *want;
    size_t len, decodes = 0;
    uint8_t *data = encode_corpus(c, i, &want, &len);
    for (size_t k = 1; k <= n_calls; k++) {
        if (!refuse_k(k, n_calls))
            continue;
        decodes++;
        px_test_alloc t;
        px_test_alloc_init(&t, k);
        ProtobufCMessage *got;
        px_err err;
        px_status st = decode_with(c, want->descriptor, data, len, &t, &got, &err);
        if (st != PX_RESOURCE_EXHAUSTED)
            fail_msg("%s: sample %zu, allocation %zu of %zu refused: %s (%s), expected RESOURCE_EXHAUSTED",
                     c->mod->name, i, k, n_calls, px_status_name(st), err.msg);
        if (got != NULL)
            fail_msg("%s: sample %zu, allocation %zu refused: *out is not NULL", c->mod->name, i, k);
        if (err.status != st || strstr(err.msg, "out of memory") == NULL)
            fail_msg("%s: sample %zu, allocation %zu refused: message \"%s\" does not say out of memory",
                     c->mod->name, i, k, err.msg);
        if (t.calls != k)
            fail_msg("%s: sample %zu, allocation %zu refused: %zu allocations asked for, the decode went on",
                     c->mod->name, i, k, t.calls);
        char why[512];
        if (!px_test_alloc_balanced(&t, why, sizeof why))
            fail_msg("%s: sample %zu, allocation %zu of %zu refused: %s", c->mod->name, i, k, n_calls, why);
    }
    free(data);
    return decodes;
}

static void test_accounting_and_fail_at_k(void **state)
{
    const codec *c = *state;
    size_t calls[64];
    assert_true(corpus_count() <= sizeof calls / sizeof calls[0]);
    check_accounting(c, calls);
    size_t decodes = 0, points = 0;
    for (size_t i = 0; i < corpus_count(); i++) {
        decodes += check_fail_at_k(c, i, calls[i]);
        points += calls[i];
    }
    print_message("%s: %zu samples, %zu allocation points, %zu refusing decodes%s\n", c->mod->name,
                  corpus_count(), points, decodes, every_k() ? " (every k)" : "");
}

int main(void)
{
    struct CMUnitTest tests[2 + N_CODECS] = {
        cmocka_unit_test(test_every_codec_has_decode_with),
        cmocka_unit_test(test_small_request_needs_no_malloc),
    };
    static char names[N_CODECS][64];
    for (size_t i = 0; i < N_CODECS; i++) {
        snprintf(names[i], sizeof names[i], "%.20s: accounting and fail at every k", codecs[i].file);
        tests[2 + i] = (struct CMUnitTest){ .name = names[i], .test_func = test_accounting_and_fail_at_k,
                                            .initial_state = &codecs[i] };
    }
    return _cmocka_run_group_tests("codec_alloc", tests, 2 + N_CODECS, setup, teardown);
}
