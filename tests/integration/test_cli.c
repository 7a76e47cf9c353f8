/* The command-line tools end to end: `plexus call|modules|check` and `plexusd -t`,
 * run as processes against a real plexusd on 127.0.0.1; stdout, stderr and exit
 * status asserted exactly; `call -H` metadata both ways; --help, --version and bad
 * options of every command (GNU style). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexus/plexus.h"
#include "px_proc.h"

#define OUT_CAP 16384

typedef struct fixture {
    px_proc srv;
    char client_conf[256]; /* upstream calc -> srv */
    char dead_conf[256];   /* upstream calc -> a port nobody listens on */
    int dead_port;
    char plexus[512];      /* $PX_BINARY_DIR/bin/plexus */
    char plexusd[512];
} fixture;

/* One finished process: what it printed and how it exited. */
typedef struct run {
    int rc;
    char out[OUT_CAP];
    char err[OUT_CAP];
} run;

/* Workers to spare: the deadline tests leave two Sleeps running on the server. */
static const char *SERVER_YAML = "  codecs: [protobuf, json]\n"
                                 "  services:\n"
                                 "    - module: calc\n"
                                 "      workers: 4\n";

static const char *UPSTREAM_YAML = "      timeout: { module: fixed, connect: 500ms, call: 2s }\n";

static void run_argv(run *r, char *const argv[])
{
    r->rc = px_run(argv, r->out, sizeof r->out, r->err, sizeof r->err);
}

/* `plexus call -c conf OPTS... method [json]`: opts is NULL-terminated, json may be NULL. */
static void call_argv(fixture *f, run *r, const char *conf, const char *const *opts,
                      const char *method, const char *json)
{
    char *argv[32];
    int n = 0;
    argv[n++] = f->plexus;
    argv[n++] = "call";
    argv[n++] = "-c";
    argv[n++] = (char *)conf;
    for (; opts && *opts && n < 28; opts++)
        argv[n++] = (char *)*opts;
    if (method)
        argv[n++] = (char *)method;
    if (json)
        argv[n++] = (char *)json;
    argv[n] = NULL;
    run_argv(r, argv);
}

/* `plexus call -c conf [extra options] method [json]`; json may be NULL. */
static void call(fixture *f, run *r, const char *conf, const char *opt1, const char *opt2,
                 const char *method, const char *json)
{
    const char *opts[] = {opt1, opt2, NULL};
    call_argv(f, r, conf, opt1 ? opts : opts + 1, method, json);
}

#define assert_contains(hay, needle)                                                      \
    do {                                                                                  \
        if (strstr((hay), (needle)) == NULL)                                              \
            fail_msg("expected to find \"%s\" in:\n%s", (needle), (hay));                 \
    } while (0)

#define assert_starts_with(s, prefix)                                                     \
    do {                                                                                  \
        if (strncmp((s), (prefix), strlen(prefix)) != 0)                                  \
            fail_msg("expected a line starting with \"%s\", got:\n%s", (prefix), (s));    \
    } while (0)

static int write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        return -1;
    fputs(text, fp);
    return fclose(fp);
}

static int setup(void **state)
{
    const char *bin = getenv("PX_BINARY_DIR");
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL || bin == NULL) {
        fprintf(stderr, "PX_BINARY_DIR is not set: run through ctest\n");
        free(f);
        return -1;
    }
    snprintf(f->plexus, sizeof f->plexus, "%s/bin/plexus", bin);
    snprintf(f->plexusd, sizeof f->plexusd, "%s/bin/plexusd", bin);
    if (access(f->plexus, X_OK) != 0) {
        fprintf(stderr, "%s is not built\n", f->plexus);
        free(f);
        return -1;
    }
    if (px_proc_start(&f->srv, "cli1", SERVER_YAML) != 0) {
        free(f);
        return -1;
    }
    snprintf(f->client_conf, sizeof f->client_conf, "%s/client.yaml", f->srv.dir);
    snprintf(f->dead_conf, sizeof f->dead_conf, "%s/dead.yaml", f->srv.dir);
    f->dead_port = px_free_port();
    if (px_write_client_conf(f->client_conf, &f->srv.port, 1, UPSTREAM_YAML) != 0 ||
        f->dead_port < 0 ||
        px_write_client_conf(f->dead_conf, &f->dead_port, 1, UPSTREAM_YAML) != 0) {
        fprintf(stderr, "cannot write the client configs in %s\n", f->srv.dir);
        px_proc_kill(&f->srv);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad.yaml", f->srv.dir); /* left by a failed test_check_bad */
    unlink(bad);
    unlink(f->client_conf);
    unlink(f->dead_conf);
    int rc = px_proc_stop(&f->srv); /* SIGTERM: a clean stop exits 0 */
    if (rc != 0)
        fprintf(stderr, "plexusd exited with %d after SIGTERM\n", rc);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- plexus call: answers ---------------------------------------------------------- */

static void test_call_add(void **state)
{
    fixture *f = *state;
    run r;
    call(f, &r, f->client_conf, NULL, NULL, "calc.Calculator/Add", "{\"a\":2,\"b\":3}");
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    /* proto3 JSON: int64 is printed as a string. */
    assert_string_equal(r.out, "{\"sum\":\"5\"}\n");
}

static void test_call_add_async(void **state)
{
    fixture *f = *state;
    run r;
    call(f, &r, f->client_conf, "--async", NULL, "calc.Calculator/Add",
         "{\"a\":-40,\"b\":\"-2\"}");
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\"sum\":\"-42\"}\n");
}

