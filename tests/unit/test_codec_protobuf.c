/* Unit tests of modules/codec_protobuf: descriptor, exact bytes, round-trips, protoc agreement, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dlfcn.h>
#include <cmocka.h>
#include <plexus/plexus.h>
#include "calc.pb-c.h"
#include "px_test_calc.h"
#include "px_test_module.h"
#include "px_test_msg.h"
#include "px_test_protoc.h"

static void *handle;
static const px_module *mod;
static const px_codec_ops *ops;

static int setup(void **state)
{
    mod = px_test_load_module("codec_protobuf.so", &handle);
    if (mod == NULL)
        return -1;
    ops = mod->ops;
    return 0;
}

static int teardown(void **state)
{
    if (handle != NULL)
        dlclose(handle);
    return 0;
}

static void test_descriptor(void **state)
{
    assert_int_equal(mod->abi_major, PX_ABI_MAJOR);
    assert_string_equal(mod->signature, PX_MODULE_SIGNATURE);
    assert_int_equal(mod->kind, PX_MOD_CODEC);
    assert_string_equal(mod->name, "protobuf");
    assert_null(mod->create);
    assert_string_equal(ops->content_type, "application/x-protobuf");
}

static void test_exact_bytes(void **state)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 2;
    req.b = 3;
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &req.base, &out, &err), PX_OK);
    static const uint8_t want[] = { 0x08, 0x02, 0x10, 0x03 };
    assert_int_equal(out.len, sizeof want);
    assert_memory_equal(out.data, want, sizeof want);

    /* A second encode appends after what the buffer holds. */
    req.a = -1;
    req.b = 0;
    assert_int_equal(ops->encode(NULL, &req.base, &out, &err), PX_OK);
    static const uint8_t want2[] = { 0x08, 0x02, 0x10, 0x03, 0x08, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    assert_int_equal(out.len, sizeof want2);
    assert_memory_equal(out.data, want2, sizeof want2);
    px_buf_free(&out);

    /* The all-default message is zero bytes, and zero bytes decode to it. */
    Calc__AddRequest empty = CALC__ADD_REQUEST__INIT;
    assert_int_equal(ops->encode(NULL, &empty.base, &out, &err), PX_OK);
    assert_int_equal(out.len, 0);
    ProtobufCMessage *dec = NULL;
    assert_int_equal(ops->decode(NULL, &calc__add_request__descriptor, (const uint8_t *)"", 0, &dec, &err),
                     PX_OK);
    px_assert_msg_equal(&empty, dec);
    protobuf_c_message_free_unpacked(dec, NULL);
    px_buf_free(&out);
}

static void test_roundtrip_samples(void **state)
{
    size_t n = px_test_echo_sample_count();
    assert_true(n >= 9);
    for (size_t i = 0; i < n; i++) {
        Calc__EchoMsg m;
        const char *what = px_test_echo_sample(i, &m);
        px_buf out = { 0 };
        px_err err = { 0 };
        assert_int_equal(ops->encode(NULL, &m.base, &out, &err), PX_OK);
        assert_int_equal(out.len, protobuf_c_message_get_packed_size(&m.base));
        ProtobufCMessage *dec = NULL;
        if (ops->decode(NULL, &calc__echo_msg__descriptor, out.data, out.len, &dec, &err) != PX_OK)
            fail_msg("sample %zu (%s): %s", i, what, err.msg);
        char why[512];
        if (!px_test_msg_equal(&m.base, dec, why, sizeof why))
            fail_msg("sample %zu (%s): %s", i, what, why);
        protobuf_c_message_free_unpacked(dec, NULL);
        px_buf_free(&out);
    }
}

/* The bytes must be what any protobuf implementation reads: ask protoc itself.
 * (The conformance suite checks every corpus sample through protoc the same way.) */
