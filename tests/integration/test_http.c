/* proto_http through real processes: curl against a plexusd listening with `protocols:
 * [native, http]` (calc): every calc method in JSON, protobuf and XML bodies, errors with
 * their HTTP code, px-status and JSON body, keep-alive (one connection for several
 * requests), metadata both ways, the px-timeout-ms deadline, GET /, and a native client
 * on the same port at the same time. Hostile HTTP/1 over a raw socket (huge headers,
 * bad chunked encoding, smuggling shapes, folded headers, bare LF, an oversized body, a
 * slow head, a pipelining flood): each gets its exact status line and the connection
 * closed (the flood: every answer, in order), and the server then serves a normal call.
 * A listener with `protocols: [http]` serves curl alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"
#include "px_raw.h"

#define FLOOD 200

/* deadline_floor: a call with under 200 ms of its deadline left is refused, which shows
 * the deadline px-timeout-ms gave it. max_inflight_per_conn 8: the pipelining flood
 * passes it. max_conn_memory 136 KiB (the least max_frame and max_meta allow): a reply
 * past twice that is dropped. */
static const char *BOTH_YAML =
    "  codecs: [json, protobuf, xml]\n"
    "  protocols: [native, http]\n"
    "  limits: { max_inflight_per_conn: 8, read_timeout: 300ms, max_meta: 4KiB,\n"
    "            max_frame: 64KiB, max_conn_memory: 136KiB }\n"
    "  filters: [{module: deadline_floor, min_remaining: 200ms}]\n"
    "  services:\n"
    "    - module: calc\n"
    "      workers: 4\n";

static const char *HTTP_ONLY_YAML = "  codecs: [json]\n"
                                    "  protocols: [http]\n"
                                    "  limits: { max_connections: 3 }\n"
                                    "  services:\n"
                                    "    - module: calc\n";

typedef struct fixture {
    px_proc both, http;
    char dir[64];
    char url[128]; /* http://127.0.0.1:PORT of both */
} fixture;

static fixture F;

static int setup(void **state)
{
    (void)state;
    px_proc_die_with_test();
    snprintf(F.dir, sizeof F.dir, "/tmp/pxhttp-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    if (px_proc_start(&F.both, "both", BOTH_YAML) != 0 ||
        px_proc_start(&F.http, "httponly", HTTP_ONLY_YAML) != 0)
        return -1;
    snprintf(F.url, sizeof F.url, "http://127.0.0.1:%d", F.both.port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = px_proc_stop(&F.both);
    int rc2 = px_proc_stop(&F.http);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", F.dir);
    if (system(cmd) != 0)
        return -1;
    return rc == 0 && rc2 == 0 ? 0 : -1;
}

/* ---- helpers -------------------------------------------------------------------- */

/* curl -sS -i with the NULL-terminated args; its output (headers and body) in out. */
static int curl(char *out, size_t cap, ...)
{
    char *argv[40] = {"/usr/bin/curl", "-sS", "-i", "--max-time", "20"};
    int n = 5;
    va_list ap;
    va_start(ap, cap);
    for (char *a; n < 39 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char err[1024];
    int rc = px_run(argv, out, cap, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "curl: exit %d: %s\n", rc, err);
    return rc;
}

/* POST path with a JSON body; the whole answer in out. */
static void post_json(char *out, size_t cap, const char *path, const char *body, const char *hdr)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", F.url, path);
    assert_int_equal(curl(out, cap, "-H", "Content-Type: application/json", "-H",
                          hdr ? hdr : "X-None: 1", "--data-binary", body, url, (char *)NULL),
                     0);
}

/* Whether out (a curl -i answer) has status line "HTTP/1.1 code" first. */
static void assert_code(const char *out, int code)
{
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.1 %d ", code);
    if (strncmp(out, want, strlen(want)) != 0)
        fail_msg("expected %s, got:\n%s", want, out);
}

static void assert_has(const char *out, const char *what)
{
    if (!strstr(out, what))
        fail_msg("expected '%s' in:\n%s", what, out);
}

/* A string literal and its length. */
#define S(lit) lit, sizeof lit - 1

/* Sends data on a fresh connection and reads until the server closes it (or 5 s of
 * silence: px_raw_connect's receive timeout); what came in out (NUL-terminated). */
static size_t raw_exchange(int port, const char *data, size_t len, char *out, size_t cap,
                           int *closed)
{
    int fd = px_raw_connect(port);
    assert_true(fd >= 0);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w <= 0)
            break; /* the server may close before reading all of a hostile request */
        off += (size_t)w;
    }
    size_t got = 0;
    *closed = 0;
    for (;;) {
        ssize_t r = read(fd, out + got, cap - 1 - got);
        if (r == 0)
            *closed = 1;
        if (r <= 0 || got + (size_t)r == cap - 1) {
            got += r > 0 ? (size_t)r : 0;
            break;
        }
        got += (size_t)r;
    }
    out[got] = 0;
    close(fd);
    return got;
}

