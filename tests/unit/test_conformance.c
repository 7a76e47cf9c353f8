/* Codec conformance suite: every codec module given as argv[1..] (default: the four
 * standard ones in $PX_MODULE_DIR) round-trips the calc.EchoMsg corpus to equal
 * messages, refuses malformed input with INVALID_ARGUMENT and a message without
 * crashing or reading past its input (inputs are exact-size heap copies, so ASan sees
 * any over-read), and agrees with protoc and xmllint where those can judge it. A codec
 * with decode_with (ABI 1.1) passes every check that decodes twice: through decode, and
 * through decode_with with a counting allocator that must get back all it gave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <plexus/plexus.h>
#include "calc.pb-c.h"
#include "px_conf.h"
#include "px_config_int.h"
#include "px_codec_abi.h"
#include "px_loader.h"
#include "px_test_alloc.h"
#include "px_test_calc.h"
#include "px_test_msg.h"
#include "px_test_protoc.h"

/* The sample the truncation and corruption cases start from: every field kind, small. */
#define RICH_SAMPLE 17

typedef struct codec {
    char path[4096 + 8]; /* a file name as given, maybe with "./" in front */
    const px_module *mod;
    const px_codec_ops *ops;
    px_modref ref;
    void *state;
    px_decode_with_fn decode_with; /* non-NULL: this run decodes through it, from *alloc */
    px_test_alloc *alloc;
    const char *mode;              /* "" or " (decode_with)", for test names */
} codec;

static px_loader *loader;

/* ---- calling a codec ------------------------------------------------------------------ */

static px_status encode(const codec *c, const ProtobufCMessage *m, px_buf *out, px_err *err)
{
    px_err_clear(err);
    return c->ops->encode(c->state, m, out, err);
}

/* Decodes from an exact-size heap copy of the input, so reading past it is an ASan error. */
static px_status decode(const codec *c, const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                        ProtobufCMessage **out, px_err *err)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, data, len);
    px_err_clear(err);
    *out = (ProtobufCMessage *)&copy; /* poison: a refusal must set NULL */
    px_status st = c->decode_with != NULL
                       ? c->decode_with(c->state, d, copy, len, &c->alloc->a, out, err)
                       : c->ops->decode(c->state, d, copy, len, out, err);
    free(copy);
    return st;
}

/* Frees a message decode() made, through the allocator it came from. */
static void free_msg(const codec *c, ProtobufCMessage *m)
{
    protobuf_c_message_free_unpacked(m, c->decode_with != NULL ? &c->alloc->a : NULL);
}

/*
 * A decode of untrusted bytes: either a message (returned, the caller frees it) or
 * INVALID_ARGUMENT with a message (copied to why when not NULL) and no output.
 * Anything else fails the test.
 */
static ProtobufCMessage *decode_or_refuse(const codec *c, const ProtobufCMessageDescriptor *d,
                                          const uint8_t *data, size_t len, const char *what, px_err *why)
{
    ProtobufCMessage *out;
    px_err err;
    px_status st = decode(c, d, data, len, &out, &err);
    if (why != NULL)
        *why = err;
    if (st == PX_OK) {
        if (out == NULL)
            fail_msg("%s: %s: PX_OK without a message", c->mod->name, what);
        return out;
    }
    if (st != PX_INVALID_ARGUMENT)
        fail_msg("%s: %s: %s (%s), expected OK or INVALID_ARGUMENT", c->mod->name, what, px_status_name(st),
                 err.msg);
    if (out != NULL)
        fail_msg("%s: %s: refused but *out is not NULL", c->mod->name, what);
    if (err.status != st || err.msg[0] == '\0')
        fail_msg("%s: %s: refused without an error message", c->mod->name, what);
    return NULL;
}

/* A decode that must be refused, with `want` in its message (want may be NULL). */
static void expect_refused(const codec *c, const ProtobufCMessageDescriptor *d, const uint8_t *data,
                           size_t len, const char *want, const char *what)
{
    px_err err;
    ProtobufCMessage *m = decode_or_refuse(c, d, data, len, what, &err);
    if (m != NULL) {
        free_msg(c, m);
        fail_msg("%s: %s: decoded, expected INVALID_ARGUMENT", c->mod->name, what);
    }
    if (want != NULL && strstr(err.msg, want) == NULL)
        fail_msg("%s: %s: message \"%s\" does not say \"%s\"", c->mod->name, what, err.msg, want);
}

