/* TLS end to end with real plexusd processes and certificates the openssl CLI made at
 * test time (tests/support/px_certs.c): calls over TLS and mTLS through the blocking and
 * the async client; each bad certificate and each wrong pairing with its exact message;
 * hostile handshakes (truncated, garbage, slowloris) that cost the server nothing but
 * that connection; certificate reload by timer, by SIGHUP and a bad new certificate;
 * and 1,000 idle TLS connections within a memory bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/ssl.h>

#include "plexus/plexus.h"
#include "px_certs.h"
#include "px_proc.h"
#include "px_rss.h"
#include "px_test_calls.h"

static const char *certs; /* the shared certificate folder */

/* A calc server whose server: block gets `extra` (2-space indented lines) too. */
static int start(px_proc *p, const char *id, const char *extra)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "  codecs: [protobuf, json]\n"
             "  services:\n"
             "    - module: calc\n"
             "%s",
             extra);
    return px_proc_start(p, id, yaml);
}

/* server.tls with cert NAME.pem/NAME.key and the extra tls lines (4 spaces). */
static void tls_block(char *buf, size_t cap, const char *name, const char *more)
{
    snprintf(buf, cap,
             "  tls:\n"
             "    cert: %s/%s.pem\n"
             "    key: %s/%s.key\n"
             "%s",
             certs, name, certs, name, more ? more : "");
}

/* A client of upstream calc at port whose upstream block gets `tls` (6-space lines,
 * NULL: plaintext); failfast, one attempt, no ejection between the table's rows. */
static px_client *client(const char *dir, int port, const char *tls, px_config **cfg)
{
    char path[256], up[2048];
    snprintf(path, sizeof path, "%s/client-%d.yaml", dir, port);
    snprintf(up, sizeof up,
             "      failover: failfast\n"
             "      timeout: { module: fixed, connect: 20s, call: 30s }\n" /* valgrind, load */
             "      health: { max_fails: 0 }\n"
             "%s",
             tls ? tls : "");
    px_err err = {0};
    px_client *c = NULL;
    assert_int_equal(px_write_client_conf(path, &port, 1, up), 0);
    if (px_config_load(path, cfg, &err) != PX_OK || px_client_new(*cfg, "calc", &c, &err) != PX_OK)
        fail_msg("client: %s", err.msg);
    unlink(path);
    return c;
}

static void client_free(px_client *c, px_config *cfg)
{
    px_client_free(c);
    px_config_free(cfg);
}

/* The upstream's tls: block with ca and the extra lines (8 spaces). */
static void up_tls(char *buf, size_t cap, const char *more)
{
    snprintf(buf, cap, "      tls:\n        ca: %s/ca.pem\n%s", certs, more ? more : "");
}

static char tmpdir[64];

