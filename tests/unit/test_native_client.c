/* The client side of the native protocol (px_native_client): the frames a client sends,
 * byte for byte as PROTOCOL.md's worked example, and how a server's frame is read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "px_native_client.h"

static void hex(const px_buf *b, char *out)
{
    for (size_t i = 0; i < b->len; i++)
        sprintf(out + 2 * i, "%02x", b->data[i]);
}

/* PROTOCOL.md section 11: HELLO "protobuf", then REQUEST id 1, 1000 ms, Add {2, 3}. */
static void test_worked_example_bytes(void **state)
{
    px_buf b = {0};
    char h[256];
    assert_int_equal(px_nc_hello(&b, "protobuf"), 0);
    hex(&b, h);
    assert_string_equal(h, "505801010000000000000000000000000000000000000000000000000000000870726f"
                           "746f627566");
    b.len = 0;
    px_nc_request r = {.id = 1, .deadline_ms = px_nc_deadline_ms(1, 1000 * 1000),
                       .method = "calc.Calculator/Add", .method_len = 19};
    assert_int_equal(px_nc_request_append(&b, &r, (const uint8_t *)"\x08\x02\x10\x03", 4), 0);
    hex(&b, h);
    assert_string_equal(h, "50580102000000000000000000000001000003e80013000000000000000000046361"
                           "6c632e43616c63756c61746f722f41646408021003");
    px_buf_free(&b);
}

/* The metadata section goes between method and body, and comes back out of a reply. */
static void test_metadata_carried_both_ways(void **state)
{
    px_buf b = {0};
    px_nc_request r = {.id = 7, .method = "calc.Calculator/Add", .method_len = 19,
                       .meta = (const uint8_t *)"k=v", .meta_len = 3};
    assert_int_equal(px_nc_request_append(&b, &r, (const uint8_t *)"BODY", 4), 0);
    px_frame f;
    size_t used;
    px_err err;
    assert_int_equal(px_frame_parse(b.data, b.len, 64, 64, &f, &used, &err), PX_PARSE_OK);
    assert_int_equal(f.type, PX_FRAME_REQUEST);
    assert_int_equal(f.deadline_ms, 0);
    assert_memory_equal(f.meta, "k=v", 3);
    assert_memory_equal(f.body, "BODY", 4);
    b.len = 0;
    px_frame resp = {.type = PX_FRAME_RESPONSE, .id = 7, .meta = (const uint8_t *)"rm",
                     .meta_len = 2, .body = (const uint8_t *)"R", .body_len = 1};
    assert_int_equal(px_frame_append(&b, &resp), 0);
    assert_int_equal(px_frame_parse(b.data, b.len, 64, 64, &f, &used, &err), PX_PARSE_OK);
    px_cmsg m;
    assert_int_equal(px_nc_classify(&f, &m), PX_CMSG_REPLY);
    assert_int_equal(m.id, 7);
    assert_int_equal(m.meta_len, 2);
    assert_memory_equal(m.meta, "rm", 2);
    assert_int_equal(m.body_len, 1);
    assert_int_equal(px_cmsg_err(&m, "peer", &err), PX_OK);
    px_buf_free(&b);
}

static void test_deadline_ms(void **state)
{
    assert_int_equal(px_nc_deadline_ms(0, 5000), 0);
    assert_int_equal(px_nc_deadline_ms(1, -3), 1); /* already over: still a deadline */
    assert_int_equal(px_nc_deadline_ms(1, 1), 1);
    assert_int_equal(px_nc_deadline_ms(1, 1000), 1);
    assert_int_equal(px_nc_deadline_ms(1, 1001), 2); /* rounded up, never early */
    assert_int_equal(px_nc_deadline_ms(1, INT64_MAX), UINT32_MAX);
}

static px_cmsg_kind classify(px_frame f, px_cmsg *m)
{
    f.body = (const uint8_t *)"why";
    f.body_len = 3;
    return px_nc_classify(&f, m);
}

/* An ERROR's status: the known codes as they are; 0 and numbers past the table are
 * UNKNOWN; the message is the body. */
static void test_error_status_decoding(void **state)
{
    px_cmsg m;
    px_err err;
    assert_int_equal(classify((px_frame){.type = PX_FRAME_ERROR, .id = 5, .status = PX_UNAVAILABLE},
                              &m), PX_CMSG_ERROR);
    assert_int_equal(m.status, PX_UNAVAILABLE);
    assert_int_equal(m.not_executed, 0);
    assert_int_equal(px_cmsg_err(&m, "1.2.3.4:5", &err), PX_UNAVAILABLE);
    assert_string_equal(err.msg, "why");
    const uint16_t unknown[] = {0, PX_STATUS_COUNT, 99, 0xffff};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        classify((px_frame){.type = PX_FRAME_ERROR, .id = 5, .status = unknown[i]}, &m);
        assert_int_equal(m.status, PX_UNKNOWN);
        classify((px_frame){.type = PX_FRAME_ERROR, .id = 0, .status = unknown[i]}, &m);
        assert_int_equal(m.status, PX_UNKNOWN);
        classify((px_frame){.type = PX_FRAME_GOAWAY, .status = unknown[i]}, &m);
        assert_int_equal(m.status, unknown[i] ? PX_UNKNOWN : PX_OK);
    }
    classify((px_frame){.type = PX_FRAME_ERROR, .id = 5, .status = PX_UNAVAILABLE,
                        .flags = PX_FRAME_F_NOT_EXECUTED},
             &m);
    assert_int_equal(m.not_executed, 1);
}

