/* Unit tests of modules/codec_xml: the exact documents it writes, the documents people
 * write (indented, commented, CDATA, unknown elements) it reads, and what XML cannot carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>
#include "calc.pb-c.h"
#include "px_test_module.h"

static void *handle;
static const px_module *mod;
static const px_codec_ops *ops;

static int setup(void **state)
{
    mod = px_test_load_module("codec_xml.so", &handle);
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

/* The document msg encodes to, NUL-terminated (the caller frees it). */
static char *encode_text(const ProtobufCMessage *msg)
{
    px_buf out = { 0 };
    px_err err = { 0 };
    if (ops->encode(NULL, msg, &out, &err) != PX_OK)
        fail_msg("encode: %s", err.msg);
    assert_int_equal(px_buf_append(&out, "", 1), 0);
    return (char *)out.data;
}

static Calc__EchoMsg *decode_echo(const char *xml)
{
    ProtobufCMessage *out = NULL;
    px_err err = { 0 };
    if (ops->decode(NULL, &calc__echo_msg__descriptor, (const uint8_t *)xml, strlen(xml), &out, &err) != PX_OK)
        fail_msg("decode: %s\n%s", err.msg, xml);
    return (Calc__EchoMsg *)out;
}

static void test_descriptor(void **state)
{
    assert_int_equal(mod->kind, PX_MOD_CODEC);
    assert_string_equal(mod->name, "xml");
    assert_string_equal(ops->content_type, "application/xml");
}

static void test_exact_documents(void **state)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 2;
    req.b = -3;
    req.tag = "x < y & \"z\"";
    char *text = encode_text(&req.base);
    assert_string_equal(text, "<?xml version=\"1.0\"?>\n"
                              "<AddRequest><a>2</a><b>-3</b><tag>x &lt; y &amp; &quot;z&quot;</tag></AddRequest>\n");
    free(text);

    Calc__AddRequest empty = CALC__ADD_REQUEST__INIT;
    text = encode_text(&empty.base);
    assert_string_equal(text, "<?xml version=\"1.0\"?>\n<AddRequest/>\n");
    free(text);

    /* Repeated fields repeat the element, maps are entries, bytes are base64, enums names. */
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    static char *rs[] = { "a", "" };
    static Calc__Color colors[] = { CALC__COLOR__RED, 42 };
    static uint8_t bytes[] = { 0, 0xff, 'A' };
    Calc__EchoMsg__AttrsEntry e = CALC__ECHO_MSG__ATTRS_ENTRY__INIT;
    Calc__EchoMsg__AttrsEntry *ep[] = { &e };
    e.key = "k";
    e.value = 1;
    m.f_double = NAN;
    m.f_float = 0.1f;
    m.f_uint64 = UINT64_MAX;
    m.f_bool = 1;
    m.f_bytes.data = bytes;
    m.f_bytes.len = sizeof bytes;
    m.n_r_string = 2;
    m.r_string = rs;
    m.n_r_color = 2;
    m.r_color = colors;
    m.n_attrs = 1;
    m.attrs = ep;
    m.choice_case = CALC__ECHO_MSG__CHOICE_C_NUMBER;
    m.c_number = 0;
    text = encode_text(&m.base);
    assert_string_equal(text, "<?xml version=\"1.0\"?>\n<EchoMsg>"
                              "<f_double>NaN</f_double><f_float>0.1</f_float>"
                              "<f_uint64>18446744073709551615</f_uint64><f_bool>true</f_bool>"
                              "<f_bytes>AP9B</f_bytes><r_string>a</r_string><r_string></r_string>"
                              "<r_color>RED</r_color><r_color>42</r_color><c_number>0</c_number>"
                              "<attrs><key>k</key><value>1</value></attrs></EchoMsg>\n");
    free(text);
}

/* What a person might write: indentation, comments, CDATA, attributes, unknown elements,
 * enum numbers, 1/0 bools, base64 over lines, fields in any order. */
