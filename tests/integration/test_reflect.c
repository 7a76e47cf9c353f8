/* The built-in reflection and health services end to end: `plexus list`, `plexus health`
 * and `plexus call HOST:PORT` against real plexusd processes, the CLI knowing nothing but
 * the address (a copy of it whose module directory holds only the modules of a default
 * upstream, no calc); a server with reflection and health switched off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px_proc.h"

#define OUT_CAP 16384

typedef struct fixture {
    px_proc srv;        /* calc, reflection and health by default */
    px_proc off;        /* calc, reflection: false, health: false */
    char addr[64], off_addr[64];
    char dir[128];      /* bin/plexus and modules/ with CLI_MODULES */
    char plexus[256];
} fixture;

/* What a config-less client loads: the JSON codec for the CLI's input and output, and an
 * upstream's default codec, balancer, failover and timeout. */
static const char *const CLI_MODULES[] = {"codec_json.so", "codec_protobuf.so", "lb_random.so",
                                          "failover_failfast.so", "timeout_fixed.so", NULL};

typedef struct run {
    int rc;
    char out[OUT_CAP];
    char err[OUT_CAP];
} run;

#define assert_contains(hay, needle)                                                      \
    do {                                                                                  \
        if (strstr((hay), (needle)) == NULL)                                              \
            fail_msg("expected to find \"%s\" in:\n%s", (needle), (hay));                 \
    } while (0)

/* `plexus ARGS...` (NULL-terminated) with the copied binary. */
static void plexus(fixture *f, run *r, ...)
{
    char *argv[16];
    int n = 0;
    argv[n++] = f->plexus;
    va_list ap;
    va_start(ap, r);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 15)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    r->rc = px_run(argv, r->out, sizeof r->out, r->err, sizeof r->err);
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc == 0 ? chmod(to, mode) : -1;
}

/* DIR/bin/plexus and DIR/modules with CLI_MODULES only: the CLI finds its
 * modules beside its bin/, so a calc call that works proves calc came by reflection. */
static int stage_cli(fixture *f)
{
    const char *bin = getenv("PX_BINARY_DIR"), *mods = getenv("PX_MODULE_DIR");
    char from[512], to[512];
    snprintf(f->dir, sizeof f->dir, "/tmp/px-reflect-XXXXXX");
    if (bin == NULL || mods == NULL || mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(to, sizeof to, "%s/bin", f->dir);
    mkdir(to, 0700);
    snprintf(to, sizeof to, "%s/modules", f->dir);
    mkdir(to, 0700);
    snprintf(from, sizeof from, "%s/bin/plexus", bin);
    snprintf(f->plexus, sizeof f->plexus, "%s/bin/plexus", f->dir);
    if (copy_file(from, f->plexus, 0700) != 0)
        return -1;
    for (int i = 0; CLI_MODULES[i] != NULL; i++) {
        snprintf(from, sizeof from, "%s/%s", mods, CLI_MODULES[i]);
        snprintf(to, sizeof to, "%s/modules/%s", f->dir, CLI_MODULES[i]);
        if (copy_file(from, to, 0600) != 0)
            return -1;
    }
    return 0;
}

static void unstage_cli(fixture *f)
{
    char p[512];
    snprintf(p, sizeof p, "%s/bin/plexus", f->dir);
    unlink(p);
    for (int i = 0; CLI_MODULES[i] != NULL; i++) {
        snprintf(p, sizeof p, "%s/modules/%s", f->dir, CLI_MODULES[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/bin", f->dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/modules", f->dir);
    rmdir(p);
    rmdir(f->dir);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL || stage_cli(f) != 0) {
        fprintf(stderr, "cannot stage the CLI (run through ctest: PX_BINARY_DIR)\n");
        free(f);
        return -1;
    }
    /* No PLEXUS_MODULE_PATH for the CLI: only its own modules/ is searched. */
    unsetenv("PLEXUS_MODULE_PATH");
    if (px_proc_start(&f->srv, "r1", "  codecs: [protobuf]\n  services:\n    - module: calc\n") != 0) {
        unstage_cli(f);
        free(f);
        return -1;
    }
    if (px_proc_start(&f->off, "r2", "  reflection: false\n  health: false\n"
                                     "  services:\n    - module: calc\n") != 0) {
        px_proc_kill(&f->srv);
        unstage_cli(f);
        free(f);
        return -1;
    }
    px_host_port(f->addr, sizeof f->addr, f->srv.host, f->srv.port);
    px_host_port(f->off_addr, sizeof f->off_addr, f->off.host, f->off.port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = px_proc_stop(&f->srv);
    int rc2 = px_proc_stop(&f->off);
    unstage_cli(f);
    free(f);
    return rc == 0 && rc2 == 0 ? 0 : -1;
}

static void test_list(void **state)
{
    fixture *f = *state;
    run r;
    plexus(f, &r, "list", f->addr, NULL);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(
        r.out,
        "calc.Calculator\n"
        "  calc.Calculator/Add(calc.AddRequest) returns (calc.AddReply)\n"
        "  calc.Calculator/Div(calc.DivRequest) returns (calc.DivReply)\n"
        "  calc.Calculator/Echo(calc.EchoMsg) returns (calc.EchoMsg)\n"
        "  calc.Calculator/Sleep(calc.SleepRequest) returns (calc.SleepReply)\n"
        "  calc.Calculator/Whoami(calc.WhoamiRequest) returns (calc.WhoamiReply)\n"
        "plexus.health.v1.Health\n"
        "  plexus.health.v1.Health/Check(plexus.health.v1.HealthCheckRequest) returns "
        "(plexus.health.v1.HealthCheckResponse)\n"
        "plexus.reflection.v1.Reflection\n"
        "  plexus.reflection.v1.Reflection/ListServices(plexus.reflection.v1.ListServicesRequest) "
        "returns (plexus.reflection.v1.ListServicesReply)\n"
        "  plexus.reflection.v1.Reflection/FileDescriptors(plexus.reflection.v1.FileDescriptorsRequest) "
        "returns (plexus.reflection.v1.FileDescriptorsReply)\n");
}

static void test_call_by_address(void **state)
{
    fixture *f = *state;
    run r;
    plexus(f, &r, "call", f->addr, "calc.Calculator/Add", "{\"a\":2,\"b\":3}", NULL);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\"sum\":\"5\"}\n");

    plexus(f, &r, "call", "--async", f->addr, "calc.Calculator/Whoami", NULL);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\"id\":\"r1\"}\n");
}

/* Every kind of field through descriptors rebuilt from the wire: nested and recursive
 * messages, repeated, packed, enums, a oneof, a map, bytes, 64-bit numbers. */
static void test_call_echo_every_kind(void **state)
{
    fixture *f = *state;
    run r;
    const char *msg =
        "{\"fDouble\":1.5,\"fInt64\":\"-9007199254740993\",\"fUint64\":\"18446744073709551615\","
        "\"fSint32\":-7,\"fFixed32\":7,\"fBool\":true,\"fString\":\"h\\u00e9\",\"fBytes\":\"AAE=\","
        "\"rInt32\":[1,-2,3],\"rString\":[\"a\",\"b\"],"
        "\"inner\":{\"id\":3,\"children\":[{\"name\":\"x\",\"children\":[{\"id\":9}]}]},"
        "\"color\":\"BLUE\",\"rColor\":[\"RED\",\"GREEN\"],\"cInner\":{\"id\":4},"
        "\"attrs\":{\"k\":5}}";
    plexus(f, &r, "call", f->addr, "calc.Calculator/Echo", msg, NULL);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\"fDouble\":1.5,\"fInt64\":\"-9007199254740993\","
                               "\"fUint64\":\"18446744073709551615\",\"fSint32\":-7,"
                               "\"fFixed32\":7,\"fBool\":true,\"fString\":\"h\xc3\xa9\","
                               "\"fBytes\":\"AAE=\",\"rInt32\":[1,-2,3],\"rString\":[\"a\",\"b\"],"
                               "\"inner\":{\"id\":3,\"children\":[{\"name\":\"x\",\"children\":"
                               "[{\"id\":9}]}]},\"color\":\"BLUE\",\"rColor\":[\"RED\",\"GREEN\"],"
                               "\"cInner\":{\"id\":4},\"attrs\":{\"k\":5}}\n");
}

