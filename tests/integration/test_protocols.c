/* PROTOCOL modules through real processes: a plexusd listening with `protocols: [native,
 * fx]` (fx: tests/fixtures/fx_proto.c, a stateful text protocol) serves calc to a native
 * client and to one whose upstream says `protocol: fx`, on one port: blocking, async
 * and waited calls, metadata both ways, error statuses. Bytes of neither protocol are
 * closed and logged, and the server goes on; a malformed fx header is answered FX1
 * FAIL and closed. A listener with `protocols: [fx]` refuses a native client (library
 * and CLI) cleanly, and carries an error's metadata through fx. Unknown protocol names
 * are refused at FILE:LINE:COL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"
#include "px_raw.h"
#include "px_test_calls.h"
#include "px_time.h"

#define ASYNC_CALLS 200

static const char *BOTH_YAML = "  codecs: [protobuf]\n"
                               "  protocols: [native, fx]\n"
                               "  services:\n"
                               "    - module: calc\n"
                               "      workers: 4\n";

/* fxmeta: calc.Calculator whose Div fails with the request's metadata as the answer's. */
static const char *FX_ONLY_YAML = "  codecs: [protobuf]\n"
                                  "  protocols: [fx]\n"
                                  "  services:\n"
                                  "    - module: fxmeta\n";

#define TIMEOUTS "      timeout: { module: fixed, connect: 1s, call: 5s }\n"

typedef struct fixture {
    px_proc both, fxonly;
    char dir[64];
    char plexus[512], plexusd[512];
} fixture;

static fixture F;

