/* TLS with peers Plexus did not write, through real processes: plexusd TLS listeners
 * (certificates from px_certs) serving python3-grpcio (Debian's; it requires h2 by
 * ALPN), curl over https (HTTP/1.1 by ALPN, also when it offers h2) and openssl
 * s_client, with and without client certificates; Plexus's gRPC client calling a
 * python3-grpcio server over mTLS (tests/interop/grpc_calc_server.py with its TLS
 * arguments); and plaintext curl on a TLS port answered, in the listener's first
 * protocol, that the port speaks TLS, while the server goes on serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_certs.h"
#include "px_proc.h"

/* What every refusal of a plaintext client on a TLS port says (px_server_tls.c). */
#define NOT_TLS "this port speaks TLS only: connect with TLS (an upstream's tls: block)"

static struct {
    const char *certs;  /* px_certs_shared's folder */
    px_proc tls;        /* [native, grpc, http] over TLS, no client certificate asked */
    px_proc mtls;       /* the same, verify_client: require */
    px_proc h1;         /* [http] alone over TLS: ALPN offers http/1.1 only */
    pid_t py;           /* python3-grpcio server over mTLS */
    int py_port;
    char dir[64];
    char src[512];
} F;

/* F.certs/NAME into buf. */
static const char *cert(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", F.certs, name);
    return buf;
}

/* A server: protocols, and tls: with the extra keys (e.g. ", verify_client: require"). */
static int start(px_proc *p, const char *id, const char *protocols, const char *tls_extra)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "  codecs: [protobuf, json]\n"
             "  protocols: [%s]\n"
             "  tls: { cert: %s/server.pem, key: %s/server.key, ca: %s/ca.pem%s }\n"
             "  services:\n"
             "    - module: calc\n"
             "      workers: 2\n",
             protocols, F.certs, F.certs, F.certs, tls_extra);
    return px_proc_start(p, id, yaml);
}

/* grpc_calc_server.py over TLS, requiring a client certificate from ca.pem. */
static int start_python(void)
{
    char script[640], portf[128], log[128], pem[256], key[256], ca[256];
    snprintf(script, sizeof script, "%s/tests/interop/grpc_calc_server.py", F.src);
    snprintf(portf, sizeof portf, "%s/port", F.dir);
    snprintf(log, sizeof log, "%s/python-server.log", F.dir);
    char *argv[] = {"/usr/bin/python3", script, F.dir, "0", (char *)cert("server.pem", pem, sizeof pem),
                    (char *)cert("server.key", key, sizeof key), (char *)cert("ca.pem", ca, sizeof ca),
                    NULL};
    F.py = px_spawn(argv, log);
    if (F.py > 0 && px_wait_port_file(portf, F.py, &F.py_port) == 0)
        return 0;
    if (F.py > 0) { /* it never wrote its port (or it exited, and was reaped) */
        kill(F.py, SIGKILL);
        waitpid(F.py, NULL, 0);
    }
    F.py = 0;
    fprintf(stderr, "the python gRPC TLS server did not start (its output: %s)\n", log);
    return -1;
}

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("PX_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "PX_SOURCE_DIR is not set: run through ctest\n");
        return -1;
    }
    snprintf(F.src, sizeof F.src, "%s", src);
    px_err err;
    if ((F.certs = px_certs_shared(&err)) == NULL) {
        fprintf(stderr, "certificates: %s\n", err.msg);
        return -1;
    }
    px_proc_die_with_test();
    snprintf(F.dir, sizeof F.dir, "/tmp/pxtlsi-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    if (start(&F.tls, "tls1", "native, grpc, http", "") != 0 ||
        start(&F.mtls, "mtls1", "native, grpc, http", ", verify_client: require") != 0 ||
        start(&F.h1, "h1", "http", "") != 0)
        return -1;
    return start_python();
}

