/* Memory of a real plexusd: one server holds 5,000 idle connections within a bound
 * derived from the per-connection figure of docs/PERFORMANCE.md ("## Memory"), and
 * the per-idle-connection and per-in-flight-call figures themselves are measured and
 * printed (VmRSS of /proc/PID/status before and after). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "px_proc.h"
#include "px_raw.h"
#include "px_rss.h"

enum { IDLE = 5000 };

/*
 * The bound. docs/PERFORMANCE.md measured 1,078 bytes (~1.05 KiB) of server RSS per
 * idle connection: its px_sconn with the embedded px_conn (952 bytes), malloc's
 * header and rounding, and libev's slot for the descriptor; an idle connection holds
 * no input or output buffer. 5,000 x 1.1 KiB = 5,500 KiB; twice that, for allocator
 * and page-granularity slack on other machines and libcs: 11,000 KiB over the
 * server's RSS before the connections were opened.
 */
#define IDLE_BOUND_KIB (2 * IDLE * 11 / 10)

static px_frame add_req(uint64_t id, px_buf *body)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 20;
    req.b = 22;
    body->len = 0;
    px_buf_reserve(body, protobuf_c_message_get_packed_size(&req.base));
    body->len = protobuf_c_message_pack(&req.base, body->data);
    return (px_frame){.type = PX_FRAME_REQUEST, .id = id,
                      .method = (const uint8_t *)"calc.Calculator/Add", .method_len = 19,
                      .body = body->data, .body_len = (uint32_t)body->len};
}

/* One Add on r, answered with 42. */
static void assert_add(px_raw_reader *r, uint64_t id)
{
    px_buf body = {0};
    px_frame q = add_req(id, &body);
    assert_int_equal(px_raw_send(r->fd, &q, 1), 0);
    px_frame f;
    assert_int_equal(px_raw_next(r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    assert_int_equal(f.id, id);
    Calc__AddReply *rep = calc__add_reply__unpack(NULL, f.body_len, f.body);
    assert_non_null(rep);
    assert_int_equal(rep->sum, 42);
    calc__add_reply__free_unpacked(rep, NULL);
    px_buf_free(&body);
}

static px_raw_reader *open_hello(int port, int n)
{
    px_raw_reader *rs = calloc((size_t)n, sizeof *rs);
    assert_non_null(rs);
    for (int i = 0; i < n; i++) {
        rs[i].fd = px_raw_connect(port);
        assert_true(rs[i].fd >= 0);
        assert_int_equal(px_raw_hello(rs[i].fd, "protobuf"), 0);
    }
    for (int i = 0; i < n; i++) { /* all answered: the server holds every one */
        px_frame f;
        assert_int_equal(px_raw_next(&rs[i], &f), 0);
        assert_int_equal(f.type, PX_FRAME_HELLO);
    }
    return rs;
}

static void test_five_thousand_idle_connections(void **state)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < IDLE + 256) {
        fprintf(stderr, "RLIMIT_NOFILE hard limit %llu < %d: cannot open %d connections\n",
                (unsigned long long)rl.rlim_max, IDLE + 256, IDLE);
        skip();
    }
    if (rl.rlim_cur < IDLE + 256) {
        rl.rlim_cur = IDLE + 256;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "idle", "  services:\n    - module: calc\n"), 0);
    /* Warm up: the first call allocates what every later one shares (the loop's read
     * buffer, the codec, lazily mapped library pages). */
    px_raw_reader *warm = open_hello(srv.port, 1);
    assert_add(&warm[0], 1);
    close(warm[0].fd);
    free(warm);
    long before = px_rss_settled(srv.pid);
    assert_true(before > 0);

    px_raw_reader *rs = open_hello(srv.port, IDLE);
    long after = px_rss_settled(srv.pid);
    long grew = after - before;
    printf("plexusd RSS: %ld KiB before, %ld KiB with %d idle connections: %ld KiB more, "
           "%.0f bytes per idle connection (bound %d KiB%s)\n",
           before, after, IDLE, grew, grew * 1024.0 / IDLE, IDLE_BOUND_KIB,
           PX_RSS_CHECKED ? "" : ", not checked under a sanitizer");
    if (PX_RSS_CHECKED)
        assert_true(grew <= IDLE_BOUND_KIB);

    /* Held, not just counted: the first, a middle and the last one still work. */
    assert_add(&rs[0], 2);
    assert_add(&rs[IDLE / 2], 3);
    assert_add(&rs[IDLE - 1], 4);
    for (int i = 0; i < IDLE; i++)
        close(rs[i].fd);
    free(rs);
    assert_int_equal(px_proc_stop(&srv), 0);
}