/* A hostile request must get exactly status line `line`, with `why` in the answer, and
 * the connection closed; the server then still serves a call. */
static void hostile(const char *data, size_t len, const char *line, const char *why)
{
    static char out[65536];
    int closed;
    raw_exchange(F.both.port, data, len, out, sizeof out, &closed);
    if (strncmp(out, line, strlen(line)) != 0 || strncmp(out + strlen(line), "\r\n", 2) != 0)
        fail_msg("expected status line '%s', got:\n%s", line, out);
    assert_has(out, why);
    assert_has(out, "Connection: close\r\n");
    assert_true(closed);
    char ok[4096];
    post_json(ok, sizeof ok, "/calc.Calculator/Add", "{\"a\":40,\"b\":2}", NULL);
    assert_code(ok, 200);
    assert_has(ok, "{\"sum\":\"42\"}");
}

/* ---- calls ---------------------------------------------------------------------- */

static void test_calc_json(void **state)
{
    (void)state;
    char out[8192];
    post_json(out, sizeof out, "/calc.Calculator/Add", "{\"a\":20,\"b\":22}", NULL);
    assert_code(out, 200);
    assert_has(out, "Content-Type: application/json\r\n");
    assert_has(out, "px-status: OK\r\n");
    assert_has(out, "\r\n\r\n{\"sum\":\"42\"}");
    post_json(out, sizeof out, "/calc.Calculator/Div", "{\"a\":17,\"b\":5}", NULL);
    assert_code(out, 200);
    assert_has(out, "{\"quotient\":\"3\",\"remainder\":\"2\"}");
    post_json(out, sizeof out, "/calc.Calculator/Echo",
              "{\"fString\":\"h\\u00e9\",\"rInt32\":[1,2],\"inner\":{\"id\":7}}", NULL);
    assert_code(out, 200);
    assert_has(out, "\"fString\":\"h\xc3\xa9\"");
    assert_has(out, "\"rInt32\":[1,2]");
    assert_has(out, "\"inner\":{\"id\":7}");
    post_json(out, sizeof out, "/calc.Calculator/Sleep", "{\"ms\":5}", NULL);
    assert_code(out, 200);
    assert_has(out, "{\"sleptMs\":5}");
    post_json(out, sizeof out, "/calc.Calculator/Whoami", "{}", NULL);
    assert_code(out, 200);
    assert_has(out, "{\"id\":\"both\"}");
    /* No Content-Type at all: JSON. */
    char url[256];
    snprintf(url, sizeof url, "%s/calc.Calculator/Add", F.url);
    assert_int_equal(curl(out, sizeof out, "-H", "Content-Type:", "--data-binary",
                          "{\"a\":1,\"b\":1}", url, (char *)NULL), 0);
    assert_code(out, 200);
    assert_has(out, "{\"sum\":\"2\"}");
    /* XML in, XML out. */
    assert_int_equal(curl(out, sizeof out, "-H", "Content-Type: application/xml", "--data-binary",
                          "<AddRequest><a>3</a><b>4</b></AddRequest>", url, (char *)NULL), 0);
    assert_code(out, 200);
    assert_has(out, "Content-Type: application/xml\r\n");
    assert_has(out, "<AddReply><sum>7</sum></AddReply>");
}

