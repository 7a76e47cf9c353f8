/* The PROTOCOL kind: the native protocol as a module (its detect and its client half
 * through px_protocol_ops, byte for byte what px_native_client builds), and the kind's
 * row in the registry (which ops each half cannot go without, and which scope a
 * one-sided protocol is refused in). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "px_frame.h"
#include "px_kinds.h"
#include "px_native.h"
#include "px_native_client.h"

static void test_native_detect(void **state)
{
    (void)state;
    const px_protocol_ops *p = px_proto_native_module.ops;
    assert_ptr_equal(p, &px_native_ops);
    assert_int_equal(px_proto_native_module.kind, PX_MOD_PROTOCOL);
    assert_string_equal(px_proto_native_module.name, "native");
    assert_int_equal(p->detect((const uint8_t *)"P", 1), PX_DETECT_MORE);
    assert_int_equal(p->detect((const uint8_t *)"PX", 2), PX_DETECT_MORE);
    assert_int_equal(p->detect((const uint8_t *)"PX\x01", 3), PX_DETECT_YES);
    assert_int_equal(p->detect((const uint8_t *)"PX\x01\x02rest", 7), PX_DETECT_YES);
    assert_int_equal(p->detect((const uint8_t *)"PX\x02", 3), PX_DETECT_NO); /* version 2 */
    assert_int_equal(p->detect((const uint8_t *)"GET / HTTP/1.1\r\n", 16), PX_DETECT_NO);
    /* The HTTP/2 client preface is not native either. */
    assert_int_equal(p->detect((const uint8_t *)"PRI * HTTP/2.0\r\n", 16), PX_DETECT_NO);
    assert_int_equal(p->detect((const uint8_t *)"\x16\x03\x01", 3), PX_DETECT_NO); /* TLS */
}

/* The client half writes exactly what the native client functions write. */
static void test_native_client_half(void **state)
{
    (void)state;
    const px_protocol_ops *p = &px_native_ops;
    px_buf a = {0}, b = {0};
    void *cs = NULL;
    int anchor;
    assert_int_equal(p->client_open(&anchor, "protobuf", &a, &cs), 0);
    assert_ptr_equal(cs, &anchor); /* no state of its own */
    assert_int_equal(px_nc_hello(&b, "protobuf"), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);

    a.len = b.len = 0;
    px_creq r = {.id = 7, .timeout_us = 1500, .method = "calc.Calculator/Add", .method_len = 19,
                 .meta = (const uint8_t *)"\x00\x01", .meta_len = 0};
    assert_int_equal(p->client_request(cs, &a, &r, (const uint8_t *)"\x08\x02", 2), 0);
    px_nc_request q = {.id = 7, .deadline_ms = 2, .method = "calc.Calculator/Add",
                       .method_len = 19};
    assert_int_equal(px_nc_request_append(&b, &q, (const uint8_t *)"\x08\x02", 2), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);

    /* No deadline: deadline_ms 0. */
    a.len = 0;
    r.timeout_us = 0;
    assert_int_equal(p->client_request(cs, &a, &r, NULL, 0), 0);
    px_frame f;
    size_t used;
    px_err err;
    assert_int_equal(px_frame_parse(a.data, a.len, 1024, 1024, &f, &used, &err), PX_PARSE_OK);
    assert_int_equal(f.deadline_ms, 0);
    assert_int_equal(f.id, 7);

    a.len = b.len = 0;
    assert_int_equal(p->client_cancel(cs, &a, 9), 0);
    assert_int_equal(px_nc_cancel(&b, 9), 0);
    assert_memory_equal(a.data, b.data, a.len);
    a.len = 0;
    assert_int_equal(p->client_ping(cs, &a, 1), 0);
    assert_int_equal(px_frame_peek_type(a.data, a.len), PX_FRAME_PING);
    px_buf_free(&a);
    px_buf_free(&b);
}

