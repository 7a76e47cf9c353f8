/* Frame encode/decode: round trips, incremental input, every header refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "px_frame.h"

static px_buf one_request(void)
{
    px_buf b = {0};
    px_frame f = {.type = PX_FRAME_REQUEST, .id = 0x0102030405060708ull, .deadline_ms = 250,
                  .method = (const uint8_t *)"calc.Calculator/Add", .method_len = 19,
                  .meta = (const uint8_t *)"mk", .meta_len = 2,
                  .body = (const uint8_t *)"\x08\x02\x10\x03", .body_len = 4};
    assert_int_equal(px_frame_append(&b, &f), 0);
    return b;
}

static void test_header_layout_is_big_endian(void **state)
{
    px_buf b = one_request();
    assert_int_equal(b.len, 32 + 19 + 2 + 4);
    static const uint8_t want[32] = {0x50, 0x58, 1, 2, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
                                     0, 0, 0, 250, 0, 19, 0, 0, 0, 0, 0, 2, 0, 0, 0, 4};
    assert_memory_equal(b.data, want, 32);
    assert_memory_equal(b.data + 32, "calc.Calculator/Add", 19);
    px_buf_free(&b);
}

static void test_round_trip(void **state)
{
    px_buf b = one_request();
    px_frame f;
    size_t used = 0;
    px_err err = {0};
    assert_int_equal(px_frame_parse(b.data, b.len, 1024, 1024, &f, &used, &err), PX_PARSE_OK);
    assert_int_equal(used, b.len);
    assert_int_equal(f.type, PX_FRAME_REQUEST);
    assert_true(f.id == 0x0102030405060708ull);
    assert_int_equal(f.deadline_ms, 250);
    assert_int_equal(f.method_len, 19);
    assert_memory_equal(f.method, "calc.Calculator/Add", 19);
    assert_memory_equal(f.meta, "mk", 2);
    assert_memory_equal(f.body, "\x08\x02\x10\x03", 4);
    px_buf_free(&b);
}

static void test_truncated_needs_more_at_every_length(void **state)
{
    px_buf b = one_request();
    for (size_t n = 0; n < b.len; n++) {
        px_frame f;
        size_t used = 0;
        px_err err = {0};
        assert_int_equal(px_frame_parse(b.data, n, 1024, 1024, &f, &used, &err), PX_PARSE_NEED_MORE);
    }
    px_buf_free(&b);
}

static void test_two_frames_back_to_back(void **state)
{
    px_buf b = one_request();
    px_frame_append_error(&b, 9, PX_UNIMPLEMENTED, "unknown service 'x'");
    px_frame f;
    size_t used = 0, off = 0;
    px_err err = {0};
    assert_int_equal(px_frame_parse(b.data, b.len, 1024, 1024, &f, &used, &err), PX_PARSE_OK);
    off += used;
    assert_int_equal(px_frame_parse(b.data + off, b.len - off, 1024, 1024, &f, &used, &err),
                     PX_PARSE_OK);
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.status, PX_UNIMPLEMENTED);
    assert_int_equal(f.id, 9);
    assert_int_equal(f.body_len, strlen("unknown service 'x'"));
    assert_int_equal(off + used, b.len);
    px_buf_free(&b);
}

static void expect_error(const uint8_t *hdr, uint64_t max_meta, uint64_t max_body, px_status st,
                         const char *msg)
{
    px_frame f;
    size_t used = 0;
    px_err err = {0};
    /* Only the header is given: refusals must come before the body is buffered. */
    assert_int_equal(px_frame_parse(hdr, 32, max_meta, max_body, &f, &used, &err), PX_PARSE_ERROR);
    assert_int_equal(err.status, st);
    assert_string_equal(err.msg, msg);
}

static void test_refusals(void **state)
{
    px_buf b = one_request();
    uint8_t h[32];
    memcpy(h, b.data, 32);
    h[0] = 'G';
    expect_error(h, 1024, 1024, PX_INVALID_ARGUMENT, "bad frame magic 0x4758 (expected 0x5058)");
    memcpy(h, b.data, 32);
    h[2] = 7;
    expect_error(h, 1024, 1024, PX_INVALID_ARGUMENT,
                 "unsupported protocol version 7 (this side speaks 1)");
    memcpy(h, b.data, 32);
    h[3] = 42;
    expect_error(h, 1024, 1024, PX_INVALID_ARGUMENT, "unknown frame type 42");
    memcpy(h, b.data, 32);
    h[20] = 0x10; /* method_len 4115 */
    expect_error(h, 1024, 1024, PX_INVALID_ARGUMENT,
                 "method name of 4115 bytes exceeds the limit of 256");
    memcpy(h, b.data, 32);
    expect_error(h, 1, 1024, PX_RESOURCE_EXHAUSTED, "metadata of 2 bytes exceeds max_meta 1");
    memcpy(h, b.data, 32);
    h[28] = 0xff; /* body_len ~4 GiB: refused on the header alone */
    expect_error(h, 1024, 4 << 20, PX_RESOURCE_EXHAUSTED,
                 "frame body of 4278190084 bytes exceeds max_frame 4194304");
    px_buf_free(&b);
}

static void test_zero_copy_begin_end(void **state)
{
    px_buf b = {0};
    px_frame f = {.type = PX_FRAME_RESPONSE, .id = 3};
    size_t off = px_frame_begin(&b, &f);
    assert_int_equal(off, 0);
    px_buf_append(&b, "hello", 5);
    px_frame_end(&b, off);
    px_frame g;
    size_t used = 0;
    px_err err = {0};
    assert_int_equal(px_frame_parse(b.data, b.len, 0, 1024, &g, &used, &err), PX_PARSE_OK);
    assert_int_equal(g.body_len, 5);
    assert_memory_equal(g.body, "hello", 5);
    assert_string_equal(px_frame_type_name(PX_FRAME_GOAWAY), "GOAWAY");
    assert_string_equal(px_frame_type_name(99), "UNKNOWN");
    px_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_layout_is_big_endian),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_needs_more_at_every_length),
        cmocka_unit_test(test_two_frames_back_to_back),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_zero_copy_begin_end),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
