/* The bad input table against real plexusd processes: each hostile or broken input gets
 * its exact error (status and message, or the server's log line), the connection ends
 * as documented, and other clients keep being served. Rows covered elsewhere: bad magic,
 * REQUEST before HELLO, id 0, response frames from a client, unknown codec, unknown
 * service/method, undecodable body (test_calls.c); limits, timeouts, id reuse
 * (test_limits.c). docs/SECURITY.md has the whole table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "px_proc.h"
#include "px_raw.h"
#include "px_time.h"

static px_proc srv;

static int setup(void **state)
{
    /* Debug logging: the server writes why each connection closed, which the rows
     * where the peer is gone (nobody to send an ERROR to) check. */
    setenv("PLEXUS_LOG", "debug", 1);
    int rc = px_proc_start(&srv, "bad",
                           "  codecs: [protobuf]\n"
                           "  limits: { max_meta: 1KiB }\n"
                           "  services:\n    - module: calc\n      workers: 2\n");
    unsetenv("PLEXUS_LOG");
    return rc;
}

static int teardown(void **state) { return px_proc_stop(&srv) == 0 ? 0 : -1; }

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static px_buf pack(const ProtobufCMessage *m)
{
    px_buf b = {0};
    px_buf_reserve(&b, protobuf_c_message_get_packed_size(m) + 1);
    b.len = protobuf_c_message_pack(m, b.data);
    return b;
}

static px_frame request(uint64_t id, const char *method, const px_buf *body)
{
    return (px_frame){.type = PX_FRAME_REQUEST, .id = id, .method = (const uint8_t *)method,
                      .method_len = (uint16_t)strlen(method), .body = body->data,
                      .body_len = (uint32_t)body->len};
}

/* A connection whose HELLO the server has accepted. */
static px_raw_reader open_hello(int port)
{
    px_raw_reader r = {.fd = px_raw_connect(port)};
    assert_true(r.fd >= 0);
    assert_int_equal(px_raw_hello(r.fd, "protobuf"), 0);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_HELLO);
    return r;
}

/* "127.0.0.1:PORT" of our end of fd: how the server names this peer in its log. */
static void peer_name(int fd, char *out, size_t cap)
{
    struct sockaddr_in sa;
    socklen_t l = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &l);
    snprintf(out, cap, "127.0.0.1:%u", ntohs(sa.sin_port));
}

/* Whether plexusd's log gets a line containing `text` within 5 s. */
static int log_has(const px_proc *p, const char *text)
{
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(p->log, "r");
        if (f) {
            char line[1024];
            int found = 0;
            while (!found && fgets(line, sizeof line, f))
                found = strstr(line, text) != NULL;
            fclose(f);
            if (found)
                return 1;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "no line with \"%s\" in %s\n", text, p->log);
    return 0;
}

/* The server closed our connection with reason `why` (its debug log line). */
static void assert_logged_close(int fd, const char *why)
{
    char peer[64], line[256];
    peer_name(fd, peer, sizeof peer);
    snprintf(line, sizeof line, "connection from %s closed: %s", peer, why);
    assert_true(log_has(&srv, line));
}

/* The peer went away: the server logs "<peer> closed the connection". */
static void assert_logged_peer_gone(int fd)
{
    char peer[64], why[128];
    peer_name(fd, peer, sizeof peer);
    snprintf(why, sizeof why, "%s closed the connection", peer);
    assert_logged_close(fd, why);
}

/* Whether plexusd still runs (a zombie does not count), without reaping it. */
static int proc_alive(const px_proc *p)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return p->pid > 0 && waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == 0;
}

/* A new client completes an Add: the server still serves everyone else. When it
 * cannot, say whether plexusd died (and show its log) or just refused. */
