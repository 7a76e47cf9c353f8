/* Bounded memory under hostile clients, on a real plexusd (docs/SECURITY.md, "Memory
 * budgets"): clients that send large requests and never read the answers, requests
 * queued behind busy workers, and a small body that would decode into a huge tree.
 * The server's RSS stays within the configured budgets plus a stated slack, ordinary
 * clients are served throughout, and the memory is given back once the flood is over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "px_proc.h"
#include "px_raw.h"
#include "px_rss.h"

/* The call after a flood: the server may still be working through what the flooders
 * sent (minutes under a sanitizer on a loaded machine), so the answer is waited for up
 * to 120 s rather than px_raw's usual 5 s: only no answer at all fails. */
static int add_after_flood(px_raw_reader *r, uint64_t id)
{
    struct timeval tv = {120, 0};
    setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return px_raw_add(r, id);
}

#define MIB (1024L * 1024)
/* How long the floods last: under a sanitizer the RSS bounds are not checked (only that
 * reading pauses and ordinary clients are served), so a shorter flood shows as much. */
#define FLOOD_MS(ms) (PX_RSS_CHECKED ? (ms) : (ms) / 2)
#define KIB_OF(bytes) ((bytes) / 1024)

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* count REQUEST frames for method, ids from first_id, each with body. */
static void frames(px_buf *wire, const char *method, const px_buf *body, int count,
                   uint64_t first_id)
{
    for (int i = 0; i < count; i++) {
        px_frame q = {.type = PX_FRAME_REQUEST, .id = first_id + (uint64_t)i,
                      .method = (const uint8_t *)method, .method_len = (uint16_t)strlen(method),
                      .body = body->data, .body_len = (uint32_t)body->len};
        assert_int_equal(px_frame_append(wire, &q), 0);
    }
}

/* An EchoMsg carrying n bytes, packed. */
static px_buf echo_body(size_t n)
{
    static uint8_t payload[4 << 20];
    memset(payload, 'x', n);
    Calc__EchoMsg m = CALC__ECHO_MSG__INIT;
    m.f_bytes.data = payload;
    m.f_bytes.len = n;
    px_buf b = {0};
    assert_int_equal(px_buf_reserve(&b, protobuf_c_message_get_packed_size(&m.base)), 0);
    b.len = protobuf_c_message_pack(&m.base, b.data);
    return b;
}

/* Ordinary traffic between flood writes: one Add on the normal connection. */
typedef struct normal_client {
    px_raw_reader r;
    uint64_t next_id;
    int ok, failed;
} normal_client;

static void normal_call(normal_client *n)
{
    if (px_raw_add(&n->r, n->next_id++) == 0)
        n->ok++;
    else
        n->failed++;
}

/*
 * Writes the same stream to every fd without ever reading, non-blocking, for ms
 * milliseconds or until each has written all of it; every 100 ms the normal client
 * makes a call. Returns the bytes written over all fds.
 */
static size_t flood(const int *fds, int n, const px_buf *wire, int ms, normal_client *normal)
{
    size_t *off = calloc((size_t)n, sizeof *off), total = 0;
    int64_t start = now_ms(), last_call = start;
    for (;;) {
        int busy = 0;
        for (int i = 0; i < n; i++) {
            if (off[i] == wire->len)
                continue;
            busy = 1;
            ssize_t w = send(fds[i], wire->data + off[i], wire->len - off[i], MSG_DONTWAIT);
            if (w > 0)
                off[i] += (size_t)w;
        }
        int64_t t = now_ms();
        if (!busy || t - start >= ms)
            break;
        if (normal && t - last_call >= 100) {
            normal_call(normal);
            last_call = t;
        }
        px_sleep_ms(5);
    }
    for (int i = 0; i < n; i++)
        total += off[i];
    free(off);
    return total;
}

/* RSS once the server has given memory back: it notices the gone clients (a paused one
 * within half a second), frees what they held and trims within a second of that. On a
 * loaded machine this takes longer, so wait for the RSS to come within bound_kib of
 * `before`, for at most 10 s; returns the last reading. */
static long rss_after_flood(pid_t pid, long before, long bound_kib)
{
    long rss = px_rss_kib(pid);
    for (int i = 0; PX_RSS_CHECKED && i < 40 && rss - before > bound_kib; i++) {
        px_sleep_ms(250);
        rss = px_rss_kib(pid);
    }
    return rss;
}