static int group_setup(void **state)
{
    (void)state;
    px_err err = {0};
    px_proc_die_with_test();
    if ((certs = px_certs_shared(&err)) == NULL) {
        fprintf(stderr, "certificates: %s\n", err.msg);
        return -1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pxtls-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    rmdir(tmpdir);
    return 0;
}

/* The server's log so far (plexusd writes it unbuffered; px_proc_stop removes it). */
static void read_log(const px_proc *p, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(p->log, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* ---- calls over TLS and mTLS ------------------------------------------------- */

static void both_clients_add(px_client *c)
{
    for (int wait = 0; wait < 2; wait++) { /* px_call (blocking), px_call_wait (async) */
        px_err err = {0};
        int64_t sum = 0;
        if (px_test_add(c, wait, 40, 2, &sum, &err) != PX_OK)
            fail_msg("Add over TLS (%s client): %s", wait ? "async" : "blocking", err.msg);
        assert_int_equal(sum, 42);
    }
    char why[256];
    if (px_test_async_adds(c, 200, 1, 60 * 1000000, why, sizeof why) != 0)
        fail_msg("200 async adds over TLS: %s", why);
}

static void test_tls_call(void **state)
{
    (void)state;
    px_proc s;
    char tls[512], up[512];
    tls_block(tls, sizeof tls, "server", NULL);
    setenv("PLEXUS_LOG", "debug", 1); /* each handshake is logged */
    int rc = start(&s, "tls", tls);
    unsetenv("PLEXUS_LOG");
    assert_int_equal(rc, 0);
    up_tls(up, sizeof up, NULL);
    px_config *cfg;
    px_client *c = client(tmpdir, s.port, up, &cfg);
    both_clients_add(c);
    client_free(c, cfg);
    char log[32768];
    read_log(&s, log, sizeof log);
    assert_int_equal(px_proc_stop(&s), 0);
    /* The blocking client's connection came first and got the server's session ticket;
     * the async client's connection, opened after, resumed that session. */
    if (!strstr(log, "TLSv1.3, ALPN 'plexus/1', session resumed"))
        fail_msg("no resumed session in the server's log:\n%s", log);
}

static void test_mtls_call(void **state)
{
    (void)state;
    px_proc s;
    char tls[512], up[512], more[256];
    snprintf(more, sizeof more, "    ca: %s/ca.pem\n    verify_client: require\n", certs);
    tls_block(tls, sizeof tls, "server", more);
    assert_int_equal(start(&s, "mtls", tls), 0);
    snprintf(more, sizeof more, "        cert: %s/client.pem\n        key: %s/client.key\n",
             certs, certs);
    up_tls(up, sizeof up, more);
    px_config *cfg;
    px_client *c = client(tmpdir, s.port, up, &cfg);
    both_clients_add(c);
    client_free(c, cfg);
    assert_int_equal(px_proc_stop(&s), 0);
}

/* TLS on server.listen and plaintext on a second listener of the same server. */
static void test_tls_and_plaintext_listeners(void **state)
{
    (void)state;
    px_proc s;
    char tls[512], extra[1024], up[512];
    tls_block(tls, sizeof tls, "server", NULL);
    int plain_port = px_free_port();
    snprintf(extra, sizeof extra,
             "%s  listeners:\n"
             "    - listen: 127.0.0.1:%d\n"
             "      protocols: [native]\n",
             tls, plain_port);
    assert_int_equal(start(&s, "two", extra), 0);
    up_tls(up, sizeof up, NULL);
    px_config *cfg;
    px_client *c = client(tmpdir, s.port, up, &cfg);
    both_clients_add(c);
    client_free(c, cfg);
    c = client(tmpdir, plain_port, NULL, &cfg);
    both_clients_add(c);
    client_free(c, cfg);
    /* Each port speaks what it says: TLS to the plaintext one fails, and back. */
    c = client(tmpdir, plain_port, up, &cfg);
    px_err err = {0};
    int64_t sum;
    assert_int_equal(px_test_add(c, 0, 1, 2, &sum, &err), PX_UNAVAILABLE);
    client_free(c, cfg);
    char log[8192], want[160];
    read_log(&s, log, sizeof log);
    assert_int_equal(px_proc_stop(&s), 0);
    snprintf(want, sizeof want, "listening on 127.0.0.1:%d (1 IO threads): native\n", plain_port);
    if (!strstr(log, "(1 IO threads): native over TLS\n") || !strstr(log, want))
        fail_msg("the listeners are not in the log:\n%s", log);
}

/* plexus call / list / health HOST:PORT over TLS and mTLS (--cacert, --cert, --key). */
static void test_cli_tls(void **state)
{
    (void)state;
    px_proc s;
    char tls[512], more[256];
    snprintf(more, sizeof more, "    ca: %s/ca.pem\n    verify_client: require\n", certs);
    tls_block(tls, sizeof tls, "server", more);
    assert_int_equal(start(&s, "cli", tls), 0);
    char plexus[512], addr[64], ca[512], cert[512], key[512], out[4096], err[4096];
    snprintf(plexus, sizeof plexus, "%s/bin/plexus", getenv("PX_BINARY_DIR"));
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s.port);
    snprintf(ca, sizeof ca, "--cacert=%s/ca.pem", certs);
    snprintf(cert, sizeof cert, "--cert=%s/client.pem", certs);
    snprintf(key, sizeof key, "--key=%s/client.key", certs);
    char *call[] = {plexus, "call", ca, cert, key, addr, "calc.Calculator/Add",
                    "{\"a\":40,\"b\":2}", NULL};
    assert_int_equal(px_run(call, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "{\"sum\":\"42\"}\n");
    char *health[] = {plexus, "health", ca, cert, key, addr, NULL};
    assert_int_equal(px_run(health, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "SERVING\n");
    char *list[] = {plexus, "list", ca, cert, key, addr, NULL};
    assert_int_equal(px_run(list, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "calc.Calculator/Add(calc.AddRequest) returns (calc.AddReply)"));
    /* Without the client certificate the server refuses, and says why. */
    char *nocert[] = {plexus, "health", ca, addr, NULL};
    assert_int_equal(px_run(nocert, out, sizeof out, err, sizeof err), 1);
    if (!strstr(err, "alert 'certificate required'"))
        fail_msg("plexus health without a certificate: %s", err);
    /* A CA file that is not there, and a file name the config cannot carry. */
    char *noca[] = {plexus, "health", "--cacert=/nonexistent/ca.pem", addr, NULL};
    assert_int_equal(px_run(noca, out, sizeof out, err, sizeof err), 2);
    char want[256];
    snprintf(want, sizeof want, "plexus: %s: upstreams.remote.tls.ca: /nonexistent/ca.pem: No "
             "such file or directory\n", addr);
    assert_string_equal(err, want);
    char *quoted[] = {plexus, "health", "--cacert=a\"b.pem", addr, NULL};
    assert_int_equal(px_run(quoted, out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "a TLS file name or --server-name holds a quote, a backslash "
                                "or a control character"));
    /* TLS options with -c FILE are refused: the upstream's tls: block says. */
    char *mixed[] = {plexus, "call", "-c", "x.yaml", ca, "calc.Calculator/Add", NULL};
    assert_int_equal(px_run(mixed, out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "are for HOST:PORT; with -c FILE the upstream's tls: block"));
    assert_int_equal(px_proc_stop(&s), 0);
}

/* ---- the bad-certificate table ------------------------------------------------ */

typedef struct bad_case {
    const char *name;
    const char *server_cert;   /* NULL: a plaintext listener */
    int require_client;        /* verify_client: require, ca: ca.pem */
    int client_tls;            /* the upstream has a tls: block */
    const char *client_more;   /* more lines of it (8 spaces; %s: the certs folder) */
    const char *want;          /* the message; %d: the server's port */
} bad_case;

static const bad_case bad_cases[] = {
    {"expired", "expired", 0, 1, NULL,
     "TLS handshake with 127.0.0.1:%d failed: certificate verify failed: certificate has "
     "expired"},
    {"not yet valid", "notyet", 0, 1, NULL,
     "TLS handshake with 127.0.0.1:%d failed: certificate verify failed: certificate is not "
     "yet valid"},
    {"wrong CA", "other-server", 0, 1, NULL,
     "TLS handshake with 127.0.0.1:%d failed: certificate verify failed: unable to get local "
     "issuer certificate"},
    {"wrong host (address)", "wronghost", 0, 1, NULL,
     "TLS handshake with 127.0.0.1:%d failed: certificate verify failed: IP address mismatch "
     "(expected '127.0.0.1')"},
    {"wrong host (name)", "wronghost", 0, 1, "        server_name: localhost\n",
     "TLS handshake with 127.0.0.1:%d failed: certificate verify failed: hostname mismatch "
     "(expected 'localhost')"},
    {"client certificate missing", "server", 1, 1, NULL,
     "read from 127.0.0.1:%d: TLS: the server refused the handshake: alert 'certificate "
     "required'"},
    {"client certificate from another CA", "server", 1, 1,
     "        cert: %s/client-other.pem\n        key: %s/client-other.key\n",
     "read from 127.0.0.1:%d: TLS: the server refused the handshake: alert 'unknown CA'"},
    {"plaintext client to a TLS port", "server", 0, 0, NULL,
     "127.0.0.1:%d refused the connection: this port speaks TLS only: connect with TLS (an "
     "upstream's tls: block)"},
    {"TLS client to a plaintext port", NULL, 0, 1, NULL,
     "TLS handshake with 127.0.0.1:%d failed: wrong version number (is the peer speaking "
     "TLS?)"},
};

static void test_bad_certificates(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *bc = &bad_cases[i];
        print_message("%s\n", bc->name);
        char tls[512] = "", up[768] = "", more[256] = "", want[400];
        if (bc->server_cert) {
            if (bc->require_client)
                snprintf(more, sizeof more, "    ca: %s/ca.pem\n    verify_client: require\n",
                         certs);
            tls_block(tls, sizeof tls, bc->server_cert, more);
        }
        px_proc s;
        assert_int_equal(start(&s, "bad", tls), 0);
        if (bc->client_tls) {
            snprintf(more, sizeof more, bc->client_more ? bc->client_more : "", certs, certs);
            up_tls(up, sizeof up, more);
        }
        snprintf(want, sizeof want, bc->want, s.port);
        px_config *cfg;
        px_client *c = client(tmpdir, s.port, bc->client_tls ? up : NULL, &cfg);
        for (int wait = 0; wait < 2; wait++) {
            px_err err = {0};
            int64_t sum = 0;
            px_status st = px_test_add(c, wait, 1, 2, &sum, &err);
            if (st != PX_UNAVAILABLE || strcmp(err.msg, want) != 0)
                fail_msg("%s (%s client): %s: %s\nwanted UNAVAILABLE: %s", bc->name,
                         wait ? "async" : "blocking", px_status_name(st), err.msg, want);
        }
        client_free(c, cfg);
        /* The server refused one client and serves the next. */
        if (bc->server_cert && !bc->require_client && strcmp(bc->server_cert, "server") == 0) {
            up_tls(up, sizeof up, NULL);
            c = client(tmpdir, s.port, up, &cfg);
            both_clients_add(c);
            client_free(c, cfg);
        }
        assert_int_equal(px_proc_stop(&s), 0);
    }
}

/* ---- hostile handshakes --------------------------------------------------------- */

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* A real ClientHello, made by OpenSSL into memory. */
static size_t client_hello(unsigned char *buf, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rb, wb);
    SSL_set_connect_state(ssl);
    SSL_do_handshake(ssl); /* wants to read the answer: the hello is in wb */
    int n = BIO_read(wb, buf, (int)cap);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    assert_true(n > 100);
    return (size_t)n;
}

/* Whether the server closes fd within limit_ms (bounded wait: no timing is asserted). */
static int closed_by_server(int fd, int limit_ms)
{
    for (int waited = 0; waited < limit_ms; waited += 50) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            char b[4096];
            ssize_t n = read(fd, b, sizeof b);
            if (n == 0 || (n < 0 && errno == ECONNRESET))
                return 1;
        }
    }
    return 0;
}

