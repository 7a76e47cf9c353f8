/* proto_grpc through real processes: plexusd with `protocols: [native, grpc]` serving
 * calc to Debian's python3-grpcio (tests/interop/grpc_calc_client.py: every method,
 * errors and their codes, deadlines, metadata both ways, 1,000 calls at once over one
 * channel) while a native client calls the same port; curl and nghttp over h2c for
 * what grpcio cannot send (application/grpc+json, a codec the server lacks, a bad
 * grpc-timeout, a compressed message, a content-type that is not gRPC) and for the
 * server's own deadline from grpc-timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"

static const char *CALC_YAML = "  codecs: [protobuf, json]\n"
                               "  protocols: [native, grpc]\n"
                               "  limits: { max_frame: 1MiB }\n"
                               "  services:\n"
                               "    - module: calc\n"
                               "      workers: 4\n";
/* fxmeta answers with metadata (tests/fixtures/fx_meta.c); no json codec here. */
static const char *FXMETA_YAML = "  codecs: [protobuf]\n"
                                 "  protocols: [grpc]\n"
                                 "  services:\n"
                                 "    - module: fxmeta\n";

static struct {
    px_proc calc, fxmeta;
    char dir[64];
    char src[512];
} F;

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("PX_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "PX_SOURCE_DIR is not set: run through ctest\n");
        return -1;
    }
    snprintf(F.src, sizeof F.src, "%s", src);
    px_proc_die_with_test();
    snprintf(F.dir, sizeof F.dir, "/tmp/pxgrpc-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    if (px_proc_start(&F.calc, "g1", CALC_YAML) != 0)
        return -1;
    return px_proc_start(&F.fxmeta, "fx1", FXMETA_YAML);
}