static void test_call_whoami_default_request(void **state)
{
    fixture *f = *state;
    run r;
    call(f, &r, f->client_conf, NULL, NULL, "calc.Calculator/Whoami", NULL); /* JSON: {} */
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\"id\":\"cli1\"}\n");
}

static void test_call_upstream_by_name(void **state)
{
    fixture *f = *state;
    run r;
    call(f, &r, f->client_conf, "-u", "calc", "calc.Calculator/Div", "{\"a\":17,\"b\":5}");
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\"quotient\":\"3\",\"remainder\":\"2\"}\n");

    call(f, &r, f->client_conf, "-u", "nope", "calc.Calculator/Div", "{}");
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.out, "");
    assert_contains(r.err, "no upstream named 'nope'");
}

/* `plexus call -c conf [--async] -H h... method json`: h is a NULL-terminated list. */
static void call_with_meta(fixture *f, run *r, int async, const char *const *h,
                           const char *method, const char *json)
{
    const char *opts[30];
    int n = 0;
    if (async)
        opts[n++] = "--async";
    for (; *h && n < 28; h++) {
        opts[n++] = "-H";
        opts[n++] = *h;
    }
    opts[n] = NULL;
    call_argv(f, r, f->client_conf, opts, method, json);
}

/* calc's Echo returns the request's metadata: -H sends it, stderr shows what came back. */
static void test_call_metadata(void **state)
{
    fixture *f = *state;
    char file[300];
    snprintf(file, sizeof file, "%s/blob", f->srv.dir);
    FILE *fp = fopen(file, "wb");
    assert_non_null(fp);
    fwrite("\x00\x01\xff", 1, 3, fp);
    fclose(fp);
    char at_file[320];
    snprintf(at_file, sizeof at_file, "blob-bin=@%s", file);
    const char *h[] = {"tenant=blue", "trace-bin=00FF7f", "tenant=red shift", "empty=", at_file,
                       NULL};
    for (int async = 0; async < 2; async++) {
        run r;
        call_with_meta(f, &r, async, h, "calc.Calculator/Echo", "{\"f_int32\":1}");
        assert_int_equal(r.rc, 0);
        assert_contains(r.out, "1");
        assert_string_equal(r.err, "tenant: blue\n"
                                   "trace-bin: 00ff7f\n"
                                   "tenant: red shift\n"
                                   "empty: \n"
                                   "blob-bin: 0001ff\n");
    }
    unlink(file);
    /* A reply without metadata prints none (calc's Div returns none). */
    const char *one[] = {"tenant=blue", NULL};
    run r;
    call_with_meta(f, &r, 0, one, "calc.Calculator/Div", "{\"a\":1,\"b\":0}");
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "INVALID_ARGUMENT: division by zero\n");
}

static void test_call_bad_metadata(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *h, *err;
    } bad[] = {
        {"novalue", "plexus: call: -H 'novalue': expected KEY=VALUE"},
        {"=v", "plexus: call: -H '=v': expected KEY=VALUE"},
        {"Tenant=x", "plexus: call: -H 'Tenant=x': metadata key 'Tenant': byte 0 (0x54) is not "
                     "one of a-z 0-9 - _ . (keys are lowercase)"},
        {"px-trace=1", "plexus: call: -H 'px-trace=1': metadata key 'px-trace' is reserved"},
        {"grpc-timeout=1", "plexus: call: -H 'grpc-timeout=1': metadata key 'grpc-timeout' is "
                           "reserved"},
        {"k-bin=0g", "plexus: call: -H 'k-bin=0g': the value of a -bin key is hex digits"},
        {"k-bin=abc", "plexus: call: -H 'k-bin=abc': the value of a -bin key is hex digits"},
        {"k-bin=@/nonexistent/blob", "plexus: call: -H 'k-bin=@/nonexistent/blob': cannot read "
                                     "/nonexistent/blob"},
        {"k=tab\there", "plexus: call: -H 'k=tab\there': metadata value of key 'k': byte 3 "
                        "(0x09) is not printable ASCII"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *h[] = {bad[i].h, NULL};
        run r;
        call_with_meta(f, &r, 0, h, "calc.Calculator/Echo", "{}");
        assert_int_equal(r.rc, 2);
        assert_string_equal(r.out, "");
        assert_starts_with(r.err, bad[i].err);
    }
}

/* ---- plexus call: error statuses ---------------------------------------------------- */

static void test_call_div_by_zero(void **state)
{
    fixture *f = *state;
    run r;
    call(f, &r, f->client_conf, NULL, NULL, "calc.Calculator/Div", "{\"a\":1,\"b\":0}");
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "INVALID_ARGUMENT: division by zero\n");
}