static void test_hostile_handshakes(void **state)
{
    (void)state;
    px_proc s;
    char tls[512], up[512];
    tls_block(tls, sizeof tls, "server", NULL);
    /* handshake_timeout covers the TLS handshake: a slowloris is cut at it. */
    char extra[1024];
    snprintf(extra, sizeof extra, "%s  limits: { handshake_timeout: 300ms }\n", tls);
    assert_int_equal(start(&s, "hostile", extra), 0);
    unsigned char hello[2048];
    size_t hl = client_hello(hello, sizeof hello);

    /* Truncated: half a ClientHello, then the client hangs up. */
    int fd = raw_connect(s.port);
    assert_int_equal(write(fd, hello, hl / 2), (ssize_t)(hl / 2));
    close(fd);
    /* Garbage in the handshake: a record header announcing a handshake, then junk. */
    fd = raw_connect(s.port);
    unsigned char junk[512] = {0x16, 0x03, 0x01, 0x01, 0xfb};
    for (size_t i = 5; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 7 + 3);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    assert_true(closed_by_server(fd, 10000));
    close(fd);
    /* A ClientHello whose length field lies (longer than what follows), then junk. */
    fd = raw_connect(s.port);
    unsigned char bad[2048];
    memcpy(bad, hello, hl);
    bad[6] ^= 0x7f; /* the handshake message length */
    assert_int_equal(write(fd, bad, hl), (ssize_t)hl);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    assert_true(closed_by_server(fd, 10000));
    close(fd);
    /* Slowloris: a few bytes of the hello, then nothing: cut at handshake_timeout. */
    fd = raw_connect(s.port);
    assert_int_equal(write(fd, hello, 10), 10);
    assert_true(closed_by_server(fd, 10000));
    close(fd);
    /* Everyone else is served all along. */
    up_tls(up, sizeof up, NULL);
    px_config *cfg;
    px_client *c = client(tmpdir, s.port, up, &cfg);
    both_clients_add(c);
    client_free(c, cfg);
    char log[16384];
    read_log(&s, log, sizeof log);
    assert_int_equal(px_proc_stop(&s), 0);
    /* Failed handshakes are logged (at most one a second). */
    if (!strstr(log, "TLS handshake with 127.0.0.1:"))
        fail_msg("no failed handshake in the log:\n%s", log);
}

