/* `plexus bench` (the RPC load generator) end to end against a real plexusd: the JSON
 * report's keys and counts, open loop, counting runs, errors by status and bad usage;
 * request templates spreading calls over a consistent_hash ring of three servers.
 * No assertion on speed: the machine's timing is not the test's business. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_proc.h"

#define OUT_CAP 16384
#define ADD "calc.Calculator/Add"
#define ADD_JSON "{\"a\":1,\"b\":2,\"tag\":\"0123456789abcdef\"}"

typedef struct fixture {
    px_proc srv;
    char client_conf[256]; /* upstream calc -> srv */
    char dead_conf[256];   /* upstream calc -> a port nobody listens on */
    char plexus[512];
} fixture;

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

/* plexus bench -c conf METHOD JSON, then up to 8 more arguments (NULL-terminated). */
static void bench(fixture *f, run *r, const char *conf, const char *method, const char *json, ...)
{
    char *argv[24];
    int n = 0;
    argv[n++] = f->plexus;
    argv[n++] = "bench";
    argv[n++] = "-c";
    argv[n++] = (char *)conf;
    va_list ap;
    va_start(ap, json);
    for (const char *s; n < 18 && (s = va_arg(ap, const char *)) != NULL;)
        argv[n++] = (char *)s;
    va_end(ap);
    if (method)
        argv[n++] = (char *)method;
    if (json)
        argv[n++] = (char *)json;
    argv[n] = NULL;
    r->rc = px_run(argv, r->out, sizeof r->out, r->err, sizeof r->err);
}

/* The report of a --json run: one object, with every key the harness reads. */
static json_t *report(const run *r)
{
    json_error_t e;
    json_t *o = json_loads(r->out, 0, &e);
    if (o == NULL || !json_is_object(o))
        fail_msg("not one JSON object (%s at %d:%d):\n%s\nstderr:\n%s", e.text, e.line, e.column,
                 r->out, r->err);
    static const char *const keys[] = {
        "method", "upstream", "codec", "mode", "connections", "inflight", "rate", "endpoints",
        "io_threads", "tcp_connections", "warmup_s", "duration_s", "calls", "calls_per_s",
        "calls_failed", "failed_per_s", "template", "calls_total",
        "latency_us", "errors", "warmup_errors", "client_cpu_us_per_call", NULL};
    for (int i = 0; keys[i]; i++)
        if (json_object_get(o, keys[i]) == NULL)
            fail_msg("key \"%s\" missing in %s", keys[i], r->out);
    static const char *const lat[] = {"p50", "p90", "p99", "p99_9", "max", "min", "mean", NULL};
    json_t *l = json_object_get(o, "latency_us");
    for (int i = 0; lat[i]; i++)
        if (!json_is_number(json_object_get(l, lat[i])))
            fail_msg("latency_us.%s missing or not a number in %s", lat[i], r->out);
    json_t *err = json_object_get(o, "errors");
    assert_true(json_is_integer(json_object_get(err, "total")));
    assert_true(json_is_object(json_object_get(err, "by_status")));
    assert_true(json_is_object(json_object_get(err, "first")));
    return o;
}

