/* Unit tests of the decode arena (core/px_arena.c) and of reading codec_decode_with
 * across ABI minors (core/px_codec_abi.h). Leaks and stray frees show under
 * ASan and valgrind, which run this driver too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <cmocka.h>
#include <plexus/plexus.h>
#include "calc.pb-c.h"
#include "px_arena.h"
#include "px_codec_abi.h"
#include "px_test_module.h"

static void *handle;
static const px_module *mod;
static px_decode_with_fn decode_with;

static int setup(void **state)
{
    (void)state;
    mod = px_test_load_module("codec_protobuf.so", &handle);
    if (mod == NULL)
        return -1;
    decode_with = px_codec_decode_with(mod);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (handle != NULL)
        dlclose(handle);
    return 0;
}

/* The wire bytes of AddRequest{a, b, tag}. */
static size_t pack_add(int32_t a, int32_t b, const char *tag, uint8_t **out)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = a;
    req.b = b;
    req.tag = (char *)tag;
    size_t n = calc__add_request__get_packed_size(&req);
    *out = malloc(n ? n : 1);
    assert_non_null(*out);
    assert_int_equal(calc__add_request__pack(&req, *out), n);
    return n;
}

/* Decodes wire[0..n) as AddRequest through a's allocator; returns the status. */
static px_status decode_add(px_arena *a, const uint8_t *wire, size_t n, ProtobufCMessage **msg,
                            px_err *err)
{
    *msg = NULL;
    *err = (px_err){0};
    return decode_with(NULL, &calc__add_request__descriptor, wire, n, &a->alloc, msg, err);
}

static void test_codec_protobuf_has_decode_with(void **state)
{
    (void)state;
    assert_true(mod->abi_minor >= 1);
    assert_non_null(decode_with);
}

static void test_small_message_lives_in_the_arena(void **state)
{
    (void)state;
    _Alignas(16) unsigned char mem[256];
    px_arena a;
    px_arena_init(&a, mem, sizeof mem);
    uint8_t *wire;
    size_t n = pack_add(2, 3, "0123456789abcdef", &wire);
    for (int round = 0; round < 3; round++) { /* reused, as a recycled call record is */
        ProtobufCMessage *msg;
        px_err err;
        assert_int_equal(decode_add(&a, wire, n, &msg, &err), PX_OK);
        assert_int_equal(a.spilled, 0);
        assert_true((unsigned char *)msg >= mem && (unsigned char *)msg < mem + sizeof mem);
        const Calc__AddRequest *r = (const Calc__AddRequest *)msg;
        assert_int_equal(r->a, 2);
        assert_int_equal(r->b, 3);
        assert_string_equal(r->tag, "0123456789abcdef");
        assert_int_equal((uintptr_t)r->tag % 16, 0);
        px_arena_free_message(&a, msg);
        assert_int_equal(a.used, 0);
    }
    free(wire);
}

static void test_large_message_spills_to_malloc_and_is_freed(void **state)
{
    (void)state;
    _Alignas(16) unsigned char mem[128];
    px_arena a;
    px_arena_init(&a, mem, sizeof mem);
    char tag[1001];
    memset(tag, 'x', 1000);
    tag[1000] = 0;
    uint8_t *wire;
    size_t n = pack_add(-1, 7, tag, &wire);
    ProtobufCMessage *msg;
    px_err err;
    assert_int_equal(decode_add(&a, wire, n, &msg, &err), PX_OK);
    assert_true(a.spilled >= 1); /* the 1001-byte string did not fit */
    assert_string_equal(((const Calc__AddRequest *)msg)->tag, tag);
    px_arena_free_message(&a, msg); /* frees the spilled block: a leak would fail ASan */
    assert_int_equal(a.spilled, 0);
    free(wire);
}

static void test_no_room_at_all(void **state)
{
    (void)state;
    px_arena a;
    px_arena_init(&a, NULL, 0); /* e.g. a client request that filled its inline room */
    uint8_t *wire;
    size_t n = pack_add(1, 1, "t", &wire);
    ProtobufCMessage *msg;
    px_err err;
    assert_int_equal(decode_add(&a, wire, n, &msg, &err), PX_OK);
    assert_true(a.spilled >= 2);
    assert_int_equal(((const Calc__AddRequest *)msg)->b, 1);
    px_arena_free_message(&a, msg);
    free(wire);
}

static void test_bad_input_leaves_nothing_behind(void **state)
{
    (void)state;
    _Alignas(16) unsigned char mem[32];
    px_arena a;
    px_arena_init(&a, mem, sizeof mem);
    char tag[200];
    memset(tag, 'y', sizeof tag - 1);
    tag[sizeof tag - 1] = 0;
    uint8_t *wire;
    size_t n = pack_add(5, 6, tag, &wire);
    for (size_t cut = 1; cut < n; cut += 37) { /* truncated inside the string */
        ProtobufCMessage *msg;
        px_err err;
        px_arena_init(&a, mem, sizeof mem);
        assert_int_equal(decode_add(&a, wire, n - cut, &msg, &err), PX_INVALID_ARGUMENT);
        assert_null(msg);
        assert_non_null(strstr(err.msg, "cannot decode calc.AddRequest"));
    }
    free(wire);
}

/* A codec built for ABI 1.0: its op table ends before decode_with. Allocated exactly
 * that long, so reading the appended field would be a heap overflow under ASan. */
static void test_minor_0_codec_is_not_read_past_its_table(void **state)
{
    (void)state;
    size_t old_size = offsetof(px_codec_ops, decode_with);
    px_codec_ops *old_ops = malloc(old_size);
    assert_non_null(old_ops);
    memcpy(old_ops, mod->ops, old_size);
    px_module old = *mod;
    old.abi_minor = 0;
    old.ops = old_ops;
    assert_null(px_codec_decode_with(&old));
    old.abi_minor = 1;
    old.ops = mod->ops;
    assert_non_null(px_codec_decode_with(&old));
    old.kind = PX_MOD_BALANCER; /* not a codec: never read as one */
    assert_null(px_codec_decode_with(&old));
    free(old_ops);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_protobuf_has_decode_with),
        cmocka_unit_test(test_small_message_lives_in_the_arena),
        cmocka_unit_test(test_large_message_spills_to_malloc_and_is_freed),
        cmocka_unit_test(test_no_room_at_all),
        cmocka_unit_test(test_bad_input_leaves_nothing_behind),
        cmocka_unit_test(test_minor_0_codec_is_not_read_past_its_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
