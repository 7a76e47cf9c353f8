/* Unit tests of modules/codec_json: exact proto3 JSON text, lenient input, round-trips, error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <dlfcn.h>
#include <cmocka.h>
#include <plexus/plexus.h>
#include "calc.pb-c.h"
#include "px_test_calc.h"
#include "px_test_module.h"
#include "px_test_msg.h"

static void *handle;
static const px_module *mod;
static const px_codec_ops *ops;

static int setup(void **state)
{
    mod = px_test_load_module("codec_json.so", &handle);
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

/* Encodes msg and checks the exact text. */
static void expect_json(const void *msg, const char *want)
{
    px_buf out = { 0 };
    px_err err = { 0 };
    if (ops->encode(NULL, msg, &out, &err) != PX_OK)
        fail_msg("encode failed: %s", err.msg);
    char *text = strndup((const char *)out.data, out.len);
    assert_string_equal(text, want);
    free(text);
    px_buf_free(&out);
}

static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *d, const char *text)
{
    ProtobufCMessage *m = NULL;
    px_err err = { 0 };
    if (ops->decode(NULL, d, (const uint8_t *)text, strlen(text), &m, &err) != PX_OK)
        fail_msg("decode of %s failed: %s", text, err.msg);
    assert_non_null(m);
    return m;
}

static void expect_error(const ProtobufCMessageDescriptor *d, const char *text, const char *msg)
{
    ProtobufCMessage *m = (ProtobufCMessage *)&m;
    px_err err = { 0 };
    px_status st = ops->decode(NULL, d, (const uint8_t *)text, strlen(text), &m, &err);
    if (st != PX_INVALID_ARGUMENT)
        fail_msg("decode of %s: status %s, want INVALID_ARGUMENT", text, px_status_name(st));
    assert_null(m);
    assert_string_equal(err.msg, msg);
}

static void test_descriptor(void **state)
{
    assert_int_equal(mod->kind, PX_MOD_CODEC);
    assert_string_equal(mod->name, "json");
    assert_string_equal(mod->signature, PX_MODULE_SIGNATURE);
    assert_string_equal(ops->content_type, "application/json");
}

static void test_exact_simple(void **state)
{
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    expect_json(&add, "{}");
    add.a = 2;
    add.b = 3;
    expect_json(&add, "{\"a\":2,\"b\":3}");
    add.tag = "bench-tag-16byte";
    expect_json(&add, "{\"a\":2,\"b\":3,\"tag\":\"bench-tag-16byte\"}");

    Calc__AddReply sum = CALC__ADD_REPLY__INIT;
    sum.sum = INT64_MAX;
    expect_json(&sum, "{\"sum\":\"9223372036854775807\"}");
    Calc__DivReply div = CALC__DIV_REPLY__INIT;
    div.quotient = INT64_MIN;
    div.remainder = -1;
    expect_json(&div, "{\"quotient\":\"-9223372036854775808\",\"remainder\":\"-1\"}");

    /* Appends after what the buffer holds. */
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(px_buf_append(&out, "X", 1), 0);
    assert_int_equal(ops->encode(NULL, &add.base, &out, &err), PX_OK);
    assert_true(out.len > 1 && memcmp(out.data, "X{\"a\":2", 7) == 0);
    px_buf_free(&out);
}

static void test_exact_echo(void **state)
{
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    m.f_double = 0.1;
    m.f_float = 0.1f;
    m.f_uint64 = UINT64_MAX;
    m.f_uint32 = UINT32_MAX;
    m.f_sint32 = -7;
    m.f_bool = 1;
    m.f_string = "é\"\n";
    static uint8_t bytes[] = { 0, 1, 2, 0xff, 0xfe };
    m.f_bytes.data = bytes;
    m.f_bytes.len = sizeof bytes;
    m.color = CALC__COLOR__RED;
    static Calc__Color colors[] = { CALC__COLOR__GREEN, 99 };
    m.n_r_color = 2;
    m.r_color = colors;
    static char *strs[] = { "", "x" };
    m.n_r_string = 2;
    m.r_string = strs;
    expect_json(&m, "{\"fDouble\":0.1,\"fFloat\":0.1,\"fUint32\":4294967295,"
                    "\"fUint64\":\"18446744073709551615\",\"fSint32\":-7,\"fBool\":true,"
                    "\"fString\":\"é\\\"\\n\",\"fBytes\":\"AAEC//4=\",\"rString\":[\"\",\"x\"],"
                    "\"color\":\"RED\",\"rColor\":[\"GREEN\",99]}");

    Calc__EchoMsg s = CALC__ECHO_MSG__INIT;
    s.f_double = NAN;
    s.f_float = -INFINITY;
    s.choice_case = CALC__ECHO_MSG__CHOICE_C_TEXT;
    s.c_text = ""; /* a set oneof member is written even when it holds the default */
    expect_json(&s, "{\"fDouble\":\"NaN\",\"fFloat\":\"-Infinity\",\"cText\":\"\"}");
    s.f_double = INFINITY;
    s.f_float = 1.5f;
    s.choice_case = CALC__ECHO_MSG__CHOICE_C_NUMBER;
    s.c_number = 5;
    expect_json(&s, "{\"fDouble\":\"Infinity\",\"fFloat\":1.5,\"cNumber\":\"5\"}");
    s.f_double = -0.0; /* kept: only +0.0 is the default */
    s.f_float = 0;
    s.choice_case = 0;
    expect_json(&s, "{\"fDouble\":-0.0}");
    s.f_double = 1e300;
    s.f_float = 3.0f;
    expect_json(&s, "{\"fDouble\":1e300,\"fFloat\":3.0}");
    s.f_double = 0.1 + 0.2; /* needs all 17 digits */
    s.f_float = 0;
    expect_json(&s, "{\"fDouble\":0.30000000000000004}");
}

