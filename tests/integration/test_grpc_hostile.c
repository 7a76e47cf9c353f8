/* Hostile HTTP/2 against proto_grpc, through a real plexusd and raw sockets writing
 * hand-made frames (docs/SECURITY.md): a SETTINGS flood, a PING flood, rapid reset
 * (CVE-2023-44487), an HPACK bomb (one 4 KB header in the dynamic table referenced
 * 50 times), a frame out of place, and a client that never opens its window. Each
 * connection is ended (GOAWAY saying why, then closed) and a normal gRPC call (nghttp)
 * is served right after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "px_proc.h"

static const char *YAML = "  codecs: [protobuf]\n"
                          "  protocols: [grpc, native]\n"
                          "  limits: { max_meta: 4KiB, idle_timeout: 1s }\n"
                          "  services:\n"
                          "    - module: calc\n";

static px_proc S;

static int setup(void **state)
{
    (void)state;
    px_proc_die_with_test();
    return px_proc_start(&S, "h1", YAML);
}

static int teardown(void **state)
{
    (void)state;
    return px_proc_stop(&S) == 0 ? 0 : -1;
}

/* ---- frames by hand ------------------------------------------------------------------- */

enum { F_DATA = 0, F_HEADERS = 1, F_RST = 3, F_SETTINGS = 4, F_PING = 6, F_GOAWAY = 7 };

typedef struct wbuf {
    uint8_t b[1 << 20];
    size_t n;
} wbuf;

static wbuf W;

static void put(const void *p, size_t n)
{
    assert_true(W.n + n <= sizeof W.b);
    memcpy(W.b + W.n, p, n);
    W.n += n;
}

static void frame(uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t n)
{
    uint8_t h[9] = {(uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags,
                    (uint8_t)(stream >> 24), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8),
                    (uint8_t)stream};
    put(h, 9);
    put(payload, n);
}

/* HPACK integer with an n-bit prefix (first byte's high bits in hi). */
static size_t hp_int(uint8_t *out, uint8_t hi, int bits, size_t v)
{
    size_t max = ((size_t)1 << bits) - 1, k = 0;
    if (v < max) {
        out[k++] = (uint8_t)(hi | v);
        return k;
    }
    out[k++] = (uint8_t)(hi | max);
    for (v -= max; v >= 128; v >>= 7)
        out[k++] = (uint8_t)(0x80 | (v & 127));
    out[k++] = (uint8_t)v;
    return k;
}

/* A literal header with a new name (hi 0x00: without indexing, 0x40: indexed). */
static size_t hp_lit(uint8_t *out, uint8_t hi, const char *name, const void *value, size_t vlen)
{
    size_t k = 0, nl = strlen(name);
    out[k++] = hi;
    k += hp_int(out + k, 0, 7, nl);
    memcpy(out + k, name, nl);
    k += nl;
    k += hp_int(out + k, 0, 7, vlen);
    memcpy(out + k, value, vlen);
    return k + vlen;
}

/* A gRPC request's header block for calc.Calculator/method. */
static size_t hp_request(uint8_t *out, const char *method)
{
    size_t k = 0;
    char path[64];
    snprintf(path, sizeof path, "/calc.Calculator/%s", method);
    out[k++] = 0x83; /* :method POST */
    out[k++] = 0x86; /* :scheme http */
    k += hp_lit(out + k, 0, ":path", path, strlen(path));
    k += hp_lit(out + k, 0, ":authority", "localhost", 9);
    k += hp_lit(out + k, 0, "content-type", "application/grpc", 16);
    k += hp_lit(out + k, 0, "te", "trailers", 8);
    return k;
}

static int h2_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    W.n = 0;
    put("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    return fd;
}

/* Writes W (the peer may close before all of it went: that is fine). */
static void send_all(int fd)
{
    for (size_t at = 0; at < W.n;) {
        ssize_t r = write(fd, W.b + at, W.n - at);
        if (r <= 0)
            break;
        at += (size_t)r;
    }
    W.n = 0;
}