static void test_lenient_reading(void **state)
{
    Calc__EchoMsg *m = decode_echo("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                   "<!-- a request -->\n"
                                   "<EchoMsg version=\"7\">\n"
                                   "  <color>3</color>\n"
                                   "  <f_string><![CDATA[<raw> & ]]>text&#233;</f_string>\n"
                                   "  <future><deep><er>1</er></deep></future>\n"
                                   "  <f_bool> 1 </f_bool>\n"
                                   "  <f_float>\t-1.5e3\n</f_float>\n"
                                   "  <f_bytes>\n    AP9B\n  </f_bytes>\n"
                                   "  <inner><id>4</id><!-- c --><unknown/></inner>\n"
                                   "  <r_string>  padded  </r_string><r_string/>\n"
                                   "  <f_int32>1</f_int32><f_int32>2</f_int32>\n"
                                   "  <?pi ignored?>\n"
                                   "</EchoMsg>\n<!-- after -->\n");
    assert_int_equal(m->color, CALC__COLOR__BLUE);
    assert_string_equal(m->f_string, "<raw> & text\xc3\xa9");
    assert_true(m->f_bool);
    assert_true(m->f_float == -1500.0f);
    assert_int_equal(m->f_bytes.len, 3);
    assert_memory_equal(m->f_bytes.data, "\x00\xff" "A", 3);
    assert_non_null(m->inner);
    assert_int_equal(m->inner->id, 4);
    assert_int_equal(m->n_r_string, 2);
    assert_string_equal(m->r_string[0], "  padded  "); /* strings keep their spaces */
    assert_string_equal(m->r_string[1], "");
    assert_int_equal(m->f_int32, 2); /* a singular field given twice: the last wins */
    protobuf_c_message_free_unpacked(&m->base, NULL);

    /* Another encoding declared: libxml2 converts, the message holds UTF-8. */
    static const char latin1[] = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><EchoMsg><f_string>caf\xe9</f_string></EchoMsg>";
    m = decode_echo(latin1);
    assert_string_equal(m->f_string, "caf\xc3\xa9");
    protobuf_c_message_free_unpacked(&m->base, NULL);

    /* The oneof keeps its last member; the earlier one is freed (ASan's leak check). */
    m = decode_echo("<EchoMsg><c_text>t</c_text><c_inner><id>1</id></c_inner><c_number>5</c_number></EchoMsg>");
    assert_int_equal(m->choice_case, CALC__ECHO_MSG__CHOICE_C_NUMBER);
    assert_int_equal(m->c_number, 5);
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void expect_encode_error(const ProtobufCMessage *msg, const char *want)
{
    px_buf out = { 0 };
    assert_int_equal(px_buf_append(&out, "kept", 4), 0);
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, msg, &out, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, want);
    assert_int_equal(out.len, 4); /* nothing half-written is left behind */
    px_buf_free(&out);
}

/* XML 1.0 has no way to carry U+0001..U+001F (but tab, LF, CR), nor bytes that are not UTF-8. */
static void test_text_xml_cannot_carry(void **state)
{
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    m.f_string = "ab\x01" "c";
    expect_encode_error(&m.base, "xml: cannot encode calc.EchoMsg: field 'f_string': character U+0001 "
                                 "cannot be written in XML 1.0 at byte 2 of the string");
    m.f_string = "";
    static char *rs[] = { "fine", "caf\xe9" };
    m.n_r_string = 2;
    m.r_string = rs;
    expect_encode_error(&m.base, "xml: cannot encode calc.EchoMsg: field 'r_string[1]': invalid UTF-8 at "
                                 "byte 3 of the string");
    m.n_r_string = 0;
    Calc__Inner in = CALC__INNER__INIT;
    in.name = "\xef\xbf\xbe"; /* U+FFFE */
    m.inner = &in;
    expect_encode_error(&m.base, "xml: cannot encode calc.EchoMsg: field 'inner.name': character U+FFFE "
                                 "cannot be written in XML 1.0 at byte 0 of the string");
}

static void test_bad_descriptor(void **state)
{
    ProtobufCMessageDescriptor fake = calc__add_request__descriptor;
    fake.magic = 1;
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.base.descriptor = &fake;
    expect_encode_error(&req.base, "xml: cannot encode: not a protobuf-c message (bad descriptor magic)");
    ProtobufCMessage *out = (ProtobufCMessage *)&out;
    px_err err = { 0 };
    assert_int_equal(ops->decode(NULL, &fake, (const uint8_t *)"<AddRequest/>", 13, &out, &err),
                     PX_INVALID_ARGUMENT);
    assert_null(out);
    assert_string_equal(err.msg, "xml: cannot decode: not a protobuf-c message descriptor (bad magic)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_exact_documents),
        cmocka_unit_test(test_lenient_reading),
        cmocka_unit_test(test_text_xml_cannot_carry),
        cmocka_unit_test(test_bad_descriptor),
    };
    return cmocka_run_group_tests_name("codec_xml", tests, setup, teardown);
}