static void check_deadline(fixture *f, const char *mode)
{
    run r;
    call(f, &r, f->client_conf, "--timeout=100ms", mode, "calc.Calculator/Sleep",
         "{\"ms\":1000}");
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    /* The tool gave up at its deadline: had it waited for the server, which sleeps the
     * whole second on a worker and then answers OK, it would have printed the reply. No
     * timed bound: under sanitizers on a loaded machine the tool's own start-up takes
     * longer than the sleep. */
    assert_starts_with(r.err, "DEADLINE_EXCEEDED: ");
}

static void test_call_deadline_sync(void **state)
{
    check_deadline(*state, NULL);
}

static void test_call_deadline_async(void **state)
{
    check_deadline(*state, "--async");
}

static void test_call_no_server(void **state)
{
    fixture *f = *state;
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", f->dead_port);
    run r;
    call(f, &r, f->dead_conf, NULL, NULL, "calc.Calculator/Add", "{\"a\":1}");
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_starts_with(r.err, "UNAVAILABLE: ");
    assert_contains(r.err, where);
    call(f, &r, f->dead_conf, "--async", NULL, "calc.Calculator/Add", "{\"a\":1}");
    assert_int_equal(r.rc, 1);
    assert_starts_with(r.err, "UNAVAILABLE: ");
}

/* ---- plexus call: bad input ---------------------------------------------------------- */

static void test_call_unknown_method(void **state)
{
    fixture *f = *state;
    run r;
    call(f, &r, f->client_conf, NULL, NULL, "calc.Calculator/Mul", "{}");
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.out, "");
    assert_starts_with(r.err, "plexus: unknown method 'Mul' of service calc.Calculator\n");
    assert_contains(r.err, "known methods");
    assert_contains(r.err, "  calc.Calculator/Add\n");
    assert_contains(r.err, "  calc.Calculator/Whoami\n");

    call(f, &r, f->client_conf, NULL, NULL, "calc.Calc/Add", "{}");
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: unknown service 'calc.Calc'\n");
    assert_contains(r.err, "  calc.Calculator/Sleep\n");

    call(f, &r, f->client_conf, NULL, NULL, "calc.Calculator.Add", "{}");
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err,
                        "plexus: 'calc.Calculator.Add' is not SERVICE/METHOD (e.g. calc.Calculator/Add)\n");
}

static void test_call_bad_json(void **state)
{
    fixture *f = *state;
    run r;
    call(f, &r, f->client_conf, NULL, NULL, "calc.Calculator/Add", "{\"a\":");
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.out, "");
    assert_starts_with(r.err, "plexus: bad JSON for calc.AddRequest: json: ");

    /* Well-formed JSON that does not fit the message: the codec names the field. */
    call(f, &r, f->client_conf, NULL, NULL, "calc.Calculator/Add", "{\"a\":\"two\"}");
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: bad JSON for calc.AddRequest: ");
    assert_contains(r.err, "'a'");
    assert_contains(r.err, "\"two\"");
    call(f, &r, f->client_conf, NULL, NULL, "calc.Calculator/Add", "{\"b\":99999999999}");
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: bad JSON for calc.AddRequest: ");
    assert_contains(r.err, "'b'");
    assert_contains(r.err, "int32");
    call(f, &r, f->client_conf, NULL, NULL, "calc.Calculator/Add", "[1]");
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: bad JSON for calc.AddRequest: ");
    assert_contains(r.err, "array");
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    run r;
    char *no_method[] = {f->plexus, "call", "-c", f->client_conf, NULL};
    run_argv(&r, no_method);
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: call: missing SERVICE/METHOD");
    assert_contains(r.err, "\nTry 'plexus call --help' for more information.\n");

    char *no_conf[] = {f->plexus, "call", "calc.Calculator/Add", NULL};
    run_argv(&r, no_conf);
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: call: missing -c FILE");

    call(f, &r, f->client_conf, "--timeout", "5 parsecs", "calc.Calculator/Add", "{}");
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: call: --timeout: '5 parsecs' is not a duration");

    call(f, &r, f->client_conf, "--bogus", NULL, "calc.Calculator/Add", "{}");
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: call: unknown option '--bogus'");

    call(f, &r, f->client_conf, "--timeout", NULL, NULL, NULL); /* value missing */
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: call: option '--timeout' needs a value");

    call(f, &r, f->client_conf, NULL, NULL, "calc.Calculator/Add", "{}");
    assert_int_equal(r.rc, 0); /* the control: the same config works */

    char *extra[] = {f->plexus, "call", "-c", f->client_conf, "calc.Calculator/Add", "{",
                     "}", NULL};
    run_argv(&r, extra);
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: call: unexpected argument '}'");

    char *unknown[] = {f->plexus, "frobnicate", NULL};
    run_argv(&r, unknown);
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: unknown command 'frobnicate'");

    char *help[] = {f->plexus, "help", NULL};
    run_argv(&r, help);
    assert_int_equal(r.rc, 0);
    assert_starts_with(r.out, "Usage: plexus COMMAND");
    assert_contains(r.out, "\n  call     ");
    assert_string_equal(r.err, "");

    char *modules_extra[] = {f->plexus, "modules", "-c", f->client_conf, "x", NULL};
    run_argv(&r, modules_extra);
    assert_int_equal(r.rc, 2);
    assert_starts_with(r.err, "plexus: modules: unexpected argument 'x'");
}

