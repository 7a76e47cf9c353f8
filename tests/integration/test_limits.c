/* Server limits against real plexusd processes: handshake, read (slowloris) and idle
 * timeouts, max_connections, max_inflight_per_conn — each refusal says why, and the
 * other clients keep being served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"
#include "px_raw.h"

static px_proc srv;

static int setup(void **state)
{
    return px_proc_start(&srv, "lim",
                         "  limits: { handshake_timeout: 150ms, read_timeout: 200ms,\n"
                         "            max_connections: 4, max_inflight_per_conn: 2 }\n"
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
    assert_string_equal(r.text, "handshake not completed within handshake_timeout (150ms)");
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

/* On a server of its own: the other tests hold connections that must not time out
 * however slowly the machine runs them. */
static void test_idle_timeout_goaway(void **state)
{
    px_proc idle;
    assert_int_equal(px_proc_start(&idle, "lim-idle", "  limits: { idle_timeout: 300ms }\n"
                                                      "  services:\n    - module: calc\n"),
                     0);
    px_raw_reader r = {.fd = px_raw_connect(idle.port)};
    assert_int_equal(px_raw_hello(r.fd, "protobuf"), 0);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_HELLO);
    assert_int_equal(px_raw_next(&r, &f), 0); /* nothing to do: GOAWAY after idle_timeout */
    assert_int_equal(f.type, PX_FRAME_GOAWAY);
    assert_string_equal(r.text, "idle timeout");
    assert_true(px_raw_closed(&r));
    close(r.fd);
    assert_int_equal(px_proc_stop(&idle), 0);
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

/* Takes the server's four places (max_connections 4); the previous test's closes may
 * still be under way, so each connect is retried, boundedly. */
static void hold_all_places(px_raw_reader held[4])
{
    for (int i = 0; i < 4; i++)
        for (int tries = 0; (held[i] = px_raw_open(srv.port, "protobuf")).fd < 0; tries++)
            assert_true(tries < 200);
}

/* A client of one upstream from the config written at path. */
static px_client *client_from(const char *path, px_config **cfg)
{
    px_client *cl;
    px_err err;
    assert_int_equal(px_config_load(path, cfg, &err), PX_OK);
    assert_int_equal(px_client_new(*cfg, "calc", &cl, &err), PX_OK);
    return cl;
}

typedef struct refused_wait {
    int done; /* atomic */
    px_status st;
    char msg[600];
} refused_wait;

static void refused_cb(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    refused_wait *w = user;
    w->st = st;
    snprintf(w->msg, sizeof w->msg, "%s", msg);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
}

/* A client refused at max_connections reports the server's reason (the GOAWAY it read
 * before the reset), not "Connection reset by peer": async, blocking and `plexus call`. */
static void test_clients_report_the_refusal(void **state)
{
    px_raw_reader held[4];
    hold_all_places(held);
    char conf[256], want[200];
    snprintf(conf, sizeof conf, "%s/refused-client.yaml", srv.dir);
    snprintf(want, sizeof want,
             "127.0.0.1:%d refused the connection: too many connections (max_connections 4)",
             srv.port);
    int ports[1] = {srv.port};
    assert_int_equal(px_write_client_conf(conf, ports, 1, ""), 0);
    px_config *cfg;
    px_client *cl = client_from(conf, &cfg);
    px_err err;
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;

    ProtobufCMessage *reply = NULL;
    px_status st = px_call(cl, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor,
                           NULL, &reply, &err);
    if (st != PX_RESOURCE_EXHAUSTED || strcmp(err.msg, want) != 0) {
        for (int i = 0; i < 4; i++)
            close(held[i].fd);
        fail_msg("px_call: %s: %s", px_status_name(st), err.msg);
    }

    refused_wait w = {0};
    assert_int_equal(px_call_async(cl, "calc.Calculator/Add", &req.base,
                                   &calc__add_reply__descriptor, NULL, refused_cb, &w, &err),
                     PX_OK);
    for (int i = 0; i < 500 && !__atomic_load_n(&w.done, __ATOMIC_ACQUIRE); i++)
        usleep(10000);
    assert_int_equal(w.st, PX_RESOURCE_EXHAUSTED);
    assert_string_equal(w.msg, want);

    char plexus[512], out[4096], errout[4096];
    snprintf(plexus, sizeof plexus, "%s/bin/plexus", getenv("PX_BINARY_DIR"));
    char *argv[] = {plexus, "call", "-c", conf, "calc.Calculator/Add", "{\"a\":1,\"b\":2}", NULL};
    int rc = px_run(argv, out, sizeof out, errout, sizeof errout);
    assert_int_not_equal(rc, 0);
    if (!strstr(errout, want))
        fail_msg("plexus call printed: %s", errout);

    px_client_free(cl);
    px_config_free(cfg);
    unlink(conf);
    for (int i = 0; i < 4; i++)
        close(held[i].fd);
}