static int teardown(void **state)
{
    (void)state;
    if (F.py > 0) {
        kill(F.py, SIGTERM);
        waitpid(F.py, NULL, 0);
    }
    int rc = px_proc_stop(&F.tls) | px_proc_stop(&F.mtls) | px_proc_stop(&F.h1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", F.dir);
    return system(cmd) == 0 && rc == 0 ? 0 : -1;
}

/* ---- python3-grpcio calling plexusd ------------------------------------------------ */

/* tests/interop/grpc_tls_client.py against port, with a client certificate (NAME.pem
 * and NAME.key) or none: its exit status, its stdout and stderr in out. */
static int grpcio(int port, const char *client, char *out, size_t cap)
{
    static char err[16384];
    char script[640], addr[64], ca[256], pem[256], key[256], name[64];
    snprintf(script, sizeof script, "%s/tests/interop/grpc_tls_client.py", F.src);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    char *argv[8] = {"/usr/bin/python3", script, addr, F.dir, (char *)cert("ca.pem", ca, sizeof ca)};
    if (client) {
        snprintf(name, sizeof name, "%s.pem", client);
        argv[5] = (char *)cert(name, pem, sizeof pem);
        snprintf(name, sizeof name, "%s.key", client);
        argv[6] = (char *)cert(name, key, sizeof key);
    }
    int rc = px_run(argv, out, cap, err, sizeof err);
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s", err); /* grpc's own log lines say what TLS saw */
    fprintf(stderr, "grpcio -> %d (client cert %s): exit %d\n%s", port, client ? client : "none",
            rc, out);
    return rc;
}

/* Every call answered right: the channel (which gRPC opens only with h2 agreed by
 * ALPN) carried unary calls and an error with its status and message. */
static void assert_calls_ok(const char *out, const char *id)
{
    char want[256];
    snprintf(want, sizeof want, "add 5\nwhoami %s\ndiv INVALID_ARGUMENT: division by zero\n", id);
    assert_string_equal(out, want);
}

static void test_grpcio_over_tls(void **state)
{
    (void)state;
    char out[16384];
    assert_int_equal(grpcio(F.tls.port, NULL, out, sizeof out), 0);
    assert_calls_ok(out, "tls1");
}

/* What gRPC offers (grpc-exp, h2) gets h2 from a listener that also serves HTTP/1.1,
 * whose id comes before h2 in the server's list (openssl s_client says which). */
static void test_alpn_h2_chosen_for_grpc(void **state)
{
    (void)state;
    char ca[256], cmd[512], out[65536], err[16384];
    /* stdin /dev/null: s_client ends after the handshake */
    snprintf(cmd, sizeof cmd, "exec openssl s_client -connect 127.0.0.1:%d -CAfile '%s' "
             "-alpn grpc-exp,h2 -verify_return_error </dev/null", F.tls.port,
             cert("ca.pem", ca, sizeof ca));
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "\nALPN protocol: h2\n"));
    assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
}

/* A listener that serves no gRPC offers no h2, and grpcio refuses a channel without
 * it, with its own words. */
static void test_grpcio_needs_h2(void **state)
{
    (void)state;
    char out[16384], want[256];
    assert_int_equal(grpcio(F.h1.port, NULL, out, sizeof out), 2);
    snprintf(want, sizeof want, "error UNAVAILABLE: failed to connect to all addresses; last "
             "error: UNKNOWN: ipv4:127.0.0.1:%d: Cannot check peer: missing selected ALPN "
             "property.\n", F.h1.port);
    assert_non_null(strstr(out, want));
}

static void test_grpcio_mtls(void **state)
{
    (void)state;
    char out[16384], want[256];
    assert_int_equal(grpcio(F.mtls.port, "client", out, sizeof out), 0);
    assert_calls_ok(out, "mtls1");
    /* No certificate: the server's alert (TLS 1.3: after the client's handshake is done,
     * so grpcio sees it on its first read) ends the channel. */
    snprintf(want, sizeof want, "error UNAVAILABLE: failed to connect to all addresses; last "
             "error: UNAVAILABLE: ipv4:127.0.0.1:%d: Endpoint read failed\n", F.mtls.port);
    assert_int_equal(grpcio(F.mtls.port, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "tlsv13 alert certificate required"));
    /* A certificate from another CA */
    assert_int_equal(grpcio(F.mtls.port, "client-other", out, sizeof out), 2);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "tlsv1 alert unknown ca"));
    /* and the listener goes on serving */
    assert_int_equal(grpcio(F.mtls.port, "client", out, sizeof out), 0);
    assert_calls_ok(out, "mtls1");
}