static void assert_still_serving(px_proc *p)
{
    px_raw_reader r = {.fd = px_raw_connect(p->port)};
    px_frame f;
    if (r.fd < 0 || px_raw_hello(r.fd, "protobuf") != 0 || px_raw_next(&r, &f) != 0 ||
        f.type != PX_FRAME_HELLO) {
        for (int i = 0; i < 300 && proc_alive(p); i++)
            sleep_ms(10); /* a sanitizer report takes a moment to write */
        if (!proc_alive(p)) {
            px_proc_stop(p); /* reaps it and shows its log */
            fail_msg("plexusd %s is no longer running", p->id);
        }
        fail_msg("plexusd %s does not answer a new client's HELLO", p->id);
    }
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    add.a = 20;
    add.b = 22;
    px_buf body = pack(&add.base);
    px_frame q = request(77, "calc.Calculator/Add", &body);
    assert_int_equal(px_raw_send(r.fd, &q, 1), 0);
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    assert_int_equal(f.id, 77);
    Calc__AddReply *rep = calc__add_reply__unpack(NULL, f.body_len, f.body);
    assert_non_null(rep);
    assert_int_equal(rep->sum, 42);
    calc__add_reply__free_unpacked(rep, NULL);
    close(r.fd);
    px_buf_free(&body);
}

/* Reads the connection-level ERROR the server answers a broken stream with, then EOF. */
static void expect_protocol_error(px_raw_reader *r, px_status st, const char *msg)
{
    px_frame f;
    assert_int_equal(px_raw_next(r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.id, 0);
    assert_int_equal(f.status, st);
    assert_string_equal(r->text, msg);
    assert_true(px_raw_closed(r));
}

/* Whether nothing arrives on fd within ms. */
static int silent_for(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 0;
}

/* ---- rows ------------------------------------------------------------------- */

static void test_wrong_version(void **state)
{
    px_raw_reader r = {.fd = px_raw_connect(srv.port)};
    px_buf b = {0};
    px_frame h = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)"protobuf", .body_len = 8};
    px_frame_append(&b, &h);
    b.data[2] = 2; /* a version this server does not speak */
    assert_int_equal(write(r.fd, b.data, b.len), (ssize_t)b.len);
    const char *msg = "protocol error: unsupported protocol version 2 (this side speaks 1)";
    expect_protocol_error(&r, PX_INVALID_ARGUMENT, msg);
    assert_logged_close(r.fd, msg);
    close(r.fd);
    px_buf_free(&b);
    assert_still_serving(&srv);
}

static void test_unknown_frame_type(void **state)
{
    px_raw_reader r = open_hello(srv.port);
    px_buf b = {0};
    px_frame p = {.type = PX_FRAME_PING, .id = 1};
    px_frame_append(&b, &p);
    b.data[3] = 42;
    assert_int_equal(write(r.fd, b.data, b.len), (ssize_t)b.len);
    expect_protocol_error(&r, PX_INVALID_ARGUMENT, "protocol error: unknown frame type 42");
    assert_logged_close(r.fd, "protocol error: unknown frame type 42");
    close(r.fd);
    px_buf_free(&b);
    assert_still_serving(&srv);
}