static void expect_refused_text(const codec *c, const char *text, const char *want, const char *what)
{
    expect_refused(c, &calc__echo_msg__descriptor, (const uint8_t *)text, strlen(text), want, what);
}

/* The encoding of corpus sample i into out (emptied first). */
static void encode_sample(const codec *c, size_t i, Calc__EchoMsg *m, px_buf *out)
{
    px_err err;
    const char *what = px_test_echo_sample(i, m);
    out->len = 0;
    if (encode(c, &m->base, out, &err) != PX_OK)
        fail_msg("%s: sample %zu (%s): encode: %s", c->mod->name, i, what, err.msg);
}

/* ---- every codec ---------------------------------------------------------------------- */

/* Every sample: encode appends, decodes to an equal message, and encodes the same again. */
static void test_roundtrip(void **state)
{
    const codec *c = *state;
    size_t n = px_test_echo_sample_count();
    assert_true(n > RICH_SAMPLE);
    for (size_t i = 0; i < n; i++) {
        Calc__EchoMsg m;
        const char *what = px_test_echo_sample(i, &m);
        px_buf out = { 0 };
        px_err err;
        assert_int_equal(px_buf_append(&out, "keep", 4), 0);
        if (encode(c, &m.base, &out, &err) != PX_OK)
            fail_msg("%s: sample %zu (%s): encode: %s", c->mod->name, i, what, err.msg);
        if (memcmp(out.data, "keep", 4) != 0)
            fail_msg("%s: sample %zu: encode overwrote what the buffer held", c->mod->name, i);
        ProtobufCMessage *dec;
        if (decode(c, &calc__echo_msg__descriptor, out.data + 4, out.len - 4, &dec, &err) != PX_OK)
            fail_msg("%s: sample %zu (%s): decode: %s", c->mod->name, i, what, err.msg);
        char why[512];
        if (!px_test_msg_equal(&m.base, dec, why, sizeof why))
            fail_msg("%s: sample %zu (%s): %s", c->mod->name, i, what, why);
        px_buf again = { 0 };
        if (encode(c, dec, &again, &err) != PX_OK)
            fail_msg("%s: sample %zu (%s): re-encode: %s", c->mod->name, i, what, err.msg);
        if (again.len != out.len - 4 || (again.len > 0 && memcmp(again.data, out.data + 4, again.len) != 0))
            fail_msg("%s: sample %zu (%s): the decoded message encodes to other bytes (%zu, not %zu)",
                     c->mod->name, i, what, again.len, out.len - 4);
        free_msg(c, dec);
        px_buf_free(&again);
        px_buf_free(&out);
    }
}

/*
 * Every strict prefix of a rich sample is refused, or is itself a whole encoding (a
 * protobuf cut between fields is a valid smaller message) whose message encodes back
 * to exactly those bytes, or loses only insignificant trailing bytes.
 */
static void test_truncated(void **state)
{
    const codec *c = *state;
    Calc__EchoMsg m;
    px_buf full = { 0 };
    encode_sample(c, RICH_SAMPLE, &m, &full);
    size_t refused = 0;
    for (size_t cut = 0; cut < full.len; cut++) {
        char what[64];
        snprintf(what, sizeof what, "first %zu of %zu bytes", cut, full.len);
        ProtobufCMessage *dec = decode_or_refuse(c, &calc__echo_msg__descriptor, full.data, cut, what, NULL);
        if (dec == NULL) {
            refused++;
            continue;
        }
        char why[512];
        px_buf again = { 0 };
        px_err err;
        assert_int_equal(encode(c, dec, &again, &err), PX_OK);
        int same_bytes = again.len == cut && (cut == 0 || memcmp(again.data, full.data, cut) == 0);
        if (!same_bytes && !px_test_msg_equal(&m.base, dec, why, sizeof why))
            fail_msg("%s: %s decoded to a message that is neither the original nor those bytes: "
                     "a truncation went unnoticed", c->mod->name, what);
        free_msg(c, dec);
        px_buf_free(&again);
    }
    assert_true(refused > 0);
    px_buf_free(&full);
}

/* Every byte of a rich sample changed (four ways), and 0xFFFFFFFF written at every
 * offset (a huge declared length in any length-prefixed format): decoded or refused. */