/* ---- Plexus's gRPC client calling python3-grpcio ----------------------------------- */

/* A client of the python server: protocol grpc, tls: with tls_extra. */
static px_client *py_client(px_config **cfg, const char *tls_extra)
{
    char path[128], up[1024];
    snprintf(path, sizeof path, "%s/client.yaml", F.dir);
    snprintf(up, sizeof up,
             "      protocol: grpc\n"
             "      timeout: { module: fixed, connect: 2s, call: 10s }\n"
             "      tls: { ca: %s/ca.pem%s }\n",
             F.certs, tls_extra);
    assert_int_equal(px_write_client_conf(path, &F.py_port, 1, up), 0);
    px_err err;
    px_client *c = NULL;
    if (px_config_load(path, cfg, &err) != PX_OK || px_client_new(*cfg, "calc", &c, &err) != PX_OK)
        fail_msg("client: %s", err.msg);
    return c;
}

typedef px_status (*call_fn)(px_client *, const char *, const ProtobufCMessage *,
                             const ProtobufCMessageDescriptor *, const px_call_opts *,
                             ProtobufCMessage **, px_err *);

static void test_plexus_grpc_client_to_grpcio_mtls(void **state)
{
    (void)state;
    char extra[1024];
    snprintf(extra, sizeof extra, ", cert: %s/client.pem, key: %s/client.key", F.certs, F.certs);
    px_config *cfg;
    px_client *c = py_client(&cfg, extra);
    call_fn calls[] = {px_call, px_call_wait}; /* the blocking and the async client */
    for (int i = 0; i < 2; i++) {
        px_err err;
        ProtobufCMessage *rep = NULL;
        Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
        add.a = 40, add.b = 2;
        assert_int_equal(calls[i](c, "calc.Calculator/Add", &add.base,
                                  &calc__add_reply__descriptor, NULL, &rep, &err), PX_OK);
        assert_int_equal(((Calc__AddReply *)rep)->sum, 42);
        px_msg_free(rep);
        Calc__WhoamiRequest who = CALC__WHOAMI_REQUEST__INIT;
        assert_int_equal(calls[i](c, "calc.Calculator/Whoami", &who.base,
                                  &calc__whoami_reply__descriptor, NULL, &rep, &err), PX_OK);
        assert_string_equal(((Calc__WhoamiReply *)rep)->id, "python-grpcio");
        px_msg_free(rep);
        Calc__DivRequest div = CALC__DIV_REQUEST__INIT;
        div.a = 1;
        assert_int_equal(calls[i](c, "calc.Calculator/Div", &div.base,
                                  &calc__div_reply__descriptor, NULL, &rep, &err),
                         PX_INVALID_ARGUMENT);
        assert_string_equal(err.msg, "division by zero");
    }
    px_client_free(c);
    px_config_free(cfg);
}

/* grpcio's server refuses a client without a certificate by closing, without an alert
 * (openssl s_client sees the same). The client has finished its TLS 1.3 handshake by
 * then and is sending its call: whether its write or its read meets the close first is
 * the timing's, and the call says which. */