static int setup(void **state)
{
    (void)state;
    const char *bin = getenv("PX_BINARY_DIR");
    if (!bin) {
        fprintf(stderr, "PX_BINARY_DIR is not set: run through ctest\n");
        return -1;
    }
    snprintf(F.plexus, sizeof F.plexus, "%s/bin/plexus", bin);
    snprintf(F.plexusd, sizeof F.plexusd, "%s/bin/plexusd", bin);
    px_proc_die_with_test();
    snprintf(F.dir, sizeof F.dir, "/tmp/pxproto-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    if (px_proc_start(&F.both, "both", BOTH_YAML) != 0)
        return -1;
    return px_proc_start(&F.fxonly, "fxonly", FX_ONLY_YAML);
}

static int teardown(void **state)
{
    (void)state;
    int rc = px_proc_stop(&F.both);
    int rc2 = px_proc_stop(&F.fxonly);
    rmdir(F.dir);
    return rc == 0 && rc2 == 0 ? 0 : -1;
}

/* ---- helpers -------------------------------------------------------------------- */

/* A client config for upstream calc on port, with upstream_yaml; written to path. */
static void client_conf(char *path, size_t cap, const char *name, int port,
                        const char *upstream_yaml)
{
    snprintf(path, cap, "%s/%s.yaml", F.dir, name);
    assert_int_equal(px_write_client_conf(path, &port, 1, upstream_yaml), 0);
}

static px_client *client(px_config **cfg, int port, const char *upstream_yaml)
{
    char path[128];
    client_conf(path, sizeof path, "client", port, upstream_yaml);
    px_err err;
    px_client *c = NULL;
    if (px_config_load(path, cfg, &err) != PX_OK || px_client_new(*cfg, "calc", &c, &err) != PX_OK)
        fail_msg("client: %s", err.msg);
    unlink(path);
    return c;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Whether the file has a line holding both a and b, within 5 s. */
static int log_has(const char *path, const char *a, const char *b)
{
    for (int64_t end = px_mono_us() + 5000000; px_mono_us() < end; sleep_ms(10)) {
        FILE *f = fopen(path, "r");
        char line[2048];
        int found = 0;
        while (f && !found && fgets(line, sizeof line, f))
            found = strstr(line, a) && strstr(line, b);
        if (f)
            fclose(f);
        if (found)
            return 1;
    }
    return 0;
}

/* ---- fx over a raw socket ------------------------------------------------------------ */

static void raw_write(int fd, const void *p, size_t n)
{
    assert_int_equal(write(fd, p, n), (ssize_t)n);
}

static int read_exactly(int fd, void *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* One fx message from the server: its header line (no newline) in hdr and the payload
 * that line announces in pay (NUL-terminated); returns the payload length. */
static size_t raw_msg(int fd, char *hdr, size_t hcap, char *pay, size_t pcap)
{
    size_t n = 0;
    for (;;) {
        char ch;
        if (read(fd, &ch, 1) != 1)
            fail_msg("no fx message from the server (got '%.*s')", (int)n, hdr);
        if (ch == '\n')
            break;
        assert_true(n + 1 < hcap);
        hdr[n++] = ch;
    }
    hdr[n] = 0;
    unsigned long long a = 0, b = 0, c = 0, d = 0, e = 0;
    char verb[8];
    size_t len = 0;
    if (sscanf(hdr, "FX1 OK %llu %llu %llu", &a, &b, &c) == 3)
        len = (size_t)(b + c);
    else if (sscanf(hdr, "FX1 ERR %llu %llu %llu %llu %llu", &a, &b, &c, &d, &e) == 5)
        len = (size_t)(d + e);
    else if (sscanf(hdr, "FX1 %7s %llu %llu", verb, &a, &b) == 3 &&
             (strcmp(verb, "BYE") == 0 || strcmp(verb, "FAIL") == 0))
        len = (size_t)b;
    else if (strncmp(hdr, "FX1 PONG ", 9) != 0)
        fail_msg("not an fx message from the server: '%s'", hdr);
    assert_true(len < pcap);
    assert_int_equal(read_exactly(fd, pay, len), 0);
    pay[len] = 0;
    return len;
}

/* Whether the server closes the connection (EOF or a reset) within 5 s, after whatever
 * it still sends. */
static int raw_closed(int fd)
{
    char buf[512];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
    }
    return r == 0 || errno == ECONNRESET;
}

/* FX1 REQ of calc.Calculator/Add(a, b), protobuf-encoded, naming codec. */
static void raw_add(int fd, uint64_t id, const char *codec, int a, int b)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = a;
    req.b = b;
    uint8_t body[64];
    size_t n = calc__add_request__pack(&req, body);
    char line[128];
    int ll = snprintf(line, sizeof line, "FX1 REQ %llu calc.Calculator/Add %s 0 0 %zu\n",
                      (unsigned long long)id, codec, n);
    raw_write(fd, line, (size_t)ll);
    raw_write(fd, body, n);
}

/* ---- (1) one port, two protocols ------------------------------------------------------ */

/* Blocking and waited calls, native and fx, on the same port. */
static void test_both_protocols_serve_calc(void **state)
{
    (void)state;
    const char *ups[] = {TIMEOUTS, TIMEOUTS "      protocol: fx\n"};
    for (int p = 0; p < 2; p++) {
        px_config *cfg;
        px_client *c = client(&cfg, F.both.port, ups[p]);
        for (int wait = 0; wait < 2; wait++) {
            px_err err;
            int64_t sum = 0;
            if (px_test_add(c, wait, 20, 22 + p + wait, &sum, &err) != PX_OK)
                fail_msg("%s client, %s: %s", p ? "fx" : "native", wait ? "px_call_wait" : "px_call",
                         err.msg);
            assert_int_equal(sum, 42 + p + wait);
        }
        px_client_free(c);
        px_config_free(cfg);
    }
}

/* ASYNC_CALLS calls in flight at once through fx: each answered once, with its sum. */
static void test_fx_async(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, F.both.port, TIMEOUTS "      protocol: fx\n");
    char why[256];
    if (px_test_async_adds(c, ASYNC_CALLS, 1000, 10000000, why, sizeof why) != 0)
        fail_msg("%s", why);
    px_client_free(c);
    px_config_free(cfg);
}