static void test_corrupted(void **state)
{
    const codec *c = *state;
    Calc__EchoMsg m;
    px_buf full = { 0 };
    encode_sample(c, RICH_SAMPLE, &m, &full);
    uint8_t *buf = malloc(full.len);
    assert_non_null(buf);
    size_t refused = 0;
    for (size_t i = 0; i < full.len; i++) {
        const uint8_t alt[] = { (uint8_t)~full.data[i], 0x00, 0x7f, (uint8_t)(full.data[i] + 1) };
        for (size_t k = 0; k < sizeof alt + 1; k++) {
            memcpy(buf, full.data, full.len);
            if (k < sizeof alt)
                buf[i] = alt[k];
            else if (i + 4 <= full.len)
                memset(buf + i, 0xff, 4);
            else
                continue;
            char what[64];
            snprintf(what, sizeof what, "byte %zu changed (way %zu)", i, k);
            ProtobufCMessage *dec = decode_or_refuse(c, &calc__echo_msg__descriptor, buf, full.len, what, NULL);
            if (dec != NULL)
                free_msg(c, dec);
            else
                refused++;
        }
    }
    assert_true(refused > 0);
    free(buf);
    px_buf_free(&full);
}

/* Input that was never an encoding: empty, single bytes, random blobs, other types' bytes. */
static void test_garbage(void **state)
{
    const codec *c = *state;
    const ProtobufCMessageDescriptor *types[] = { &calc__echo_msg__descriptor, &calc__add_request__descriptor,
                                                  &calc__inner__descriptor };
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    uint8_t blob[4096];
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        ProtobufCMessage *dec = decode_or_refuse(c, types[t], blob, 0, "empty input", NULL);
        if (dec != NULL)
            free_msg(c, dec);
        for (int b = 0; b < 256; b++) {
            blob[0] = (uint8_t)b;
            if ((dec = decode_or_refuse(c, types[t], blob, 1, "one byte", NULL)) != NULL)
                free_msg(c, dec);
        }
        for (int r = 0; r < 300; r++) {
            size_t len = r == 299 ? sizeof blob : 1 + (size_t)r % 97;
            for (size_t i = 0; i < len; i++) { /* xorshift: the same blobs every run */
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                blob[i] = (uint8_t)seed;
            }
            if ((dec = decode_or_refuse(c, types[t], blob, len, "random bytes", NULL)) != NULL)
                free_msg(c, dec);
        }
    }
    /* Each sample read as a type it is not. */
    for (size_t i = 0; i < px_test_echo_sample_count(); i++) {
        Calc__EchoMsg m;
        px_buf out = { 0 };
        encode_sample(c, i, &m, &out);
        for (size_t t = 1; t < sizeof types / sizeof types[0]; t++) {
            ProtobufCMessage *dec = decode_or_refuse(c, types[t], out.data, out.len, "another type's bytes", NULL);
            if (dec != NULL)
                free_msg(c, dec);
        }
        px_buf_free(&out);
    }
}

/* Depth 64 passes (a corpus sample); one level more never makes it through. */
static void test_depth_limit(void **state)
{
    const codec *c = *state;
    Calc__EchoMsg m;
    px_test_echo_deep(64, &m); /* EchoMsg + 64 Inner: depth 65 */
    px_buf out = { 0 };
    px_err err;
    px_status st = encode(c, &m.base, &out, &err);
    if (st != PX_OK) {
        assert_int_equal(st, PX_INVALID_ARGUMENT);
        if (strstr(err.msg, "64") == NULL)
            fail_msg("%s: refusing depth 65, the message does not name the limit: %s", c->mod->name, err.msg);
        px_buf_free(&out);
        return;
    }
    ProtobufCMessage *dec = decode_or_refuse(c, &calc__echo_msg__descriptor, out.data, out.len, "depth 65", NULL);
    px_buf_free(&out);
    if (dec == NULL)
        return;
    free_msg(c, dec);
    fail_msg("%s: a message nested 65 deep was encoded and decoded", c->mod->name);
}

/* ---- hand-made malformed input for the codecs whose format this suite knows ----------- */