static void test_exact_nested(void **state)
{
    Calc__Inner leaf = CALC__INNER__INIT, top = CALC__INNER__INIT, empty = CALC__INNER__INIT;
    leaf.name = "x";
    Calc__Inner *kids[] = { &leaf, &empty };
    top.id = 1;
    top.n_children = 2;
    top.children = kids;
    Calc__EchoMsg__AttrsEntry e1 = CALC__ECHO_MSG__ATTRS_ENTRY__INIT, e2 = CALC__ECHO_MSG__ATTRS_ENTRY__INIT;
    e1.key = "k";
    e1.value = 1;
    e2.key = "";
    e2.value = 0;
    Calc__EchoMsg__AttrsEntry *entries[] = { &e1, &e2 };
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    m.inner = &top;
    m.n_attrs = 2;
    m.attrs = entries;
    m.choice_case = CALC__ECHO_MSG__CHOICE_C_INNER;
    m.c_inner = &empty;
    expect_json(&m, "{\"inner\":{\"id\":1,\"children\":[{\"name\":\"x\"},{}]},\"cInner\":{},"
                    "\"attrs\":{\"k\":1,\"\":0}}");
}

static void test_roundtrip_samples(void **state)
{
    for (size_t i = 0; i < px_test_echo_sample_count(); i++) {
        Calc__EchoMsg m;
        const char *what = px_test_echo_sample(i, &m);
        px_buf out = { 0 };
        px_err err = { 0 };
        if (ops->encode(NULL, &m.base, &out, &err) != PX_OK)
            fail_msg("sample %zu (%s): encode: %s", i, what, err.msg);
        ProtobufCMessage *dec = NULL;
        if (ops->decode(NULL, &calc__echo_msg__descriptor, out.data, out.len, &dec, &err) != PX_OK)
            fail_msg("sample %zu (%s): decode: %s", i, what, err.msg);
        char why[512];
        if (!px_test_msg_equal(&m.base, dec, why, sizeof why))
            fail_msg("sample %zu (%s): %s", i, what, why);
        protobuf_c_message_free_unpacked(dec, NULL);
        px_buf_free(&out);
    }
    /* -0.0 survives JSON (the protobuf codec cannot carry it). */
    Calc__EchoMsg z = CALC__ECHO_MSG__INIT;
    z.f_double = -0.0;
    z.f_float = -0.0f;
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &z.base, &out, &err), PX_OK);
    ProtobufCMessage *dec = NULL;
    assert_int_equal(ops->decode(NULL, &calc__echo_msg__descriptor, out.data, out.len, &dec, &err), PX_OK);
    px_assert_msg_equal(&z, dec);
    protobuf_c_message_free_unpacked(dec, NULL);
    px_buf_free(&out);
}