/* Request metadata reaches calc's Echo, which sends it back as response metadata:
 * through fx both ways, blocking and waited. */
static void test_fx_metadata_both_ways(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, F.both.port, TIMEOUTS "      protocol: fx\n");
    px_err err;
    px_meta *m = px_meta_new();
    assert_int_equal(px_meta_add_str(m, "user", "alice", &err), PX_OK);
    assert_int_equal(px_meta_add(m, "trace-bin", "\x00\n\xff", 3, &err), PX_OK);
    for (int wait = 0; wait < 2; wait++) {
        px_meta *rm = px_meta_new();
        px_call_opts o = {.meta = m, .reply_meta = rm};
        if (px_test_echo(c, wait, "hello fx", &o, &err) != PX_OK)
            fail_msg("Echo through fx: %s", err.msg);
        size_t n = 0;
        const char *v = px_meta_get(rm, "user", &n);
        assert_non_null(v);
        assert_int_equal(n, 5);
        assert_memory_equal(v, "alice", 5);
        v = px_meta_get(rm, "trace-bin", &n);
        assert_non_null(v);
        assert_int_equal(n, 3);
        assert_memory_equal(v, "\x00\n\xff", 3);
        px_meta_free(rm);
    }
    px_meta_free(m);
    px_client_free(c);
    px_config_free(cfg);
}

/* Error answers through fx: the handler's (division by zero), the core's (no such
 * method), and a codec the server lacks (the call fails, the connection goes on). */
static void test_fx_errors(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, F.both.port, TIMEOUTS "      protocol: fx\n");
    px_err err;
    ProtobufCMessage *rep = NULL;
    Calc__DivRequest d = CALC__DIV_REQUEST__INIT;
    d.a = 7;
    assert_int_equal(px_call(c, "calc.Calculator/Div", &d.base, &calc__div_reply__descriptor, NULL,
                             &rep, &err),
                     PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "division by zero");
    assert_int_equal(px_call_wait(c, "calc.Calculator/Div", &d.base, &calc__div_reply__descriptor,
                                  NULL, &rep, &err),
                     PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "division by zero");
    assert_int_equal(px_call(c, "calc.Calculator/Nope", &d.base, &calc__div_reply__descriptor,
                             NULL, &rep, &err),
                     PX_UNIMPLEMENTED);
    assert_non_null(strstr(err.msg, "Nope"));
    int64_t sum = 0;
    assert_int_equal(px_test_add(c, 0, 1, 2, &sum, &err), PX_OK); /* the connection lives on */
    assert_int_equal(sum, 3);
    px_client_free(c);
    px_config_free(cfg);

    /* json: the server has protobuf only. Native refuses the HELLO; fx fails the call. */
    c = client(&cfg, F.both.port, TIMEOUTS "      protocol: fx\n      codec: json\n");
    assert_int_equal(px_test_add(c, 0, 1, 2, &sum, &err), PX_UNIMPLEMENTED);
    assert_non_null(strstr(err.msg, "json"));
    px_client_free(c);
    px_config_free(cfg);
}

/* The wire itself: PING, a REQ with `-` (protobuf) answered with a zero-padded body
 * length, an unknown codec answered ERR for that id alone, on one connection. */
