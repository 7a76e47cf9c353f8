/* Unit tests of modules/codec_binary: the seed's 92-byte User, exact bytes, forward and
 * backward compatibility (unknown, missing and renumbered fields), repeated entries. */
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
#include "px_test_module.h"
#include "px_test_msg.h"

static void *handle;
static const px_module *mod;
static const px_codec_ops *ops;

/*
 * The seed article's User, as protoc-c would generate it from
 *   message User { string user_name = 1; int64 user_id = 2; int32 user_age = 3; }
 * and, for the compatibility tests, two other versions of it: a newer one with an
 * extra field, and one where user_age was renumbered.
 */
typedef struct User {
    ProtobufCMessage base;
    char *user_name;
    int64_t user_id;
    int32_t user_age;
    char *user_email; /* only in the newer version's descriptor */
} User;

#define FIELD(n, num, t, member, def)                                                            \
    { .name = n, .id = num, .label = PROTOBUF_C_LABEL_NONE, .type = t,                          \
      .offset = offsetof(User, member), .default_value = def }

static const ProtobufCFieldDescriptor user_v1_fields[] = {
    FIELD("user_name", 1, PROTOBUF_C_TYPE_STRING, user_name, &protobuf_c_empty_string),
    FIELD("user_id", 2, PROTOBUF_C_TYPE_INT64, user_id, NULL),
    FIELD("user_age", 3, PROTOBUF_C_TYPE_INT32, user_age, NULL),
};
static const ProtobufCFieldDescriptor user_v2_fields[] = {
    FIELD("user_name", 1, PROTOBUF_C_TYPE_STRING, user_name, &protobuf_c_empty_string),
    FIELD("user_id", 2, PROTOBUF_C_TYPE_INT64, user_id, NULL),
    FIELD("user_age", 3, PROTOBUF_C_TYPE_INT32, user_age, NULL),
    FIELD("user_email", 4, PROTOBUF_C_TYPE_STRING, user_email, &protobuf_c_empty_string),
};
static const ProtobufCFieldDescriptor user_renum_fields[] = {
    FIELD("user_name", 1, PROTOBUF_C_TYPE_STRING, user_name, &protobuf_c_empty_string),
    FIELD("user_id", 2, PROTOBUF_C_TYPE_INT64, user_id, NULL),
    FIELD("user_age", 7, PROTOBUF_C_TYPE_INT32, user_age, NULL),
};
static const unsigned v1_by_name[] = { 2, 1, 0 };    /* user_age, user_id, user_name */
static const unsigned v2_by_name[] = { 2, 3, 1, 0 }; /* user_age, user_email, user_id, user_name */
static const ProtobufCIntRange v1_ranges[] = { { 1, 0 }, { 0, 3 } };
static const ProtobufCIntRange v2_ranges[] = { { 1, 0 }, { 0, 4 } };
static const ProtobufCIntRange renum_ranges[] = { { 1, 0 }, { 7, 2 }, { 0, 3 } };

static void user_v1_init(ProtobufCMessage *m);
static void user_v2_init(ProtobufCMessage *m);
static void user_renum_init(ProtobufCMessage *m);

#define USER_DESC(fs, by_name, ranges, n_ranges, init)                                          \
    {                                                                                            \
        .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, .name = "demo.User", .short_name = "User", \
        .c_name = "Demo__User", .package_name = "demo", .sizeof_message = sizeof(User),          \
        .n_fields = sizeof fs / sizeof fs[0], .fields = fs,                                      \
        .fields_sorted_by_name = by_name, .n_field_ranges = n_ranges, .field_ranges = ranges,    \
        .message_init = init,                                                                    \
    }

static const ProtobufCMessageDescriptor user_v1 =
    USER_DESC(user_v1_fields, v1_by_name, v1_ranges, 1, user_v1_init);
static const ProtobufCMessageDescriptor user_v2 =
    USER_DESC(user_v2_fields, v2_by_name, v2_ranges, 1, user_v2_init);
static const ProtobufCMessageDescriptor user_renum =
    USER_DESC(user_renum_fields, v1_by_name, renum_ranges, 2, user_renum_init);

static void user_init(ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
    memset(m, 0, sizeof(User));
    m->descriptor = d;
    ((User *)m)->user_name = (char *)protobuf_c_empty_string;
    ((User *)m)->user_email = (char *)protobuf_c_empty_string;
}

static void user_v1_init(ProtobufCMessage *m)
{
    user_init(m, &user_v1);
}

static void user_v2_init(ProtobufCMessage *m)
{
    user_init(m, &user_v2);
}

static void user_renum_init(ProtobufCMessage *m)
{
    user_init(m, &user_renum);
}

static User user(const ProtobufCMessageDescriptor *d)
{
    User u;
    d->message_init(&u.base);
    return u;
}