static void test_protobuf_body(void **state)
{
    (void)state;
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 1000;
    req.b = 234;
    uint8_t wire[64];
    size_t n = calc__add_request__pack(&req, wire);
    char in[128], rep[128], url[256], out[4096];
    snprintf(in, sizeof in, "%s/add.pb", F.dir);
    snprintf(rep, sizeof rep, "%s/add.reply", F.dir);
    FILE *f = fopen(in, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(wire, 1, n, f), n);
    fclose(f);
    char data[160];
    snprintf(data, sizeof data, "@%s", in);
    snprintf(url, sizeof url, "%s/calc.Calculator/Add", F.url);
    for (int i = 0; i < 2; i++) { /* both names of the type */
        const char *ct = i ? "Content-Type: application/protobuf"
                           : "Content-Type: application/x-protobuf";
        assert_int_equal(curl(out, sizeof out, "-H", ct, "--data-binary", data, "-o", rep, "-D",
                              "-", url, (char *)NULL), 0);
        assert_code(out, 200);
        assert_has(out, i ? "Content-Type: application/protobuf\r\n"
                          : "Content-Type: application/x-protobuf\r\n");
        uint8_t got[4096]; /* curl -i writes the headers to the file too */
        f = fopen(rep, "rb");
        assert_non_null(f);
        size_t m = fread(got, 1, sizeof got - 1, f);
        fclose(f);
        got[m] = 0;
        const uint8_t *b = (const uint8_t *)strstr((const char *)got, "\r\n\r\n");
        assert_non_null(b);
        b += 4;
        Calc__AddReply *r = calc__add_reply__unpack(NULL, m - (size_t)(b - got), b);
        assert_non_null(r);
        assert_int_equal(r->sum, 1234);
        calc__add_reply__free_unpacked(r, NULL);
    }
}

static void test_errors(void **state)
{
    (void)state;
    char out[8192], url[256];
    post_json(out, sizeof out, "/calc.Calculator/Div", "{\"a\":1,\"b\":0}", NULL);
    assert_code(out, 400);
    assert_has(out, "px-status: INVALID_ARGUMENT\r\n");
    assert_has(out, "px-message: division by zero\r\n");
    assert_has(out, "{\"status\":\"INVALID_ARGUMENT\",\"message\":\"division by zero\"}");
    post_json(out, sizeof out, "/calc.Calculator/Add", "{\"a\":", NULL);
    assert_code(out, 400);
    assert_has(out, "px-status: INVALID_ARGUMENT\r\n");
    assert_has(out, "cannot decode calc.AddRequest with codec json");
    post_json(out, sizeof out, "/calc.Nope/Add", "{}", NULL);
    assert_code(out, 501);
    assert_has(out, "px-status: UNIMPLEMENTED\r\n");
    assert_has(out, "\"message\":\"unknown service 'calc.Nope'");
    post_json(out, sizeof out, "/calc.Calculator/Sleep", "{\"ms\":999999}", NULL);
    assert_code(out, 400);
    post_json(out, sizeof out, "/nothing/here/at/all", "{}", NULL);
    assert_code(out, 404);
    assert_has(out, "px-status: NOT_FOUND\r\n");
    assert_has(out, "no such path '/nothing/here/at/all'");
    snprintf(url, sizeof url, "%s/calc.Calculator/Add", F.url);
    assert_int_equal(curl(out, sizeof out, "-X", "PUT", "--data-binary", "{}", url, (char *)NULL), 0);
    assert_code(out, 405);
    assert_has(out, "Allow: POST\r\n");
    assert_int_equal(curl(out, sizeof out, "-X", "DELETE", url, (char *)NULL), 0);
    assert_code(out, 405);
    snprintf(url, sizeof url, "%s/", F.url);
    assert_int_equal(curl(out, sizeof out, "-X", "POST", "--data-binary", "{}", url, (char *)NULL), 0);
    assert_code(out, 405);
    assert_has(out, "Allow: GET\r\n");
    assert_int_equal(curl(out, sizeof out, "-I", url, (char *)NULL), 0); /* HEAD */
    assert_code(out, 405);
    /* A HEAD's answer has no body: the next answer on the connection follows at once. */
    int closed;
    raw_exchange(F.both.port, S("HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n"
                                "Connection: close\r\n\r\n"), out, sizeof out, &closed);
    assert_code(out, 405);
    const char *second = strstr(out, "\r\n\r\n");
    assert_non_null(second);
    assert_code(second + 4, 200);
    assert_true(closed);
    /* curl -d's default type: not one of the server's. */
    snprintf(url, sizeof url, "%s/calc.Calculator/Add", F.url);
    assert_int_equal(curl(out, sizeof out, "-d", "a=1", url, (char *)NULL), 0);
    assert_code(out, 415);
    assert_has(out, "Content-Type 'application/x-www-form-urlencoded' is not one this server reads");
    /* The reply comes in the request's type: an Accept without it cannot be met. */
    post_json(out, sizeof out, "/calc.Calculator/Add", "{}", "Accept: application/xml");
    assert_code(out, 406);
    assert_has(out, "which Accept 'application/xml' does not admit");
    post_json(out, sizeof out, "/calc.Calculator/Add", "{\"a\":1}", "Accept: application/*");
    assert_code(out, 200);
}