static void test_protoc_agrees(void **state)
{
    if (!px_test_have_protoc())
        skip();
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    m.f_int64 = INT64_MIN;
    m.f_sint32 = -3;
    m.f_fixed64 = UINT64_MAX;
    m.f_string = "héllo";
    static int32_t r[] = { 1, -2 };
    m.n_r_int32 = 2;
    m.r_int32 = r;
    m.color = CALC__COLOR__BLUE;
    m.choice_case = CALC__ECHO_MSG__CHOICE_C_NUMBER;
    m.c_number = 42;
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &m.base, &out, &err), PX_OK);

    uint8_t *text;
    size_t text_len;
    assert_int_equal(px_test_protoc("--decode", "calc.EchoMsg", out.data, out.len, &text, &text_len), 0);
    assert_string_equal((char *)text, "f_int64: -9223372036854775808\n"
                                      "f_sint32: -3\n"
                                      "f_fixed64: 18446744073709551615\n"
                                      "f_string: \"h\\303\\251llo\"\n"
                                      "r_int32: 1\n"
                                      "r_int32: -2\n"
                                      "color: BLUE\n"
                                      "c_number: 42\n");
    free(text);
    px_buf_free(&out);
}

static void expect_decode_error(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                                const char *msg)
{
    ProtobufCMessage *dec = (ProtobufCMessage *)&dec;
    px_err err = { 0 };
    assert_int_equal(ops->decode(NULL, d, data, len, &dec, &err), PX_INVALID_ARGUMENT);
    assert_int_equal(err.status, PX_INVALID_ARGUMENT);
    assert_null(dec);
    assert_string_equal(err.msg, msg);
}

static void test_malformed(void **state)
{
    /* AddRequest{a=2, tag="hello"} cut inside the string. */
    static const uint8_t cut[] = { 0x08, 0x02, 0x1a, 0x05, 'h', 'e', 'l' };
    expect_decode_error(&calc__add_request__descriptor, cut, sizeof cut,
                        "protobuf: cannot decode calc.AddRequest from 7 bytes");
    /* A varint that never ends. */
    static const uint8_t endless[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    expect_decode_error(&calc__add_request__descriptor, endless, sizeof endless,
                        "protobuf: cannot decode calc.AddRequest from 12 bytes");
    /* Wire type 7 does not exist. */
    static const uint8_t badwire[] = { 0x0f, 0x00 };
    expect_decode_error(&calc__echo_msg__descriptor, badwire, sizeof badwire,
                        "protobuf: cannot decode calc.EchoMsg from 2 bytes");
    /* A nested message whose length runs past the end. */
    static const uint8_t badsub[] = { 0x92, 0x01, 0x10, 0x08, 0x01 };
    expect_decode_error(&calc__echo_msg__descriptor, badsub, sizeof badsub,
                        "protobuf: cannot decode calc.EchoMsg from 5 bytes");

    /* Every strict prefix of a message ending in a long string is refused. */
    Calc__EchoMsg m;
    px_test_echo_sample(6, &m);
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &m.base, &out, &err), PX_OK);
    size_t tail = strlen(m.c_text);
    for (size_t cutlen = out.len - tail; cutlen < out.len; cutlen += 997) {
        char want[128];
        snprintf(want, sizeof want, "protobuf: cannot decode calc.EchoMsg from %zu bytes", cutlen);
        expect_decode_error(&calc__echo_msg__descriptor, out.data, cutlen, want);
    }
    px_buf_free(&out);
}

static void test_bad_descriptor(void **state)
{
    ProtobufCMessageDescriptor fake = calc__add_request__descriptor;
    fake.magic = 0x12345678;
    expect_decode_error(&fake, (const uint8_t *)"\x08\x01", 2,
                        "protobuf: cannot decode: not a protobuf-c message descriptor (bad magic)");

    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.base.descriptor = &fake;
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &req.base, &out, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "protobuf: cannot encode: not a protobuf-c message (bad descriptor magic)");
    assert_int_equal(out.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_roundtrip_samples),
        cmocka_unit_test(test_protoc_agrees),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bad_descriptor),
    };
    return cmocka_run_group_tests_name("codec_protobuf", tests, setup, teardown);
}