static int setup(void **state)
{
    mod = px_test_load_module("codec_binary.so", &handle);
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

static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *d, const px_buf *b)
{
    ProtobufCMessage *out = NULL;
    px_err err = { 0 };
    if (ops->decode(NULL, d, b->data, b->len, &out, &err) != PX_OK)
        fail_msg("decode: %s", err.msg);
    return out;
}

static void test_descriptor(void **state)
{
    assert_int_equal(mod->kind, PX_MOD_CODEC);
    assert_string_equal(mod->name, "binary");
    assert_string_equal(ops->content_type, "application/x-plexus-binary");
}

/* The seed article: "User", user_name "shenjian", user_id 123, user_age 35 = 92 bytes. */
static void test_seed_user_92_bytes(void **state)
{
    User u = user(&user_v1);
    u.user_name = "shenjian";
    u.user_id = 123;
    u.user_age = 35;
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &u.base, &out, &err), PX_OK);
    static const uint8_t want[92] = {
        /* 12: version 1, name length 4, "User" */
        0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 'U', 's', 'e', 'r',
        /* 29: serial 1, key length 9, "user_name", value length 8, "shenjian" */
        0x01, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 'u', 's', 'e', 'r', '_', 'n', 'a', 'm', 'e',
        0x08, 0x00, 0x00, 0x00, 's', 'h', 'e', 'n', 'j', 'i', 'a', 'n',
        /* 27: serial 2, key length 7, "user_id", value length 8, 123 as int64 */
        0x02, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 'u', 's', 'e', 'r', '_', 'i', 'd',
        0x08, 0x00, 0x00, 0x00, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* 24: serial 3, key length 8, "user_age", value length 4, 35 as int32 */
        0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 'u', 's', 'e', 'r', '_', 'a', 'g', 'e',
        0x04, 0x00, 0x00, 0x00, 0x23, 0x00, 0x00, 0x00,
    };
    assert_int_equal(out.len, 92);
    assert_memory_equal(out.data, want, sizeof want);
    User *back = (User *)decode_ok(&user_v1, &out);
    assert_string_equal(back->user_name, "shenjian");
    assert_int_equal(back->user_id, 123);
    assert_int_equal(back->user_age, 35);
    protobuf_c_message_free_unpacked(&back->base, NULL);
    px_buf_free(&out);
}

static void test_exact_bytes(void **state)
{
    /* Defaults are left out; the empty message is the header alone. */
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &req.base, &out, &err), PX_OK);
    static const uint8_t empty[] = { 1, 0, 0, 0, 10, 0, 0, 0, 'A', 'd', 'd', 'R', 'e', 'q', 'u', 'e', 's', 't' };
    assert_int_equal(out.len, sizeof empty);
    assert_memory_equal(out.data, empty, sizeof empty);

    /* Repeated scalars: one entry, elements back to back. Bools: one byte. Nested: entries. */
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    static int32_t r[] = { 1, -1 };
    Calc__Inner in = CALC__INNER__INIT;
    in.id = 5;
    m.n_r_int32 = 2;
    m.r_int32 = r;
    m.f_bool = 1;
    m.inner = &in;
    out.len = 0;
    assert_int_equal(ops->encode(NULL, &m.base, &out, &err), PX_OK);
    static const uint8_t want[] = {
        1, 0, 0, 0, 7, 0, 0, 0, 'E', 'c', 'h', 'o', 'M', 's', 'g',
        13, 0, 0, 0, 6, 0, 0, 0, 'f', '_', 'b', 'o', 'o', 'l', 1, 0, 0, 0, 1,
        16, 0, 0, 0, 7, 0, 0, 0, 'r', '_', 'i', 'n', 't', '3', '2', 8, 0, 0, 0,
        1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
        18, 0, 0, 0, 5, 0, 0, 0, 'i', 'n', 'n', 'e', 'r', 18, 0, 0, 0,
        1, 0, 0, 0, 2, 0, 0, 0, 'i', 'd', 4, 0, 0, 0, 5, 0, 0, 0,
    };
    assert_int_equal(out.len, sizeof want);
    assert_memory_equal(out.data, want, sizeof want);
    px_buf_free(&out);
}

/* A newer sender's extra field is skipped by an older receiver; the reverse leaves a default. */
static void test_unknown_and_missing_fields(void **state)
{
    User u = user(&user_v2);
    u.user_name = "shenjian";
    u.user_id = 123;
    u.user_age = 35;
    u.user_email = "sj@example.com";
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &u.base, &out, &err), PX_OK);
    User *old = (User *)decode_ok(&user_v1, &out);
    assert_string_equal(old->user_name, "shenjian");
    assert_int_equal(old->user_id, 123);
    assert_int_equal(old->user_age, 35);
    assert_string_equal(old->user_email, ""); /* v1 has no such field: untouched default */
    protobuf_c_message_free_unpacked(&old->base, NULL);

    User v1 = user(&user_v1);
    v1.user_age = 40;
    out.len = 0;
    assert_int_equal(ops->encode(NULL, &v1.base, &out, &err), PX_OK);
    User *newer = (User *)decode_ok(&user_v2, &out);
    assert_int_equal(newer->user_age, 40);
    assert_string_equal(newer->user_email, "");
    protobuf_c_message_free_unpacked(&newer->base, NULL);
    px_buf_free(&out);
}