static void test_http_only_listener(void **state)
{
    (void)state;
    char out[4096], url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/calc.Calculator/Add", F.http.port);
    assert_int_equal(curl(out, sizeof out, "-H", "Content-Type: application/json",
                          "--data-binary", "{\"a\":5,\"b\":6}", url, (char *)NULL), 0);
    assert_code(out, 200);
    assert_has(out, "{\"sum\":\"11\"}");
    /* Its only codec is json: protobuf is refused with the server's own words. */
    assert_int_equal(curl(out, sizeof out, "-H", "Content-Type: application/x-protobuf",
                          "--data-binary", "", url, (char *)NULL), 0);
    assert_code(out, 415);
    assert_has(out, "codec 'protobuf' is not available on server httponly (it has: json)");
    /* A native client's HELLO is no HTTP request: closed. */
    px_raw_reader r = px_raw_open(F.http.port, "protobuf");
    assert_int_equal(r.fd, -1);
}

/* Two URLs on one curl: one connection, the second request answered on it. */
static void test_keep_alive(void **state)
{
    (void)state;
    char out[8192], url[256], url2[256];
    snprintf(url, sizeof url, "%s/calc.Calculator/Add", F.url);
    snprintf(url2, sizeof url2, "%s/", F.url);
    assert_int_equal(curl(out, sizeof out, "-w", "[connects %{num_connects}]", "-H",
                          "Content-Type: application/json", "--data-binary", "{\"a\":1,\"b\":2}",
                          url, "--next", "-i", "-w", "[connects %{num_connects}]", url2, "--next",
                          "-i", "-w", "[connects %{num_connects}]", "-H",
                          "Content-Type: application/json", "--data-binary", "{\"a\":3}", url,
                          (char *)NULL), 0);
    assert_has(out, "{\"sum\":\"3\"}[connects 1]");
    assert_has(out, "calc.Calculator");
    assert_has(out, "{\"sum\":\"3\"}[connects 0]");
    const char *p = strstr(out, "[connects 0]");
    assert_non_null(p);
    assert_non_null(strstr(p + 1, "[connects 0]")); /* the third reused it too */
    /* HTTP/1.0 with keep-alive is kept too; without, closed after the answer. */
    assert_int_equal(curl(out, sizeof out, "-0", "-H", "Connection: keep-alive", "-w",
                          "[connects %{num_connects}]", url2, "--next", "-0", "-i", "-H",
                          "Connection: keep-alive", "-w", "[connects %{num_connects}]", url2,
                          (char *)NULL), 0);
    assert_has(out, "Connection: keep-alive\r\n");
    assert_has(out, "[connects 1]");
    assert_has(out, "[connects 0]");
    assert_int_equal(curl(out, sizeof out, "-0", url2, (char *)NULL), 0);
    assert_has(out, "Connection: close\r\n");
}