static void test_fx_raw_wire(void **state)
{
    (void)state;
    int fd = px_raw_connect(F.both.port);
    assert_true(fd >= 0);
    char hdr[600], pay[4096];
    raw_write(fd, "FX1 PING 5\n", 11);
    assert_int_equal(raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay), 0);
    assert_string_equal(hdr, "FX1 PONG 5");
    raw_add(fd, 1, "-", 20, 22);
    size_t n = raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay);
    char want[64];
    snprintf(want, sizeof want, "FX1 OK 1 0 %010zu", n);
    assert_string_equal(hdr, want);
    Calc__AddReply *r = calc__add_reply__unpack(NULL, n, (const uint8_t *)pay);
    assert_non_null(r);
    assert_int_equal(r->sum, 42);
    calc__add_reply__free_unpacked(r, NULL);
    raw_add(fd, 2, "xml", 1, 1);
    n = raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay);
    snprintf(want, sizeof want, "FX1 ERR 2 %d 1 0 %zu", PX_UNIMPLEMENTED, n);
    assert_string_equal(hdr, want);
    assert_non_null(strstr(pay, "xml"));
    raw_add(fd, 3, "protobuf", 2, 3); /* and the connection goes on */
    n = raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay);
    assert_memory_equal(hdr, "FX1 OK 3 0 ", 11);
    close(fd);
}

/* A call the client cancels (fx's CAN, as HTTP/2's RST_STREAM would) is not answered,
 * and its id is free at once (px_pconn_cancel). */
static void test_fx_cancel(void **state)
{
    (void)state;
    int fd = px_raw_connect(F.both.port);
    assert_true(fd >= 0);
    Calc__SleepRequest req = CALC__SLEEP_REQUEST__INIT;
    req.ms = 300;
    uint8_t body[16];
    size_t n = calc__sleep_request__pack(&req, body);
    char line[128];
    int ll = snprintf(line, sizeof line, "FX1 REQ 1 calc.Calculator/Sleep protobuf 0 0 %zu\n", n);
    raw_write(fd, line, (size_t)ll);
    raw_write(fd, body, n);
    raw_write(fd, "FX1 CAN 1\n", 10);
    raw_add(fd, 1, "protobuf", 4, 5); /* the same id, at once: admitted */
    char hdr[256], pay[256];
    size_t len = raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay);
    assert_memory_equal(hdr, "FX1 OK 1 0 ", 11);
    Calc__AddReply *r = calc__add_reply__unpack(NULL, len, (const uint8_t *)pay);
    assert_non_null(r);
    assert_int_equal(r->sum, 9);
    calc__add_reply__free_unpacked(r, NULL);
    /* Well past the Sleep's end: the next message is the PONG, not the Sleep's answer. */
    sleep_ms(600);
    raw_write(fd, "FX1 PING 2\n", 11);
    raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay);
    assert_string_equal(hdr, "FX1 PONG 2");
    close(fd);
}

/* ---- (2) bytes of no protocol ------------------------------------------------------- */

static void test_http_request_closed_and_logged(void **state)
{
    (void)state;
    int fd = px_raw_connect(F.both.port);
    assert_true(fd >= 0);
    const char *get = "GET / HTTP/1.1\r\n\r\n";
    raw_write(fd, get, strlen(get));
    assert_true(raw_closed(fd));
    close(fd);
    if (!log_has(F.both.log, "match none of", "native, fx"))
        fail_msg("no line saying the first bytes match none of the listener's protocols in %s",
                 F.both.log);
    /* The line shows what arrived: 16 bytes in hex and as text. */
    if (!log_has(F.both.log, "(47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a \"GET / HTTP/1.1..\")",
                 "match none of"))
        fail_msg("the line in %s does not show the first bytes", F.both.log);
    /* The server goes on, in both protocols. */
    const char *ups[] = {TIMEOUTS, TIMEOUTS "      protocol: fx\n"};
    for (int p = 0; p < 2; p++) {
        px_config *cfg;
        px_client *c = client(&cfg, F.both.port, ups[p]);
        px_err err;
        int64_t sum = 0;
        assert_int_equal(px_test_add(c, p, 2, 2, &sum, &err), PX_OK);
        assert_int_equal(sum, 4);
        px_client_free(c);
        px_config_free(cfg);
    }
}

/* ---- (3) a listener of fx only ---------------------------------------------------------- */

