/* `plexus bench` (the RPC load generator) end to end against a real plexusd: the JSON
 * report's keys and counts, open loop, counting runs, errors by status and bad usage.
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
        "io_threads", "tcp_connections", "warmup_s", "duration_s", "calls", "calls_per_s", "calls_total",
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
    assert_int_equal(int_of(json_object_get(err, "by_status"), "INVALID_ARGUMENT"), 50);
    assert_string_equal(json_string_value(json_object_get(json_object_get(err, "first"),
                                                          "INVALID_ARGUMENT")),
                        "division by zero");
    json_decref(o);

    bench(f, &r, f->dead_conf, ADD, ADD_JSON, "--calls", "20", "--warmup", "0", NULL);
    assert_int_equal(r.rc, 1);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_loop_json), cmocka_unit_test(test_closed_loop_text),
        cmocka_unit_test(test_open_loop),        cmocka_unit_test(test_counting_run),
        cmocka_unit_test(test_errors_by_status), cmocka_unit_test(test_bad_usage),
    };
    return cmocka_run_group_tests_name("plexus bench (rpc)", tests, setup, teardown);
}