static void test_metadata(void **state)
{
    (void)state;
    char out[8192], url[256];
    snprintf(url, sizeof url, "%s/calc.Calculator/Echo", F.url);
    /* Echo answers with the request's metadata: both directions at once. */
    assert_int_equal(curl(out, sizeof out, "-H", "Content-Type: application/json", "-H",
                          "px-meta-tenant: blue", "-H", "PX-Meta-Trace-Bin: AP8=", "-H",
                          "px-meta-tenant: green", "--data-binary", "{\"fInt32\":5}", url,
                          (char *)NULL), 0);
    assert_code(out, 200);
    const char *a = strstr(out, "px-meta-tenant: blue\r\n");
    assert_non_null(a);
    assert_non_null(strstr(a, "px-meta-trace-bin: AP8=\r\n"));
    assert_non_null(strstr(a, "px-meta-tenant: green\r\n"));
    assert_int_equal(curl(out, sizeof out, "-H", "Content-Type: application/json", "-H",
                          "px-meta-x-bin: !!!", "--data-binary", "{}", url, (char *)NULL), 0);
    assert_code(out, 400);
    assert_has(out, "header px-meta-x-bin: the value of a px-meta-*-bin header is not base64");
    assert_has(out, "Connection: close\r\n");
    /* A value the metadata rules refuse: the core's words, the connection stays. */
    assert_int_equal(curl(out, sizeof out, "-H", "Content-Type: application/json", "-H",
                          "px-meta-k: caf\xc3\xa9", "--data-binary", "{}", url, (char *)NULL), 0);
    assert_code(out, 400);
    assert_has(out, "malformed metadata");
}

static void test_deadline_header(void **state)
{
    (void)state;
    char out[8192];
    post_json(out, sizeof out, "/calc.Calculator/Add", "{\"a\":1}", "px-timeout-ms: 100");
    assert_code(out, 504);
    assert_has(out, "px-status: DEADLINE_EXCEEDED\r\n");
    assert_has(out, "under the 200000us this server needs");
    post_json(out, sizeof out, "/calc.Calculator/Add", "{\"a\":1}", "px-timeout-ms: 60000");
    assert_code(out, 200);
    post_json(out, sizeof out, "/calc.Calculator/Add", "{\"a\":1}", "px-timeout-ms: soon");
    assert_code(out, 400);
    assert_has(out, "header px-timeout-ms: 'soon' is not a number of milliseconds");
}

static void test_list_services(void **state)
{
    (void)state;
    char out[16384], url[256];
    snprintf(url, sizeof url, "%s/", F.url);
    assert_int_equal(curl(out, sizeof out, url, (char *)NULL), 0);
    assert_code(out, 200);
    assert_has(out, "Content-Type: application/json\r\n");
    assert_has(out, "{\"name\":\"calc.Calculator\",\"methods\":[{\"name\":\"Add\","
                    "\"inputType\":\"calc.AddRequest\",\"outputType\":\"calc.AddReply\"}");
    assert_has(out, "\"plexus.reflection.v1.Reflection\"");
    assert_int_equal(curl(out, sizeof out, "-H", "Accept: application/x-protobuf", "-o",
                          "/dev/null", "-D", "-", url, (char *)NULL), 0);
    assert_code(out, 200);
    assert_has(out, "Content-Type: application/x-protobuf\r\n");
    assert_int_equal(curl(out, sizeof out, "-H", "Accept: text/html", url, (char *)NULL), 0);
    assert_code(out, 406);
}

/* A native client on the same port, calling from a thread while curl calls. */
typedef struct native_run {
    int port, ok;
    char dir[64];
} native_run;

static void *native_calls(void *arg)
{
    native_run *nr = arg;
    char path[128];
    snprintf(path, sizeof path, "%s/native.yaml", nr->dir);
    if (px_write_client_conf(path, &nr->port, 1, "      codec: protobuf\n") != 0)
        return NULL;
    px_config *cfg = NULL;
    px_client *c = NULL;
    px_err err;
    if (px_config_load(path, &cfg, &err) != PX_OK || px_client_new(cfg, "calc", &c, &err) != PX_OK) {
        fprintf(stderr, "native client: %s\n", err.msg);
        return NULL;
    }
    for (int i = 0; i < 300; i++) {
        Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
        req.a = i;
        req.b = 1;
        ProtobufCMessage *rep = NULL;
        if (px_call(c, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor, NULL, &rep,
                    &err) == PX_OK) {
            nr->ok += ((Calc__AddReply *)rep)->sum == i + 1;
            px_msg_free(rep);
        }
    }
    px_client_free(c);
    px_config_free(cfg);
    return NULL;
}