static void test_fx_only_refuses_native(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, F.fxonly.port, TIMEOUTS);
    char port[16];
    snprintf(port, sizeof port, ":%d", F.fxonly.port);
    for (int wait = 0; wait < 2; wait++) {
        px_err err;
        int64_t sum = 0;
        int64_t t0 = px_mono_us();
        px_status st = px_test_add(c, wait, 1, 2, &sum, &err);
        /* Refused, not left to time out: the native client sees the close (UNAVAILABLE)
         * or fx's FAIL line, which is no native frame (INTERNAL, protocol error). */
        if (st != PX_UNAVAILABLE && st != PX_INTERNAL)
            fail_msg("a native call (%s) to an fx-only listener: %s: %s",
                     wait ? "px_call_wait" : "px_call", px_status_name(st), err.msg);
        assert_true(px_mono_us() - t0 < 4000000);
        assert_non_null(strstr(err.msg, port));
    }
    px_client_free(c);
    px_config_free(cfg);
    /* The CLI's native call fails cleanly: exit 1, the status on stderr, nothing else. */
    char conf[128], out[4096], errs[4096];
    client_conf(conf, sizeof conf, "native-cli", F.fxonly.port, TIMEOUTS);
    char *argv[] = {F.plexus, "call", "-c", conf, "calc.Calculator/Add", "{\"a\":1,\"b\":2}", NULL};
    assert_int_equal(px_run(argv, out, sizeof out, errs, sizeof errs), 1);
    assert_string_equal(out, "");
    if (strncmp(errs, "UNAVAILABLE: ", 13) != 0 && strncmp(errs, "INTERNAL: ", 10) != 0)
        fail_msg("plexus call to an fx-only listener: %s", errs);
    unlink(conf);
    /* Through fx it answers, from the library and from the CLI. */
    c = client(&cfg, F.fxonly.port, TIMEOUTS "      protocol: fx\n");
    px_err err;
    int64_t sum = 0;
    assert_int_equal(px_test_add(c, 0, 1, 2, &sum, &err), PX_OK);
    assert_int_equal(sum, 3);
    /* An error's metadata: fxmeta's Div echoes the request's, then fails. */
    px_meta *m = px_meta_new(), *rm = px_meta_new();
    assert_int_equal(px_meta_add_str(m, "user", "bob", &err), PX_OK);
    px_call_opts o = {.meta = m, .reply_meta = rm};
    Calc__DivRequest d = CALC__DIV_REQUEST__INIT;
    ProtobufCMessage *rep = NULL;
    for (int wait = 0; wait < 2; wait++) {
        px_meta_clear(rm);
        assert_int_equal(wait ? px_call_wait(c, "calc.Calculator/Div", &d.base,
                                             &calc__div_reply__descriptor, &o, &rep, &err)
                              : px_call(c, "calc.Calculator/Div", &d.base,
                                        &calc__div_reply__descriptor, &o, &rep, &err),
                         PX_FAILED_PRECONDITION);
        assert_string_equal(err.msg, "fxmeta: Div fails, with metadata");
        size_t n = 0;
        const char *v = px_meta_get(rm, "user", &n);
        assert_non_null(v);
        assert_int_equal(n, 3);
        assert_memory_equal(v, "bob", 3);
    }
    px_meta_free(m);
    px_meta_free(rm);
    px_client_free(c);
    px_config_free(cfg);
    client_conf(conf, sizeof conf, "fx-cli", F.fxonly.port, TIMEOUTS "      protocol: fx\n");
    assert_int_equal(px_run(argv, out, sizeof out, errs, sizeof errs), 0);
    assert_string_equal(out, "{\"sum\":\"3\"}\n");
    unlink(conf);
}

/* ---- (4) a malformed fx header ------------------------------------------------------------- */