static json_int_t int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("\"%s\" is not an integer", key);
    return json_integer_value(v);
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("\"%s\" is not a number", key);
    return json_number_value(v);
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
    if (access(f->plexus, X_OK) != 0) {
        fprintf(stderr, "%s is not built\n", f->plexus);
        free(f);
        return -1;
    }
    if (px_proc_start(&f->srv, "bench1", "  codecs: [protobuf]\n  services:\n    - module: calc\n") !=
        0) {
        free(f);
        return -1;
    }
    snprintf(f->client_conf, sizeof f->client_conf, "%s/client.yaml", f->srv.dir);
    snprintf(f->dead_conf, sizeof f->dead_conf, "%s/dead.yaml", f->srv.dir);
    int dead_port = px_free_port();
    const char *up = "      timeout: { module: fixed, connect: 500ms, call: 5s }\n";
    if (px_write_client_conf(f->client_conf, &f->srv.port, 1, up) != 0 || dead_port < 0 ||
        px_write_client_conf(f->dead_conf, &dead_port, 1, up) != 0) {
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
    unlink(f->client_conf);
    unlink(f->dead_conf);
    int rc = px_proc_stop(&f->srv);
    if (rc != 0)
        fprintf(stderr, "plexusd exited with %d after SIGTERM\n", rc);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* A 1 s closed loop over 2 connections x 4 in flight: calls, no error, 2 sockets. */
static void test_closed_loop_json(void **state)
{
    fixture *f = *state;
    run r;
    bench(f, &r, f->client_conf, ADD, ADD_JSON, "--connections", "2", "--inflight", "4",
          "--duration", "1", "--warmup", "200ms", "--json", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, ""); /* stderr is a pipe here: no progress line */
    json_t *o = report(&r);
    assert_string_equal(json_string_value(json_object_get(o, "method")), ADD);
    assert_string_equal(json_string_value(json_object_get(o, "upstream")), "calc");
    assert_string_equal(json_string_value(json_object_get(o, "codec")), "protobuf");
    assert_string_equal(json_string_value(json_object_get(o, "mode")), "closed");
    assert_true(json_is_null(json_object_get(o, "rate")));
    assert_int_equal(int_of(o, "connections"), 2);
    assert_int_equal(int_of(o, "inflight"), 4);
    assert_int_equal(int_of(o, "endpoints"), 1);
    assert_int_equal(int_of(o, "io_threads"), 1);
    /* --connections really opened that many TCP connections (counted from /proc). */
    assert_int_equal(int_of(o, "tcp_connections"), 2);
    assert_true(int_of(o, "calls") > 0);
    assert_true(int_of(o, "calls_total") >= int_of(o, "calls")); /* + warm-up and drain */
    assert_true(num(o, "calls_per_s") > 0);
    json_t *err = json_object_get(o, "errors");
    assert_int_equal(int_of(err, "total"), 0);
    assert_int_equal(json_object_size(json_object_get(err, "by_status")), 0);
    assert_int_equal(int_of(o, "warmup_errors"), 0);
    /* Quantiles of one histogram never decrease. */
    json_t *l = json_object_get(o, "latency_us");
    const char *order[] = {"min", "p50", "p90", "p99", "p99_9", "max"};
    for (int i = 1; i < 6; i++)
        if (num(l, order[i]) < num(l, order[i - 1]))
            fail_msg("latency %s < %s in %s", order[i], order[i - 1], r.out);
    json_decref(o);
}

/* The human report names every figure. */
static void test_closed_loop_text(void **state)
{
    fixture *f = *state;
    run r;
    bench(f, &r, f->client_conf, ADD, ADD_JSON, "-u", "calc", "--duration", "300ms", "--warmup",
          "0", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    assert_contains(r.out, "plexus bench: " ADD " on upstream calc (codec protobuf), 1 endpoint");
    assert_contains(r.out, "closed loop: 1 connection per endpoint x 1 in flight");
    assert_contains(r.out, "TCP connections open at the end: 1\n");
    assert_contains(r.out, " calls/s\n");
    assert_contains(r.out, "latency    p50 ");
    assert_contains(r.out, " p99.9 ");
    assert_contains(r.out, "errors     0\n");
}

/* Open loop: never sends more than rate x time, reports its mode and rate. */
static void test_open_loop(void **state)
{
    fixture *f = *state;
    run r;
    bench(f, &r, f->client_conf, ADD, ADD_JSON, "--rate", "200", "--inflight", "8", "--duration",
          "1", "--warmup", "0", "--json", NULL);
    assert_int_equal(r.rc, 0);
    json_t *o = report(&r);
    assert_string_equal(json_string_value(json_object_get(o, "mode")), "open");
    assert_true(num(o, "rate") == 200.0);
    assert_true(json_is_integer(json_object_get(o, "late_sends_max")));
    json_int_t calls = int_of(o, "calls");
    assert_true(calls > 0);
    if (calls > 201) /* the schedule's count for 1 s at 200/s, plus the call at t = 0 */
        fail_msg("open loop at 200 calls/s for 1 s completed %lld calls", (long long)calls);
    assert_int_equal(int_of(json_object_get(o, "errors"), "total"), 0);
    json_decref(o);
}

/* --calls N: a counting run makes exactly N calls and stops (what callgrind runs use). */
static void test_counting_run(void **state)
{
    fixture *f = *state;
    run r;
    bench(f, &r, f->client_conf, ADD, ADD_JSON, "--calls", "500", "--inflight", "8",
          "--duration", "60", "--warmup", "0", "--json", NULL);
    assert_int_equal(r.rc, 0);
    json_t *o = report(&r);
    assert_int_equal(int_of(o, "calls"), 500);
    assert_true(num(o, "duration_s") < 60.0); /* it ended when the calls were done */
    json_decref(o);
}

/* Every failed call is counted under its status, with the server's message. */
static void test_errors_by_status(void **state)
{
    fixture *f = *state;
    run r;
    bench(f, &r, f->client_conf, "calc.Calculator/Div", "{\"a\":1,\"b\":0}", "--calls", "50",
          "--warmup", "0", "--json", NULL);
    assert_int_equal(r.rc, 1);
    assert_contains(r.err, "plexus: bench: no call of calc.Calculator/Div succeeded");
    json_t *o = report(&r);
    assert_int_equal(int_of(o, "calls"), 0);
    json_t *err = json_object_get(o, "errors");
    assert_int_equal(int_of(err, "total"), 50);
    assert_int_equal(int_of(o, "calls_failed"), 50);
    assert_true(num(o, "failed_per_s") > 0);
    assert_true(num(o, "calls_per_s") == 0);
    assert_int_equal(int_of(json_object_get(err, "by_status"), "INVALID_ARGUMENT"), 50);
    assert_string_equal(json_string_value(json_object_get(json_object_get(err, "first"),
                                                          "INVALID_ARGUMENT")),
                        "division by zero");
    json_decref(o);

    bench(f, &r, f->dead_conf, ADD, ADD_JSON, "--calls", "20", "--warmup", "0", NULL);
    assert_int_equal(r.rc, 1);
    /* Failed calls/s beside successful ones. */
    assert_contains(r.out, "  calls      0 ok, 0 calls/s; 20 failed, ");
    assert_contains(r.out, "errors     20\n");
    assert_contains(r.out, "    UNAVAILABLE          20  (first: ");
}

static void test_bad_usage(void **state)
{
    fixture *f = *state;
    run r;
    bench(f, &r, f->client_conf, ADD, NULL, NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "plexus: bench: missing the JSON request of " ADD);
    bench(f, &r, f->client_conf, ADD, ADD_JSON, "--connections", "0", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "plexus: bench: --connections: '0' is not a whole number in 1..64");
    bench(f, &r, f->client_conf, ADD, ADD_JSON, "--rate", "fast", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "plexus: bench: --rate: 'fast' is not a number of calls per second");
    bench(f, &r, f->client_conf, ADD, ADD_JSON, "--duration", "300", "--warmup", "5 s", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "plexus: bench: --warmup: '5 s' ");
    bench(f, &r, f->client_conf, ADD, "{\"a\":\"x\"}", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "plexus: bad JSON for calc.AddRequest: ");
    bench(f, &r, f->client_conf, "calc.Calculator/Mul", "{}", NULL);
    assert_int_equal(r.rc, 2);
    assert_contains(r.err, "plexus: unknown method 'Mul' of service calc.Calculator");
    assert_int_equal(r.out[0], '\0');
}

/* ---- request templates ---------------------------------------------------------------- */

/* OK calls of Echo in an access log (0 when it does not exist yet). */
static long echo_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return 0;
    char line[1024];
    long n = 0;
    while (fgets(line, sizeof line, fp) != NULL)
        n += strstr(line, " calc.Calculator/Echo OK ") != NULL;
    fclose(fp);
    return n;
}

typedef struct ring {
    px_proc srv[3];
    char log[3][300]; /* each server's access log */
    char conf[300];   /* consistent_hash on Echo's f_string over the three */
    long seen[3];     /* lines counted so far */
} ring;

/* The calls each server answered since the last look, once they add up to `calls`: a
 * server writes its log line as its answer leaves, so the last may lag the report. */
static void ring_delta(ring *g, long calls, long delta[3])
{
    long total = 0;
    for (int wait = 0; wait < 1000; wait++) { /* bounded: 10 s */
        total = 0;
        for (int i = 0; i < 3; i++)
            total += (delta[i] = echo_lines(g->log[i]) - g->seen[i]);
        if (total >= calls)
            break;
        usleep(10000);
    }
    if (total != calls)
        fail_msg("the servers logged %ld Echo calls, the bench made %ld", total, calls);
    for (int i = 0; i < 3; i++)
        g->seen[i] += delta[i];
}

/* A counting run of Echo with request `json`; every call must succeed. */
static void ring_bench(fixture *f, ring *g, const char *json, const char *calls)
{
    run r;
    bench(f, &r, g->conf, "calc.Calculator/Echo", json, "--calls", calls, "--inflight", "4",
          "--warmup", "0", "--json", NULL);
    if (r.rc != 0)
        fail_msg("plexus bench exited %d:\n%s\n%s", r.rc, r.out, r.err);
    json_t *o = report(&r);
    assert_int_equal(int_of(o, "calls"), atol(calls));
    assert_int_equal(int_of(o, "calls_failed"), 0);
    assert_int_equal(int_of(o, "endpoints"), 3);
    json_t *t = json_object_get(o, "template");
    if (strstr(json, "{{") != NULL)
        assert_string_equal(json_string_value(t), json);
    else
        assert_true(json_is_null(t));
    json_decref(o);
}

static void test_template_spreads_keys(void **state)
{
    fixture *f = *state;
    ring *g = calloc(1, sizeof *g);
    assert_non_null(g);
    char yaml[600];
    for (int i = 0; i < 3; i++) {
        snprintf(g->log[i], sizeof g->log[i], "%s/access%d.log", f->srv.dir, i);
        snprintf(yaml, sizeof yaml,
                 "  codecs: [protobuf]\n  filters: [{module: access_log, path: %s}]\n"
                 "  services:\n    - module: calc\n", g->log[i]);
        char id[8];
        snprintf(id, sizeof id, "h%d", i);
        assert_int_equal(px_proc_start(&g->srv[i], id, yaml), 0);
    }
    snprintf(g->conf, sizeof g->conf, "%s/ring.yaml", f->srv.dir);
    assert_int_equal(px_write_client_conf_procs(g->conf, g->srv, 3,
                                                "      balancer: {module: consistent_hash, "
                                                "key_field: f_string}\n"),
                     0);
    long d[3], again[3];
    /* One key: every call goes to the one server that owns it. */
    ring_bench(f, g, "{\"f_string\":\"k\"}", "300");
    ring_delta(g, 300, d);
    int owners = (d[0] > 0) + (d[1] > 0) + (d[2] > 0);
    if (owners != 1)
        fail_msg("one key went to %d servers: %ld %ld %ld", owners, d[0], d[1], d[2]);
    /* A key per call (k0 ... k2999): every server gets some. */
    ring_bench(f, g, "{\"f_string\":\"k{{seq}}\"}", "3000");
    ring_delta(g, 3000, d);
    for (int i = 0; i < 3; i++)
        if (d[i] == 0)
            fail_msg("{{seq}} keys: server %d got no call (%ld %ld %ld)", i, d[0], d[1], d[2]);
    /* The same keys again go to the same servers: the template, not chance, spread them. */
    ring_bench(f, g, "{\"f_string\":\"k{{seq}}\"}", "3000");
    ring_delta(g, 3000, again);
    for (int i = 0; i < 3; i++)
        if (again[i] != d[i])
            fail_msg("k0..k2999 went %ld %ld %ld, then %ld %ld %ld", d[0], d[1], d[2], again[0],
                     again[1], again[2]);
    /* Random keys out of 1000 spread too, and an integer field takes {{rand:N}}. */
    ring_bench(f, g, "{\"f_string\":\"u{{rand:1000}}\",\"f_int32\":{{rand}},\"f_uint64\":{{seq}}}",
               "2000");
    ring_delta(g, 2000, d);
    for (int i = 0; i < 3; i++)
        if (d[i] == 0)
            fail_msg("{{rand:1000}} keys: server %d got no call (%ld %ld %ld)", i, d[0], d[1],
                     d[2]);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(px_proc_stop(&g->srv[i]), 0);
        unlink(g->log[i]);
    }
    unlink(g->conf);
    free(g);
}