static void test_one_connection_flooding_without_reading(void **state)
{
    /* Defaults: max_frame 4 MiB, so max_conn_memory is 16 MiB. calc on workers, as in
     * conf/server.yaml: requests are decoded and queued while the answers wait. */
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "flood1",
                                   "  services:\n    - module: calc\n      workers: 4\n"),
                     0);
    normal_client normal = {.r = px_raw_open(srv.port, "protobuf"), .next_id = 1};
    px_raw_reader flooder = px_raw_open(srv.port, "protobuf");
    assert_true(normal.r.fd >= 0 && flooder.fd >= 0);
    assert_int_equal(px_raw_add(&flooder, 1), 0); /* warm the path both use */
    normal_call(&normal);
    long before = px_rss_settled(srv.pid);

    px_buf body = echo_body(1 << 20), wire = {0};
    frames(&wire, "calc.Calculator/Echo", &body, 256, 100);
    size_t sent = flood(&flooder.fd, 1, &wire, FLOOD_MS(3000), &normal);
    long during = px_rss_settled(srv.pid);
    /* The bound: max_conn_memory (16 MiB) plus what one more frame can add past the
     * check (its input buffer, decoded request and reply: 3 x 1 MiB) plus malloc's slack
     * and the loop's buffers (5 MiB). */
    long bound = KIB_OF(16 * MIB + 3 * MIB + 5 * MIB);
    printf("one flooder: sent %zu MiB of %zu without reading; plexusd RSS %ld KiB before, "
           "%ld KiB during (+%ld KiB, bound +%ld KiB%s); %d ordinary calls answered\n",
           sent >> 20, wire.len >> 20, before, during, during - before, bound,
           PX_RSS_CHECKED ? "" : ", not checked under a sanitizer", normal.ok);
    assert_true(sent < wire.len);       /* the server stopped reading the flooder */
    /* while it served the other client (slowly under a sanitizer) */
    assert_true(normal.ok >= (PX_RSS_CHECKED ? 3 : 1));
    assert_int_equal(normal.failed, 0);
    if (PX_RSS_CHECKED)
        assert_true(during - before <= bound);

    close(flooder.fd);
    long after = rss_after_flood(srv.pid, before, 4096);
    printf("one flooder gone: plexusd RSS %ld KiB (+%ld KiB over the start; bound +4096)\n", after,
           after - before);
    if (PX_RSS_CHECKED)
        assert_true(after - before <= 4096);
    assert_int_equal(add_after_flood(&normal.r, 999), 0);
    close(normal.r.fd);
    px_buf_free(&body);
    px_buf_free(&wire);
    assert_int_equal(px_proc_stop(&srv), 0);
}

static void test_fifty_connections_flooding(void **state)
{
    enum { FLOODERS = 50 };
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "flood50",
                                   "  limits: { max_frame: 1536KiB, max_conn_memory: 4MiB,\n"
                                   "            max_server_memory: 64MiB }\n"
                                   "  services:\n    - module: calc\n      workers: 4\n"),
                     0);
    normal_client normal = {.r = px_raw_open(srv.port, "protobuf"), .next_id = 1};
    assert_true(normal.r.fd >= 0);
    normal_call(&normal);
    int fds[FLOODERS];
    for (int i = 0; i < FLOODERS; i++) {
        px_raw_reader f = px_raw_open(srv.port, "protobuf");
        assert_true(f.fd >= 0);
        fds[i] = f.fd;
    }
    long before = px_rss_settled(srv.pid);

    px_buf body = echo_body(1 << 20), wire = {0};
    frames(&wire, "calc.Calculator/Echo", &body, 64, 100);
    size_t sent = flood(fds, FLOODERS, &wire, FLOOD_MS(4000), &normal);
    long during = px_rss_settled(srv.pid);
    /* The bound: max_server_memory (64 MiB), the quarter beyond it that connections
     * holding little may still use (16 MiB), one frame per connection past the checks
     * is refused rather than held, and malloc's slack (16 MiB). */
    long bound = KIB_OF(64 * MIB + 16 * MIB + 16 * MIB);
    printf("%d flooders: sent %zu MiB without reading; plexusd RSS %ld KiB before, %ld KiB "
           "during (+%ld KiB, bound +%ld KiB%s); %d ordinary calls answered, %d failed\n",
           FLOODERS, sent >> 20, before, during, during - before, bound,
           PX_RSS_CHECKED ? "" : ", not checked under a sanitizer", normal.ok, normal.failed);
    /* Served, not fast: on a loaded machine (or under a sanitizer) the 50 floods take
     * most of the server's time. */
    assert_true(normal.ok >= (PX_RSS_CHECKED ? 3 : 1));
    assert_int_equal(normal.failed, 0);
    if (PX_RSS_CHECKED)
        assert_true(during - before <= bound);

    for (int i = 0; i < FLOODERS; i++)
        close(fds[i]);
    long after = rss_after_flood(srv.pid, before, 8192);
    printf("%d flooders gone: plexusd RSS %ld KiB (+%ld KiB over the start; bound +8192)\n",
           FLOODERS, after, after - before);
    if (PX_RSS_CHECKED)
        assert_true(after - before <= 8192);
    assert_int_equal(add_after_flood(&normal.r, 999), 0);
    close(normal.r.fd);
    px_buf_free(&body);
    px_buf_free(&wire);
    assert_int_equal(px_proc_stop(&srv), 0);
}