/* ---- certificate reload -------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    char tmp[512], buf[8192];
    snprintf(tmp, sizeof tmp, "%s.new", to);
    int in = open(from, O_RDONLY), out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(in >= 0 && out >= 0);
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
    assert_int_equal(rename(tmp, to), 0); /* as a deployment tool swaps files */
}

/* A certificate and key of the test's own, f->cert and f->key in tmpdir/sub, that a
 * test replaces as a deployment would (cert_put), starting as the set's NAME. */
typedef struct own_cert {
    char dir[128], cert[192], key[192];
} own_cert;

/* The set's NAME.pem and NAME.key become o's files; key first when key_first (a
 * server looking at the files in between sees a pair that matches, or the old one). */
static void cert_put(const own_cert *o, const char *name, int key_first)
{
    char pem[512], key[512];
    snprintf(pem, sizeof pem, "%s/%s.pem", certs, name);
    snprintf(key, sizeof key, "%s/%s.key", certs, name);
    if (key_first)
        copy_file(key, o->key);
    copy_file(pem, o->cert);
    if (!key_first)
        copy_file(key, o->key);
}

static void cert_own(own_cert *o, const char *sub, const char *name)
{
    snprintf(o->dir, sizeof o->dir, "%s/%s", tmpdir, sub);
    assert_int_equal(mkdir(o->dir, 0700), 0);
    snprintf(o->cert, sizeof o->cert, "%s/cert.pem", o->dir);
    snprintf(o->key, sizeof o->key, "%s/cert.key", o->dir);
    cert_put(o, name, 0);
}