static void test_missing_config_file(void **state)
{
    fixture *f = *state;
    run r;
    call(f, &r, "/nonexistent/plexus.yaml", NULL, NULL, "calc.Calculator/Add", "{}");
    assert_int_equal(r.rc, 1);
    assert_starts_with(r.err, "plexus: /nonexistent/plexus.yaml");
}

/* ---- GNU manners: --help, --version and bad options of every command ---------------- */

/* argv of one command line: tool, then up to 5 words (NULL-terminated). */
static void run_words(fixture *f, run *r, int daemon, const char *const *words)
{
    char *argv[8];
    int n = 0;
    argv[n++] = daemon ? f->plexusd : f->plexus;
    for (; *words && n < 7; words++)
        argv[n++] = (char *)*words;
    argv[n] = NULL;
    run_argv(r, argv);
}

typedef struct cmdline {
    int daemon;              /* plexusd, else plexus */
    const char *words[6];    /* the arguments after the tool */
    const char *want;        /* --help: the first line's start; --version: the line */
} cmdline;

static void test_help_every_command(void **state)
{
    fixture *f = *state;
    static const cmdline helps[] = {
        {1, {"--help"}, "Usage: plexusd -c FILE [-t | -s reload|stop]\n"},
        {1, {"-h"}, "Usage: plexusd -c FILE [-t | -s reload|stop]\n"},
        {1, {"-t", "--help"}, "Usage: plexusd -c FILE [-t | -s reload|stop]\n"},
        {0, {"--help"}, "Usage: plexus COMMAND "},
        {0, {"-h"}, "Usage: plexus COMMAND "},
        {0, {"help"}, "Usage: plexus COMMAND "},
        {0, {"call", "--help"}, "Usage: plexus call -c FILE "},
        {0, {"call", "-h"}, "Usage: plexus call -c FILE "},
        {0, {"help", "call"}, "Usage: plexus call -c FILE "},
        /* --help wins over what is missing, wherever it stands. */
        {0, {"call", "calc.Calculator/Add", "--help"}, "Usage: plexus call -c FILE "},
        {0, {"bench", "--help"}, "Usage: plexus bench -c FILE "},
        {0, {"help", "bench"}, "Usage: plexus bench -c FILE "},
        {0, {"bench", "codec", "--help"}, "usage: plexus-codec-bench "},
        {0, {"check", "--help"}, "Usage: plexus check -c FILE\n"},
        {0, {"check", "-h"}, "Usage: plexus check -c FILE\n"},
        {0, {"modules", "--help"}, "Usage: plexus modules -c FILE\n"},
        {0, {"help", "modules"}, "Usage: plexus modules -c FILE\n"},
        {0, {"token-hash", "--help"}, "Usage: plexus token-hash [OPTION]... PRINCIPAL [GROUPS]\n"},
        {0, {"help", "token-hash"}, "Usage: plexus token-hash [OPTION]... PRINCIPAL [GROUPS]\n"},
        {0, {"list", "--help"}, "Usage: plexus list [OPTION]... HOST:PORT\n"},
        {0, {"help", "list"}, "Usage: plexus list [OPTION]... HOST:PORT\n"},
        {0, {"health", "-h"}, "Usage: plexus health [OPTION]... HOST:PORT [SERVICE]\n"},
    };
    for (size_t i = 0; i < sizeof helps / sizeof *helps; i++) {
        run r;
        run_words(f, &r, helps[i].daemon, helps[i].words);
        if (r.rc != 0 || r.err[0] != '\0' || strncmp(r.out, helps[i].want, strlen(helps[i].want)))
            fail_msg("%s %s %s: exit %d, stdout:\n%s\nstderr:\n%s",
                     helps[i].daemon ? "plexusd" : "plexus", helps[i].words[0],
                     helps[i].words[1] ? helps[i].words[1] : "", r.rc, r.out, r.err);
    }
    /* Each help names its own options, long and short. */
    run r;
    const char *call_help[] = {"call", "--help", NULL};
    run_words(f, &r, 0, call_help);
    const char *call_opts[] = {"-c, --config=FILE", "-u, --upstream=NAME", "-t, --timeout=",
                               "--async", "-H, --header=KEY=VALUE", "-h, --help",
                               "-V, --version"};
    for (size_t i = 0; i < sizeof call_opts / sizeof *call_opts; i++)
        assert_contains(r.out, call_opts[i]);
    const char *bench_help[] = {"bench", "--help", NULL};
    run_words(f, &r, 0, bench_help);
    const char *bench_opts[] = {"--connections=C", "--inflight=D", "--duration=S", "--warmup=S",
                                "--rate=R", "--calls=N", "--timeout=", "--json", "{{seq}}",
                                "{{rand}}", "{{rand:N}}"};
    for (size_t i = 0; i < sizeof bench_opts / sizeof *bench_opts; i++)
        assert_contains(r.out, bench_opts[i]);
}

