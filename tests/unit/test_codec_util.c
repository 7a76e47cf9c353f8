/* Unit tests of the SDK's descriptor walking for codecs (plexus/px_codec_util.h):
 * presence under proto3 and proto2 rules, value counts, oneof cases, a new message's
 * set-up (run-time descriptors too), map detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <plexus/plexus.h>
#include "calc.pb-c.h"

static const ProtobufCFieldDescriptor *field(const ProtobufCMessageDescriptor *d, const char *name)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
    if (f == NULL)
        fail_msg("no field %s in %s", name, d->name);
    return f;
}

static size_t echo_count(const Calc__EchoMsg *m, const char *name)
{
    return px_pb_count(&m->base, field(&calc__echo_msg__descriptor, name));
}

/* proto3 implicit presence: a field is written when it is not its default. */
static void test_proto3_presence(void **state)
{
    (void)state;
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    const ProtobufCMessageDescriptor *d = &calc__echo_msg__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (px_pb_count(&m.base, &d->fields[i]) != 0)
            fail_msg("field %s of an empty message counts as written", d->fields[i].name);

    m.f_int32 = 5;
    m.f_double = -0.0; /* not the default bit for bit: kept */
    m.f_bool = 1;
    assert_int_equal(echo_count(&m, "f_int32"), 1);
    assert_int_equal(echo_count(&m, "f_double"), 1);
    assert_int_equal(echo_count(&m, "f_bool"), 1);
    assert_int_equal(echo_count(&m, "f_float"), 0);

    m.f_string = ""; /* the empty string is the default */
    assert_false(px_pb_present(&m.base, field(d, "f_string")));
    m.f_string = NULL;
    assert_false(px_pb_present(&m.base, field(d, "f_string")));
    m.f_string = "x";
    assert_true(px_pb_present(&m.base, field(d, "f_string")));

    uint8_t b = 0;
    m.f_bytes = (ProtobufCBinaryData){ .len = 0, .data = &b };
    assert_false(px_pb_present(&m.base, field(d, "f_bytes")));
    m.f_bytes.len = 1;
    assert_true(px_pb_present(&m.base, field(d, "f_bytes")));

    Calc__Inner inner = CALC__INNER__INIT; /* an empty sub-message is still written */
    assert_false(px_pb_present(&m.base, field(d, "inner")));
    m.inner = &inner;
    assert_true(px_pb_present(&m.base, field(d, "inner")));

    m.color = CALC__COLOR__BLUE;
    assert_int_equal(echo_count(&m, "color"), 1);
}

/* Repeated fields and maps count their elements; none is not written. */
static void test_repeated_count(void **state)
{
    (void)state;
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    int32_t ints[3] = { 0, 0, 0 }; /* zero elements are still elements */
    m.n_r_int32 = 3;
    m.r_int32 = ints;
    assert_int_equal(echo_count(&m, "r_int32"), 3);
    Calc__EchoMsg__AttrsEntry e1 = CALC__ECHO_MSG__ATTRS_ENTRY__INIT, e2 = e1;
    Calc__EchoMsg__AttrsEntry *entries[] = { &e1, &e2 };
    m.n_attrs = 2;
    m.attrs = entries;
    assert_int_equal(echo_count(&m, "attrs"), 2);
    assert_int_equal(echo_count(&m, "r_string"), 0);
}

/* A oneof member is written when it is the case, even holding its default. */
static void test_oneof(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &calc__echo_msg__descriptor;
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    const ProtobufCFieldDescriptor *text = field(d, "c_text"), *num = field(d, "c_number");
    assert_int_equal(px_pb_oneof_case(&m.base, text), 0);
    assert_false(px_pb_present(&m.base, num));

    m.c_number = 0;
    px_pb_mark_set(&m.base, num);
    assert_int_equal(m.choice_case, CALC__ECHO_MSG__CHOICE_C_NUMBER);
    assert_true(px_pb_present(&m.base, num));
    assert_int_equal(px_pb_count(&m.base, num), 1);
    assert_false(px_pb_present(&m.base, text));
    /* Any member tells which one is set: a decoder refuses a second one. */
    assert_int_equal(px_pb_oneof_case(&m.base, text), 23);
    assert_string_equal(protobuf_c_message_descriptor_get_field(d, 23)->name, "c_number");
    /* A field outside any oneof has no case. */
    assert_int_equal(px_pb_oneof_case(&m.base, field(d, "f_int32")), 0);
    /* Marking a plain proto3 field writes nothing: it has no flag, and no case. */
    px_pb_mark_set(&m.base, field(d, "f_int32"));
    assert_int_equal(m.choice_case, CALC__ECHO_MSG__CHOICE_C_NUMBER);
    assert_int_equal(m.f_int32, 0);
}

/*
 * proto2: message P2 { required int32 id = 1; optional int32 count = 2;
 *                      optional string label = 3 [default = "dflt"]; }
 * written out by hand, as protoc-c would generate it (calc.proto is proto3).
 */
typedef struct P2 {
    ProtobufCMessage base;
    int32_t id;
    protobuf_c_boolean has_count;
    int32_t count;
    char *label;
} P2;