static void test_lenient_input(void **state)
{
    ProtobufCMessage *got = decode_ok(&calc__echo_msg__descriptor,
        "{\"f_int32\":-12,\"fInt64\":7,\"f_uint64\":\"18446744073709551615\",\"fSint32\":\"-3\","
        "\"fUint32\":4.0e3,\"fFixed64\":12,\"fDouble\":\"-Infinity\",\"fFloat\":\"NaN\","
        "\"color\":2,\"r_color\":[\"BLUE\",7],\"fBytes\":\"_-8\",\"unknownKey\":{\"x\":[1,null]},"
        "\"inner\":null,\"rInt32\":null,\"f_string\":\"s\",\"rString\":[],\"attrs\":{\"a\":\"5\"},"
        "\"cText\":null,\"c_number\":\"-9\"}");
    const Calc__EchoMsg *m = (const Calc__EchoMsg *)got;
    assert_int_equal(m->f_int32, -12);
    assert_int_equal(m->f_int64, 7);
    assert_true(m->f_uint64 == UINT64_MAX);
    assert_int_equal(m->f_sint32, -3);
    assert_int_equal(m->f_uint32, 4000);
    assert_int_equal(m->f_fixed64, 12);
    assert_true(isinf(m->f_double) && m->f_double < 0);
    assert_true(isnan(m->f_float));
    assert_int_equal(m->color, CALC__COLOR__GREEN);
    assert_int_equal(m->n_r_color, 2);
    assert_int_equal(m->r_color[0], CALC__COLOR__BLUE);
    assert_int_equal(m->r_color[1], 7);
    assert_int_equal(m->f_bytes.len, 2); /* URL-safe, unpadded */
    assert_int_equal(m->f_bytes.data[0], 0xff);
    assert_int_equal(m->f_bytes.data[1], 0xef);
    assert_null(m->inner);
    assert_int_equal(m->n_r_int32, 0);
    assert_string_equal(m->f_string, "s");
    assert_int_equal(m->n_r_string, 0);
    assert_int_equal(m->n_attrs, 1);
    assert_string_equal(m->attrs[0]->key, "a");
    assert_int_equal(m->attrs[0]->value, 5);
    assert_int_equal(m->choice_case, CALC__ECHO_MSG__CHOICE_C_NUMBER);
    assert_int_equal(m->c_number, -9);
    protobuf_c_message_free_unpacked(got, NULL);

    /* Standard base64 with padding, and an empty object for an empty message. */
    got = decode_ok(&calc__echo_msg__descriptor, "{\"fBytes\":\"AAEC//4=\",\"inner\":{},\"cInner\":{}}");
    m = (const Calc__EchoMsg *)got;
    assert_int_equal(m->f_bytes.len, 5);
    assert_memory_equal(m->f_bytes.data, "\x00\x01\x02\xff\xfe", 5);
    assert_non_null(m->inner);
    assert_int_equal(m->choice_case, CALC__ECHO_MSG__CHOICE_C_INNER);
    assert_non_null(m->c_inner);
    protobuf_c_message_free_unpacked(got, NULL);

    /* Numbers in strings, down to subnormals. */
    got = decode_ok(&calc__echo_msg__descriptor, "{\"fDouble\":\"4.9e-324\",\"fFloat\":\"-2.5\"}");
    m = (const Calc__EchoMsg *)got;
    assert_true(m->f_double == 4.9e-324);
    assert_true(m->f_float == -2.5f);
    protobuf_c_message_free_unpacked(got, NULL);

    got = decode_ok(&calc__add_request__descriptor, " { \"a\" : 2 , \"b\" : 3 } \n");
    assert_int_equal(((Calc__AddRequest *)got)->a, 2);
    assert_int_equal(((Calc__AddRequest *)got)->b, 3);
    assert_string_equal(((Calc__AddRequest *)got)->tag, "");
    protobuf_c_message_free_unpacked(got, NULL);
}