static int teardown(void **state)
{
    (void)state;
    int rc = px_proc_stop(&F.calc), rc2 = px_proc_stop(&F.fxmeta);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", F.dir);
    if (system(cmd) != 0)
        return -1;
    return rc == 0 && rc2 == 0 ? 0 : -1;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int file_exists(const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void touch(const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
}

/* A native client of the calc server. */
static px_client *native_client(px_config **cfg)
{
    char path[128];
    snprintf(path, sizeof path, "%s/client.yaml", F.dir);
    assert_int_equal(px_write_client_conf(path, &F.calc.port, 1,
                                          "      timeout: { module: fixed, connect: 1s, call: 10s }\n"),
                     0);
    px_err err;
    px_client *c = NULL;
    if (px_config_load(path, cfg, &err) != PX_OK || px_client_new(*cfg, "calc", &c, &err) != PX_OK)
        fail_msg("client: %s", err.msg);
    return c;
}

/* ---- grpcio ------------------------------------------------------------------------ */

/* The python client runs its checks; in its last phase it holds a gRPC call in flight
 * on the calc port while this process makes native calls there. */
static void test_grpcio_client_and_native_on_one_port(void **state)
{
    (void)state;
    char script[640], cport[16], fport[16], out[256];
    snprintf(script, sizeof script, "%s/tests/interop/grpc_calc_client.py", F.src);
    snprintf(cport, sizeof cport, "%d", F.calc.port);
    snprintf(fport, sizeof fport, "%d", F.fxmeta.port);
    snprintf(out, sizeof out, "%s/python.out", F.dir);
    char *argv[] = {"/usr/bin/python3", script, cport, fport, "g1", F.dir, NULL};
    pid_t pid = px_spawn(argv, out);
    assert_true(pid > 0);
    int inflight = 0, status = 0;
    pid_t done = 0;
    for (int i = 0; i < 12000 && !inflight && done == 0; i++) { /* bounded: 120 s */
        inflight = file_exists(F.dir, "grpc_inflight");
        if (!inflight) {
            done = waitpid(pid, &status, WNOHANG);
            sleep_ms(10);
        }
    }
    int native_ok = 0;
    if (inflight) {
        px_config *cfg;
        px_client *c = native_client(&cfg);
        for (int i = 0; i < 200; i++) {
            Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
            req.a = i;
            req.b = 1;
            ProtobufCMessage *rep = NULL;
            px_err err;
            if (px_call(c, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor, NULL,
                        &rep, &err) == PX_OK && ((Calc__AddReply *)rep)->sum == i + 1)
                native_ok++;
            else
                fprintf(stderr, "native call %d: %s\n", i, err.msg);
            px_msg_free(rep);
        }
        px_client_free(c);
        px_config_free(cfg);
        touch(F.dir, "native_done");
    }
    if (done == 0)
        waitpid(pid, &status, 0);
    char text[8192] = "";
    FILE *f = fopen(out, "r");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = 0;
        fclose(f);
    }
    fprintf(stderr, "%s", text);
    assert_true(inflight);
    assert_int_equal(native_ok, 200);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(strstr(text, "all ok"));
}

/* ---- curl and nghttp over h2c ---------------------------------------------------------- */

/* Writes a gRPC message (5-byte prefix, flag) around body[0..n) to dir/name. */
static void grpc_file(const char *name, int flag, const void *body, size_t n, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", F.dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint8_t pre[5] = {(uint8_t)flag, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                      (uint8_t)n};
    assert_int_equal(fwrite(pre, 1, 5, f), 5);
    assert_int_equal(fwrite(body, 1, n, f), n);
    fclose(f);
}

/* curl --http2-prior-knowledge POST of file to port's method with content-type ctype
 * and one more header (NULL: none): stdout (the body) in out, stderr (-v) in err. */
static void curl(int port, const char *method, const char *ctype, const char *extra,
                 const char *file, char *out, size_t ocap, char *err, size_t ecap)
{
    char url[256], ct[128], data[300];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/%s", port, method);
    snprintf(ct, sizeof ct, "content-type: %s", ctype);
    snprintf(data, sizeof data, "@%s", file);
    char *argv[16] = {"/usr/bin/curl", "-sS", "-v", "--http2-prior-knowledge", "-H", ct, "-H",
                      "te: trailers", "--data-binary", data};
    int k = 10;
    if (extra) {
        argv[k++] = "-H";
        argv[k++] = (char *)extra;
    }
    argv[k++] = url;
    argv[k] = NULL;
    memset(out, 0, ocap);
    assert_int_equal(px_run(argv, out, ocap, err, ecap), 0);
}

static void add_pb(int a, int b, uint8_t *buf, size_t *n)
{
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = a;
    req.b = b;
    *n = calc__add_request__pack(&req, buf);
}

/* application/grpc+json: the json codec, both ways. */
static void test_curl_json(void **state)
{
    (void)state;
    char path[256], out[4096], err[16384];
    const char *body = "{\"a\":2,\"b\":40}";
    grpc_file("add.json", 0, body, strlen(body), path, sizeof path);
    curl(F.calc.port, "calc.Calculator/Add", "application/grpc+json", NULL, path, out, sizeof out,
         err, sizeof err);
    assert_non_null(strstr(err, "< content-type: application/grpc+json"));
    assert_non_null(strstr(err, "< grpc-status: 0"));
    assert_int_equal(out[4], (char)strlen("{\"sum\":\"42\"}"));
    assert_string_equal(out + 5, "{\"sum\":\"42\"}");
}

/* Requests refused before they run: each a trailers-only answer with the status and a
 * message saying what, and the server goes on. */
static void test_curl_refusals(void **state)
{
    (void)state;
    char path[256], out[4096], err[16384];
    uint8_t pb[64];
    size_t n;
    add_pb(2, 3, pb, &n);
    /* no json codec on fxmeta's server */
    const char *body = "{\"a\":2,\"b\":40}";
    grpc_file("add.json", 0, body, strlen(body), path, sizeof path);
    curl(F.fxmeta.port, "calc.Calculator/Add", "application/grpc+json", NULL, path, out,
         sizeof out, err, sizeof err);
    assert_non_null(strstr(err, "< grpc-status: 12"));
    assert_non_null(strstr(err, "codec 'json' is not available"));
    /* a grpc-timeout that is none */
    grpc_file("add.pb", 0, pb, n, path, sizeof path);
    curl(F.calc.port, "calc.Calculator/Add", "application/grpc", "grpc-timeout: 12x", path, out,
         sizeof out, err, sizeof err);
    assert_non_null(strstr(err, "< grpc-status: 3"));
    assert_non_null(strstr(err, "grpc-timeout '12x' is not 1 to 8 digits and a unit"));
    curl(F.calc.port, "calc.Calculator/Add", "application/grpc", "grpc-timeout: 123456789S",
         path, out, sizeof out, err, sizeof err);
    assert_non_null(strstr(err, "< grpc-status: 3"));
    /* not gRPC's content-type */
    curl(F.calc.port, "calc.Calculator/Add", "text/plain", NULL, path, out, sizeof out, err,
         sizeof err);
    assert_non_null(strstr(err, "< grpc-status: 3"));
    assert_non_null(strstr(err, "content-type 'text/plain' is not gRPC's"));
    /* a compressed message: no grpc-encoding is supported */
    grpc_file("add.gz", 1, pb, n, path, sizeof path);
    curl(F.calc.port, "calc.Calculator/Add", "application/grpc", "grpc-encoding: gzip", path, out,
         sizeof out, err, sizeof err);
    assert_non_null(strstr(err, "< grpc-status: 12"));
    assert_non_null(strstr(err, "the request message is compressed"));
    /* two messages: a streaming call */
    uint8_t two[128];
    memcpy(two, (uint8_t[]){0, 0, 0, 0, (uint8_t)n}, 5);
    memcpy(two + 5, pb, n);
    memcpy(two + 5 + n, two, 5 + n);
    snprintf(path, sizeof path, "%s/two.pb", F.dir);
    FILE *f = fopen(path, "wb");
    assert_int_equal(fwrite(two, 1, 2 * (5 + n), f), 2 * (5 + n));
    fclose(f);
    curl(F.calc.port, "calc.Calculator/Add", "application/grpc", NULL, path, out, sizeof out, err,
         sizeof err);
    assert_non_null(strstr(err, "< grpc-status: 12"));
    assert_non_null(strstr(err, "streaming methods are not supported"));
    /* and the server still answers */
    grpc_file("add.pb", 0, pb, n, path, sizeof path);
    curl(F.calc.port, "calc.Calculator/Add", "application/grpc", NULL, path, out, sizeof out, err,
         sizeof err);
    assert_non_null(strstr(err, "< grpc-status: 0"));
    assert_int_equal((uint8_t)out[5], 0x08); /* field 1 (sum), varint */
    assert_int_equal((uint8_t)out[6], 5);
}

/* grpc-timeout is the call's deadline on the server: 1 microsecond has passed by the
 * time a worker takes the call, which the server answers DEADLINE_EXCEEDED itself. */
static void test_server_deadline_from_grpc_timeout(void **state)
{
    (void)state;
    char path[256], out[4096], err[16384];
    uint8_t sl[] = {0x08, 100}; /* SleepRequest{ms: 100} */
    grpc_file("sleep.pb", 0, sl, sizeof sl, path, sizeof path);
    curl(F.calc.port, "calc.Calculator/Sleep", "application/grpc", "grpc-timeout: 1u", path, out,
         sizeof out, err, sizeof err);
    assert_non_null(strstr(err, "< grpc-status: 4"));
    assert_non_null(strstr(err, "deadline expired"));
}

/* nghttp (nghttp2-client) as a second HTTP/2 implementation. */
static void test_nghttp(void **state)
{
    (void)state;
    char path[256], url[128], out[16384], err[4096];
    uint8_t pb[64];
    size_t n;
    add_pb(20, 22, pb, &n);
    grpc_file("add.pb", 0, pb, n, path, sizeof path);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/calc.Calculator/Add", F.calc.port);
    char *argv[] = {"/usr/bin/nghttp", "-v", "-n", "-d", path, "-H", "content-type: application/grpc",
                    "-H", "te: trailers", url, NULL};
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "grpc-status: 0"));
    assert_non_null(strstr(out, "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):1024"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpcio_client_and_native_on_one_port),
        cmocka_unit_test(test_curl_json),
        cmocka_unit_test(test_curl_refusals),
        cmocka_unit_test(test_server_deadline_from_grpc_timeout),
        cmocka_unit_test(test_nghttp),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