static void put32(px_buf *b, uint32_t v)
{
    uint8_t le[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    assert_int_equal(px_buf_append(b, le, 4), 0);
}

static void bin_header(px_buf *b, uint32_t version, const char *name)
{
    put32(b, version);
    put32(b, (uint32_t)strlen(name));
    assert_int_equal(px_buf_append(b, name, strlen(name)), 0);
}

static void bin_entry(px_buf *b, uint32_t id, const char *key, const void *val, uint32_t vlen)
{
    put32(b, id);
    put32(b, (uint32_t)strlen(key));
    assert_int_equal(px_buf_append(b, key, strlen(key)), 0);
    put32(b, vlen);
    assert_int_equal(px_buf_append(b, val, vlen), 0);
}

/* A document of one entry after the EchoMsg header. */
static void bin_expect(const codec *c, uint32_t id, const char *key, const void *val, uint32_t vlen,
                       const char *want)
{
    px_buf b = { 0 };
    bin_header(&b, 1, "EchoMsg");
    bin_entry(&b, id, key, val, vlen);
    expect_refused(c, &calc__echo_msg__descriptor, b.data, b.len, want, want);
    px_buf_free(&b);
}

/* `levels` Inner messages under EchoMsg.inner, each the `children` of the one above. */
static void bin_deep(px_buf *b, int levels)
{
    if (levels == 0)
        return;
    px_buf sub = { 0 };
    bin_deep(&sub, levels - 1);
    bin_entry(b, 3, "children", sub.data, (uint32_t)sub.len);
    px_buf_free(&sub);
}

static void malformed_binary(const codec *c)
{
    const ProtobufCMessageDescriptor *d = &calc__echo_msg__descriptor;
    expect_refused(c, d, (const uint8_t *)"\x01\x00\x00", 3, "header cut short: 3 of 8 bytes", "short header");
    px_buf b = { 0 };
    bin_header(&b, 2, "EchoMsg");
    expect_refused(c, d, b.data, b.len, "format version 2 is not supported", "version 2");
    b.len = 0;
    bin_header(&b, 1, "Inner");
    expect_refused(c, d, b.data, b.len, "message name 'Inner' is not 'EchoMsg'", "wrong type");
    b.len = 0;
    put32(&b, 1);
    put32(&b, 0xFFFFFFFFu);
    expect_refused(c, d, b.data, b.len, "message name length 4294967295 runs past the end", "huge name");
    b.len = 0;
    bin_header(&b, 1, "EchoMsg");
    assert_int_equal(px_buf_append(&b, "\x03\x00\x00\x00\x07", 5), 0);
    expect_refused(c, d, b.data, b.len, "entry header cut short: 5 of 8 bytes", "cut entry");
    b.len = 0;
    bin_header(&b, 1, "EchoMsg");
    put32(&b, 3);
    put32(&b, 0xFFFFFFFFu);
    put32(&b, 4);
    expect_refused(c, d, b.data, b.len, "key length 4294967295 of entry 3 runs past the end", "huge key");
    b.len = 0;
    bin_header(&b, 1, "EchoMsg");
    put32(&b, 3);
    put32(&b, 0);
    put32(&b, 0xFFFFFFFFu);
    put32(&b, 7);
    expect_refused(c, d, b.data, b.len, "value length 4294967295 of entry 3 runs past the end (4 bytes left)",
                   "huge value");
    b.len = 0;
    bin_header(&b, 1, "EchoMsg");
    bin_entry(&b, 3, "f_int32", "\x01\x00\x00\x00", 4);
    b.len--; /* the value is one byte short of its length */
    expect_refused(c, d, b.data, b.len, "value length 4 of entry 3 runs past the end (3 bytes left)",
                   "value past the end");
    px_buf_free(&b);

    bin_expect(c, 3, "f_int32", "\x01\x02\x03", 3, "field 'f_int32': int32 value of 3 bytes (expected 4)");
    bin_expect(c, 1, "f_double", "\x00\x00\x80\x3f", 4, "field 'f_double': double value of 4 bytes (expected 8)");
    bin_expect(c, 13, "f_bool", "\x02", 1, "field 'f_bool': bool value 0x02 (expected 0 or 1)");
    bin_expect(c, 14, "f_string", "ab\0cd", 5, "field 'f_string': string contains a NUL byte");
    bin_expect(c, 16, "r_int32", "\x01\x00\x00\x00\x02\x00\x00", 7,
               "field 'r_int32': 7 bytes of repeated int32 is not a whole number of 4-byte values");
    /* A nested entry longer than the message holding it, though not than the document. */
    px_buf inner = { 0 };
    bin_entry(&inner, 2, "name", "abcdef", 6);
    inner.data[inner.len - 10] = 9; /* value length 9 > 6 left inside "inner" */
    px_buf doc = { 0 };
    bin_header(&doc, 1, "EchoMsg");
    bin_entry(&doc, 18, "inner", inner.data, (uint32_t)inner.len);
    bin_entry(&doc, 14, "f_string", "padding padding", 15);
    expect_refused(c, d, doc.data, doc.len, "field 'inner': value length 9 of entry 2 runs past the end",
                   "nested value past its message");
    doc.len = 0;
    bin_header(&doc, 1, "EchoMsg");
    inner.len = 0;
    bin_deep(&inner, 70);
    bin_entry(&doc, 18, "inner", inner.data, (uint32_t)inner.len);
    expect_refused(c, d, doc.data, doc.len, "messages nested deeper than 64", "nested 71 deep");
    px_buf_free(&inner);
    px_buf_free(&doc);
}

static void malformed_xml(const codec *c)
{
    expect_refused(c, &calc__echo_msg__descriptor, (const uint8_t *)"", 0, "xml: cannot decode calc.EchoMsg: empty document",
                   "empty");
    expect_refused_text(c, "not xml at all", "malformed XML", "not XML");
    expect_refused_text(c, "<EchoMsg><f_int32>1</f_int32>", "xml: cannot decode calc.EchoMsg", "cut short");
    expect_refused_text(c, "<EchoMsg><f_int32>1</f_int64></EchoMsg>", "malformed XML", "mismatched tags");
    expect_refused_text(c, "<Inner><id>1</id></Inner>", "root element <Inner> is not <EchoMsg>", "wrong root");
    expect_refused_text(c, "<EchoMsg/><EchoMsg/>", "malformed XML", "two roots");
    expect_refused_text(c, "<EchoMsg><f_int32>abc</f_int32></EchoMsg>", "field 'f_int32': line 1: 'abc' is not an int32",
                        "text for a number");
    expect_refused_text(c, "<EchoMsg><f_int32>2147483648</f_int32></EchoMsg>", "'2147483648' is out of range for int32",
                        "int32 overflow");
    expect_refused_text(c, "<EchoMsg><f_int64>99999999999999999999</f_int64></EchoMsg>", "is out of range for int64",
                        "huge number");
    expect_refused_text(c, "<EchoMsg><f_uint64>-1</f_uint64></EchoMsg>", "'-1' is not a uint64", "negative uint64");
    expect_refused_text(c, "<EchoMsg><f_int32>0x10</f_int32></EchoMsg>", "'0x10' is not an int32", "hex");
    expect_refused_text(c, "<EchoMsg><f_float>1e39</f_float></EchoMsg>", "'1e39' is out of range for float",
                        "float overflow");
    expect_refused_text(c, "<EchoMsg><f_double>inf</f_double></EchoMsg>", "'inf' is not a number", "C's inf");
    expect_refused_text(c, "<EchoMsg><f_bool>yes</f_bool></EchoMsg>", "'yes' is not a bool", "bool");
    expect_refused_text(c, "<EchoMsg><color>PURPLE</color></EchoMsg>", "'PURPLE' is not a value of enum calc.Color",
                        "unknown enum name");
    expect_refused_text(c, "<EchoMsg><f_bytes>!!!!</f_bytes></EchoMsg>", "field 'f_bytes': line 1: invalid base64",
                        "bad base64");
    expect_refused_text(c, "<EchoMsg><f_int32><b>1</b></f_int32></EchoMsg>", "element <b> inside a scalar value",
                        "element in a scalar");
    expect_refused_text(c, "<EchoMsg>hello<f_int32>1</f_int32></EchoMsg>", "text 'hello' inside <EchoMsg>",
                        "text in a message");
    expect_refused_text(c, "<EchoMsg><inner><children><id>x</id></children></inner></EchoMsg>",
                        "field 'inner.children[0].id': line 1: 'x' is not an int32", "path of a nested error");
    /* No DTD at all: no internal entities (billion laughs), no external ones (file reads). */
    expect_refused_text(c,
                        "<!DOCTYPE EchoMsg [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;\">]>"
                        "<EchoMsg><f_string>&b;</f_string></EchoMsg>",
                        "DOCTYPE (DTDs are not accepted)", "internal entities");
    expect_refused_text(c,
                        "<?xml version=\"1.0\"?><!DOCTYPE EchoMsg [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                        "<EchoMsg><f_string>&x;</f_string></EchoMsg>",
                        "DOCTYPE (DTDs are not accepted)", "external entity");
    expect_refused_text(c, "<!DOCTYPE EchoMsg SYSTEM \"http://127.0.0.1:9/x.dtd\"><EchoMsg/>",
                        "DOCTYPE (DTDs are not accepted)", "external DTD");
    expect_refused_text(c, "<EchoMsg><f_string>&x;</f_string></EchoMsg>", "malformed XML", "undefined entity");
    /* 70 levels: EchoMsg > inner > children > children ... */
    px_buf deep = { 0 };
    const char *open = "<EchoMsg><inner>", *close = "</inner></EchoMsg>";
    assert_int_equal(px_buf_append(&deep, open, strlen(open)), 0);
    for (int i = 0; i < 69; i++)
        assert_int_equal(px_buf_append(&deep, "<children>", 10), 0);
    for (int i = 0; i < 69; i++)
        assert_int_equal(px_buf_append(&deep, "</children>", 11), 0);
    assert_int_equal(px_buf_append(&deep, close, strlen(close) + 1), 0);
    expect_refused_text(c, (const char *)deep.data, "messages nested deeper than 64", "nested 71 deep");
    px_buf_free(&deep);
}

static void malformed_json(const codec *c)
{
    expect_refused_text(c, "{\"fInt32\":\"abc\"}", "field 'fInt32': expected an integer", "wrong type");
    expect_refused_text(c, "{\"fInt32\":1", "json: cannot decode calc.EchoMsg", "cut short");
    expect_refused_text(c, "[1,2]", "json:", "an array for a message");
    expect_refused_text(c, "{\"fInt64\":\"99999999999999999999\"}", "field 'fInt64'", "huge number");
    expect_refused_text(c, "{\"fBytes\":\"!!!!\"}", "invalid base64", "bad base64");
    expect_refused_text(c, "{\"inner\":{\"children\":[{\"id\":\"x\"}]}}", "field 'inner.children[0].id'",
                        "path of a nested error");
    px_buf deep = { 0 };
    assert_int_equal(px_buf_append(&deep, "{\"inner\":", 9), 0);
    for (int i = 0; i < 69; i++)
        assert_int_equal(px_buf_append(&deep, "{\"children\":[", 13), 0);
    assert_int_equal(px_buf_append(&deep, "{}", 2), 0);
    for (int i = 0; i < 69; i++)
        assert_int_equal(px_buf_append(&deep, "]}", 2), 0);
    assert_int_equal(px_buf_append(&deep, "}", 2), 0);
    expect_refused_text(c, (const char *)deep.data, "messages nested deeper than 64", "nested 71 deep");
    px_buf_free(&deep);
}

static void malformed_protobuf(const codec *c)
{
    const ProtobufCMessageDescriptor *d = &calc__echo_msg__descriptor;
    const char *msg = "protobuf: cannot decode calc.EchoMsg";
    /* f_string (14, length-delimited) declaring 0xFFFFFFFF bytes. */
    expect_refused(c, d, (const uint8_t *)"\x72\xff\xff\xff\xff\x0f", 6, msg, "huge length");
    expect_refused(c, d, (const uint8_t *)"\x72\x05" "ab", 4, msg, "length past the end");
    expect_refused(c, d, (const uint8_t *)"\x70\x01", 2, msg, "string sent as a varint");
    expect_refused(c, d, (const uint8_t *)"\x18\xff", 2, msg, "varint cut short");
    expect_refused(c, d, (const uint8_t *)"\x0f\x00", 2, msg, "wire type 7");
}

static void test_malformed(void **state)
{
    const codec *c = *state;
    const char *name = c->mod->name;
    if (strcmp(name, "binary") == 0)
        malformed_binary(c);
    else if (strcmp(name, "xml") == 0)
        malformed_xml(c);
    else if (strcmp(name, "json") == 0)
        malformed_json(c);
    else if (strcmp(name, "protobuf") == 0)
        malformed_protobuf(c);
}

/* ---- external judges -------------------------------------------------------------------- */

/* protoc writes map entries in its own order: put them back in the sample's order (maps are unordered). */
static void align_map(const Calc__EchoMsg *want, Calc__EchoMsg *got)
{
    for (size_t i = 0; i < want->n_attrs && i < got->n_attrs; i++) {
        for (size_t j = i; j < got->n_attrs; j++) {
            if (strcmp(got->attrs[j]->key, want->attrs[i]->key) == 0) {
                Calc__EchoMsg__AttrsEntry *t = got->attrs[i];
                got->attrs[i] = got->attrs[j];
                got->attrs[j] = t;
                break;
            }
        }
    }
}

/* codec_protobuf's bytes read by protoc give the same values: decode to text, encode the
 * text back with protoc, and the codec decodes that to a message equal to the sample. */
static void test_protoc(void **state)
{
    const codec *c = *state;
    if (!px_test_have_protoc())
        fail_msg("protoc is not installed (protobuf-compiler, tools/install-deps.sh)");
    for (size_t i = 0; i < px_test_echo_sample_count(); i++) {
        Calc__EchoMsg m;
        px_buf out = { 0 };
        encode_sample(c, i, &m, &out);
        uint8_t *text, *bin;
        size_t text_len, bin_len;
        if (px_test_protoc("--decode", "calc.EchoMsg", out.data, out.len, &text, &text_len) != 0)
            fail_msg("sample %zu: protoc --decode refused %zu bytes", i, out.len);
        if (px_test_protoc("--encode", "calc.EchoMsg", text, text_len, &bin, &bin_len) != 0)
            fail_msg("sample %zu: protoc --encode refused its own text:\n%.400s", i, (char *)text);
        ProtobufCMessage *dec;
        px_err err;
        if (decode(c, &calc__echo_msg__descriptor, bin, bin_len, &dec, &err) != PX_OK)
            fail_msg("sample %zu: protoc's bytes: %s", i, err.msg);
        align_map(&m, (Calc__EchoMsg *)dec);
        char why[512];
        if (!px_test_msg_equal(&m.base, dec, why, sizeof why))
            fail_msg("sample %zu: protoc read other values: %s", i, why);
        free_msg(c, dec);
        free(text);
        free(bin);
        px_buf_free(&out);
    }
}

/* Every sample codec_xml writes is a well-formed document for xmllint. */
static void test_xmllint(void **state)
{
    const codec *c = *state;
    if (system("xmllint --version > /dev/null 2>&1") != 0)
        fail_msg("xmllint is not installed (libxml2-utils, tools/install-deps.sh)");
    for (size_t i = 0; i < px_test_echo_sample_count(); i++) {
        Calc__EchoMsg m;
        px_buf out = { 0 };
        encode_sample(c, i, &m, &out);
        FILE *p = popen("xmllint --noout -", "w");
        assert_non_null(p);
        size_t wrote = fwrite(out.data, 1, out.len, p);
        int status = pclose(p);
        if (wrote != out.len || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("sample %zu: xmllint --noout rejects the document (status %d)", i, status);
        px_buf_free(&out);
    }
}

/* ---- driver ------------------------------------------------------------------------------ */

static int load_codec(codec *c, const char *file)
{
    /* A bare file name means this directory, not dlopen's library search path. */
    snprintf(c->path, sizeof c->path, "%s%s", strchr(file, '/') ? "" : "./", file);
    px_err err;
    if (px_loader_load_file(loader, c->path, PX_MOD_CODEC, &c->mod, &err) != PX_OK) {
        fprintf(stderr, "test_conformance: %s\n", err.msg);
        return -1;
    }
    c->ops = c->mod->ops;
    c->ref.mod = c->mod;
    c->ref.path = c->path;
    if (c->mod->conf_size > 0) { /* the module's defaults, as an empty config block gives */
        if ((c->ref.conf = calloc(1, c->mod->conf_size)) == NULL ||
            px_conf_apply(c->mod->directives, c->ref.conf, NULL, NULL, c->path, &err) != PX_OK) {
            fprintf(stderr, "test_conformance: %s: %s\n", c->path, c->ref.conf ? err.msg : "out of memory");
            return -1;
        }
    }
    px_module_env env = { .config_file = c->path, .server_id = "", .scope = "conformance" };
    if (px_modref_create(&c->ref, &env, &c->state, &err) != PX_OK) {
        fprintf(stderr, "test_conformance: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void unload_codec(codec *c)
{
    px_modref_destroy(&c->ref, c->state);
    if (c->ref.conf != NULL) {
        px_conf_release(c->mod->directives, c->ref.conf);
        free(c->ref.conf);
    }
}

typedef struct check {
    const char *name;
    CMUnitTestFunction fn;
    const char *only; /* run for the codec of this name only, or NULL for every codec */
    int decodes;      /* also run through decode_with */
} check;

static const check checks[] = {
    { "roundtrip", test_roundtrip, NULL, 1 },      { "truncated", test_truncated, NULL, 1 },
    { "corrupted", test_corrupted, NULL, 1 },      { "garbage", test_garbage, NULL, 1 },
    { "depth_limit", test_depth_limit, NULL, 1 },  { "malformed", test_malformed, "protobuf", 1 },
    { "malformed", test_malformed, "json", 1 },    { "malformed", test_malformed, "xml", 1 },
    { "malformed", test_malformed, "binary", 1 },  { "protoc_decode", test_protoc, "protobuf", 1 },
    { "xmllint", test_xmllint, "xml", 0 },
};
#define N_CHECKS (sizeof checks / sizeof checks[0])

static int alloc_setup(void **state)
{
    const codec *c = *state;
    px_test_alloc_init(c->alloc, 0);
    return 0;
}

/* After a check through decode_with: every message it decoded was freed, exactly. */
static int alloc_teardown(void **state)
{
    const codec *c = *state;
    char why[256];
    if (px_test_alloc_balanced(c->alloc, why, sizeof why))
        return 0;
    print_error("%s (decode_with): the allocator did not get back all it gave: %s\n", c->mod->name, why);
    return -1;
}

int main(int argc, char **argv)
{
    static const char *const defaults[] = { "codec_protobuf.so", "codec_json.so", "codec_xml.so",
                                            "codec_binary.so" };
    size_t n = argc > 1 ? (size_t)argc - 1 : sizeof defaults / sizeof defaults[0];
    /* codecs[n + i]: codec i again, decoding through decode_with (when it has one). */
    codec *codecs = calloc(2 * n, sizeof *codecs);
    px_test_alloc *allocs = calloc(n, sizeof *allocs);
    char (*names)[112] = calloc(2 * n * N_CHECKS, sizeof *names);
    struct CMUnitTest *tests = calloc(2 * n * N_CHECKS, sizeof *tests);
    loader = px_loader_new();
    if (codecs == NULL || allocs == NULL || names == NULL || tests == NULL || loader == NULL) {
        fprintf(stderr, "test_conformance: out of memory\n");
        return 1;
    }
    const char *dir = getenv("PX_MODULE_DIR");
    if (argc <= 1 && dir == NULL) {
        fprintf(stderr, "test_conformance: give codec module files, or set PX_MODULE_DIR\n");
        return 1;
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        char file[4096];
        if (argc > 1)
            snprintf(file, sizeof file, "%s", argv[i + 1]);
        else
            snprintf(file, sizeof file, "%s/%s", dir, defaults[i]);
        if (load_codec(&codecs[i], file) != 0)
            return 1;
        codecs[i].mode = "";
        codecs[n + i] = codecs[i];
        codecs[n + i].decode_with = px_codec_decode_with(codecs[i].mod);
        codecs[n + i].alloc = &allocs[i];
        codecs[n + i].mode = " (decode_with)";
    }
    for (size_t i = 0; i < 2 * n; i++) {
        codec *c = &codecs[i];
        int with = i >= n;
        if (with && c->decode_with == NULL)
            continue; /* built before ABI 1.1, or has none: decode only */
        for (size_t k = 0; k < N_CHECKS; k++) {
            if ((checks[k].only != NULL && strcmp(checks[k].only, c->mod->name) != 0) ||
                (with && !checks[k].decodes))
                continue;
            snprintf(names[count], sizeof names[count], "%s: %s%s", c->mod->name, checks[k].name, c->mode);
            tests[count] = (struct CMUnitTest){ .name = names[count], .test_func = checks[k].fn,
                                                .initial_state = c };
            if (with) {
                tests[count].setup_func = alloc_setup;
                tests[count].teardown_func = alloc_teardown;
            }
            count++;
        }
    }
    int failed = _cmocka_run_group_tests("conformance", tests, count, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        unload_codec(&codecs[i]);
    px_loader_free(loader);
    free(tests);
    free(names);
    free(allocs);
    free(codecs);
    return failed;
}