static void test_version_every_command(void **state)
{
    fixture *f = *state;
    static const cmdline versions[] = {
        {1, {"--version"}, "plexusd (Plexus) " PX_VERSION "\n"},
        {1, {"-V"}, "plexusd (Plexus) " PX_VERSION "\n"},
        {0, {"--version"}, "plexus (Plexus) " PX_VERSION "\n"},
        {0, {"-V"}, "plexus (Plexus) " PX_VERSION "\n"},
        {0, {"call", "--version"}, "plexus (Plexus) " PX_VERSION "\n"},
        {0, {"bench", "--version"}, "plexus (Plexus) " PX_VERSION "\n"},
        {0, {"bench", "codec", "--version"}, "plexus-codec-bench (Plexus) " PX_VERSION "\n"},
        {0, {"check", "-V"}, "plexus (Plexus) " PX_VERSION "\n"},
        {0, {"modules", "--version"}, "plexus (Plexus) " PX_VERSION "\n"},
        {0, {"list", "--version"}, "plexus (Plexus) " PX_VERSION "\n"},
        {0, {"health", "-V"}, "plexus (Plexus) " PX_VERSION "\n"},
    };
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
        run r;
        run_words(f, &r, versions[i].daemon, versions[i].words);
        if (r.rc != 0 || r.err[0] != '\0' ||
            strncmp(r.out, versions[i].want, strlen(versions[i].want)) != 0)
            fail_msg("%s %s %s: exit %d, stdout:\n%s\nstderr:\n%s",
                     versions[i].daemon ? "plexusd" : "plexus", versions[i].words[0],
                     versions[i].words[1] ? versions[i].words[1] : "", r.rc, r.out, r.err);
    }
    /* The second line: the module ABI a module must have been built for. */
    run r;
    const char *v[] = {"--version", NULL};
    run_words(f, &r, 1, v);
    char abi[64];
    snprintf(abi, sizeof abi, "\nmodule ABI %d.%d\n", PX_ABI_MAJOR, PX_ABI_MINOR);
    assert_contains(r.out, abi);
}

/* A bad argument: exit 2, nothing on stdout, exactly what was wrong and where help is. */
static void test_bad_option_every_command(void **state)
{
    fixture *f = *state;
    static const cmdline bad[] = {
        {1, {"--bogus"}, "plexusd: unknown option '--bogus'\nTry 'plexusd --help' for more "
                         "information.\n"},
        {1, {"-x"}, "plexusd: unknown option '-x'\nTry 'plexusd --help' for more information.\n"},
        {1, {"-c"}, "plexusd: option '-c' needs a value\nTry 'plexusd --help' for more "
                    "information.\n"},
        {1, {"--test=yes"}, "plexusd: option '--test' takes no value\nTry 'plexusd --help' for "
                            "more information.\n"},
        {1, {"-t"}, "plexusd: missing -c FILE (the YAML configuration)\nTry 'plexusd --help' "
                    "for more information.\n"},
        {1, {"-s", "restart"}, "plexusd: -s takes reload or stop, not 'restart'\nTry 'plexusd "
                               "--help' for more information.\n"},
        {1, {"-t", "-s", "stop"}, "plexusd: -t and -s cannot go together\nTry 'plexusd --help' "
                                  "for more information.\n"},
        {1, {"-c", "a.yaml", "b.yaml"}, "plexusd: unexpected argument 'b.yaml'\nTry 'plexusd "
                                        "--help' for more information.\n"},
        {0, {"--bogus"}, "plexus: unknown option '--bogus' (a COMMAND comes first: call, list, health, bench, "
                         "check, modules, token-hash, stats, help)\nTry 'plexus --help' for more information.\n"},
        {0, {NULL}, "plexus: missing COMMAND (call, list, health, bench, check, modules, token-hash, stats, help)\nTry 'plexus "
                    "--help' for more information.\n"},
        {0, {"help", "frob"}, "plexus: help: unknown command 'frob' (call, list, health, bench, check, modules, "
                              "token-hash, stats, help)\nTry 'plexus --help' for more information.\n"},
        {0, {"call", "--bogus"}, "plexus: call: unknown option '--bogus'\nTry 'plexus call "
                                 "--help' for more information.\n"},
        {0, {"call", "-x"}, "plexus: call: unknown option '-x'\nTry 'plexus call --help' for "
                            "more information.\n"},
        {0, {"call", "--async=1"}, "plexus: call: option '--async' takes no value\nTry 'plexus "
                                   "call --help' for more information.\n"},
        {0, {"bench", "-c", "x.yaml", "--rate"}, "plexus: bench: option '--rate' needs a value\n"
                                                 "Try 'plexus bench --help' for more "
                                                 "information.\n"},
        {0, {"bench", "--bogus"}, "plexus: bench: unknown option '--bogus'\nTry 'plexus bench "
                                  "--help' for more information.\n"},
        {0, {"check", "--bogus"}, "plexus: check: unknown option '--bogus'\nTry 'plexus check "
                                  "--help' for more information.\n"},
        {0, {"check"}, "plexus: check: missing -c FILE (the YAML configuration)\nTry 'plexus "
                       "check --help' for more information.\n"},
        {0, {"modules", "-q"}, "plexus: modules: unknown option '-q'\nTry 'plexus modules "
                               "--help' for more information.\n"},
        {0, {"list"}, "plexus: list: missing HOST:PORT (the server's address)\nTry 'plexus "
                      "list --help' for more information.\n"},
        {0, {"health", "--bogus"}, "plexus: health: unknown option '--bogus'\nTry 'plexus "
                                   "health --help' for more information.\n"},
        {0, {"token-hash"}, "plexus: token-hash: missing PRINCIPAL\nTry 'plexus token-hash "
                            "--help' for more information.\n"},
        {0, {"token-hash", "--bogus"}, "plexus: token-hash: unknown option '--bogus'\nTry "
                                       "'plexus token-hash --help' for more information.\n"},
        {0, {"token-hash", "a", "b", "c"}, "plexus: token-hash: unexpected argument 'c'\nTry "
                                           "'plexus token-hash --help' for more information.\n"},
        {0, {"stats"}, "plexus: stats: missing HOST:PORT (an admin listener's address)\nTry "
                       "'plexus stats --help' for more information.\n"},
        {0, {"stats", "--bogus"}, "plexus: stats: unknown option '--bogus'\nTry 'plexus stats "
                                  "--help' for more information.\n"},
        {0, {"stats", "--interval", "5 parsecs", "a:1"},
         "plexus: stats: --interval: '5 parsecs' is not a duration (use e.g. 250ms, 5s)\nTry "
         "'plexus stats --help' for more information.\n"},
        {0, {"stats", "a:1", "b"}, "plexus: stats: unexpected argument 'b'\nTry 'plexus stats "
                                   "--help' for more information.\n"},
        {0, {"call"}, "plexus: call: missing -c FILE (the client configuration) or HOST:PORT "
                      "(a server with reflection)\nTry 'plexus call --help' for more "
                      "information.\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        run r;
        run_words(f, &r, bad[i].daemon, bad[i].words);
        if (r.rc != 2 || r.out[0] != '\0' || strcmp(r.err, bad[i].want) != 0)
            fail_msg("%s %s ...: exit %d, stdout:\n%s\nstderr:\n%s\nwanted stderr:\n%s",
                     bad[i].daemon ? "plexusd" : "plexus",
                     bad[i].words[0] ? bad[i].words[0] : "", r.rc, r.out, r.err, bad[i].want);
    }
    /* plexus-codec-bench (plexus bench codec) lets getopt say it, then points at --help. */
    run r;
    const char *codec[] = {"bench", "codec", "-q", NULL};
    run_words(f, &r, 0, codec);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.out, "");
    assert_contains(r.err, "invalid option -- 'q'\n"
                           "Try 'plexus-codec-bench --help' for more information.\n");
}