static void test_plexus_grpc_client_without_cert(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = py_client(&cfg, "");
    px_err err;
    ProtobufCMessage *rep = NULL;
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    char closed[128], reset[128], pipe[128];
    snprintf(closed, sizeof closed, "127.0.0.1:%d closed the connection", F.py_port);
    snprintf(reset, sizeof reset, "write to 127.0.0.1:%d: TLS: Connection reset by peer",
             F.py_port);
    snprintf(pipe, sizeof pipe, "write to 127.0.0.1:%d: TLS: Broken pipe", F.py_port);
    call_fn calls[] = {px_call, px_call_wait};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(calls[i](c, "calc.Calculator/Add", &add.base,
                                  &calc__add_reply__descriptor, NULL, &rep, &err),
                         PX_UNAVAILABLE);
        if (strcmp(err.msg, closed) != 0 && strcmp(err.msg, reset) != 0 &&
            strcmp(err.msg, pipe) != 0)
            fail_msg("call %d: %s", i, err.msg);
    }
    px_client_free(c);
    px_config_free(cfg);
}

/* ---- curl -------------------------------------------------------------------------- */

/* curl ARGS... (NULL-ended) POSTing Add(2, 3) as JSON to url: its exit status; the body
 * in out, -v's trace in err. */
static int curl(const char *url, char *out, size_t ocap, char *err, size_t ecap, ...)
{
    char *argv[32] = {"/usr/bin/curl", "-sS", "-v", "--max-time", "20", "-H",
                      "Content-Type: application/json", "-d", "{\"a\":2,\"b\":3}"};
    int k = 9;
    va_list ap;
    va_start(ap, ecap);
    for (char *a = va_arg(ap, char *); a && k < 30; a = va_arg(ap, char *))
        argv[k++] = a;
    va_end(ap);
    argv[k++] = (char *)url;
    argv[k] = NULL;
    int rc = px_run(argv, out, ocap, err, ecap);
    if (rc != 0)
        fprintf(stderr, "curl %s: exit %d\n%s\n", url, rc, err);
    return rc;
}

static void test_curl_https(void **state)
{
    (void)state;
    char url[128], ca[256], pem[256], key[256], out[4096], err[32768];
    cert("ca.pem", ca, sizeof ca);
    snprintf(url, sizeof url, "https://127.0.0.1:%d/calc.Calculator/Add", F.tls.port);
    assert_int_equal(curl(url, out, sizeof out, err, sizeof err, "--cacert", ca, NULL), 0);
    assert_string_equal(out, "{\"sum\":\"5\"}");
    assert_non_null(strstr(err, "* ALPN: offers h2,http/1.1\n"));
    assert_non_null(strstr(err, "* ALPN: server accepted http/1.1\n"));
    assert_non_null(strstr(err, "* SSL connection using TLSv1.3"));
    assert_non_null(strstr(err, "< HTTP/1.1 200 OK"));
    /* --http2 offers h2 first too: the listener, which serves HTTP/1.1, prefers it */
    assert_int_equal(curl(url, out, sizeof out, err, sizeof err, "--cacert", ca, "--http2", NULL),
                     0);
    assert_string_equal(out, "{\"sum\":\"5\"}");
    assert_non_null(strstr(err, "* ALPN: server accepted http/1.1\n"));
    /* localhost: the name the certificate carries besides the addresses */
    snprintf(url, sizeof url, "https://localhost:%d/calc.Calculator/Add", F.tls.port);
    char resolve[64];
    snprintf(resolve, sizeof resolve, "localhost:%d:127.0.0.1", F.tls.port);
    assert_int_equal(curl(url, out, sizeof out, err, sizeof err, "--cacert", ca, "--resolve",
                          resolve, NULL), 0);
    assert_string_equal(out, "{\"sum\":\"5\"}");
    /* mTLS */
    snprintf(url, sizeof url, "https://127.0.0.1:%d/calc.Calculator/Add", F.mtls.port);
    assert_int_equal(curl(url, out, sizeof out, err, sizeof err, "--cacert", ca, "--cert",
                          cert("client.pem", pem, sizeof pem), "--key",
                          cert("client.key", key, sizeof key), NULL), 0);
    assert_string_equal(out, "{\"sum\":\"5\"}");
    /* without a certificate: curl reads the server's alert (exit 56: receive error) */
    assert_int_equal(curl(url, out, sizeof out, err, sizeof err, "--cacert", ca, NULL), 56);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "curl: (56) OpenSSL SSL_read: OpenSSL/"));
    assert_non_null(strstr(err, ":SSL routines::tlsv13 alert certificate required"));
    /* not trusting the server's CA */
    snprintf(url, sizeof url, "https://127.0.0.1:%d/calc.Calculator/Add", F.tls.port);
    char other[256];
    assert_int_equal(curl(url, out, sizeof out, err, sizeof err, "--cacert",
                          cert("other-ca.pem", other, sizeof other), NULL), 60);
    /* (a listener with ca: sends that CA after its certificate, OpenSSL building the
     * chain from it: the self-signed certificate curl does not trust) */
    assert_non_null(strstr(err, "curl: (60) SSL certificate problem: self-signed certificate "
                                "in certificate chain"));
}