static char p2_label_default[] = "dflt";
static const int32_t p2_count_default = 42;
static const ProtobufCFieldDescriptor p2_fields[] = {
    { .name = "id", .id = 1, .label = PROTOBUF_C_LABEL_REQUIRED, .type = PROTOBUF_C_TYPE_INT32,
      .offset = offsetof(P2, id) },
    { .name = "count", .id = 2, .label = PROTOBUF_C_LABEL_OPTIONAL, .type = PROTOBUF_C_TYPE_INT32,
      .quantifier_offset = offsetof(P2, has_count), .offset = offsetof(P2, count),
      .default_value = &p2_count_default },
    { .name = "label", .id = 3, .label = PROTOBUF_C_LABEL_OPTIONAL, .type = PROTOBUF_C_TYPE_STRING,
      .offset = offsetof(P2, label), .default_value = p2_label_default },
};
static const unsigned p2_by_name[] = { 1, 0, 2 }; /* count, id, label */
static const ProtobufCIntRange p2_ranges[] = { { 1, 0 }, { 0, 3 } };
static void p2_init(ProtobufCMessage *m);
static const ProtobufCMessageDescriptor p2_desc = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, .name = "demo.P2", .short_name = "P2",
    .c_name = "Demo__P2", .package_name = "demo", .sizeof_message = sizeof(P2),
    .n_fields = 3, .fields = p2_fields, .fields_sorted_by_name = p2_by_name,
    .n_field_ranges = 1, .field_ranges = p2_ranges, .message_init = p2_init,
};

static void p2_init(ProtobufCMessage *m)
{
    memset(m, 0, sizeof(P2));
    m->descriptor = &p2_desc;
    ((P2 *)m)->label = p2_label_default;
}

static void test_proto2_presence(void **state)
{
    (void)state;
    P2 m;
    p2_init(&m.base);
    const ProtobufCFieldDescriptor *id = &p2_fields[0], *count = &p2_fields[1], *label = &p2_fields[2];
    assert_true(px_pb_present(&m.base, id)); /* required: always written, even 0 */
    assert_false(px_pb_present(&m.base, count));
    m.count = 7; /* the value alone does not make it present: has_count does */
    assert_false(px_pb_present(&m.base, count));
    m.count = 0;
    px_pb_mark_set(&m.base, count);
    assert_true(m.has_count);
    assert_true(px_pb_present(&m.base, count)); /* set to 0: written */

    assert_false(px_pb_present(&m.base, label)); /* points at its default */
    m.label = NULL;
    assert_false(px_pb_present(&m.base, label));
    char other[] = "dflt"; /* the same text, but a value the decoder stored */
    m.label = other;
    assert_true(px_pb_present(&m.base, label));
    m.has_count = 0;
    px_pb_mark_set(&m.base, label); /* optional strings have no flag: nothing written */
    assert_false(m.has_count);
    assert_ptr_equal(m.label, other);
}

/* A new message: the generated init, or for a descriptor built at run time (no
 * message_init) zeros, the descriptor and the defaults, as libprotobuf-c's unpack does. */
static void test_message_init(void **state)
{
    (void)state;
    Calc__EchoMsg e;
    memset(&e, 0xa5, sizeof e);
    px_pb_message_init(&calc__echo_msg__descriptor, &e.base);
    assert_ptr_equal(e.base.descriptor, &calc__echo_msg__descriptor);
    assert_ptr_equal(e.f_string, protobuf_c_empty_string); /* what the generated init writes */
    assert_int_equal(e.n_r_int32, 0);
    assert_int_equal(e.choice_case, CALC__ECHO_MSG__CHOICE__NOT_SET);

    ProtobufCMessageDescriptor dyn = p2_desc;
    dyn.message_init = NULL;
    P2 m;
    memset(&m, 0xa5, sizeof m);
    px_pb_message_init(&dyn, &m.base);
    assert_ptr_equal(m.base.descriptor, &dyn);
    assert_int_equal(m.base.n_unknown_fields, 0);
    assert_int_equal(m.id, 0);
    assert_int_equal(m.count, 42); /* the default, still not present */
    assert_false(m.has_count);
    assert_false(px_pb_present(&m.base, &dyn.fields[1]));
    assert_ptr_equal(m.label, p2_label_default);
    assert_false(px_pb_present(&m.base, &dyn.fields[2]));
}

/* Maps are what protoc generates for map<K, V>; other repeated messages are not. */
static void test_is_map(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &calc__echo_msg__descriptor;
    assert_true(px_pb_is_map(d, field(d, "attrs")));
    assert_false(px_pb_is_map(d, field(d, "r_inner")));
    assert_false(px_pb_is_map(d, field(d, "r_int32")));
    assert_false(px_pb_is_map(d, field(d, "inner")));
    /* The entry must be nested in the message the field belongs to... */
    assert_false(px_pb_is_map(&calc__inner__descriptor, field(d, "attrs")));
    /* ...and named after the field: "attr_list" would need AttrListEntry. */
    ProtobufCFieldDescriptor renamed = *field(d, "attrs");
    renamed.name = "attr_list";
    assert_false(px_pb_is_map(d, &renamed));
    /* A singular field of the entry type is a plain message. */
    ProtobufCFieldDescriptor single = *field(d, "attrs");
    single.label = PROTOBUF_C_LABEL_NONE;
    assert_false(px_pb_is_map(d, &single));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto3_presence),
        cmocka_unit_test(test_repeated_count),
        cmocka_unit_test(test_oneof),
        cmocka_unit_test(test_proto2_presence),
        cmocka_unit_test(test_message_init),
        cmocka_unit_test(test_is_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