static void test_native_and_http_same_port(void **state)
{
    (void)state;
    native_run nr = {.port = F.both.port};
    snprintf(nr.dir, sizeof nr.dir, "%s", F.dir);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, native_calls, &nr), 0);
    char out[4096], body[64], want[64];
    for (int i = 1; i <= 30; i++) { /* from 1: proto3 JSON leaves a sum of 0 out */
        snprintf(body, sizeof body, "{\"a\":%d,\"b\":%d}", i, i);
        snprintf(want, sizeof want, "{\"sum\":\"%d\"}", 2 * i);
        post_json(out, sizeof out, "/calc.Calculator/Add", body, NULL);
        assert_code(out, 200);
        assert_has(out, want);
    }
    pthread_join(t, NULL);
    assert_int_equal(nr.ok, 300);
}

/* ---- hostile HTTP/1 -------------------------------------------------------------- */

#define ADD_HEAD "POST /calc.Calculator/Add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
#define ADD_BODY "{\"a\":1,\"b\":2}"

static void test_huge_headers(void **state)
{
    (void)state;
    /* max_meta 4 KiB + 8 KiB of head. */
    size_t n = 20000;
    char *req = malloc(n + 64);
    assert_non_null(req);
    int k = snprintf(req, 64, "GET / HTTP/1.1\r\nX-Big: ");
    memset(req + k, 'a', n);
    memcpy(req + k + n, "\r\n\r\n", 4);
    hostile(req, (size_t)k + n + 4, "HTTP/1.1 431 Request Header Fields Too Large",
            "the request line and headers pass 12288 bytes (max_meta + 8 KiB)");
    /* Many small headers add up the same way. */
    size_t m = 0;
    m += (size_t)snprintf(req + m, 64, "GET / HTTP/1.1\r\n");
    while (m < 14000)
        m += (size_t)snprintf(req + m, 64, "X-H%zu: v\r\n", m);
    memcpy(req + m, "\r\n", 2);
    hostile(req, m + 2, "HTTP/1.1 431 Request Header Fields Too Large", "pass 12288 bytes");
    free(req);
}