/* What the server did: read frames until EOF (bounded: 6 reads of 5 s without a byte).
 * Returns whether the connection was closed; the GOAWAY's code and text, if any. */
typedef struct verdict {
    int closed, goaway, data_frames;
    uint32_t code;
    char text[256];
} verdict;

static verdict read_until_closed(int fd)
{
    verdict v = {0};
    static uint8_t buf[1 << 20];
    size_t n = 0;
    int quiet = 0;
    while (quiet < 6) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            v.closed = 1;
            break;
        }
        if (r < 0) {
            quiet++;
            continue;
        }
        n += (size_t)r;
        size_t at = 0;
        while (n - at >= 9) {
            size_t len = (size_t)buf[at] << 16 | (size_t)buf[at + 1] << 8 | buf[at + 2];
            if (n - at < 9 + len)
                break;
            const uint8_t *p = buf + at + 9;
            if (buf[at + 3] == F_DATA)
                v.data_frames++;
            if (buf[at + 3] == F_GOAWAY && len >= 8) {
                v.goaway = 1;
                v.code = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
                snprintf(v.text, sizeof v.text, "%.*s", (int)(len - 8), (const char *)p + 8);
            }
            at += 9 + len;
        }
        memmove(buf, buf + at, n - at);
        n -= at;
        if (n == sizeof buf)
            n = 0; /* a frame we do not need whole */
    }
    close(fd);
    return v;
}

/* A normal gRPC call through nghttp: answered grpc-status 0. */
static void normal_call_works(void)
{
    char path[] = "/tmp/pxgrpch-XXXXXX", url[128], out[8192], err[4096];
    int fd = mkstemp(path);
    uint8_t msg[] = {0, 0, 0, 0, 4, 0x08, 20, 0x10, 22}; /* AddRequest{a: 20, b: 22} */
    assert_int_equal(write(fd, msg, sizeof msg), (ssize_t)sizeof msg);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/calc.Calculator/Add", S.port);
    char *argv[] = {"/usr/bin/nghttp", "-v", "-n", "-d", path, "-H",
                    "content-type: application/grpc", url, NULL};
    int rc = px_run(argv, out, sizeof out, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "grpc-status: 0"));
}

static const uint8_t NO_SETTINGS[1] = {0};

/* ---- the attacks ------------------------------------------------------------------------ */

static void test_settings_flood(void **state)
{
    (void)state;
    int fd = h2_connect();
    for (int i = 0; i < 300; i++)
        frame(F_SETTINGS, 0, 0, NO_SETTINGS, 0);
    send_all(fd);
    verdict v = read_until_closed(fd);
    assert_true(v.closed);
    assert_true(v.goaway);
    assert_int_equal(v.code, 0xb); /* ENHANCE_YOUR_CALM */
    assert_non_null(strstr(v.text, "SETTINGS flood"));
    normal_call_works();
}

static void test_ping_flood(void **state)
{
    (void)state;
    int fd = h2_connect();
    frame(F_SETTINGS, 0, 0, NO_SETTINGS, 0);
    uint8_t opaque[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int i = 0; i < 1500; i++)
        frame(F_PING, 0, 0, opaque, 8);
    send_all(fd);
    verdict v = read_until_closed(fd);
    assert_true(v.closed);
    assert_true(v.goaway);
    assert_int_equal(v.code, 0xb);
    assert_non_null(strstr(v.text, "PING flood"));
    normal_call_works();
}

/* CVE-2023-44487: streams opened and reset at once, far past any real client. */
static void test_rapid_reset(void **state)
{
    (void)state;
    int fd = h2_connect();
    frame(F_SETTINGS, 0, 0, NO_SETTINGS, 0);
    uint8_t hb[256];
    size_t hn = hp_request(hb, "Add");
    uint8_t cancel[4] = {0, 0, 0, 8};
    for (uint32_t i = 0; i < 1500; i++) {
        frame(F_HEADERS, 0x4 /* END_HEADERS */, 2 * i + 1, hb, hn);
        frame(F_RST, 0, 2 * i + 1, cancel, 4);
    }
    send_all(fd);
    verdict v = read_until_closed(fd);
    assert_true(v.closed);
    assert_true(v.goaway);
    assert_int_equal(v.code, 0xb);
    assert_non_null(strstr(v.text, "rapid reset"));
    normal_call_works();
}