static void test_second_hello_and_server_frames_from_a_client(void **state)
{
    /* test_calls covers a RESPONSE from a client; the other server-only frames and a
     * second HELLO end the connection the same way. */
    static const struct {
        px_frame f;
        const char *msg;
    } rows[] = {
        {{.type = PX_FRAME_HELLO, .body = (const uint8_t *)"protobuf", .body_len = 8},
         "protocol error: a second HELLO"},
        {{.type = PX_FRAME_ERROR, .status = PX_INTERNAL, .id = 3},
         "protocol error: unexpected ERROR frame from a client"},
        {{.type = PX_FRAME_GOAWAY}, "protocol error: unexpected GOAWAY frame from a client"},
        {{.type = PX_FRAME_PONG, .id = 4}, "protocol error: unexpected PONG frame from a client"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        px_raw_reader r = open_hello(srv.port);
        assert_int_equal(px_raw_send(r.fd, &rows[i].f, 1), 0);
        expect_protocol_error(&r, PX_INVALID_ARGUMENT, rows[i].msg);
        close(r.fd);
    }
    assert_still_serving(&srv);
}

static void test_truncated_header_then_close(void **state)
{
    px_raw_reader r = open_hello(srv.port);
    px_buf b = {0};
    px_frame p = {.type = PX_FRAME_PING, .id = 1};
    px_frame_append(&b, &p);
    assert_int_equal(write(r.fd, b.data, 20), 20); /* 20 of the 32 header bytes */
    assert_true(silent_for(r.fd, 200));            /* nothing to answer yet */
    shutdown(r.fd, SHUT_WR);
    assert_true(px_raw_closed(&r)); /* no frame, just the close */
    assert_logged_peer_gone(r.fd);
    close(r.fd);
    px_buf_free(&b);
    assert_still_serving(&srv);
}

static void test_body_length_past_max_frame(void **state)
{
    /* Only the header is sent: the refusal must not wait for (or buffer) the body. */
    px_raw_reader r = open_hello(srv.port);
    px_buf b = {0};
    px_frame q = {.type = PX_FRAME_REQUEST, .id = 1, .method = (const uint8_t *)"calc.Calculator/Add",
                  .method_len = 19};
    px_frame_append(&b, &q);
    uint32_t big = htonl(4u * 1024 * 1024 + 1); /* max_frame 4MiB + 1 */
    memcpy(b.data + 28, &big, 4);
    assert_int_equal(write(r.fd, b.data, b.len), (ssize_t)b.len);
    const char *msg = "protocol error: frame body of 4194305 bytes exceeds max_frame 4194304";
    expect_protocol_error(&r, PX_RESOURCE_EXHAUSTED, msg);
    assert_logged_close(r.fd, msg);
    close(r.fd);

    /* The same for metadata past max_meta (1KiB here). */
    r = open_hello(srv.port);
    uint32_t meta = htonl(1025);
    memcpy(b.data + 24, &meta, 4);
    memset(b.data + 28, 0, 4);
    assert_int_equal(write(r.fd, b.data, b.len), (ssize_t)b.len);
    expect_protocol_error(&r, PX_RESOURCE_EXHAUSTED,
                          "protocol error: metadata of 1025 bytes exceeds max_meta 1024");
    close(r.fd);
    px_buf_free(&b);
    assert_still_serving(&srv);
}

static void test_body_length_past_the_data_then_close(void **state)
{
    px_raw_reader r = open_hello(srv.port);
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    add.tag = "0123456789012345678901234567890123456789";
    px_buf body = pack(&add.base), b = {0};
    px_frame q = request(5, "calc.Calculator/Add", &body);
    px_frame_append(&b, &q);
    uint32_t claimed = htonl(1000); /* the header promises 1000 body bytes */
    memcpy(b.data + 28, &claimed, 4);
    assert_int_equal(write(r.fd, b.data, b.len), (ssize_t)b.len);
    assert_true(silent_for(r.fd, 300)); /* the server waits for the rest */
    shutdown(r.fd, SHUT_WR);
    assert_true(px_raw_closed(&r));
    assert_logged_peer_gone(r.fd);
    close(r.fd);
    px_buf_free(&b);
    px_buf_free(&body);
    assert_still_serving(&srv);
}

static void test_cancel_for_unknown_id(void **state)
{
    px_raw_reader r = open_hello(srv.port);
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    add.a = 1;
    add.b = 2;
    px_buf body = pack(&add.base);
    px_frame fr[3] = {
        {.type = PX_FRAME_CANCEL, .id = 12345}, /* no such call: ignored */
        {.type = PX_FRAME_PING, .id = 6},
        request(7, "calc.Calculator/Add", &body),
    };
    assert_int_equal(px_raw_send(r.fd, fr, 3), 0);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0); /* no ERROR: the PONG comes first */
    assert_int_equal(f.type, PX_FRAME_PONG);
    assert_int_equal(f.id, 6);
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    assert_int_equal(f.id, 7);
    assert_true(silent_for(r.fd, 200)); /* and the connection stays open */
    close(r.fd);
    px_buf_free(&body);
}