static void test_malformed_fx_header_fails(void **state)
{
    (void)state;
    const char *bad[] = {
        "FX1 REQ one calc.Calculator/Add protobuf 0 0 0\n", /* not a number */
        "FX1 HELLO protobuf\n",                             /* no such verb */
        NULL,                                               /* 600 bytes, no newline */
    };
    const char *why[] = {"request id", "expected REQ, CAN or PING", "512"};
    char longline[600];
    memset(longline, 'a', sizeof longline);
    memcpy(longline, "FX1 REQ ", 8);
    for (int i = 0; i < 3; i++) {
        int fd = px_raw_connect(F.both.port);
        assert_true(fd >= 0);
        raw_write(fd, "FX1 PING 1\n", 11); /* a good message first: the mistake is at byte 11 */
        if (bad[i])
            raw_write(fd, bad[i], strlen(bad[i]));
        else
            raw_write(fd, longline, sizeof longline);
        char hdr[600], pay[4096];
        assert_int_equal(raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay), 0);
        assert_string_equal(hdr, "FX1 PONG 1");
        size_t n = raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay);
        char want[64];
        snprintf(want, sizeof want, "FX1 FAIL %d %zu", PX_INVALID_ARGUMENT, n);
        assert_string_equal(hdr, want);
        /* The protocol's words (the core may put "protocol error: " before them). */
        if (!strstr(pay, "fx: bad header line at byte 11 ") || !strstr(pay, why[i]))
            fail_msg("FAIL message: '%s'", pay);
        assert_true(raw_closed(fd));
        close(fd);
    }
    /* The server goes on. */
    int fd = px_raw_connect(F.both.port);
    char hdr[600], pay[64];
    raw_write(fd, "FX1 PING 2\n", 11);
    assert_int_equal(raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay), 0);
    assert_string_equal(hdr, "FX1 PONG 2");
    close(fd);
}

/* ---- (4b) the core's guards against a faulty protocol ---------------------------------- */

/* A protocol that consumes nothing (fx's HOG fault): the core keeps at most max_meta +
 * max_frame + 64 KiB of what it leaves, then ends the connection saying so. */
static void test_unconsumed_bytes_capped(void **state)
{
    (void)state;
    px_proc tiny;
    assert_int_equal(px_proc_start(&tiny, "tiny", "  codecs: [protobuf]\n"
                                                  "  protocols: [fx]\n"
                                                  "  limits: { max_frame: 4KiB, max_meta: 1KiB }\n"
                                                  "  services:\n"
                                                  "    - module: calc\n"),
                     0);
    int fd = px_raw_connect(tiny.port);
    assert_true(fd >= 0);
    raw_write(fd, "FX1 PING 1\nFX1 HOG\n", 19);
    static char junk[128 * 1024]; /* past the cap: 4096 + 1024 + 65536 = 70656 bytes */
    memset(junk, 'j', sizeof junk);
    raw_write(fd, junk, sizeof junk);
    char hdr[600], pay[4096];
    assert_int_equal(raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay), 0);
    assert_string_equal(hdr, "FX1 PONG 1");
    size_t n = raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay);
    char want[64];
    snprintf(want, sizeof want, "FX1 FAIL %d %zu", PX_RESOURCE_EXHAUSTED, n);
    assert_string_equal(hdr, want);
    if (!strstr(pay, "a message of more than 70656 bytes (max_meta + max_frame + 64 KiB)"))
        fail_msg("FAIL message: '%s'", pay);
    assert_true(raw_closed(fd));
    close(fd);
    /* The server goes on. */
    fd = px_raw_connect(tiny.port);
    raw_add(fd, 1, "-", 1, 2);
    raw_msg(fd, hdr, sizeof hdr, pay, sizeof pay);
    assert_memory_equal(hdr, "FX1 OK 1 0 ", 11);
    close(fd);
    assert_int_equal(px_proc_stop(&tiny), 0);
}

/* A client protocol whose messages take no bytes (fx's ZERO fault, answered to method
 * fx.Fault/Zero): both clients stop reading it and fail the call, naming the server,
 * instead of looping; the next call gets a new connection. */