/* An EchoMsg body of n empty r_inner messages: 3 bytes each on the wire (tag 19 in two
 * bytes, length 0), one struct and one pointer each once decoded. */
static px_buf nested_body(size_t n)
{
    px_buf b = {0};
    assert_int_equal(px_buf_reserve(&b, 3 * n), 0);
    for (size_t i = 0; i < n; i++) {
        b.data[b.len++] = 0x9a;
        b.data[b.len++] = 0x01;
        b.data[b.len++] = 0x00;
    }
    return b;
}

static void expect_refused(px_raw_reader *r, const px_buf *body, uint64_t id, const char *msg)
{
    px_buf wire = {0};
    frames(&wire, "calc.Calculator/Echo", body, 1, id);
    assert_int_equal(send(r->fd, wire.data, wire.len, 0), (ssize_t)wire.len);
    px_frame f;
    assert_int_equal(px_raw_next(r, &f), 0);
    assert_int_equal(f.type, PX_FRAME_ERROR);
    assert_int_equal(f.id, id);
    assert_int_equal(f.status, PX_RESOURCE_EXHAUSTED);
    assert_int_equal(f.flags, 0); /* the request itself is the problem: not for a retry */
    assert_string_equal(r->text, msg);
    px_buf_free(&wire);
}

static void test_nested_expansion_refused(void **state)
{
    px_proc srv, wide;
    assert_int_equal(px_proc_start(&srv, "expand", "  services:\n    - module: calc\n"), 0);
    assert_int_equal(px_proc_start(&wide, "expand64",
                                   "  limits: { max_decode_expansion: 64 }\n"
                                   "  services:\n    - module: calc\n"),
                     0);
    px_raw_reader r = px_raw_open(srv.port, "protobuf");
    assert_true(r.fd >= 0);
    long before = px_rss_settled(srv.pid);
    /* 1,398,000 empty messages in 4,194,000 bytes, under max_frame (4 MiB): some 80 MiB
     * once decoded, against 8 x 4,194,000 + 64 KiB. */
    px_buf big = nested_body(1398000);
    expect_refused(&r, &big, 7,
                   "calc.Calculator/Echo: request refused: its 4194000 bytes decode to more "
                   "than 8 times their size + 64KiB (server.limits.max_decode_expansion 8)");
    long after = px_rss_settled(srv.pid);
    printf("4,194,000-byte nested body refused; plexusd RSS %ld -> %ld KiB\n", before, after);
    /* 100,000 of them (300,000 bytes, ~5.6 MiB decoded) are refused at 8x too ... */
    px_buf small = nested_body(100000);
    expect_refused(&r, &small, 8,
                   "calc.Calculator/Echo: request refused: its 300000 bytes decode to more "
                   "than 8 times their size + 64KiB (server.limits.max_decode_expansion 8)");
    assert_int_equal(px_raw_add(&r, 9), 0); /* the connection goes on */
    close(r.fd);
    /* ... and served where the limit is 64x: the limit, not the body, refused it. */
    px_raw_reader w = px_raw_open(wide.port, "protobuf");
    px_buf wire = {0};
    frames(&wire, "calc.Calculator/Echo", &small, 1, 10);
    assert_int_equal(send(w.fd, wire.data, wire.len, 0), (ssize_t)wire.len);
    uint8_t head[512];
    ssize_t got = recv(w.fd, head, sizeof head, 0);
    assert_true(got >= 32);
    if (head[3] != PX_FRAME_RESPONSE)
        fprintf(stderr, "answer: %.*s\n", (int)(got - 32), (const char *)head + 32);
    assert_int_equal(head[3], PX_FRAME_RESPONSE);
    close(w.fd);
    px_buf_free(&wire);
    px_buf_free(&big);
    px_buf_free(&small);
    assert_int_equal(px_proc_stop(&srv), 0);
    assert_int_equal(px_proc_stop(&wide), 0);
}