/* What a server sends, read one message at a time: whole, partial, too big, garbage. */
static void test_native_client_next(void **state)
{
    (void)state;
    const px_protocol_ops *p = &px_native_ops;
    px_plimits lim = {.max_body = 64, .max_meta = 64};
    px_buf in = {0}, acks = {0};
    px_frame hello = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)"json", .body_len = 4};
    px_frame reply = {.type = PX_FRAME_RESPONSE, .id = 3, .body = (const uint8_t *)"ok",
                      .body_len = 2};
    assert_int_equal(px_frame_append(&in, &hello), 0);
    assert_int_equal(px_frame_append(&in, &reply), 0);
    px_cmsg m;
    size_t used = 0, off = 0;
    px_err err;
    assert_int_equal(p->client_next(NULL, in.data, in.len, &lim, &acks, &m, &used, &err),
                     PX_CNEXT_MSG);
    assert_int_equal(m.kind, PX_CMSG_READY);
    assert_int_equal(m.body_len, 4);
    off += used;
    /* The reply's first 10 bytes only: more is needed, nothing is consumed. */
    assert_int_equal(p->client_next(NULL, in.data + off, 10, &lim, &acks, &m, &used, &err),
                     PX_CNEXT_MORE);
    assert_int_equal(used, 0);
    assert_int_equal(p->client_next(NULL, in.data + off, in.len - off, &lim, &acks, &m, &used,
                                    &err), PX_CNEXT_MSG);
    assert_int_equal(m.kind, PX_CMSG_REPLY);
    assert_int_equal(m.id, 3);
    assert_memory_equal(m.body, "ok", 2);
    assert_int_equal(off + used, in.len);
    assert_int_equal(acks.len, 0); /* native owes the server nothing */
    assert_int_equal(p->client_msg_size(in.data + off, in.len - off), in.len - off);

    /* A body past the upstream's max_frame, and bytes that are no frame at all. */
    in.len = 0;
    uint8_t big[100] = {0};
    px_frame huge = {.type = PX_FRAME_RESPONSE, .id = 4, .body = big, .body_len = sizeof big};
    assert_int_equal(px_frame_append(&in, &huge), 0);
    assert_int_equal(p->client_next(NULL, in.data, in.len, &lim, &acks, &m, &used, &err),
                     PX_CNEXT_ERROR);
    assert_non_null(strstr(err.msg, "100"));
    const char junk[40] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    assert_int_equal(p->client_next(NULL, (const uint8_t *)junk, sizeof junk, &lim, &acks, &m,
                                    &used, &err), PX_CNEXT_ERROR);
    px_buf_free(&in);
}

/* The kind's row: prefix, keys, and the ops each half needs. */
static void test_protocol_kind_row(void **state)
{
    (void)state;
    const px_kind *k = px_kind_get(PX_MOD_PROTOCOL);
    assert_non_null(k);
    assert_string_equal(k->name, "protocol");
    assert_string_equal(k->prefix, "proto_");
    assert_int_equal(k->since_minor, 4);
    assert_string_equal(k->server.key, "protocols");
    assert_int_equal(k->server.list, 1);
    assert_string_equal(k->server.def, "native");
    assert_string_equal(k->upstream.key, "protocol");
    assert_int_equal(k->upstream.list, 0);
    assert_string_equal(k->upstream.def, "native");
    assert_null(k->missing_op(&px_native_ops));
    assert_null(k->refuses_scope(&px_native_ops, 1));
    assert_null(k->refuses_scope(&px_native_ops, 0));

    px_protocol_ops none = {0};
    assert_string_equal(k->missing_op(&none), "detect' (a server half) or 'client_request");
    px_protocol_ops server_only = px_native_ops;
    server_only.client_open = NULL;
    server_only.client_request = NULL;
    server_only.client_next = NULL;
    assert_null(k->missing_op(&server_only));
    assert_non_null(strstr(k->refuses_scope(&server_only, 0), "no client half"));
    assert_null(k->refuses_scope(&server_only, 1));
    px_protocol_ops half_server = px_native_ops;
    half_server.reply_end = NULL;
    assert_string_equal(k->missing_op(&half_server), "reply_end");
    px_protocol_ops client_only = px_native_ops;
    client_only.detect = NULL;
    assert_non_null(strstr(k->refuses_scope(&client_only, 1), "no server half"));
    client_only.client_next = NULL;
    assert_string_equal(k->missing_op(&client_only), "client_next");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_detect),
        cmocka_unit_test(test_native_client_half),
        cmocka_unit_test(test_native_client_next),
        cmocka_unit_test(test_protocol_kind_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