static void test_close_mid_frame_with_calls_in_flight(void **state)
{
    /* Two calls run on workers when the client vanishes half-way through a third
     * frame: the server lets them finish (an EOF may be a half-close), its replies then
     * meet the closed socket, and the connection goes; nothing else changes. */
    px_raw_reader r = open_hello(srv.port);
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 300;
    px_buf body = pack(&s.base), b = {0};
    px_frame q[3] = {request(1, "calc.Calculator/Sleep", &body),
                     request(2, "calc.Calculator/Sleep", &body),
                     request(3, "calc.Calculator/Sleep", &body)};
    for (int i = 0; i < 3; i++)
        px_frame_append(&b, &q[i]);
    size_t cut = b.len - 3; /* the third frame lacks its last bytes */
    assert_int_equal(write(r.fd, b.data, cut), (ssize_t)cut);
    sleep_ms(50);
    char peer[64], why[256];
    peer_name(r.fd, peer, sizeof peer);
    close(r.fd);
    sleep_ms(400); /* the two handlers finish after the close */
    snprintf(why, sizeof why, "connection from %s closed: ", peer);
    assert_true(log_has(&srv, why));
    px_buf_free(&b);
    px_buf_free(&body);
    assert_still_serving(&srv);
}

/* The RESPONSEs to requests 1 and 2, in either order (workers finish in any order). */
static void expect_answers_1_and_2(px_raw_reader *r)
{
    int seen = 0;
    px_frame f;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(px_raw_next(r, &f), 0);
        assert_int_equal(f.type, PX_FRAME_RESPONSE);
        seen |= 1 << f.id;
    }
    assert_int_equal(seen, 6);
}

/* A client that half-closes (shutdown(SHUT_WR)) right after its requests still gets
 * every answer, also from handlers on workers: EOF means the peer sends no more, not
 * that it reads no more. Then the server closes. */
static void test_half_close_with_calls_on_workers(void **state)
{
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    add.a = 2;
    add.b = 3;
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 50;
    px_buf ab = pack(&add.base), sb = pack(&s.base);
    for (int tries = 0; tries < 5; tries++) {
        px_raw_reader r = open_hello(srv.port);
        px_frame q[2] = {request(1, "calc.Calculator/Add", &ab),
                         request(2, "calc.Calculator/Sleep", &sb)};
        assert_int_equal(px_raw_send(r.fd, q, 2), 0);
        shutdown(r.fd, SHUT_WR);
        expect_answers_1_and_2(&r);
        assert_true(px_raw_closed(&r));
        close(r.fd);
    }
    px_buf_free(&ab);
    px_buf_free(&sb);
}

/* docs/PROTOCOL.md §9: the frames before a bad one are processed normally. Calls on
 * workers are answered first, then the ERROR id 0 says why, then the server closes. */
static void test_protocol_error_after_calls_on_workers(void **state)
{
    px_raw_reader r = open_hello(srv.port);
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 100;
    px_buf sb = pack(&s.base);
    px_frame q[2] = {request(1, "calc.Calculator/Sleep", &sb),
                     request(2, "calc.Calculator/Sleep", &sb)};
    assert_int_equal(px_raw_send(r.fd, q, 2), 0);
    const char *garbage = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    assert_int_equal(write(r.fd, garbage, strlen(garbage)), (ssize_t)strlen(garbage));
    expect_answers_1_and_2(&r);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.id, 0);
    assert_int_equal(f.status, PX_INVALID_ARGUMENT);
    assert_string_equal(r.text, "protocol error: bad frame magic 0x4745 (expected 0x5058)");
    assert_true(px_raw_closed(&r));
    close(r.fd);
    px_buf_free(&sb);
}

/* A call waiting for a worker is answered DEADLINE_EXCEEDED when its deadline passes,
 * not when a worker frees up: here before the calls that hold both workers end. */