static void test_zero_byte_messages_stopped(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client(&cfg, F.both.port, TIMEOUTS "      protocol: fx\n");
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    for (int wait = 0; wait < 2; wait++) {
        px_err err;
        ProtobufCMessage *rep = NULL;
        px_status st = wait ? px_call_wait(c, "fx.Fault/Zero", &req.base,
                                           &calc__add_reply__descriptor, NULL, &rep, &err)
                            : px_call(c, "fx.Fault/Zero", &req.base,
                                      &calc__add_reply__descriptor, NULL, &rep, &err);
        assert_int_equal(st, PX_INTERNAL);
        char want[128];
        snprintf(want, sizeof want, "protocol error from 127.0.0.1:%d: messages that consumed "
                 "no bytes", F.both.port);
        if (!strstr(err.msg, want))
            fail_msg("%s client: '%s' lacks '%s'", wait ? "async" : "blocking", err.msg, want);
        int64_t sum = 0;
        assert_int_equal(px_test_add(c, wait, 2, 3, &sum, &err), PX_OK);
        assert_int_equal(sum, 5);
    }
    px_client_free(c);
    px_config_free(cfg);
}

/* ---- (5) config: unknown protocols at FILE:LINE:COL ------------------------------------------ */

/* `plexusd -t` on text: its exit status, stderr in err. */
static int check_conf(const char *text, char *path, size_t cap, char *err, size_t ecap)
{
    snprintf(path, cap, "%s/check.yaml", F.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "modules:\n  path: [%s]\n%s", getenv("PX_MODULE_DIR"), text);
    fclose(f);
    char out[4096];
    char *argv[] = {F.plexusd, "-t", "-c", path, NULL};
    int rc = px_run(argv, out, sizeof out, err, ecap);
    unlink(path);
    return rc;
}

/* Refused at the line and column of `nosuch` in text. */
static void expect_refused(const char *text)
{
    char path[128], err[4096], want[256];
    const char *at = strstr(text, "nosuch");
    int line = 3, col = 1; /* text follows the two lines of modules: */
    for (const char *p = text; p < at; p++, col++)
        if (*p == '\n') {
            line++;
            col = 0;
        }
    assert_int_equal(check_conf(text, path, sizeof path, err, sizeof err), 1);
    snprintf(want, sizeof want, "plexusd: %s:%d:%d: ", path, line, col);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, "nosuch"))
        fail_msg("expected \"%s...nosuch...\", got \"%s\"", want, err);
}

static void test_unknown_protocol_names_refused(void **state)
{
    (void)state;
    char path[128], err[4096];
    const char *srv = "server:\n  listen: 127.0.0.1:1\n";
    char text[512];
    snprintf(text, sizeof text, "%s  protocols: [native, fx]\nclient:\n  upstreams:\n    calc:\n"
             "      endpoints: [127.0.0.1:1]\n      protocol: fx\n", srv);
    if (check_conf(text, path, sizeof path, err, sizeof err) != 0)
        fail_msg("a good config refused: %s", err);
    snprintf(text, sizeof text, "%s  protocols: [native, nosuch]\n", srv);
    expect_refused(text);
    snprintf(text, sizeof text, "%sclient:\n  upstreams:\n    calc:\n"
             "      endpoints: [127.0.0.1:1]\n      protocol: nosuch\n", srv);
    expect_refused(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_protocols_serve_calc),
        cmocka_unit_test(test_fx_async),
        cmocka_unit_test(test_fx_metadata_both_ways),
        cmocka_unit_test(test_fx_errors),
        cmocka_unit_test(test_fx_raw_wire),
        cmocka_unit_test(test_fx_cancel),
        cmocka_unit_test(test_http_request_closed_and_logged),
        cmocka_unit_test(test_fx_only_refuses_native),
        cmocka_unit_test(test_malformed_fx_header_fails),
        cmocka_unit_test(test_unconsumed_bytes_capped),
        cmocka_unit_test(test_zero_byte_messages_stopped),
        cmocka_unit_test(test_unknown_protocol_names_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