/* A refusal is "not executed", so even failfast sends the call once more, elsewhere
 * (the core's transparent retry), through both clients: with one of two servers
 * refusing every new connection, no call fails. */
static void test_refused_calls_go_elsewhere_even_with_failfast(void **state)
{
    px_raw_reader held[4];
    hold_all_places(held);
    px_proc other;
    assert_int_equal(px_proc_start(&other, "lim-b", "  services:\n    - module: calc\n"), 0);
    char conf[256];
    snprintf(conf, sizeof conf, "%s/failfast-client.yaml", srv.dir);
    int ports[2] = {srv.port, other.port};
    assert_int_equal(px_write_client_conf(conf, ports, 2,
                                          "      balancer: round_robin\n"
                                          "      failover: failfast\n"
                                          "      health: { max_fails: 0 }\n"),
                     0);
    px_config *cfg;
    px_client *cl = client_from(conf, &cfg);
    px_err err;
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    for (int i = 0; i < 10; i++) {
            ProtobufCMessage *reply = NULL;
        px_status st = px_call(cl, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor,
                               NULL, &reply, &err);
        if (st != PX_OK) {
            for (int k = 0; k < 4; k++)
                close(held[k].fd);
            fail_msg("px_call %d: %s: %s", i, px_status_name(st), err.msg);
        }
        px_msg_free(reply);
        refused_wait w = {0};
        assert_int_equal(px_call_async(cl, "calc.Calculator/Add", &req.base,
                                       &calc__add_reply__descriptor, NULL, refused_cb, &w, &err),
                         PX_OK);
        for (int k = 0; k < 500 && !__atomic_load_n(&w.done, __ATOMIC_ACQUIRE); k++)
            usleep(10000);
        if (w.st != PX_OK)
            fail_msg("px_call_async %d: %s: %s", i, px_status_name(w.st), w.msg);
    }
    px_client_stats st;
    px_client_stats_get(cl, &st);
    assert_true(st.retries >= 2); /* each client met the refusing server and went on */
    px_client_free(cl);
    px_config_free(cfg);
    unlink(conf);
    for (int i = 0; i < 4; i++)
        close(held[i].fd);
    assert_int_equal(px_proc_stop(&other), 0);
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
            assert_int_equal(f.flags, PX_FRAME_F_NOT_EXECUTED); /* safe to send elsewhere */
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

/* A call the server answered early (its deadline passed while it waited for the one
 * worker) no longer counts against max_inflight_per_conn, though its record lives until
 * the worker hands it back: its client saw the answer and may use the place, as the
 * limit the server announced in its HELLO answer promised. */
static void test_early_answer_frees_its_place(void **state)
{
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
    assert_int_equal(f.deadline_ms, 2); /* the announced max_inflight */
    px_buf b1 = {0}, b2 = {0}, b3 = {0};
    px_frame q[2] = {sleep_req(1, 2000, &b1), sleep_req(2, 10, &b2)};
    q[1].deadline_ms = 50; /* waits behind the first for the worker, past its deadline */
    assert_int_equal(px_raw_send(r.fd, q, 2), 0);
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.id, 2);
    assert_int_equal(f.status, PX_DEADLINE_EXCEEDED);
    px_frame add = add_req(3, &b3);
    assert_int_equal(px_raw_send(r.fd, &add, 1), 0);
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(px_raw_next(&r, &f), 0);
        if (f.type != PX_FRAME_RESPONSE)
            fail_msg("call %llu: %s %s", (unsigned long long)f.id, px_frame_type_name(f.type),
                     r.text);
        seen |= 1 << f.id;
    }
    assert_int_equal(seen, (1 << 1) | (1 << 3));
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
        cmocka_unit_test(test_clients_report_the_refusal),
        cmocka_unit_test(test_refused_calls_go_elsewhere_even_with_failfast),
        cmocka_unit_test(test_max_inflight_per_conn),
        cmocka_unit_test(test_early_answer_frees_its_place),
        cmocka_unit_test(test_request_id_reuse_in_flight),
    };
    return cmocka_run_group_tests_name("limits", tests, setup, teardown);
}