static void test_bad_types(void **state)
{
    const ProtobufCMessageDescriptor *add = &calc__add_request__descriptor;
    const ProtobufCMessageDescriptor *echo = &calc__echo_msg__descriptor;
    expect_error(add, "{\"a\":\"x\"}", "json: field 'a': expected an integer, got string \"x\"");
    expect_error(add, "{\"a\":1.5}", "json: field 'a': expected an integer, got number 1.5");
    expect_error(add, "{\"b\":true}", "json: field 'b': expected an integer, got true");
    expect_error(add, "{\"a\":3000000000}", "json: field 'a': value 3000000000 is out of range for int32");
    expect_error(add, "{\"tag\":5}", "json: field 'tag': expected a string, got number 5");
    expect_error(add, "{\"tag\":[\"a\"]}", "json: field 'tag': expected a string, got an array");
    expect_error(echo, "{\"fBool\":1}", "json: field 'fBool': expected true or false, got number 1");
    expect_error(echo, "{\"fUint64\":\"-1\"}", "json: field 'fUint64': value -1 is out of range for uint64");
    expect_error(echo, "{\"f_uint32\":-1}", "json: field 'f_uint32': value -1 is out of range for uint32");
    expect_error(echo, "{\"fInt64\":\"12abc\"}", "json: field 'fInt64': expected an integer, got string \"12abc\"");
    expect_error(echo, "{\"fInt64\":\"99999999999999999999\"}",
                 "json: field 'fInt64': expected an integer, got string \"99999999999999999999\"");
    expect_error(echo, "{\"fDouble\":\"inf\"}", "json: field 'fDouble': expected a number, got string \"inf\"");
    expect_error(echo, "{\"fDouble\":\"1e999\"}", "json: field 'fDouble': value 1e999 is out of range for a double");
    expect_error(echo, "{\"fDouble\":\"1.5x\"}", "json: field 'fDouble': expected a number, got string \"1.5x\"");
    expect_error(echo, "{\"fFloat\":1e39}", "json: field 'fFloat': value 1e+39 is out of range for float");
    expect_error(echo, "{\"inner\":5}", "json: field 'inner': expected an object for calc.Inner, got number 5");
    expect_error(echo, "{\"rInt32\":{}}", "json: field 'rInt32': expected an array, got an object");
    expect_error(echo, "{\"rInt32\":[1,\"x\"]}", "json: field 'rInt32[1]': expected an integer, got string \"x\"");
    expect_error(echo, "{\"rInt32\":[null]}", "json: field 'rInt32[0]': repeated element must not be null");
    expect_error(echo, "{\"inner\":{\"children\":[{},{\"id\":\"q\"}]}}",
                 "json: field 'inner.children[1].id': expected an integer, got string \"q\"");
    expect_error(echo, "{\"attrs\":[]}", "json: field 'attrs': expected an object (map), got an array");
    expect_error(echo, "{\"attrs\":{\"k\":\"v\"}}", "json: field 'attrs[\"k\"]': expected an integer, got string \"v\"");
    expect_error(echo, "{\"attrs\":{\"k\":null}}", "json: field 'attrs[\"k\"]': map value must not be null");
    expect_error(echo, "{\"color\":\"PURPLE\"}", "json: field 'color': unknown value \"PURPLE\" for enum calc.Color");
    expect_error(echo, "{\"rColor\":[\"RED\",\"red\"]}",
                 "json: field 'rColor[1]': unknown value \"red\" for enum calc.Color");
    expect_error(echo, "{\"color\":1.5}", "json: field 'color': expected an enum name or number, got number 1.5");
    expect_error(echo, "{\"cText\":\"a\",\"cNumber\":\"1\"}",
                 "json: field 'cNumber': oneof already set by field 'c_text'");
    expect_error(echo, "{\"fInt32\":1,\"f_int32\":2}",
                 "json: field 'fInt32': given twice, as 'fInt32' and 'f_int32'");
    expect_error(echo, "{\"fString\":\"é\",\"fBytes\":\"abcd\",\"inner\":{\"id\":1,\"name\":7}}",
                 "json: field 'inner.name': expected a string, got number 7");
    /* Long strings are cut in the message, on a character boundary. */
    expect_error(add, "{\"a\":\"ééééééééééééééééééééééééééééé\"}",
                 "json: field 'a': expected an integer, got string \"éééééééééééééééééééé\"...");
}

static void test_bad_base64(void **state)
{
    const ProtobufCMessageDescriptor *echo = &calc__echo_msg__descriptor;
    expect_error(echo, "{\"fBytes\":\"ab$d\"}", "json: field 'fBytes': invalid base64 at offset 2");
    expect_error(echo, "{\"fBytes\":\"abcde\"}", "json: field 'fBytes': invalid base64 at offset 4");
    expect_error(echo, "{\"fBytes\":\"ab=\"}", "json: field 'fBytes': invalid base64 at offset 2");
    expect_error(echo, "{\"fBytes\":\"a===\"}", "json: field 'fBytes': invalid base64 at offset 1");
    expect_error(echo, "{\"fBytes\":\"ab c\"}", "json: field 'fBytes': invalid base64 at offset 2");
    expect_error(echo, "{\"fBytes\":12}", "json: field 'fBytes': expected a base64 string, got number 12");
}

