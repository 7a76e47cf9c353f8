/* Server limits against real plexusd processes: handshake, read (slowloris) and idle
 * timeouts, max_connections, max_inflight_per_conn — each refusal says why, and the
 * other clients keep being served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "px_proc.h"
#include "px_raw.h"

static px_proc srv;

static int setup(void **state)
{
    return px_proc_start(&srv, "lim",
                         "  limits: { handshake_timeout: 150ms, read_timeout: 200ms,\n"
                         "            idle_timeout: 300ms, max_connections: 4,\n"
                         "            max_inflight_per_conn: 2 }\n"
                         "  services:\n    - module: calc\n      workers: 1\n");
}

static int teardown(void **state) { return px_proc_stop(&srv) == 0 ? 0 : -1; }

/* A request for calc.Calculator/Add {a:20, b:22}, or Sleep {ms}. */
static px_frame add_req(uint64_t id, px_buf *body)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 20;
    req.b = 22;
    px_buf_reserve(body, protobuf_c_message_get_packed_size(&req.base));
    body->len = protobuf_c_message_pack(&req.base, body->data);
    return (px_frame){.type = PX_FRAME_REQUEST, .id = id,
                      .method = (const uint8_t *)"calc.Calculator/Add", .method_len = 19,
                      .body = body->data, .body_len = (uint32_t)body->len};
}

static px_frame sleep_req(uint64_t id, uint32_t ms, px_buf *body)
{
    Calc__SleepRequest req = CALC__SLEEP_REQUEST__INIT;
    req.ms = ms;
    px_buf_reserve(body, protobuf_c_message_get_packed_size(&req.base));
    body->len = protobuf_c_message_pack(&req.base, body->data);
    return (px_frame){.type = PX_FRAME_REQUEST, .id = id,
                      .method = (const uint8_t *)"calc.Calculator/Sleep", .method_len = 21,
                      .body = body->data, .body_len = (uint32_t)body->len};
}

/* A fresh connection that completes an Add: the server still serves others. */
static void assert_still_serving(void)
{
    px_raw_reader r = {.fd = px_raw_connect(srv.port)};
    assert_true(r.fd >= 0);
    px_buf body = {0};
    px_frame q = add_req(7, &body);
    assert_int_equal(px_raw_hello(r.fd, "protobuf"), 0);
    assert_int_equal(px_raw_send(r.fd, &q, 1), 0);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_HELLO);
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    assert_int_equal(f.id, 7);
    close(r.fd);
    px_buf_free(&body);
}

static void test_handshake_timeout(void **state)
{
    px_raw_reader r = {.fd = px_raw_connect(srv.port)};
    assert_true(r.fd >= 0);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0); /* silence: the server speaks first */
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.id, 0);
    assert_int_equal(f.status, PX_DEADLINE_EXCEEDED);
    assert_string_equal(r.text, "no HELLO within handshake_timeout (150ms)");
    assert_true(px_raw_closed(&r));
    close(r.fd);
    assert_still_serving();
}

static void test_slowloris_read_timeout(void **state)
{
    px_raw_reader r = {.fd = px_raw_connect(srv.port)};
    assert_int_equal(px_raw_hello(r.fd, "protobuf"), 0);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_HELLO);
    /* Trickle a request one byte every 20 ms: it can never complete in time. */
    px_buf body = {0}, wire = {0};
    px_frame q = add_req(1, &body);
    px_frame_append(&wire, &q);
    int cut_off = 0;
    for (size_t i = 0; i < wire.len; i++) {
        if (write(r.fd, wire.data + i, 1) != 1) {
            cut_off = 1; /* the server hung up mid-frame */
            break;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    (void)cut_off;
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.status, PX_DEADLINE_EXCEEDED);
    assert_string_equal(r.text, "frame not completed within read_timeout (200ms)");
    assert_true(px_raw_closed(&r));
    close(r.fd);
    px_buf_free(&body);
    px_buf_free(&wire);
    assert_still_serving();
}

static void test_idle_timeout_goaway(void **state)
{
    px_raw_reader r = {.fd = px_raw_connect(srv.port)};
    assert_int_equal(px_raw_hello(r.fd, "protobuf"), 0);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_HELLO);
    assert_int_equal(px_raw_next(&r, &f), 0); /* nothing to do: GOAWAY after idle_timeout */
    assert_int_equal(f.type, PX_FRAME_GOAWAY);
    assert_string_equal(r.text, "idle timeout");
    assert_true(px_raw_closed(&r));
    close(r.fd);
}