/* The serial number is matched first; when it is unknown, the key finds the field. */
static void test_renumbered_field_found_by_key(void **state)
{
    User u = user(&user_renum);
    u.user_id = 9;
    u.user_age = 77; /* serial number 7 on the wire */
    px_buf out = { 0 };
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &u.base, &out, &err), PX_OK);
    User *back = (User *)decode_ok(&user_v1, &out);
    assert_int_equal(back->user_id, 9);
    assert_int_equal(back->user_age, 77);
    protobuf_c_message_free_unpacked(&back->base, NULL);
    px_buf_free(&out);
}

static void put32(px_buf *b, uint32_t v)
{
    uint8_t le[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    assert_int_equal(px_buf_append(b, le, 4), 0);
}

static void entry(px_buf *b, uint32_t id, const char *key, const void *val, uint32_t vlen)
{
    put32(b, id);
    put32(b, (uint32_t)strlen(key));
    assert_int_equal(px_buf_append(b, key, strlen(key)), 0);
    put32(b, vlen);
    assert_int_equal(px_buf_append(b, val, vlen), 0);
}

/* Entries in any order; a singular field given twice keeps the last value; a oneof keeps the
 * last member (the earlier one freed: ASan's leak check watches); repeated entries append. */
static void test_entry_order_and_repeats(void **state)
{
    px_buf b = { 0 };
    put32(&b, 1);
    put32(&b, 7);
    assert_int_equal(px_buf_append(&b, "EchoMsg", 7), 0);
    entry(&b, 16, "r_int32", "\x01\x00\x00\x00", 4);
    entry(&b, 14, "f_string", "first", 5);
    entry(&b, 22, "c_text", "text", 4);
    entry(&b, 3, "", "\x07\x00\x00\x00", 4); /* a key may be empty: the number is enough */
    entry(&b, 14, "f_string", "second", 6);
    entry(&b, 16, "r_int32", "\x02\x00\x00\x00\x03\x00\x00\x00", 8);
    entry(&b, 999, "from_the_future", "whatever", 8);
    entry(&b, 24, "c_inner", "", 0);
    Calc__EchoMsg *m = (Calc__EchoMsg *)decode_ok(&calc__echo_msg__descriptor, &b);
    assert_string_equal(m->f_string, "second");
    assert_int_equal(m->f_int32, 7);
    assert_int_equal(m->n_r_int32, 3);
    assert_int_equal(m->r_int32[0], 1);
    assert_int_equal(m->r_int32[2], 3);
    assert_int_equal(m->choice_case, CALC__ECHO_MSG__CHOICE_C_INNER);
    assert_non_null(m->c_inner);
    assert_int_equal(m->c_inner->id, 0);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    px_buf_free(&b);
}

static void test_encode_errors(void **state)
{
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    static Calc__Inner *holes[] = { NULL };
    m.n_r_inner = 1;
    m.r_inner = holes;
    px_buf out = { 0 };
    assert_int_equal(px_buf_append(&out, "kept", 4), 0);
    px_err err = { 0 };
    assert_int_equal(ops->encode(NULL, &m.base, &out, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "binary: cannot encode calc.EchoMsg: field 'r_inner[0]': message pointer is NULL");
    assert_int_equal(out.len, 4); /* nothing half-written is left behind */

    ProtobufCMessageDescriptor fake = calc__add_request__descriptor;
    fake.magic = 0;
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.base.descriptor = &fake;
    assert_int_equal(ops->encode(NULL, &req.base, &out, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "binary: cannot encode: not a protobuf-c message (bad descriptor magic)");
    ProtobufCMessage *dec = (ProtobufCMessage *)&dec;
    assert_int_equal(ops->decode(NULL, &fake, out.data, out.len, &dec, &err), PX_INVALID_ARGUMENT);
    assert_null(dec);
    assert_string_equal(err.msg, "binary: cannot decode: not a protobuf-c message descriptor (bad magic)");
    px_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_seed_user_92_bytes),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_unknown_and_missing_fields),
        cmocka_unit_test(test_renumbered_field_found_by_key),
        cmocka_unit_test(test_entry_order_and_repeats),
        cmocka_unit_test(test_encode_errors),
    };
    return cmocka_run_group_tests_name("codec_binary", tests, setup, teardown);
}