static void test_not_json(void **state)
{
    const ProtobufCMessageDescriptor *echo = &calc__echo_msg__descriptor;
    expect_error(echo, "not json", "json: cannot decode calc.EchoMsg: line 1 column 3 (byte 3): "
                                   "'[' or '{' expected near 'not'");
    expect_error(echo, "{\"a\":1", "json: cannot decode calc.EchoMsg: line 1 column 6 (byte 6): "
                                   "'}' expected near end of file");
    expect_error(echo, "{\"a\":1} x", "json: cannot decode calc.EchoMsg: line 1 column 9 (byte 9): "
                                      "end of file expected near 'x'");
    expect_error(echo, "{\"a\":1,\"a\":2}", "json: cannot decode calc.EchoMsg: line 1 column 10 (byte 10): "
                                            "duplicate object key near '\"a\"'");
    expect_error(echo, "[1,2]", "json: expected an object for calc.EchoMsg, got an array");
    expect_error(echo, "", "json: cannot decode calc.EchoMsg: line 1 column 0 (byte 0): "
                           "'[' or '{' expected near end of file");
    expect_error(echo, "{\"fString\":\"a\\u0000b\"}", "json: cannot decode calc.EchoMsg: line 1 column 21 "
                 "(byte 21): \\u0000 in a string (protobuf-c strings end at NUL)");
    /* Invalid UTF-8 inside a JSON string. */
    expect_error(echo, "{\"fString\":\"\xff\"}", "json: cannot decode calc.EchoMsg: line 1 column 12 "
                 "(byte 12): unable to decode byte 0xff near '\"'");
}

/* Builds {"inner":{"children":[{"children":[...]}]}} with `levels` Inner objects. */
static char *deep_json(size_t levels)
{
    size_t cap = levels * 32 + 64;
    char *s = malloc(cap), *p = s;
    p += sprintf(p, "{\"inner\":");
    for (size_t i = 0; i < levels; i++)
        p += sprintf(p, i + 1 < levels ? "{\"children\":[" : "{\"id\":1}");
    for (size_t i = 1; i < levels; i++)
        p += sprintf(p, "]}");
    sprintf(p, "}");
    return s;
}

static void test_depth_limit(void **state)
{
    /* EchoMsg is level 1, so 63 nested Inner messages reach the limit of 64. */
    char *ok = deep_json(63);
    ProtobufCMessage *m = decode_ok(&calc__echo_msg__descriptor, ok);
    protobuf_c_message_free_unpacked(m, NULL);
    free(ok);

    char *deep = deep_json(64);
    ProtobufCMessage *got = (ProtobufCMessage *)&got;
    px_err err = { 0 };
    assert_int_equal(ops->decode(NULL, &calc__echo_msg__descriptor, (const uint8_t *)deep, strlen(deep),
                                 &got, &err), PX_INVALID_ARGUMENT);
    assert_null(got);
    assert_true(strncmp(err.msg, "json: field 'inner.children[0].children[0]", 42) == 0);
    assert_non_null(strstr(err.msg, "': messages nested deeper than 64"));
    free(deep);

    /* The encoder has the same limit. */
    Calc__EchoMsg e;
    px_test_echo_deep(63, &e);
    px_buf out = { 0 };
    assert_int_equal(ops->encode(NULL, &e.base, &out, &err), PX_OK);
    px_buf_free(&out);
    px_test_echo_deep(64, &e);
    assert_int_equal(ops->encode(NULL, &e.base, &out, &err), PX_INVALID_ARGUMENT);
    assert_true(strncmp(err.msg, "json: field 'inner.children[0].children[0]", 42) == 0);
    assert_non_null(strstr(err.msg, "': messages nested deeper than 64"));
    assert_int_equal(out.len, 0);
    px_buf_free(&out);
}

static void test_encode_errors(void **state)
{
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    static char *bad[] = { "ok", "\xc3\x28" };
    m.n_r_string = 2;
    m.r_string = bad;
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &m.base, &out, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "json: field 'r_string[1]': string is not valid UTF-8");
    assert_int_equal(out.len, 0);

    ProtobufCMessageDescriptor fake = calc__add_request__descriptor;
    fake.magic = 0;
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.base.descriptor = &fake;
    assert_int_equal(ops->encode(NULL, &req.base, &out, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "json: cannot encode: not a protobuf-c message (bad descriptor magic)");
    ProtobufCMessage *got = NULL;
    assert_int_equal(ops->decode(NULL, &fake, (const uint8_t *)"{}", 2, &got, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "json: cannot decode: not a protobuf-c message descriptor (bad magic)");
    px_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_exact_simple),
        cmocka_unit_test(test_exact_echo),
        cmocka_unit_test(test_exact_nested),
        cmocka_unit_test(test_roundtrip_samples),
        cmocka_unit_test(test_lenient_input),
        cmocka_unit_test(test_bad_types),
        cmocka_unit_test(test_bad_base64),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_encode_errors),
    };
    return cmocka_run_group_tests_name("codec_json", tests, setup, teardown);
}