/* The bytes of file (at most cap), and how many. */
static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* Plaintext on a TLS port: the listener's first protocol says the port speaks TLS
 * (native: a GOAWAY frame; http: a 503), and TLS clients are still served. */
static void test_plaintext_curl_on_tls_port(void **state)
{
    (void)state;
    char url[128], path[128], out[4096], err[32768];
    /* native first: curl --http0.9 keeps whatever comes back, here the GOAWAY frame */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/calc.Calculator/Add", F.tls.port);
    snprintf(path, sizeof path, "%s/goaway.bin", F.dir);
    assert_int_equal(curl(url, out, sizeof out, err, sizeof err, "--http0.9", "-o", path, NULL),
                     0);
    uint8_t got[512];
    size_t n = slurp(path, got, sizeof got);
    size_t tl = strlen(NOT_TLS);
    assert_int_equal(n, 32 + tl);
    const uint8_t head[32] = {0x50, 0x58, 1, 8,      /* PX, version 1, GOAWAY */
                              0, 0, 0, 14,           /* flags 0, status 14: UNAVAILABLE */
                              [31] = (uint8_t)tl};   /* body_len: the reason */
    assert_memory_equal(got, head, 32);
    assert_memory_equal(got + 32, NOT_TLS, tl);
    /* http first: a 503 with the reason, in the headers and the JSON body */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/calc.Calculator/Add", F.h1.port);
    assert_int_equal(curl(url, out, sizeof out, err, sizeof err, NULL), 0);
    assert_string_equal(out, "{\"status\":\"UNAVAILABLE\",\"message\":\"" NOT_TLS "\"}\n");
    assert_non_null(strstr(err, "< HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(err, "< px-status: UNAVAILABLE\r\n"));
    assert_non_null(strstr(err, "< px-message: " NOT_TLS "\r\n"));
    assert_non_null(strstr(err, "< Connection: close\r\n"));
    /* both still serve TLS */
    char ca[256];
    cert("ca.pem", ca, sizeof ca);
    int ports[] = {F.tls.port, F.h1.port};
    for (int i = 0; i < 2; i++) {
        snprintf(url, sizeof url, "https://127.0.0.1:%d/calc.Calculator/Add", ports[i]);
        assert_int_equal(curl(url, out, sizeof out, err, sizeof err, "--cacert", ca, NULL), 0);
        assert_string_equal(out, "{\"sum\":\"5\"}");
    }
    char out2[16384];
    assert_int_equal(grpcio(F.tls.port, NULL, out2, sizeof out2), 0);
    assert_calls_ok(out2, "tls1");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpcio_over_tls),
        cmocka_unit_test(test_alpn_h2_chosen_for_grpc),
        cmocka_unit_test(test_grpcio_needs_h2),
        cmocka_unit_test(test_grpcio_mtls),
        cmocka_unit_test(test_plexus_grpc_client_to_grpcio_mtls),
        cmocka_unit_test(test_plexus_grpc_client_without_cert),
        cmocka_unit_test(test_curl_https),
        cmocka_unit_test(test_plaintext_curl_on_tls_port),
    };
    return cmocka_run_group_tests_name("tls interop", tests, setup, teardown);
}