static void test_call_errors(void **state)
{
    fixture *f = *state;
    run r;
    plexus(f, &r, "call", f->addr, "calc.Calculator/Nope", "{}", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "unknown method 'Nope' of service calc.Calculator");

    plexus(f, &r, "call", f->addr, "nope.Svc/X", "{}", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "serves no service 'nope.Svc'");

    plexus(f, &r, "call", f->addr, "calc.Calculator/Add", "{\"a\":\"x\"}", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "bad JSON for calc.AddRequest");

    plexus(f, &r, "call", f->addr, "calc.Calculator/Div", "{\"a\":1}", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_contains(r.err, "INVALID_ARGUMENT: division by zero");
}

static void test_health(void **state)
{
    fixture *f = *state;
    run r;
    plexus(f, &r, "health", f->addr, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "SERVING\n");

    plexus(f, &r, "health", f->addr, "calc.Calculator", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "SERVING\n");

    plexus(f, &r, "health", f->addr, "nope.Svc", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "UNKNOWN_SERVICE\n");
    assert_contains(r.err, "NOT_FOUND");
    assert_contains(r.err, "'nope.Svc'");

    /* The health service as an ordinary method, by reflection. */
    plexus(f, &r, "call", f->addr, "plexus.health.v1.Health/Check", "{\"service\":\"calc.Calculator\"}",
           NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\"status\":\"SERVING\"}\n");
}

static void test_switched_off(void **state)
{
    fixture *f = *state;
    run r;
    plexus(f, &r, "list", f->off_addr, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_contains(r.err, "does not serve plexus.reflection.v1.Reflection (server.reflection "
                           "is false in its config): UNIMPLEMENTED");

    plexus(f, &r, "call", f->off_addr, "calc.Calculator/Add", "{}", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "server.reflection is false");

    plexus(f, &r, "health", f->off_addr, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_contains(r.err, "does not serve plexus.health.v1.Health (server.health is false");
}

static void test_unreachable(void **state)
{
    fixture *f = *state;
    run r;
    char dead[64];
    px_host_port(dead, sizeof dead, "127.0.0.1", px_free_port());
    plexus(f, &r, "health", dead, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_contains(r.err, "UNAVAILABLE");

    plexus(f, &r, "list", "bad\"host:1", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "is not HOST:PORT");
}

int main(void)
{
    px_proc_die_with_test();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_call_by_address),
        cmocka_unit_test(test_call_echo_every_kind),
        cmocka_unit_test(test_call_errors),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_switched_off),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests_name("reflect", tests, setup, teardown);
}