/* ---- plexus modules ---------------------------------------------------------------- */

/* The line of `text` that starts with `prefix` (copied into line), or fails the test. */
static void find_line(const char *text, const char *prefix, char *line, size_t cap)
{
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (strncmp(p, prefix, strlen(prefix)) == 0) {
            snprintf(line, cap, "%.*s", (int)len, p);
            return;
        }
        p += len + (end != NULL);
    }
    fail_msg("no line starting with \"%s\" in:\n%s", prefix, text);
}

/* Fields of a module line: kind, name, version, path (the path column is aligned). */
static void check_module(const char *out, size_t path_col, const char *kind, const char *name,
                         const char *file)
{
    char line[1024], prefix[64];
    snprintf(prefix, sizeof prefix, "%s ", kind);
    for (const char *p = out; (p = strstr(p, prefix)) != NULL; p++) {
        if (p != out && p[-1] != '\n')
            continue;
        const char *end = strchr(p, '\n');
        snprintf(line, sizeof line, "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
        char k[32], n[64], v[32], path[900];
        if (sscanf(line, "%31s %63s %31s %899s", k, n, v, path) != 4 || strcmp(n, name) != 0)
            continue;
        assert_string_equal(v, "1.0.0");
        size_t plen = strlen(path), flen = strlen(file);
        if (plen < flen + 1 || strcmp(path + plen - flen, file) != 0 || path[plen - flen - 1] != '/')
            fail_msg("%s %s: path %s does not end in /%s", kind, name, path, file);
        if (strlen(line) < path_col || strcmp(line + path_col, path) != 0)
            fail_msg("%s %s: the path is not in the PATH column (%zu):\n%s", kind, name,
                     path_col, line);
        return;
    }
    fail_msg("no module line \"%s %s ...\" in:\n%s", kind, name, out);
}

static void test_modules(void **state)
{
    fixture *f = *state;
    run r;
    char *argv[] = {f->plexus, "modules", "-c", f->client_conf, NULL};
    run_argv(&r, argv);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    char header[256];
    find_line(r.out, "KIND ", header, sizeof header);
    const char *path_hdr = strstr(header, "PATH");
    assert_non_null(path_hdr);
    assert_non_null(strstr(header, " NAME "));
    assert_non_null(strstr(header, " VERSION "));
    size_t col = (size_t)(path_hdr - header);
    check_module(r.out, col, "codec", "protobuf", "codec_protobuf.so");
    check_module(r.out, col, "balancer", "random", "lb_random.so");
    check_module(r.out, col, "failover", "failfast", "failover_failfast.so");
    check_module(r.out, col, "timeout", "fixed", "timeout_fixed.so");
    check_module(r.out, col, "service", "calc", "service_calc.so");

    /* Directives beneath their module: name, type, default, help. */
    char line[512], n[64], t[32], d[32];
    find_line(r.out, "    call ", line, sizeof line);
    assert_int_equal(sscanf(line, "%63s %31s %31s", n, t, d), 3);
    assert_string_equal(t, "duration");
    assert_string_equal(d, "1s");
    assert_contains(line, "time allowed for a whole call");
    find_line(r.out, "    max_sleep ", line, sizeof line);
    assert_int_equal(sscanf(line, "%63s %31s %31s", n, t, d), 3);
    assert_string_equal(t, "duration");
    assert_string_equal(d, "60s");
    /* A module without directives says so, under its own line. */
    const char *ff = strstr(r.out, "failover_failfast.so\n");
    assert_non_null(ff);
    assert_starts_with(ff + strlen("failover_failfast.so\n"), "    (no directives)\n");
}

/* ---- plexusd -t and plexus check --------------------------------------------------- */

static void test_check_ok(void **state)
{
    fixture *f = *state;
    run r;
    char *daemon[] = {f->plexusd, "-t", "-c", f->srv.conf, NULL};
    run_argv(&r, daemon);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "configuration ok\n");
    assert_string_equal(r.err, "");

    char *cli[] = {f->plexus, "check", "-c", f->client_conf, NULL};
    run_argv(&r, cli);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "configuration ok\n");
    assert_string_equal(r.err, "");
}