static void cert_drop(const own_cert *o)
{
    unlink(o->cert);
    unlink(o->key);
    rmdir(o->dir);
}

/* The subject of the certificate a new connection to port gets, by openssl s_client. */
static void served_subject(int port, char *out, size_t cap)
{
    char openssl[512], connect[64], ca[512], so[16384], se[4096];
    assert_int_equal(px_certs_find_openssl(openssl, sizeof openssl), 0);
    snprintf(connect, sizeof connect, "127.0.0.1:%d", port);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    char *argv[] = {openssl, "s_client", "-connect", connect, "-CAfile", ca, "-brief",
                    "-no_ign_eof", NULL};
    /* stdin is /dev/null for px_run: s_client ends after the handshake. */
    px_run(argv, so, sizeof so, se, sizeof se);
    const char *p = strstr(se, "Peer certificate: ");
    out[0] = '\0';
    if (p) {
        p += strlen("Peer certificate: ");
        size_t n = strcspn(p, "\n");
        snprintf(out, cap, "%.*s", (int)n, p);
    }
}

/* Waits (bounded) until new connections get the certificate whose subject is want. */
static int wait_subject(int port, const char *want)
{
    char got[256] = "";
    for (int i = 0; i < 100; i++) {
        served_subject(port, got, sizeof got);
        if (strcmp(got, want) == 0)
            return 1;
        px_sleep_ms(100);
    }
    print_message("new connections get '%s', not '%s'\n", got, want);
    return 0;
}