/* A bad template is refused before any call, saying what and where. */
static void test_template_bad(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *json, *err;
    } bad[] = {
        {"{\"tag\":\"k{{sequence}}\"}",
         "plexus: bench: the JSON request '{\"tag\":\"k{{sequence}}\"}': unknown placeholder "
         "'{{sequence}}' at byte 9 (known: {{seq}}, {{rand}}, {{rand:N}})\n"
         "Try 'plexus bench --help' for more information.\n"},
        {"{\"tag\":\"k{{seq\"}",
         "plexus: bench: the JSON request '{\"tag\":\"k{{seq\"}': '{{' at byte 9 is not closed by "
         "'}}'\nTry 'plexus bench --help' for more information.\n"},
        {"{\"a\":{{rand:0}}}",
         "plexus: bench: the JSON request '{\"a\":{{rand:0}}}': '{{rand:0}}' at byte 5: N of "
         "{{rand:N}} must be a whole number in 1..18446744073709551615\n"
         "Try 'plexus bench --help' for more information.\n"},
        /* The widest numbers must fit the field: a is int32. */
        {"{\"a\":{{rand:5000000000}}}",
         "plexus: bench: the request template with its largest numbers, {\"a\":4999999999}, is "
         "bad JSON for calc.AddRequest: json: field 'a': value 4999999999 is out of range for "
         "int32 (a smaller N in {{rand:N}}?)\n"},
        /* Bad JSON once expanded: the expansion is shown. */
        {"{\"a\":\"{{seq}}x\"}",
         "plexus: bad JSON for calc.AddRequest: json: field 'a': expected an integer, got string "
         "\"0x\"\nplexus: bench: (that is the request template with every number at 0: "
         "{\"a\":\"0x\"})\n"},
        /* The same with a random number: the message does not depend on the draw. */
        {"{\"a\":\"{{rand:1000}}x\"}",
         "plexus: bad JSON for calc.AddRequest: json: field 'a': expected an integer, got string "
         "\"0x\"\nplexus: bench: (that is the request template with every number at 0: "
         "{\"a\":\"0x\"})\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        run r;
        bench(f, &r, f->client_conf, ADD, bad[i].json, "--calls", "10", NULL);
        assert_int_equal(r.rc, 2);
        assert_string_equal(r.out, "");
        assert_string_equal(r.err, bad[i].err);
    }
}

/* The text report names the template; {{seq}} and {{rand:N}} into Add's int32 fields. */
static void test_template_text(void **state)
{
    fixture *f = *state;
    run r;
    bench(f, &r, f->client_conf, ADD, "{\"a\":{{seq}},\"b\":{{rand:100}}}", "--calls", "200",
          "--warmup", "0", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "  request    template {\"a\":{{seq}},\"b\":{{rand:100}}}, expanded "
                           "and decoded for every call\n");
    assert_contains(r.out, "  calls      200 ok, ");
    assert_contains(r.out, "; 0 failed, 0 calls/s\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_loop_json), cmocka_unit_test(test_closed_loop_text),
        cmocka_unit_test(test_open_loop),        cmocka_unit_test(test_counting_run),
        cmocka_unit_test(test_errors_by_status), cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_template_spreads_keys), cmocka_unit_test(test_template_bad),
        cmocka_unit_test(test_template_text),
    };
    return cmocka_run_group_tests_name("plexus bench (rpc)", tests, setup, teardown);
}