static void test_bad_chunked(void **state)
{
    (void)state;
    hostile(S(ADD_HEAD "Transfer-Encoding: chunked\r\n\r\nzz\r\n"), "HTTP/1.1 400 Bad Request",
            "bad chunked encoding: invalid character in chunk size header");
    hostile(S(ADD_HEAD "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":1}\r\n"),
            "HTTP/1.1 400 Bad Request", "HPE_");
    /* A chunked body past max_frame (64 KiB): 413 without waiting for the rest. */
    static char big[80000];
    int k = snprintf(big, sizeof big, ADD_HEAD "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 4; i++) {
        k += snprintf(big + k, sizeof big - (size_t)k, "4000\r\n");
        memset(big + k, ' ', 0x4000);
        k += 0x4000;
        k += snprintf(big + k, sizeof big - (size_t)k, "\r\n");
    }
    k += snprintf(big + k, sizeof big - (size_t)k, "10\r\n0123456789abcdef\r\n");
    hostile(big, (size_t)k, "HTTP/1.1 413 Content Too Large",
            "the chunked body passes max_frame 65536 bytes");
    /* And a good one is served. */
    char out[4096];
    int closed;
    raw_exchange(F.both.port, S(ADD_HEAD "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                "5\r\n{\"a\":\r\n8\r\n1,\"b\":2}\r\n0\r\n\r\n"), out, sizeof out,
                 &closed);
    assert_code(out, 200);
    assert_has(out, "{\"sum\":\"3\"}");
    assert_true(closed);
}

static void test_smuggling_shapes(void **state)
{
    (void)state;
    hostile(S(ADD_HEAD "Content-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n" ADD_BODY),
            "HTTP/1.1 400 Bad Request", "request smuggling shape");
    hostile(S(ADD_HEAD "Transfer-Encoding: chunked\r\nContent-Length: 13\r\n\r\n" ADD_BODY),
            "HTTP/1.1 400 Bad Request", "request smuggling shape");
    hostile(S(ADD_HEAD "Content-Length: 13\r\nContent-Length: 13\r\n\r\n" ADD_BODY),
            "HTTP/1.1 400 Bad Request", "request smuggling shape");
    hostile(S(ADD_HEAD "Content-Length: 13\r\nContent-Length: 5\r\n\r\n" ADD_BODY),
            "HTTP/1.1 400 Bad Request", "request smuggling shape");
    hostile(S(ADD_HEAD "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
            "HTTP/1.1 400 Bad Request", "Transfer-Encoding other than 'chunked'");
    hostile(S(ADD_HEAD "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            "HTTP/1.1 400 Bad Request", "Transfer-Encoding");
    hostile(S(ADD_HEAD "X-Long: a\r\n b\r\nContent-Length: 13\r\n\r\n" ADD_BODY),
            "HTTP/1.1 400 Bad Request", "obs-fold: folded headers are refused");
    hostile(S("POST /calc.Calculator/Add HTTP/1.1\nHost: x\r\nContent-Length: 13\r\n\r\n" ADD_BODY),
            "HTTP/1.1 400 Bad Request", "a bare LF ends a line of the head");
    hostile(S(ADD_HEAD "Content-Length: 13\r\n\n" ADD_BODY), "HTTP/1.1 400 Bad Request",
            "a bare LF ends a line of the head");
    hostile(S(ADD_HEAD "Content-Length: -1\r\n\r\n"), "HTTP/1.1 400 Bad Request", "HPE_");
    hostile(S(ADD_HEAD "Content-Length: 100000\r\n\r\n"), "HTTP/1.1 413 Content Too Large",
            "a body of 100000 bytes (Content-Length) is more than max_frame 65536");
    hostile(S("POST /calc.Calculator/Add HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            "HTTP/1.1 400 Bad Request", "Transfer-Encoding in an HTTP/1.0 request");
}

/* A head that never ends: the read_timeout (300 ms) cuts it with 408. */
static void test_slow_head(void **state)
{
    (void)state;
    hostile(S("POST /calc.Calculator/Add HTTP/1.1\r\nHost: x\r\n"), "HTTP/1.1 408 Request Timeout",
            "frame not completed within read_timeout (300ms)");
}

/* Past max_connections (3) on the [http] listener: 503 before a byte is read. */
static void test_http_max_connections(void **state)
{
    (void)state;
    int held[3];
    char out[4096], url[256];
    for (int i = 0; i < 3; i++) {
        held[i] = px_raw_connect(F.http.port);
        assert_true(held[i] >= 0);
    }
    int closed;
    raw_exchange(F.http.port, S("GET / HTTP/1.1\r\n\r\n"), out, sizeof out, &closed);
    assert_code(out, 503);
    assert_has(out, "px-status: RESOURCE_EXHAUSTED\r\n");
    assert_has(out, "too many connections (max_connections 3)");
    assert_true(closed);
    /* Once they are gone, a client is served again (the count drops as the server
     * sees the closes: a bounded number of tries). */
    for (int i = 0; i < 3; i++)
        close(held[i]);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", F.http.port);
    int ok = 0;
    for (int t = 0; t < 50 && !ok; t++) {
        assert_int_equal(curl(out, sizeof out, url, (char *)NULL), 0);
        ok = strncmp(out, "HTTP/1.1 200 ", 13) == 0;
        if (!ok)
            usleep(20000);
    }
    assert_true(ok);
}

/* Reads the next answer at *p: its code, body in body (NUL-terminated); advances *p. */
static int next_answer(const char **p, char *body, size_t cap)
{
    int code = 0;
    if (sscanf(*p, "HTTP/1.1 %d ", &code) != 1)
        return -1;
    const char *end = strstr(*p, "\r\n\r\n");
    const char *cl = strstr(*p, "Content-Length: ");
    if (!end || !cl || cl > end)
        return -1;
    size_t n = strtoul(cl + 16, NULL, 10);
    if (n >= cap)
        return -1;
    memcpy(body, end + 4, n);
    body[n] = 0;
    *p = end + 4 + n;
    return code;
}

/* A reply the core drops (past twice max_conn_memory: 30,000 repeated enums of 2 bytes
 * each in JSON come back as 20 bytes each) is answered 429 in its place, and the
 * pipelined answer after it is still its own: the module keeps what it sent until the
 * core has had its say. */
static void test_reply_dropped_in_place(void **state)
{
    (void)state;
    size_t n = 30000, cap = 2 * n + 512;
    char *req = malloc(cap), *body = malloc(2 * n + 64);
    assert_non_null(req);
    assert_non_null(body);
    size_t bl = (size_t)snprintf(body, 64, "{\"rColor\":[");
    for (size_t i = 0; i < n; i++)
        bl += (size_t)snprintf(body + bl, 3, i ? ",0" : "0");
    bl += (size_t)snprintf(body + bl, 3, "]}");
    size_t len = (size_t)snprintf(req, cap, "POST /calc.Calculator/Echo HTTP/1.1\r\n"
                                  "Content-Length: %zu\r\n\r\n", bl);
    memcpy(req + len, body, bl);
    len += bl;
    len += (size_t)snprintf(req + len, cap - len, "POST /calc.Calculator/Add HTTP/1.1\r\n"
                            "Connection: close\r\nContent-Length: 13\r\n\r\n" ADD_BODY);
    static char out[65536];
    int closed;
    raw_exchange(F.both.port, req, len, out, sizeof out, &closed);
    free(req);
    free(body);
    const char *p = out;
    char got[1024];
    assert_int_equal(next_answer(&p, got, sizeof got), 429);
    assert_non_null(strstr(got, "calc.Calculator/Echo: the reply of "));
    assert_non_null(strstr(got, "bytes was dropped: the connection already holds"));
    assert_int_equal(next_answer(&p, got, sizeof got), 200);
    assert_string_equal(got, "{\"sum\":\"3\"}");
    assert_true(closed);
}

/* FLOOD pipelined requests in one write, a Sleep first (so that later answers finish
 * before it, on the workers): every one answered, in order, each 200 with its own sum or
 * 429 for passing max_inflight_per_conn 8; the last asked to close. */
static void test_pipelining_flood(void **state)
{
    (void)state;
    size_t cap = FLOOD * 160 + 256;
    char *req = malloc(cap);
    assert_non_null(req);
    size_t n = (size_t)snprintf(req, cap, "POST /calc.Calculator/Sleep HTTP/1.1\r\n"
                                "Content-Length: 10\r\n\r\n{\"ms\":100}");
    for (int i = 1; i < FLOOD; i++) {
        char body[48];
        int bl = snprintf(body, sizeof body, "{\"a\":%d,\"b\":0}", i);
        n += (size_t)snprintf(req + n, cap - n, "POST /calc.Calculator/Add HTTP/1.1\r\n"
                              "Content-Length: %d\r\n%s\r\n%s", bl,
                              i == FLOOD - 1 ? "Connection: close\r\n" : "", body);
    }
    static char out[1 << 20];
    int closed;
    raw_exchange(F.both.port, req, n, out, sizeof out, &closed);
    free(req);
    assert_true(closed);
    const char *p = out;
    char body[1024], want[64];
    int ok = 0, busy = 0;
    assert_int_equal(next_answer(&p, body, sizeof body), 200);
    assert_string_equal(body, "{\"sleptMs\":100}");
    for (int i = 1; i < FLOOD; i++) {
        int code = next_answer(&p, body, sizeof body);
        snprintf(want, sizeof want, "{\"sum\":\"%d\"}", i);
        if (code == 200 && strcmp(body, want) == 0)
            ok++;
        else if (code == 429 && strstr(body, "max_inflight_per_conn 8"))
            busy++;
        else
            fail_msg("answer %d: code %d, body %s", i, code, body);
    }
    assert_int_equal(*p, 0); /* nothing after the last answer */
    printf("pipelining flood: %d answered, %d refused with 429\n", ok, busy);
    assert_int_equal(ok + busy, FLOOD - 1);
    assert_true(ok >= 1);
    char again[4096];
    post_json(again, sizeof again, "/calc.Calculator/Add", "{\"a\":40,\"b\":2}", NULL);
    assert_code(again, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calc_json),
        cmocka_unit_test(test_protobuf_body),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_http_only_listener),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_deadline_header),
        cmocka_unit_test(test_list_services),
        cmocka_unit_test(test_native_and_http_same_port),
        cmocka_unit_test(test_huge_headers),
        cmocka_unit_test(test_bad_chunked),
        cmocka_unit_test(test_smuggling_shapes),
        cmocka_unit_test(test_slow_head),
        cmocka_unit_test(test_http_max_connections),
        cmocka_unit_test(test_pipelining_flood),
        cmocka_unit_test(test_reply_dropped_in_place),
    };
    return cmocka_run_group_tests_name("http", tests, setup, teardown);
}