/* A 4000-byte header enters the dynamic table once; 50 one-byte references to it
 * decode to 200 KB, far past SETTINGS_MAX_HEADER_LIST_SIZE. */
static void test_hpack_bomb(void **state)
{
    (void)state;
    int fd = h2_connect();
    frame(F_SETTINGS, 0, 0, NO_SETTINGS, 0);
    static uint8_t hb[8192];
    size_t hn = hp_request(hb, "Add");
    static char big[4000];
    memset(big, 'b', sizeof big);
    hn += hp_lit(hb + hn, 0x40, "x-bomb", big, sizeof big); /* indexed: dynamic entry 62 */
    for (int i = 0; i < 50; i++)
        hb[hn++] = 0x80 | 62;
    frame(F_HEADERS, 0x4 | 0x1, 1, hb, hn);
    send_all(fd);
    verdict v = read_until_closed(fd);
    assert_true(v.closed);
    assert_true(v.goaway);
    assert_int_equal(v.code, 0xb);
    assert_non_null(strstr(v.text, "header list passes"));
    normal_call_works();
}

/* DATA on stream 0 is a connection error (RFC 9113 6.1): nghttp2's verdict. */
static void test_frame_out_of_place(void **state)
{
    (void)state;
    int fd = h2_connect();
    frame(F_SETTINGS, 0, 0, NO_SETTINGS, 0);
    frame(F_DATA, 0, 0, "xx", 2);
    send_all(fd);
    verdict v = read_until_closed(fd);
    assert_true(v.closed);
    assert_true(v.goaway);
    assert_int_equal(v.code, 0x1); /* PROTOCOL_ERROR */
    normal_call_works();
}

/* A client that opens no window for the answer: Echo's 60 KB reply stays with the
 * server, charged to the connection, until the idle_timeout (1 s) ends the connection. */
static void test_zero_window_stall(void **state)
{
    (void)state;
    int fd = h2_connect();
    uint8_t zero_window[6] = {0, 4, 0, 0, 0, 0}; /* SETTINGS_INITIAL_WINDOW_SIZE = 0 */
    frame(F_SETTINGS, 0, 0, zero_window, 6);
    uint8_t hb[256];
    size_t hn = hp_request(hb, "Echo");
    frame(F_HEADERS, 0x4, 1, hb, hn);
    static uint8_t msg[5 + 60004];
    size_t blen = 60004; /* EchoMsg{f_bytes: 60000 bytes}: tag, 3-byte length, bytes */
    msg[0] = 0, msg[1] = 0, msg[2] = (uint8_t)(blen >> 16), msg[3] = (uint8_t)(blen >> 8),
    msg[4] = (uint8_t)blen;
    msg[5] = 0x7a, msg[6] = 0xe0, msg[7] = 0xd4, msg[8] = 0x03; /* field 15, 60000 */
    memset(msg + 9, 'z', 60000);
    for (size_t at = 0; at < sizeof msg; at += 16384) {
        size_t n = sizeof msg - at < 16384 ? sizeof msg - at : 16384;
        frame(F_DATA, at + n == sizeof msg ? 0x1 : 0, 1, msg + at, n);
    }
    send_all(fd);
    verdict v = read_until_closed(fd);
    assert_true(v.closed);
    assert_int_equal(v.data_frames, 0); /* not a byte of the reply went */
    assert_true(v.goaway);
    assert_int_equal(v.code, 0); /* NO_ERROR: the idle connection is let go */
    normal_call_works();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_flood),
        cmocka_unit_test(test_ping_flood),
        cmocka_unit_test(test_rapid_reset),
        cmocka_unit_test(test_hpack_bomb),
        cmocka_unit_test(test_frame_out_of_place),
        cmocka_unit_test(test_zero_window_stall),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