static void test_check_bad(void **state)
{
    fixture *f = *state;
    char bad[300], text[1024], want[400];
    snprintf(bad, sizeof bad, "%s/bad.yaml", f->srv.dir);
    /* Line 5, column 3: the key plexusd does not know. */
    snprintf(text, sizeof text,
             "modules:\n  path: [%s]\nserver:\n  listen: 127.0.0.1:1\n  bogus: 1\n",
             getenv("PX_MODULE_DIR"));
    assert_int_equal(write_file(bad, text), 0);
    run r;
    char *daemon[] = {f->plexusd, "-t", "-c", bad, NULL};
    run_argv(&r, daemon);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    snprintf(want, sizeof want, "plexusd: %s:5:3: ", bad);
    assert_starts_with(r.err, want);
    assert_contains(r.err, "'bogus'");

    char *cli[] = {f->plexus, "check", "-c", bad, NULL};
    run_argv(&r, cli);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    snprintf(want, sizeof want, "plexus: %s:5:3: ", bad);
    assert_starts_with(r.err, want);
    assert_contains(r.err, "'bogus'");

    /* A module that is not on the path: the position of its name. */
    snprintf(text, sizeof text,
             "modules:\n  path: [%s]\nserver:\n  listen: 127.0.0.1:1\n  codecs: [protobuf, yaml]\n",
             getenv("PX_MODULE_DIR"));
    assert_int_equal(write_file(bad, text), 0);
    run_argv(&r, daemon);
    assert_int_equal(r.rc, 1);
    snprintf(want, sizeof want, "plexusd: %s:5:22: ", bad);
    assert_starts_with(r.err, want);
    assert_contains(r.err, "codec_yaml.so");
    unlink(bad);
}

/* The addresses of issue 10, item 7: `plexusd -t` and `plexus check` refuse them at
 * the value's position, with the text and the reason; "%s" is the file. A failed
 * lookup ends with the resolver's own words, so only its start is compared. */
/* `plexusd -s` when nothing can be signalled: no pid_file in the file, no pid file on
 * disk, one holding no pid, one naming a process that is not plexusd (this test's own
 * pid). Each: exit 1, nothing signalled, one line saying what and where. */
static void test_signal_refusals(void **state)
{
    fixture *f = *state;
    char conf[300], pidf[300], text[1024], want[700];
    run r;
    /* The server's own file has no pid_file. */
    char *no_pidfile[] = {f->plexusd, "-s", "reload", "-c", f->srv.conf, NULL};
    run_argv(&r, no_pidfile);
    assert_int_equal(r.rc, 1);
    snprintf(want, sizeof want, "plexusd: %s: server.pid_file is not set: -s needs it to find "
             "the running plexusd\n", f->srv.conf);
    assert_string_equal(r.err, want);

    snprintf(conf, sizeof conf, "%s/pidf.yaml", f->srv.dir);
    snprintf(pidf, sizeof pidf, "%s/sig.pid", f->srv.dir);
    snprintf(text, sizeof text, "modules:\n  path: [%s]\nserver:\n  listen: 127.0.0.1:%d\n"
             "  pid_file: sig.pid\n  codecs: [protobuf]\n  services:\n    - module: calc\n",
             getenv("PX_MODULE_DIR") ? getenv("PX_MODULE_DIR") : "build/modules", f->dead_port);
    assert_int_equal(write_file(conf, text), 0);
    char *sig[] = {f->plexusd, "-s", "stop", "-c", conf, NULL};
    unlink(pidf);
    run_argv(&r, sig);
    assert_int_equal(r.rc, 1);
    snprintf(want, sizeof want, "plexusd: %s: No such file or directory (is plexusd running?)\n",
             pidf);
    assert_string_equal(r.err, want);

    assert_int_equal(write_file(pidf, "not a pid\n"), 0);
    run_argv(&r, sig);
    assert_int_equal(r.rc, 1);
    snprintf(want, sizeof want, "plexusd: %s: holds no pid (is plexusd running?)\n", pidf);
    assert_string_equal(r.err, want);

    snprintf(text, sizeof text, "%d\n", (int)getpid());
    assert_int_equal(write_file(pidf, text), 0);
    run_argv(&r, sig);
    assert_int_equal(r.rc, 1); /* and this test is still here: nothing was sent */
    snprintf(want, sizeof want, "plexusd: %s names pid %d, which is not a running plexusd (a "
             "stale pid file?)\n", pidf, (int)getpid());
    assert_string_equal(r.err, want);
    unlink(pidf);
    unlink(conf);
}