static void test_reload(void **state)
{
    (void)state;
    char tls[1024], up[512];
    own_cert o;
    cert_own(&o, "reload", "server");
    snprintf(tls, sizeof tls, "  tls:\n    cert: %s\n    key: %s\n    reload_check: 0\n", o.cert,
             o.key);
    px_proc s;
    assert_int_equal(start(&s, "reload", tls), 0);
    assert_true(wait_subject(s.port, "CN = localhost"));
    /* A client whose connections open before the reload and stay open after it. */
    up_tls(up, sizeof up, NULL);
    px_config *cfg;
    px_client *c = client(tmpdir, s.port, up, &cfg);
    both_clients_add(c);

    /* 1. SIGHUP (reload_check 0: the files are looked at only then). */
    cert_put(&o, "server2", 0);
    char got[256];
    served_subject(s.port, got, sizeof got);
    assert_string_equal(got, "CN = localhost"); /* nothing looked yet */
    assert_int_equal(kill(s.pid, SIGHUP), 0);
    assert_true(wait_subject(s.port, "CN = server2.localhost"));
    /* The clients opened before go on: no call fails (the reload's old generation told
     * their connections GOAWAY, and they reconnect to the new one). */
    both_clients_add(c);

    /* 2. A bad new certificate is refused, and the one loaded keeps serving. */
    FILE *f = fopen(o.cert, "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    assert_int_equal(kill(s.pid, SIGHUP), 0);
    px_sleep_ms(300);
    served_subject(s.port, got, sizeof got);
    assert_string_equal(got, "CN = server2.localhost");
    client_free(c, cfg);
    c = client(tmpdir, s.port, up, &cfg);
    both_clients_add(c);
    client_free(c, cfg);
    char log[16384];
    read_log(&s, log, sizeof log);
    assert_int_equal(px_proc_stop(&s), 0);
    char want[512];
    snprintf(want, sizeof want, "server.tls.cert: %s: ", o.cert);
    if (!strstr(log, want) || !strstr(log, "reload refused: ") ||
        !strstr(log, "generation 2 keeps serving"))
        fail_msg("the refused reload is not in the log:\n%s", log);
    cert_drop(&o);
}

/* reload_check: the files are looked at on a timer too. */
static void test_reload_on_change(void **state)
{
    (void)state;
    char tls[1024];
    own_cert o;
    cert_own(&o, "watch", "server");
    snprintf(tls, sizeof tls, "  tls:\n    cert: %s\n    key: %s\n    reload_check: 100ms\n",
             o.cert, o.key);
    px_proc s;
    assert_int_equal(start(&s, "watch", tls), 0);
    assert_true(wait_subject(s.port, "CN = localhost"));
    cert_put(&o, "server2", 1);
    assert_true(wait_subject(s.port, "CN = server2.localhost"));
    assert_int_equal(px_proc_stop(&s), 0);
    cert_drop(&o);
}

/* A client's certificate is looked at when a connection opens: a renewed one is used
 * without a restart (here one the server does not take, to see it change). */
static void test_client_reload(void **state)
{
    (void)state;
    char tls[1024], more[512], up[1024];
    own_cert o;
    cert_own(&o, "client", "client");
    snprintf(more, sizeof more, "    ca: %s/ca.pem\n    verify_client: require\n", certs);
    tls_block(tls, sizeof tls, "server", more);
    /* Idle connections close at once: each call opens a new one. */
    char extra[1400];
    snprintf(extra, sizeof extra, "%s  limits: { idle_timeout: 50ms }\n", tls);
    px_proc s;
    assert_int_equal(start(&s, "creload", extra), 0);
    snprintf(more, sizeof more,
             "        cert: %s\n        key: %s\n        reload_check: 10ms\n", o.cert, o.key);
    up_tls(up, sizeof up, more);
    px_config *cfg;
    px_client *c = client(tmpdir, s.port, up, &cfg);
    px_err err = {0};
    int64_t sum = 0;
    assert_int_equal(px_test_add(c, 0, 1, 2, &sum, &err), PX_OK);
    cert_put(&o, "client-other", 1);
    px_status st = PX_OK;
    for (int i = 0; i < 100 && st == PX_OK; i++) { /* bounded: until a new connection */
        px_sleep_ms(100);
        st = px_test_add(c, 0, 1, 2, &sum, &err);
    }
    assert_int_equal(st, PX_UNAVAILABLE);
    if (!strstr(err.msg, "alert 'unknown CA'"))
        fail_msg("after the reload: %s", err.msg);
    client_free(c, cfg);
    assert_int_equal(px_proc_stop(&s), 0);
    cert_drop(&o);
}

/* Bad tls: files refused at load (plexusd -t) with the file and why, at the key. */
static void test_bad_tls_files(void **state)
{
    (void)state;
    own_cert o;
    cert_own(&o, "badfiles", "server");
    char conf[256], yaml[1024], plexusd[512], out[2048], err[2048], want[1024];
    snprintf(conf, sizeof conf, "%s/server.yaml", o.dir);
    snprintf(plexusd, sizeof plexusd, "%s/bin/plexusd", getenv("PX_BINARY_DIR"));
    char *argv[] = {plexusd, "-t", "-c", conf, NULL};
    /* The key any user may read. */
    assert_int_equal(chmod(o.key, 0644), 0);
    snprintf(yaml, sizeof yaml,
             "server:\n  listen: 127.0.0.1:1\n  tls:\n    cert: %s\n    key: %s\n", o.cert,
             o.key);
    FILE *f = fopen(conf, "w");
    fputs(yaml, f);
    fclose(f);
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 1);
    snprintf(want, sizeof want,
             "plexusd: %s:5:10: server.tls.key: %s has mode 0644: a private key must not be "
             "readable by others nor writable by its group or others (chmod 600 %s)\n",
             conf, o.key, o.key);
    assert_string_equal(err, want);
    /* A key that is not the certificate's. */
    cert_put(&o, "server", 0);
    char other[512];
    snprintf(other, sizeof other, "%s/server2.key", certs);
    snprintf(yaml, sizeof yaml,
             "server:\n  listen: 127.0.0.1:1\n  tls:\n    cert: %s\n    key: %s\n", o.cert,
             other);
    f = fopen(conf, "w");
    fputs(yaml, f);
    fclose(f);
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 1);
    snprintf(want, sizeof want, "plexusd: %s:5:10: server.tls.key: %s: ", conf, other);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, "(the key is not the certificate's)"))
        fail_msg("a key of another certificate: %s", err);
    unlink(conf);
    cert_drop(&o);
}