static void test_memory_per_call_in_flight(void **state)
{
    /* One worker, held by a Sleep; CONNS x PER_CONN Adds queue behind it, each one a
     * call in flight (decoded input, call record, request id entry) until it ends. */
    enum { CONNS = 10, PER_CONN = 1000, CALLS = CONNS * PER_CONN };
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "inflight",
                                   "  services:\n    - module: calc\n      workers: 1\n"),
                     0);
    px_raw_reader *rs = open_hello(srv.port, CONNS + 1);
    for (int i = 1; i <= CONNS; i++)
        assert_add(&rs[i], 1); /* warm every connection's path once */
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = 3000;
    px_buf sb = {0};
    px_buf_reserve(&sb, 16);
    sb.len = protobuf_c_message_pack(&s.base, sb.data);
    px_frame sq = {.type = PX_FRAME_REQUEST, .id = 1, .method = (const uint8_t *)"calc.Calculator/Sleep",
                   .method_len = 21, .body = sb.data, .body_len = (uint32_t)sb.len};
    assert_int_equal(px_raw_send(rs[0].fd, &sq, 1), 0);
    long before = px_rss_settled(srv.pid);

    px_buf body = {0};
    px_frame *q = calloc(PER_CONN, sizeof *q);
    for (int c = 1; c <= CONNS; c++) {
        px_frame one = add_req(0, &body);
        for (int i = 0; i < PER_CONN; i++) {
            q[i] = one;
            q[i].id = 100 + (uint64_t)i;
        }
        assert_int_equal(px_raw_send(rs[c].fd, q, PER_CONN), 0);
    }
    long after = px_rss_settled(srv.pid);
    /* The figure holds only if the Sleep still held the worker (every Add in flight);
     * on a machine slow enough that it has ended, it is not a figure, and not a
     * failure either: what is asserted is that every call is answered, in order. */
    struct pollfd pf = {.fd = rs[0].fd, .events = POLLIN};
    long grew = after - before;
    if (poll(&pf, 1, 0) == 0)
        printf("plexusd RSS: %ld KiB with 1 call in flight, %ld KiB with %d more: %.0f bytes "
               "per call in flight\n", before, after, CALLS, grew * 1024.0 / CALLS);
    else
        printf("the 3 s Sleep ended before the RSS was read: no per-call figure this run\n");

    px_frame f;
    assert_int_equal(px_raw_next(&rs[0], &f), 0);
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    for (int c = 1; c <= CONNS; c++)
        for (int i = 0; i < PER_CONN; i++) {
            assert_int_equal(px_raw_next(&rs[c], &f), 0);
            assert_int_equal(f.type, PX_FRAME_RESPONSE);
            assert_int_equal(f.id, 100 + (uint64_t)i);
        }
    for (int i = 0; i <= CONNS; i++)
        close(rs[i].fd);
    free(rs);
    free(q);
    px_buf_free(&body);
    px_buf_free(&sb);
    assert_int_equal(px_proc_stop(&srv), 0);
}

/* A client that sends requests but never reads the answers: the server stops reading
 * it once the connection holds max_conn_memory (here 1 MiB: mostly unsent answers), so
 * what it holds stays bounded instead of growing with every request. */
static void test_unread_replies_are_bounded(void **state)
{
    enum { REQS = 400, PAYLOAD = 32 * 1024 };
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "unread",
                                   "  limits: { max_frame: 64KiB, max_conn_memory: 1MiB,\n"
                                   "            max_inflight_per_conn: 100000 }\n"
                                   "  services:\n    - module: calc\n"),
                     0);
    px_raw_reader *rs = open_hello(srv.port, 1);
    long before = px_rss_settled(srv.pid);

    static uint8_t payload[PAYLOAD];
    memset(payload, 'x', sizeof payload);
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    m.f_bytes.data = payload;
    m.f_bytes.len = sizeof payload;
    px_buf body = {0}, wire = {0};
    px_buf_reserve(&body, protobuf_c_message_get_packed_size(&m.base));
    body.len = protobuf_c_message_pack(&m.base, body.data);
    for (int i = 0; i < REQS; i++) {
        px_frame q = {.type = PX_FRAME_REQUEST, .id = 1 + (uint64_t)i,
                      .method = (const uint8_t *)"calc.Calculator/Echo", .method_len = 20,
                      .body = body.data, .body_len = (uint32_t)body.len};
        px_frame_append(&wire, &q);
    }
    /* Push as much as the server takes within 3 s, without ever reading. */
    size_t off = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pf = {.fd = rs[0].fd, .events = POLLOUT};
        if (off == wire.len || poll(&pf, 1, 100) < 0)
            break;
        if (pf.revents & POLLOUT) {
            ssize_t n = send(rs[0].fd, wire.data + off, wire.len - off, MSG_DONTWAIT);
            if (n > 0)
                off += (size_t)n;
        }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= 3)
            break;
    }
    long after = px_rss_settled(srv.pid);
    long grew = after - before;
    printf("sent %zu of %zu request bytes without reading; plexusd RSS grew %ld KiB\n", off,
           wire.len, grew);
    /* Without the pause the server would hold every answer it made: ~12.5 MiB here. The
     * bound: the 1 MiB max_conn_memory, one 64 KiB read buffer and one partial frame,
     * one reply being encoded past the mark, and malloc's slack: 4 MiB. */
    assert_true(off < wire.len); /* the server did stop taking requests */
    if (PX_RSS_CHECKED) /* a sanitizer's quarantine keeps freed memory resident */
        assert_true(grew < 4 * 1024);
    /* Reading again drains the answers and the server resumes. */
    px_frame f;
    assert_int_equal(px_raw_next(&rs[0], &f), 0);
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    assert_int_equal(f.id, 1);
    close(rs[0].fd);
    free(rs);
    px_buf_free(&body);
    px_buf_free(&wire);
    assert_int_equal(px_proc_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_five_thousand_idle_connections),
        cmocka_unit_test(test_memory_per_call_in_flight),
        cmocka_unit_test(test_unread_replies_are_bounded),
    };
    return cmocka_run_group_tests_name("idle_conns", tests, NULL, NULL);
}