static void test_queued_call_answered_at_its_deadline(void **state)
{
    px_raw_reader r = open_hello(srv.port);
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 1500;
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    px_buf sb = pack(&s.base), ab = pack(&add.base);
    px_frame q[3] = {request(1, "calc.Calculator/Sleep", &sb),
                     request(2, "calc.Calculator/Sleep", &sb),
                     request(3, "calc.Calculator/Add", &ab)};
    q[2].deadline_ms = 200;
    assert_int_equal(px_raw_send(r.fd, q, 3), 0);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0); /* first, while both workers still sleep */
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.id, 3);
    assert_int_equal(f.status, PX_DEADLINE_EXCEEDED);
    assert_string_equal(r.text,
                        "calc.Calculator/Add: the deadline expired while the call waited for a "
                        "worker");
    for (int k = 0; k < 2; k++) {
        assert_int_equal(px_raw_next(&r, &f), 0);
        assert_int_equal(f.type, PX_FRAME_RESPONSE);
    }
    close(r.fd);
    px_buf_free(&sb);
    px_buf_free(&ab);
}

static void test_full_read_chunk_then_close(void **state)
{
    /* Exactly one read's worth (64 KiB, the server's read chunk) of valid frames, then
     * EOF: the server reads the EOF in the same wake-up in which it queued the replies,
     * so the connection closes with output pending. It must not touch the connection
     * after freeing it (an ASan build reports that and dies), and it keeps serving. */
    px_proc c; /* its own server: if it dies, no other row is affected */
    assert_int_equal(px_proc_start(&c, "chunk", "  services:\n    - module: calc\n"), 0);
    /* calc runs on the IO thread here (no workers): a Sleep holds the thread while
     * the 64 KiB and the FIN arrive, so one wake-up finds both. */
    px_raw_reader busy = open_hello(c.port);
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 200;
    px_buf sleep_body = pack(&s.base);
    px_frame sq = request(1, "calc.Calculator/Sleep", &sleep_body);
    px_raw_reader r = {.fd = px_raw_connect(c.port)};
    assert_int_equal(px_raw_send(busy.fd, &sq, 1), 0);
    sleep_ms(50);
    px_buf b = {0};
    px_frame h = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)"protobuf", .body_len = 8};
    px_frame_append(&b, &h);
    for (uint64_t id = 1; b.len + 2 * PX_FRAME_HEADER_SIZE <= 65536; id++) {
        px_frame p = {.type = PX_FRAME_PING, .id = id};
        px_frame_append(&b, &p);
    }
    static uint8_t pad[PX_FRAME_HEADER_SIZE * 2];
    px_frame last = {.type = PX_FRAME_PING, .id = 999999, .body = pad,
                     .body_len = (uint32_t)(65536 - b.len - PX_FRAME_HEADER_SIZE)};
    px_frame_append(&b, &last);
    assert_int_equal(b.len, 65536);
    int sz = 1 << 20;
    setsockopt(r.fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    assert_int_equal(write(r.fd, b.data, b.len), 65536);
    shutdown(r.fd, SHUT_WR); /* the FIN follows the data at once */
    px_frame f;
    assert_int_equal(px_raw_next(&busy, &f), 0); /* the Sleep ends; then the read */
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    px_raw_closed(&r);
    close(r.fd);
    close(busy.fd);
    px_buf_free(&b);
    px_buf_free(&sleep_body);
    sleep_ms(50);
    assert_still_serving(&c);
    assert_int_equal(px_proc_stop(&c), 0); /* and exits cleanly (no sanitizer report) */
}