/* A SleepRequest padded to n bytes with an unknown field (kept, and so held, by the
 * decoded message). */
static px_buf padded_sleep(int ms, size_t n)
{
    Calc__SleepRequest s = CALC__SLEEP_REQUEST__INIT;
    s.ms = ms;
    px_buf b = {0};
    assert_int_equal(px_buf_reserve(&b, n), 0);
    b.len = protobuf_c_message_pack(&s.base, b.data);
    size_t pad = n - b.len - 6; /* tag (field 100, bytes: 2 bytes) + 4-byte varint length */
    b.data[b.len++] = 0xa2;
    b.data[b.len++] = 0x06;
    for (int i = 0; i < 4; i++)
        b.data[b.len++] = (uint8_t)((pad >> (7 * i)) & 0x7f) | (i < 3 ? 0x80 : 0);
    memset(b.data + b.len, 'p', pad);
    b.len += pad;
    return b;
}

static void test_requests_queued_behind_busy_workers(void **state)
{
    enum { QUEUED = 100 };
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "queued",
                                   "  services:\n    - module: calc\n      workers: 1\n"),
                     0);
    px_raw_reader busy = px_raw_open(srv.port, "protobuf"), q = px_raw_open(srv.port, "protobuf");
    assert_true(busy.fd >= 0 && q.fd >= 0);
    /* 100 requests of 4 MiB - 64 bytes, to queue behind one that holds the worker. */
    px_buf hold = padded_sleep(2500, 64), wire = {0}, one = {0};
    px_buf big = padded_sleep(1, (4 << 20) - 64);
    frames(&wire, "calc.Calculator/Sleep", &big, QUEUED, 100);
    frames(&one, "calc.Calculator/Sleep", &hold, 1, 1);
    long before = px_rss_settled(srv.pid);
    assert_int_equal(send(busy.fd, one.data, one.len, 0), (ssize_t)one.len);
    px_sleep_ms(200); /* the worker has taken it */
    size_t sent = flood(&q.fd, 1, &wire, 1500, NULL);
    long during = px_rss_settled(srv.pid);
    /* The bound: max_conn_memory (16 MiB), one more request past the check and the
     * partial one behind it (2 x 4 MiB), malloc's slack (4 MiB). */
    long bound = KIB_OF(16 * MIB + 8 * MIB + 4 * MIB);
    printf("%d queued 4 MiB requests: %zu MiB taken while the worker was busy; plexusd RSS "
           "+%ld KiB (bound +%ld KiB%s)\n",
           QUEUED, sent >> 20, during - before, bound,
           PX_RSS_CHECKED ? "" : ", not checked under a sanitizer");
    assert_true(sent < wire.len);
    if (PX_RSS_CHECKED)
        assert_true(during - before <= bound);
    /* Once the worker is free, everything is served: the rest is read as room frees up. */
    px_frame f;
    assert_int_equal(px_raw_next(&busy, &f), 0);
    assert_int_equal(f.type, PX_FRAME_RESPONSE);
    size_t off = sent;
    int answered = 0;
    int64_t give_up = now_ms() + 60000;
    while (answered < QUEUED && now_ms() < give_up) {
        if (off < wire.len) {
            ssize_t w = send(q.fd, wire.data + off, wire.len - off, MSG_DONTWAIT);
            if (w > 0)
                off += (size_t)w;
        }
        struct pollfd pf = {.fd = q.fd, .events = POLLIN};
        /* Answers the reader already holds count too: poll sees only the socket. */
        if (q.len - q.used >= PX_FRAME_HEADER_SIZE || poll(&pf, 1, 10) == 1) {
            assert_int_equal(px_raw_next(&q, &f), 0);
            assert_int_equal(f.type, PX_FRAME_RESPONSE);
            answered++;
        }
    }
    assert_int_equal(answered, QUEUED);
    close(q.fd);
    close(busy.fd);
    long after = rss_after_flood(srv.pid, before, 4096);
    printf("queued requests served: plexusd RSS +%ld KiB over the start (bound +4096)\n",
           after - before);
    if (PX_RSS_CHECKED)
        assert_true(after - before <= 4096);
    px_buf_free(&hold);
    px_buf_free(&big);
    px_buf_free(&wire);
    px_buf_free(&one);
    assert_int_equal(px_proc_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_connection_flooding_without_reading),
        cmocka_unit_test(test_fifty_connections_flooding),
        cmocka_unit_test(test_nested_expansion_refused),
        cmocka_unit_test(test_requests_queued_behind_busy_workers),
    };
    return cmocka_run_group_tests_name("memory", tests, NULL, NULL);
}