static void test_connection_frames(void **state)
{
    px_cmsg m;
    px_err err;
    assert_int_equal(classify((px_frame){.type = PX_FRAME_ERROR, .status = PX_UNIMPLEMENTED,
                                         .flags = PX_FRAME_F_NOT_EXECUTED},
                              &m),
                     PX_CMSG_CONN_ERROR);
    assert_int_equal(m.not_executed, 0); /* the flag is for one request */
    assert_int_equal(px_cmsg_err(&m, "1.2.3.4:5", &err), PX_UNIMPLEMENTED);
    assert_string_equal(err.msg, "1.2.3.4:5: why");

    assert_int_equal(classify((px_frame){.type = PX_FRAME_GOAWAY}, &m), PX_CMSG_GOAWAY);
    assert_int_equal(m.status, PX_OK);
    assert_int_equal(m.not_executed, 0);
    err.status = PX_INTERNAL;
    assert_int_equal(px_cmsg_err(&m, "1.2.3.4:5", &err), PX_OK);
    assert_int_equal(err.status, PX_INTERNAL); /* untouched */

    classify((px_frame){.type = PX_FRAME_GOAWAY, .status = PX_RESOURCE_EXHAUSTED}, &m);
    assert_int_equal(m.not_executed, 1); /* a refusal: nothing on it ran */
    assert_int_equal(px_cmsg_err(&m, "1.2.3.4:5", &err), PX_RESOURCE_EXHAUSTED);
    assert_string_equal(err.msg, "1.2.3.4:5 refused the connection: why");

    assert_int_equal(classify((px_frame){.type = PX_FRAME_PONG, .id = 3}, &m), PX_CMSG_PONG);
    assert_int_equal(m.id, 3);
    const uint8_t never[] = {PX_FRAME_REQUEST, PX_FRAME_PING, PX_FRAME_CANCEL};
    for (size_t i = 0; i < sizeof never; i++) {
        assert_int_equal(classify((px_frame){.type = never[i], .id = 1}, &m), PX_CMSG_UNEXPECTED);
        assert_int_equal(px_cmsg_err(&m, "1.2.3.4:5", &err), PX_INTERNAL);
        char want[100];
        snprintf(want, sizeof want, "protocol error: unexpected %s frame from 1.2.3.4:5",
                 px_frame_type_name(never[i]));
        assert_string_equal(err.msg, want);
    }
}

static void test_hello_answer(void **state)
{
    px_cmsg m;
    px_err err;
    px_frame f = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)"protobuf", .body_len = 8};
    assert_int_equal(px_nc_classify(&f, &m), PX_CMSG_READY);
    assert_int_equal(px_cmsg_ready_check(&m, "protobuf", "h:1", &err), PX_OK);
    assert_int_equal(px_cmsg_ready_check(&m, "proto", "h:1", &err), PX_INTERNAL);
    assert_string_equal(err.msg, "protocol error: h:1 answered HELLO with codec 'protobuf', not 'proto'");
    f.body_len = 0;
    px_nc_classify(&f, &m);
    assert_int_equal(px_cmsg_ready_check(&m, "protobuf", "h:1", &err), PX_INTERNAL);
    /* The server's limit rides in the HELLO answer's deadline_ms; a server that does not
     * announce it (any before ABI 1.5) writes 0 there. */
    assert_int_equal(m.max_inflight, 0);
    f.deadline_ms = 16;
    assert_int_equal(px_nc_classify(&f, &m), PX_CMSG_READY);
    assert_int_equal(m.max_inflight, 16);
    /* In any other frame the field means nothing to max_inflight. */
    px_frame q = {.type = PX_FRAME_RESPONSE, .id = 1, .deadline_ms = 9};
    assert_int_equal(px_nc_classify(&q, &m), PX_CMSG_REPLY);
    assert_int_equal(m.max_inflight, 0);
    /* The appended field sits in what was tail padding: the struct kept its size, so a
     * module built before it writes no less than the core's whole struct. */
    typedef struct old_cmsg { /* px_cmsg of ABI 1.4 */
        px_cmsg_kind kind;
        uint8_t type;
        uint64_t id;
        px_status status;
        int not_executed;
        const uint8_t *body;
        uint32_t body_len;
        const uint8_t *meta;
        uint32_t meta_len;
    } old_cmsg;
    assert_int_equal(sizeof(px_cmsg), sizeof(old_cmsg));
}

static void test_cancel_ping_and_peek(void **state)
{
    px_buf b = {0};
    assert_int_equal(px_nc_cancel(&b, 42), 0);
    assert_int_equal(px_nc_ping(&b, 43), 0);
    assert_int_equal(b.len, 2 * PX_FRAME_HEADER_SIZE);
    assert_int_equal(px_frame_peek_type(b.data, b.len), PX_FRAME_CANCEL);
    assert_int_equal(px_frame_peek_type(b.data + 32, 4), PX_FRAME_PING);
    assert_int_equal(px_frame_peek_type(b.data, 3), 0);
    assert_int_equal(px_frame_peek_type((const uint8_t *)"XXXX", 4), 0);
    px_frame f;
    size_t used;
    px_err err;
    assert_int_equal(px_frame_parse(b.data, b.len, 0, 0, &f, &used, &err), PX_PARSE_OK);
    assert_int_equal(f.id, 42);
    px_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example_bytes),
        cmocka_unit_test(test_metadata_carried_both_ways),
        cmocka_unit_test(test_deadline_ms),
        cmocka_unit_test(test_error_status_decoding),
        cmocka_unit_test(test_connection_frames),
        cmocka_unit_test(test_hello_answer),
        cmocka_unit_test(test_cancel_ping_and_peek),
    };
    return cmocka_run_group_tests_name("native_client", tests, NULL, NULL);
}