static void check_address(fixture *f, const char *bad, const char *yaml, const char *msg)
{
    char text[1024], want[700];
    snprintf(text, sizeof text, yaml, getenv("PX_MODULE_DIR"));
    assert_int_equal(write_file(bad, text), 0);
    char *daemon[] = {f->plexusd, "-t", "-c", (char *)bad, NULL};
    char *cli[] = {f->plexus, "check", "-c", (char *)bad, NULL};
    char *const *argvs[] = {daemon, cli};
    const char *tools[] = {"plexusd", "plexus"};
    for (int i = 0; i < 2; i++) {
        run r;
        run_argv(&r, argvs[i]);
        assert_int_equal(r.rc, 1);
        assert_string_equal(r.out, "");
        int n = snprintf(want, sizeof want, "%s: ", tools[i]);
        snprintf(want + n, sizeof want - (size_t)n, msg, bad);
        assert_starts_with(r.err, want);
    }
}

static void test_check_bad_addresses(void **state)
{
    fixture *f = *state;
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad.yaml", f->srv.dir);
    const char *srv = "modules:\n  path: [%s]\nserver:\n  listen: %s\n";
    char yaml[256];
    snprintf(yaml, sizeof yaml, srv, "%s", "999.1.1.1:21011");
    check_address(f, bad, yaml,
                  "%s:4:11: server.listen: '999.1.1.1:21011': '999.1.1.1' is not a valid IPv4 "
                  "address\n");
    snprintf(yaml, sizeof yaml, srv, "%s", "example.invalid:21011");
    check_address(f, bad, yaml,
                  "%s:4:11: server.listen: 'example.invalid:21011': cannot resolve "
                  "'example.invalid': ");
    snprintf(yaml, sizeof yaml, srv, "%s", "'[::1]:99999'");
    check_address(f, bad, yaml,
                  "%s:4:11: server.listen: '[::1]:99999': port '99999' is not a number in "
                  "0..65535\n");
    const char *cl = "modules:\n  path: [%s]\nclient:\n  upstreams:\n    calc:\n"
                     "      endpoints: [%s]\n";
    snprintf(yaml, sizeof yaml, cl, "%s", "'[::1]:7101', example.invalid:21011");
    check_address(f, bad, yaml,
                  "%s:6:33: endpoints[1]: 'example.invalid:21011': cannot resolve "
                  "'example.invalid': ");
    unlink(bad);

    /* [::1] is accepted (the report's third address): a valid config checks ok. */
    snprintf(yaml, sizeof yaml, srv, getenv("PX_MODULE_DIR"), "'[::1]:21011'");
    assert_int_equal(write_file(bad, yaml), 0);
    char *daemon[] = {f->plexusd, "-t", "-c", bad, NULL};
    run r;
    run_argv(&r, daemon);
    assert_string_equal(r.err, "");
    assert_string_equal(r.out, "configuration ok\n");
    assert_int_equal(r.rc, 0);
    unlink(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_add),
        cmocka_unit_test(test_call_add_async),
        cmocka_unit_test(test_call_whoami_default_request),
        cmocka_unit_test(test_call_upstream_by_name),
        cmocka_unit_test(test_call_metadata),
        cmocka_unit_test(test_call_bad_metadata),
        cmocka_unit_test(test_call_div_by_zero),
        cmocka_unit_test(test_call_deadline_sync),
        cmocka_unit_test(test_call_deadline_async),
        cmocka_unit_test(test_call_no_server),
        cmocka_unit_test(test_call_unknown_method),
        cmocka_unit_test(test_call_bad_json),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_missing_config_file),
        cmocka_unit_test(test_help_every_command),
        cmocka_unit_test(test_version_every_command),
        cmocka_unit_test(test_bad_option_every_command),
        cmocka_unit_test(test_modules),
        cmocka_unit_test(test_check_ok),
        cmocka_unit_test(test_check_bad),
        cmocka_unit_test(test_check_bad_addresses),
        cmocka_unit_test(test_signal_refusals),
    };
    return cmocka_run_group_tests_name("plexus CLI", tests, setup, teardown);
}
