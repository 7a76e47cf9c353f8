/* px_certs (tests/support): the certificates it makes, checked by the real openssl CLI
 * — chains, validity dates, names, uses, key files and the errors it reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plexus/px_status.h"
#include "px_certs.h"
#include "px_proc.h"

static const char *NAMES[] = {"ca",        "other-ca", "server",       "server2",
                              "expired",   "notyet",   "wronghost",    "other-server",
                              "client",    "client-other"};
#define NNAMES (sizeof NAMES / sizeof NAMES[0])

typedef struct fixture {
    char dir[64];
    char openssl[512];
    char out[8192], err[8192]; /* the last openssl run's output */
} fixture;

static fixture F;

static int setup(void **state)
{
    (void)state;
    if (px_certs_find_openssl(F.openssl, sizeof F.openssl) != 0) {
        fprintf(stderr, "test_certs: no openssl on PATH (tools/install-deps.sh installs it)\n");
        return -1;
    }
    snprintf(F.dir, sizeof F.dir, "/tmp/pxcerts-test-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    px_err err = {0};
    if (px_certs_make(F.dir, &err) != PX_OK) {
        fprintf(stderr, "test_certs: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", F.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* F.dir/NAME.pem (or .key). */
static const char *file(const char *name, const char *ext)
{
    static char paths[8][256];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s.%s", F.dir, name, ext);
    return p;
}

/* Runs openssl with these arguments (NULL-terminated); its exit status, output in F. */
static int openssl(const char *a0, ...)
{
    char *argv[16] = {F.openssl};
    int n = 1;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && n < 15; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return px_run(argv, F.out, sizeof F.out, F.err, sizeof F.err);
}

static void expect_in(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        fail_msg("expected '%s' in: %s", want, text);
}

static void verify_ok(const char *ca, const char *name)
{
    assert_int_equal(openssl("verify", "-CAfile", file(ca, "pem"), file(name, "pem"), NULL), 0);
    expect_in(F.out, ": OK");
}

static void verify_fails(const char *ca, const char *name, const char *why)
{
    assert_int_not_equal(openssl("verify", "-CAfile", file(ca, "pem"), file(name, "pem"), NULL),
                         0);
    expect_in(F.err, why);
}

static void test_every_file_is_there_and_keys_are_private(void **state)
{
    (void)state;
    for (size_t i = 0; i < NNAMES; i++) {
        struct stat st;
        assert_int_equal(stat(file(NAMES[i], "pem"), &st), 0);
        assert_true(st.st_size > 0);
        assert_int_equal(stat(file(NAMES[i], "key"), &st), 0);
        if ((st.st_mode & 0777) != 0600)
            fail_msg("%s.key has mode %o, not 0600", NAMES[i], (unsigned)(st.st_mode & 0777));
        /* each key is the one its certificate names */
        char cert_pub[sizeof F.out];
        assert_int_equal(openssl("x509", "-in", file(NAMES[i], "pem"), "-noout", "-pubkey", NULL),
                         0);
        snprintf(cert_pub, sizeof cert_pub, "%s", F.out);
        assert_int_equal(openssl("pkey", "-in", file(NAMES[i], "key"), "-pubout", NULL), 0);
        assert_string_equal(F.out, cert_pub);
    }
    /* only the certificates are left: no config, CSR or CA database */
    struct stat st;
    char work[128];
    snprintf(work, sizeof work, "%s/.px-certs-work", F.dir);
    assert_int_not_equal(stat(work, &st), 0);
}

static void test_chains(void **state)
{
    (void)state;
    verify_ok("ca", "ca");
    verify_ok("other-ca", "other-ca");
    verify_ok("ca", "server");
    verify_ok("ca", "server2");
    verify_ok("ca", "wronghost");
    verify_ok("ca", "client");
    verify_ok("other-ca", "other-server");
    verify_ok("other-ca", "client-other");
    verify_fails("ca", "other-server", "unable to get local issuer certificate");
    verify_fails("ca", "client-other", "unable to get local issuer certificate");
    verify_fails("other-ca", "server", "unable to get local issuer certificate");
}

static void test_dates(void **state)
{
    (void)state;
    verify_fails("ca", "expired", "certificate has expired");
    verify_fails("ca", "notyet", "certificate is not yet valid");
    assert_int_equal(openssl("x509", "-in", file("expired", "pem"), "-noout", "-dates", NULL), 0);
    expect_in(F.out, "notBefore=Jan  1 00:00:00 2020 GMT");
    expect_in(F.out, "notAfter=Jan  1 00:00:00 2021 GMT");
    assert_int_equal(openssl("x509", "-in", file("notyet", "pem"), "-noout", "-startdate", NULL), 0);
    expect_in(F.out, "notBefore=Jan  1 00:00:00 2099 GMT");
    /* valid now and for a while yet */
    assert_int_equal(openssl("x509", "-in", file("server", "pem"), "-noout", "-checkend",
                             "864000", NULL),
                     0);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(
        openssl("x509", "-in", file("server", "pem"), "-noout", "-ext", "subjectAltName", NULL), 0);
    expect_in(F.out, "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    assert_int_equal(openssl("x509", "-in", file("server", "pem"), "-noout", "-checkhost",
                             "localhost", "-checkip", "127.0.0.1", NULL),
                     0);
    expect_in(F.out, "Hostname localhost does match certificate");
    expect_in(F.out, "IP 127.0.0.1 does match certificate");
    assert_int_equal(openssl("x509", "-in", file("server", "pem"), "-noout", "-checkip", "::1",
                             NULL),
                     0);
    expect_in(F.out, "IP ::1 does match certificate");

    assert_int_equal(
        openssl("x509", "-in", file("wronghost", "pem"), "-noout", "-ext", "subjectAltName", NULL),
        0);
    expect_in(F.out, "DNS:wrong.example");
    assert_null(strstr(F.out, "IP Address"));
    assert_int_equal(openssl("x509", "-in", file("wronghost", "pem"), "-noout", "-checkhost",
                             "localhost", "-checkip", "127.0.0.1", NULL),
                     0);
    expect_in(F.out, "Hostname localhost does NOT match certificate");
    expect_in(F.out, "IP 127.0.0.1 does NOT match certificate");

    assert_int_equal(
        openssl("x509", "-in", file("client", "pem"), "-noout", "-ext", "subjectAltName", NULL), 0);
    expect_in(F.out, "URI:spiffe://plexus.test/alice, DNS:alice.clients.test");
    assert_int_equal(openssl("x509", "-in", file("client", "pem"), "-noout", "-subject", NULL), 0);
    expect_in(F.out, "CN = alice");
    assert_int_equal(
        openssl("x509", "-in", file("client-other", "pem"), "-noout", "-subject", NULL), 0);
    expect_in(F.out, "CN = mallory");
}

/* server and server2 are told apart by serial and subject (certificate reload tests). */
static void test_server2_differs(void **state)
{
    (void)state;
    char one[sizeof F.out];
    assert_int_equal(openssl("x509", "-in", file("server", "pem"), "-noout", "-serial", "-subject",
                             NULL),
                     0);
    snprintf(one, sizeof one, "%s", F.out);
    expect_in(one, "CN = localhost");
    assert_int_equal(openssl("x509", "-in", file("server2", "pem"), "-noout", "-serial",
                             "-subject", NULL),
                     0);
    expect_in(F.out, "CN = server2.localhost");
    assert_string_not_equal(one, F.out);
    assert_int_not_equal(strncmp(one, F.out, strcspn(one, "\n")), 0); /* the serial line */
}

static void test_uses(void **state)
{
    (void)state;
    assert_int_equal(openssl("verify", "-CAfile", file("ca", "pem"), "-purpose", "sslclient",
                             file("client", "pem"), NULL),
                     0);
    assert_int_equal(openssl("verify", "-CAfile", file("ca", "pem"), "-purpose", "sslserver",
                             file("server", "pem"), NULL),
                     0);
    assert_int_not_equal(openssl("verify", "-CAfile", file("ca", "pem"), "-purpose", "sslclient",
                                 file("server", "pem"), NULL),
                         0);
    expect_in(F.err, "unsuitable certificate purpose");
    assert_int_not_equal(openssl("verify", "-CAfile", file("ca", "pem"), "-purpose", "sslserver",
                                 file("client", "pem"), NULL),
                         0);
    assert_int_equal(openssl("x509", "-in", file("ca", "pem"), "-noout", "-ext",
                             "basicConstraints", NULL),
                     0);
    expect_in(F.out, "CA:TRUE");
    assert_int_equal(openssl("x509", "-in", file("server", "pem"), "-noout", "-text", NULL), 0);
    expect_in(F.out, "ASN1 OID: prime256v1");
}

static void test_errors(void **state)
{
    (void)state;
    px_err err = {0};
    char dir[128];
    snprintf(dir, sizeof dir, "%s/a$b", F.dir);
    assert_int_equal(px_certs_make(dir, &err), PX_INVALID_ARGUMENT);
    expect_in(err.msg, dir);

    snprintf(dir, sizeof dir, "%s/no/such/parent", F.dir);
    assert_int_equal(px_certs_make(dir, &err), PX_INVALID_ARGUMENT);
    expect_in(err.msg, dir);

    /* a file where the directory should be */
    snprintf(dir, sizeof dir, "%s/ca.pem", F.dir);
    assert_int_equal(px_certs_make(dir, &err), PX_INVALID_ARGUMENT);
    expect_in(err.msg, dir);

    char *path = strdup(getenv("PATH") ? getenv("PATH") : "");
    assert_non_null(path);
    setenv("PATH", "/nonexistent", 1);
    px_status st = px_certs_make(F.dir, &err);
    setenv("PATH", path, 1);
    free(path);
    assert_int_equal(st, PX_FAILED_PRECONDITION);
    expect_in(err.msg, "no openssl program on PATH");

    /* an openssl that refuses: the error names the step and carries what it said */
    char bin[128], fake[160], out[128];
    snprintf(bin, sizeof bin, "%s/fakebin", F.dir);
    snprintf(fake, sizeof fake, "%s/openssl", bin);
    snprintf(out, sizeof out, "%s/out", F.dir);
    assert_int_equal(mkdir(bin, 0700), 0);
    FILE *f = fopen(fake, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\necho \"$1: no entropy today\" >&2\nexit 3\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(fake, 0700), 0);
    path = strdup(getenv("PATH") ? getenv("PATH") : "");
    assert_non_null(path);
    setenv("PATH", bin, 1);
    st = px_certs_make(out, &err);
    setenv("PATH", path, 1);
    free(path);
    assert_int_equal(st, PX_INTERNAL);
    expect_in(err.msg, "openssl req for ");
    expect_in(err.msg, ".pem failed (exit 3): req: no entropy today");
    /* the work files went with the failure */
    snprintf(out, sizeof out, "%s/out/.px-certs-work", F.dir);
    struct stat sb;
    assert_int_not_equal(stat(out, &sb), 0);
}

static void test_shared_is_made_once(void **state)
{
    (void)state;
    px_err err = {0};
    const char *a = px_certs_shared(&err);
    if (a == NULL)
        fail_msg("%s", err.msg);
    char first[64];
    snprintf(first, sizeof first, "%s", a);
    struct stat st;
    char server[128];
    snprintf(server, sizeof server, "%s/server.pem", first);
    assert_int_equal(stat(server, &st), 0);
    const char *b = px_certs_shared(&err);
    assert_non_null(b);
    assert_string_equal(b, first);
    assert_int_equal(err.status, PX_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_file_is_there_and_keys_are_private),
        cmocka_unit_test(test_chains),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_server2_differs),
        cmocka_unit_test(test_uses),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_shared_is_made_once),
    };
    return cmocka_run_group_tests_name("test certificates (openssl CLI)", tests, setup, teardown);
}