static void test_max_connections(void **state)
{
    px_raw_reader held[4];
    px_frame f;
    for (int i = 0; i < 4; i++) {
        held[i] = (px_raw_reader){.fd = px_raw_connect(srv.port)};
        assert_int_equal(px_raw_hello(held[i].fd, "protobuf"), 0);
        assert_int_equal(px_raw_next(&held[i], &f), 0);
        assert_int_equal(f.type, PX_FRAME_HELLO);
    }
    px_raw_reader extra = {.fd = px_raw_connect(srv.port)};
    assert_int_equal(px_raw_next(&extra, &f), 0);
    assert_int_equal(f.type, PX_FRAME_GOAWAY);
    assert_int_equal(f.status, PX_RESOURCE_EXHAUSTED);
    assert_string_equal(extra.text, "too many connections (max_connections 4)");
    assert_true(px_raw_closed(&extra));
    close(extra.fd);
    /* The four held connections are unaffected. */
    px_buf body = {0};
    px_frame q = add_req(3, &body);
    assert_int_equal(px_raw_send(held[2].fd, &q, 1), 0);
    assert_int_equal(px_raw_next(&held[2], &f), 0);
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    assert_int_equal(f.id, 3);
    px_buf_free(&body);
    for (int i = 0; i < 4; i++)
        close(held[i].fd);
}

static void test_max_inflight_per_conn(void **state)
{
    /* max_connections was just exercised: wait (bounded) for the server to see the
     * closes, by retrying the connect until a HELLO is answered. */
    px_raw_reader r;
    px_frame f;
    for (int tries = 0;; tries++) {
        r = (px_raw_reader){.fd = px_raw_connect(srv.port)};
        px_raw_hello(r.fd, "protobuf");
        if (px_raw_next(&r, &f) == 0 && f.type == PX_FRAME_HELLO)
            break;
        close(r.fd);
        assert_true(tries < 200);
    }
    px_buf b1 = {0}, b2 = {0}, b3 = {0};
    px_frame q[3] = {sleep_req(1, 200, &b1), sleep_req(2, 200, &b2), add_req(3, &b3)};
    assert_int_equal(px_raw_send(r.fd, q, 3), 0);
    /* The third is refused at once; the first two finish; the connection stays up. */
    int seen[4] = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(px_raw_next(&r, &f), 0);
        assert_true(f.id >= 1 && f.id <= 3);
        seen[f.id]++;
        if (f.id == 3) {
            assert_int_equal(f.type, PX_FRAME_ERROR);
            assert_int_equal(f.status, PX_RESOURCE_EXHAUSTED);
            assert_string_equal(r.text, "too many calls in flight on this connection "
                                        "(max_inflight_per_conn 2)");
        } else {
            assert_int_equal(f.type, PX_FRAME_RESPONSE);
        }
    }
    assert_int_equal(seen[1] + seen[2] + seen[3], 3);
    px_frame again = add_req(4, &b3);
    assert_int_equal(px_raw_send(r.fd, &again, 1), 0);
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    assert_int_equal(f.id, 4);
    close(r.fd);
    px_buf_free(&b1);
    px_buf_free(&b2);
    px_buf_free(&b3);
}

static void test_request_id_reuse_in_flight(void **state)
{
    px_raw_reader r;
    px_frame f;
    for (int tries = 0;; tries++) { /* earlier tests' connections may still be closing */
        r = (px_raw_reader){.fd = px_raw_connect(srv.port)};
        px_raw_hello(r.fd, "protobuf");
        if (px_raw_next(&r, &f) == 0 && f.type == PX_FRAME_HELLO)
            break;
        close(r.fd);
        assert_true(tries < 200);
    }
    /* A reused id is a protocol error (its answer could not be told from the running
     * call's): the call already running is answered, then the connection ends with an
     * ERROR id 0, and nothing sent after the duplicate is processed. */
    px_buf b1 = {0}, b2 = {0}, b3 = {0};
    px_frame q[3] = {sleep_req(9, 100, &b1), add_req(9, &b2), add_req(10, &b3)};
    assert_int_equal(px_raw_send(r.fd, q, 3), 0);
    assert_int_equal(px_raw_next(&r, &f), 0); /* the first call is unaffected */
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    assert_int_equal(f.id, 9);
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.id, 0);
    assert_int_equal(f.status, PX_INVALID_ARGUMENT);
    assert_string_equal(r.text,
                        "protocol error: request id 9 is already in flight on this connection");
    assert_true(px_raw_closed(&r)); /* and request 10 was never answered */
    close(r.fd);
    px_buf_free(&b1);
    px_buf_free(&b2);
    px_buf_free(&b3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_slowloris_read_timeout),
        cmocka_unit_test(test_idle_timeout_goaway),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_max_inflight_per_conn),
        cmocka_unit_test(test_request_id_reuse_in_flight),
    };
    return cmocka_run_group_tests_name("limits", tests, setup, teardown);
}