static size_t put_varint(uint8_t *p, size_t v)
{
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

static void test_nesting_past_the_decoder_limit(void **state)
{
    /* EchoMsg.inner with 200,000 levels of Inner.children, about 1 MiB of protobuf:
     * refused by the codec's depth limit before it can exhaust a thread's stack.
     * size[k] is the encoding of the k innermost levels; written outermost first. */
    enum { LEVELS = 200000 };
    size_t *size = calloc(LEVELS + 1, sizeof *size);
    uint8_t tmp[16];
    for (int k = 1; k <= LEVELS; k++)
        size[k] = 1 + put_varint(tmp, size[k - 1]) + size[k - 1];
    px_buf body = {0};
    px_buf_reserve(&body, size[LEVELS] + 16);
    body.data[body.len++] = 0x92; /* EchoMsg.inner (18), length-delimited */
    body.data[body.len++] = 0x01;
    body.len += put_varint(body.data + body.len, size[LEVELS]);
    for (int k = LEVELS; k >= 1; k--) {
        body.data[body.len++] = 0x1a; /* Inner.children (3), length-delimited */
        body.len += put_varint(body.data + body.len, size[k - 1]);
    }
    free(size);
    px_raw_reader r = open_hello(srv.port);
    px_frame q = request(9, "calc.Calculator/Echo", &body);
    assert_int_equal(px_raw_send(r.fd, &q, 1), 0);
    px_frame f;
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.id, 9);
    assert_int_equal(f.status, PX_INVALID_ARGUMENT);
    const char *prefix = "calc.Calculator/Echo: cannot decode calc.EchoMsg with codec protobuf: ";
    assert_memory_equal(r.text, prefix, strlen(prefix));
    assert_non_null(strstr(r.text, "deeper than 64"));
    assert_true(silent_for(r.fd, 100)); /* a call-level error: the connection stays */
    close(r.fd);
    px_buf_free(&body);
    assert_still_serving(&srv);
}

/* ---- 1,000 connections opened and dropped ------------------------------------- */

enum { BURST = 1000, BURST_MAX_CONNS = 64 };

/* Opens `n` connections that each send HELLO; returns how many were accepted (the
 * others got the GOAWAY of max_connections). All are left open in fds. */
static int hello_all(int port, int *fds, int n, px_frame_type *got)
{
    int accepted = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = px_raw_connect(port);
        assert_true(fds[i] >= 0);
        px_raw_hello(fds[i], "protobuf");
    }
    for (int i = 0; i < n; i++) {
        px_raw_reader r = {.fd = fds[i]};
        px_frame f;
        got[i] = px_raw_next(&r, &f) == 0 ? (px_frame_type)f.type : 0;
        accepted += got[i] == PX_FRAME_HELLO;
    }
    return accepted;
}