/* ---- 1,000 idle TLS connections -------------------------------------------------- */

#define IDLE_CONNS 1000
/* What one idle TLS connection may hold in the server (its SSL session with the
 * buffers released, the connection record, the accept): measured about 10 KiB. */
#define IDLE_TLS_KIB_MAX 24

static void test_idle_tls_memory(void **state)
{
    (void)state;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < IDLE_CONNS + 64) {
        print_message("RLIMIT_NOFILE hard limit %lu is too low: skipped\n",
                      (unsigned long)rl.rlim_max);
        skip();
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    px_proc s;
    char tls[512], extra[1024];
    tls_block(tls, sizeof tls, "server", NULL);
    /* Idle after the TLS handshake, before the protocol's: the handshake limit is
     * lifted so that the connections stay for the measurement. */
    snprintf(extra, sizeof extra, "%s  limits: { handshake_timeout: 5m }\n", tls);
    assert_int_equal(start(&s, "idle", extra), 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    long before = px_rss_settled(s.pid);
    static int fds[IDLE_CONNS];
    static SSL *ssl[IDLE_CONNS];
    for (int i = 0; i < IDLE_CONNS; i++) {
        fds[i] = raw_connect(s.port);
        ssl[i] = SSL_new(ctx);
        SSL_set_fd(ssl[i], fds[i]);
        if (SSL_connect(ssl[i]) != 1)
            fail_msg("handshake %d failed", i);
    }
    long after = px_rss_settled(s.pid);
    long per = (after - before) * 1024 / IDLE_CONNS;
    print_message("server RSS %ld -> %ld KiB: %ld bytes per idle TLS connection\n", before,
                  after, per);
    if (PX_RSS_CHECKED)
        assert_true(per <= IDLE_TLS_KIB_MAX * 1024);
    for (int i = 0; i < IDLE_CONNS; i++) {
        SSL_free(ssl[i]);
        close(fds[i]);
    }
    SSL_CTX_free(ctx);
    assert_int_equal(px_proc_stop(&s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_call),
        cmocka_unit_test(test_mtls_call),
        cmocka_unit_test(test_tls_and_plaintext_listeners),
        cmocka_unit_test(test_cli_tls),
        cmocka_unit_test(test_bad_tls_files),
        cmocka_unit_test(test_bad_certificates),
        cmocka_unit_test(test_hostile_handshakes),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_reload_on_change),
        cmocka_unit_test(test_client_reload),
        cmocka_unit_test(test_idle_tls_memory),
    };
    /* valgrind.test_tls runs the calls only (PX_TEST_ONLY=test_*call): plexusd under
     * valgrind is slow, and the calls cross every TLS path of both sides. */
    const char *only = getenv("PX_TEST_ONLY");
    if (only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