static void test_burst_of_connections_opened_and_dropped(void **state)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < BURST + 256 && rl.rlim_max >= BURST + 256) {
        rl.rlim_cur = BURST + 256;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    px_proc b;
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "  limits: { max_connections: %d }\n  services:\n    - module: calc\n",
             BURST_MAX_CONNS);
    assert_int_equal(px_proc_start(&b, "burst", yaml), 0);

    /* Open 1,000 at once, every way a client can leave: silently, after a HELLO, mid
     * header, and with a reset (SO_LINGER 0). Most are over max_connections. */
    static int fds[BURST];
    px_buf hello = {0};
    px_frame h = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)"protobuf", .body_len = 8};
    px_frame_append(&hello, &h);
    for (int i = 0; i < BURST; i++) {
        fds[i] = px_raw_connect(b.port);
        assert_true(fds[i] >= 0);
        ssize_t w = 0;
        if (i % 4 == 1)
            w = write(fds[i], hello.data, hello.len);
        else if (i % 4 == 2)
            w = write(fds[i], hello.data, 10);
        (void)w; /* a refused connection may already be closed */
    }
    for (int i = 0; i < BURST; i++) {
        if (i % 4 == 3) {
            struct linger lg = {1, 0};
            setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(fds[i]);
    }
    px_buf_free(&hello);

    /* The server's count returns to zero: max_connections new clients are all
     * accepted (bounded wait while it sees the closes), and one more is refused. */
    int held[BURST_MAX_CONNS + 1];
    px_frame_type got[BURST_MAX_CONNS + 1];
    int accepted = 0;
    for (int tries = 0; tries < 100; tries++) {
        accepted = hello_all(b.port, held, BURST_MAX_CONNS, got);
        if (accepted == BURST_MAX_CONNS)
            break;
        for (int i = 0; i < BURST_MAX_CONNS; i++)
            close(held[i]);
        sleep_ms(50);
    }
    assert_int_equal(accepted, BURST_MAX_CONNS);
    px_raw_reader extra = {.fd = px_raw_connect(b.port)};
    px_frame f;
    assert_int_equal(px_raw_next(&extra, &f), 0);
    assert_int_equal(f.type, PX_FRAME_GOAWAY);
    assert_int_equal(f.status, PX_RESOURCE_EXHAUSTED);
    char want[64];
    snprintf(want, sizeof want, "too many connections (max_connections %d)", BURST_MAX_CONNS);
    assert_string_equal(extra.text, want);
    close(extra.fd);
    /* One of the held connections still completes a call. */
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    add.a = 40;
    add.b = 2;
    px_buf body = pack(&add.base);
    px_frame q = request(1, "calc.Calculator/Add", &body);
    px_raw_reader r = {.fd = held[BURST_MAX_CONNS / 2]};
    assert_int_equal(px_raw_send(r.fd, &q, 1), 0);
    assert_int_equal(px_raw_next(&r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    for (int i = 0; i < BURST_MAX_CONNS; i++)
        close(held[i]);
    px_buf_free(&body);
    assert_int_equal(px_proc_stop(&b), 0);
}

/* ---- a module whose create() fails ------------------------------------------ */

static void test_module_create_fails(void **state)
{
    /* fxok is created (with a worker pool), then fxfail's create() refuses: plexusd
     * must say which module failed and why, destroy fxok again, and exit 1 without
     * ever listening. */
    char dir[] = "/tmp/pxtest-create-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char conf[128], trace[128];
    snprintf(conf, sizeof conf, "%s/server.yaml", dir);
    snprintf(trace, sizeof trace, "%s/trace", dir);
    int port = px_free_port();
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "modules:\n  path: [%s, %s]\nserver:\n  listen: 127.0.0.1:%d\n"
            "  codecs: [protobuf, json]\n  services:\n"
            "    - { module: fxok, workers: 2, trace: %s }\n"
            "    - { module: fxfail, trace: %s }\n",
            getenv("PX_MODULE_DIR"), getenv("PX_FIXTURE_DIR"), port, trace, trace);
    fclose(f);
    char bin[512];
    snprintf(bin, sizeof bin, "%s/bin/plexusd", getenv("PX_BINARY_DIR"));
    char *argv[] = {bin, "-c", conf, NULL};
    char out[256], err[4096];
    int rc = px_run(argv, out, sizeof out, err, sizeof err);
    if (rc != 1)
        fprintf(stderr, "plexusd stderr:\n%s", err);
    assert_int_equal(rc, 1);
    assert_string_equal(out, "");
    assert_string_equal(err, "plexusd: service 'fxfail': cannot reach its backing store "
                             "(fixture: create always fails)\n");
    /* Every instance made was destroyed again, in the process that made it. */
    char text[256] = "";
    f = fopen(trace, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    assert_string_equal(text, "fxok create\nfxfail create refused\nfxok destroy\n");
    assert_int_equal(px_raw_connect(port), -1); /* it never listened */
    unlink(trace);
    unlink(conf);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_version),
        cmocka_unit_test(test_unknown_frame_type),
        cmocka_unit_test(test_second_hello_and_server_frames_from_a_client),
        cmocka_unit_test(test_truncated_header_then_close),
        cmocka_unit_test(test_body_length_past_max_frame),
        cmocka_unit_test(test_body_length_past_the_data_then_close),
        cmocka_unit_test(test_cancel_for_unknown_id),
        cmocka_unit_test(test_close_mid_frame_with_calls_in_flight),
        cmocka_unit_test(test_half_close_with_calls_on_workers),
        cmocka_unit_test(test_protocol_error_after_calls_on_workers),
        cmocka_unit_test(test_queued_call_answered_at_its_deadline),
        cmocka_unit_test(test_full_read_chunk_then_close),
        cmocka_unit_test(test_nesting_past_the_decoder_limit),
        cmocka_unit_test(test_burst_of_connections_opened_and_dropped),
        cmocka_unit_test(test_module_create_fails),
    };
    return cmocka_run_group_tests_name("bad_input", tests, setup, teardown);
}
