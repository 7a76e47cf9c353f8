/* Unit tests of the metrics registry, its rendering and the merge (core/metrics):
 * exact text for each type, counts from many threads (live and exited) summed
 * exactly, gauges that go with their last handle, and every refusal's message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>
#include <plexus/plexus.h>

/* The lines of family name in this process's text ("" when it shows none). */
static char *family_text(const char *name)
{
    char *t = px_metrics_text(NULL);
    assert_non_null(t);
    char head[200];
    snprintf(head, sizeof head, "# HELP %s ", name);
    char *at = strstr(t, head);
    char *out;
    if (!at) {
        out = strdup("");
    } else {
        char *end = strstr(at + 1, "# HELP ");
        out = strndup(at, end ? (size_t)(end - at) : strlen(at));
    }
    free(t);
    return out;
}

static void assert_family(const char *name, const char *want)
{
    char *got = family_text(name);
    assert_string_equal(got, want);
    free(got);
}

static void test_build_info_first(void **state)
{
    (void)state;
    size_t len = 0;
    char *t = px_metrics_text(&len);
    assert_non_null(t);
    assert_int_equal(len, strlen(t));
    char want[300];
    snprintf(want, sizeof want,
             "# HELP plexus_build_info The Plexus library's version and module ABI; always 1.\n"
             "# TYPE plexus_build_info gauge\n"
             "plexus_build_info{version=\"%s\",abi=\"%d.%d\"} 1\n",
             PLEXUS_VERSION, PX_ABI_MAJOR, PX_ABI_MINOR);
    assert_memory_equal(t, want, strlen(want));
    free(t);
}

static void test_counter_exact_text(void **state)
{
    (void)state;
    const char *labels[] = {"service", "code"};
    px_metric_family *f = px_metric_family_get("t_calls_total", "Calls \\ made\nby tests.",
                                               PX_METRIC_COUNTER, labels, 2, NULL, 0, NULL);
    assert_non_null(f);
    const char *v1[] = {"a.B", "OK"}, *v2[] = {"q\"uo\\te\nd", "UNAVAILABLE"};
    px_metric *a = px_metric_get(f, v1, NULL), *b = px_metric_get(f, v2, NULL);
    px_metric *a2 = px_metric_get(f, v1, NULL); /* a second holder of the same series */
    assert_non_null(a);
    assert_non_null(b);
    for (int i = 0; i < 7; i++)
        px_metric_add(a, 1);
    px_metric_add(a2, 5);
    px_metric_add(b, 3);
    assert_family("t_calls_total",
                  "# HELP t_calls_total Calls \\\\ made\\nby tests.\n"
                  "# TYPE t_calls_total counter\n"
                  "t_calls_total{service=\"a.B\",code=\"OK\"} 12\n"
                  "t_calls_total{service=\"q\\\"uo\\\\te\\nd\",code=\"UNAVAILABLE\"} 3\n");
    /* A counter's series outlives its handles: a later holder counts on from there. */
    px_metric_release(a);
    px_metric_release(a2);
    px_metric_release(b);
    a = px_metric_get(f, v1, NULL);
    px_metric_add(a, 1);
    assert_family("t_calls_total",
                  "# HELP t_calls_total Calls \\\\ made\\nby tests.\n"
                  "# TYPE t_calls_total counter\n"
                  "t_calls_total{service=\"a.B\",code=\"OK\"} 13\n"
                  "t_calls_total{service=\"q\\\"uo\\\\te\\nd\",code=\"UNAVAILABLE\"} 3\n");
    px_metric_release(a);
}

static double read_half(void *arg)
{
    return *(double *)arg / 2;
}

static void test_gauge_sums_handles_and_goes_with_them(void **state)
{
    (void)state;
    const char *labels[] = {"endpoint"};
    px_metric_family *f = px_metric_family_get("t_up", "Up.", PX_METRIC_GAUGE, labels, 1, NULL,
                                               0, NULL);
    const char *e1[] = {"h:1"}, *e2[] = {"h:2"};
    px_metric *x = px_metric_get(f, e1, NULL), *y = px_metric_get(f, e1, NULL);
    double seven = 7;
    px_metric *z = px_metric_get_fn(f, e2, read_half, &seven, NULL);
    assert_non_null(z);
    px_metric_set(x, 1);
    px_metric_set(y, 0.25);
    px_metric_add(x, 3);
    px_metric_add(y, -1);
    assert_family("t_up", "# HELP t_up Up.\n# TYPE t_up gauge\n"
                          "t_up{endpoint=\"h:1\"} 3.25\nt_up{endpoint=\"h:2\"} 3.5\n");
    px_metric_release(x); /* its 1 goes; the adds stay with the series */
    assert_family("t_up", "# HELP t_up Up.\n# TYPE t_up gauge\n"
                          "t_up{endpoint=\"h:1\"} 2.25\nt_up{endpoint=\"h:2\"} 3.5\n");
    px_metric_release(z);
    px_metric_release(y);
    assert_family("t_up", ""); /* no handle, no series: the family shows nothing */
}

static void test_histogram_exact_text(void **state)
{
    (void)state;
    const char *labels[] = {"method"};
    const double b[] = {0.001, 0.1, 1};
    px_metric_family *f = px_metric_family_get("t_seconds", "Time.", PX_METRIC_HISTOGRAM, labels,
                                               1, b, 3, NULL);
    const char *v[] = {"M"};
    px_metric *m = px_metric_get(f, v, NULL);
    px_metric_observe(m, 0.0005);
    px_metric_observe(m, 0.001); /* on a bound: that bucket (le is <=) */
    px_metric_observe(m, 0.5);
    px_metric_observe(m, 3);
    assert_family("t_seconds", "# HELP t_seconds Time.\n# TYPE t_seconds histogram\n"
                               "t_seconds_bucket{method=\"M\",le=\"0.001\"} 2\n"
                               "t_seconds_bucket{method=\"M\",le=\"0.1\"} 2\n"
                               "t_seconds_bucket{method=\"M\",le=\"1\"} 3\n"
                               "t_seconds_bucket{method=\"M\",le=\"+Inf\"} 4\n"
                               "t_seconds_sum{method=\"M\"} 3.5015\n"
                               "t_seconds_count{method=\"M\"} 4\n");
    px_metric_release(m);
    /* Default buckets, no labels. */
    px_metric_family *d = px_metric_family_get("t_default_seconds", "D.", PX_METRIC_HISTOGRAM,
                                               NULL, 0, NULL, 0, NULL);
    m = px_metric_get(d, NULL, NULL);
    px_metric_observe(m, 0.0002);
    char *t = family_text("t_default_seconds");
    assert_non_null(strstr(t, "t_default_seconds_bucket{le=\"0.0001\"} 0\n"
                              "t_default_seconds_bucket{le=\"0.00025\"} 1\n"));
    assert_non_null(strstr(t, "t_default_seconds_bucket{le=\"10\"} 1\n"
                              "t_default_seconds_bucket{le=\"+Inf\"} 1\n"
                              "t_default_seconds_sum 0.0002\nt_default_seconds_count 1\n"));
    free(t);
    size_t n;
    assert_int_equal(px_metric_default_buckets(&n)[15], 10);
    assert_int_equal(n, 16);
    px_metric_release(m);
}

#define THREADS 4
#define PER_THREAD 100000

static px_metric *g_shared;
static pthread_barrier_t g_bar;

static void *bump(void *arg)
{
    for (int i = 0; i < PER_THREAD; i++)
        px_metric_add(g_shared, 1);
    if (arg)
        pthread_barrier_wait(&g_bar); /* stay alive until the main thread scraped */
    return NULL;
}

static void test_threads_count_exactly_live_and_exited(void **state)
{
    (void)state;
    px_metric_family *f = px_metric_family_get("t_threads_total", "T.", PX_METRIC_COUNTER, NULL,
                                               0, NULL, 0, NULL);
    g_shared = px_metric_get(f, NULL, NULL);
    pthread_t th[THREADS];
    /* Exited threads: their cells are folded into the retired totals. */
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, bump, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_family("t_threads_total", "# HELP t_threads_total T.\n# TYPE t_threads_total counter\n"
                                     "t_threads_total 400000\n");
    /* Live ones, scraped while they still hold their shards. */
    pthread_barrier_init(&g_bar, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, bump, (void *)1);
    for (int i = 0; i < PER_THREAD; i++)
        px_metric_add(g_shared, 1);
    /* Wait until each has counted (they wait at the barrier after), then read. */
    pthread_barrier_wait(&g_bar);
    assert_family("t_threads_total", "# HELP t_threads_total T.\n# TYPE t_threads_total counter\n"
                                     "t_threads_total 900000\n");
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g_bar);
    assert_family("t_threads_total", "# HELP t_threads_total T.\n# TYPE t_threads_total counter\n"
                                     "t_threads_total 900000\n");
    px_metric_release(g_shared);
}

static void test_declaration_refusals(void **state)
{
    (void)state;
    px_err err;
    const char *l[] = {"a"}, *le[] = {"le"}, *dup[] = {"a", "a"}, *under[] = {"__x"};
    assert_null(px_metric_family_get("9bad", "", PX_METRIC_COUNTER, NULL, 0, NULL, 0, &err));
    assert_string_equal(err.msg, "metric name \"9bad\" is not [a-zA-Z_:][a-zA-Z0-9_:]*");
    assert_null(px_metric_family_get("t_h", "", PX_METRIC_HISTOGRAM, le, 1, NULL, 0, &err));
    assert_string_equal(err.msg, "metric t_h: label name \"le\" is not [a-zA-Z_][a-zA-Z0-9_]* "
                                 "(nor __*, nor a histogram's le)");
    assert_null(px_metric_family_get("t_c", "", PX_METRIC_COUNTER, under, 1, NULL, 0, &err));
    assert_null(px_metric_family_get("t_c", "", PX_METRIC_COUNTER, dup, 2, NULL, 0, &err));
    assert_string_equal(err.msg, "metric t_c: label a named twice");
    const double down[] = {1, 0.5};
    assert_null(px_metric_family_get("t_h", "", PX_METRIC_HISTOGRAM, NULL, 0, down, 2, &err));
    assert_string_equal(err.msg, "metric t_h: bucket 1 is not finite and above the one before");
    px_metric_family *f = px_metric_family_get("t_same", "", PX_METRIC_COUNTER, l, 1, NULL, 0, &err);
    assert_non_null(f);
    assert_ptr_equal(px_metric_family_get("t_same", "other help", PX_METRIC_COUNTER, l, 1, NULL, 0,
                                          &err), f);
    assert_null(px_metric_family_get("t_same", "", PX_METRIC_GAUGE, l, 1, NULL, 0, &err));
    assert_int_equal(err.status, PX_ALREADY_EXISTS);
    assert_string_equal(err.msg, "metric t_same exists with other type");
    assert_null(px_metric_family_get("t_same", "", PX_METRIC_COUNTER, NULL, 0, NULL, 0, &err));
    assert_string_equal(err.msg, "metric t_same exists with other label names");
    const char *none[] = {NULL};
    assert_null(px_metric_get(f, none, &err));
    assert_string_equal(err.msg, "metric t_same: no value for label a");
    assert_null(px_metric_get_fn(f, l, read_half, NULL, &err));
    assert_string_equal(err.msg, "metric t_same: a read function on a counter");
}

static char *merge2(const char *a, const char *b, px_err *err)
{
    const char *t[] = {a, b};
    size_t lens[] = {strlen(a), strlen(b)};
    size_t n = 0;
    char *out = px_metrics_merge(t, lens, 2, &n, err);
    if (out)
        assert_int_equal(n, strlen(out));
    return out;
}

static void test_merge_sums_exactly(void **state)
{
    (void)state;
    const char *a = "# HELP c_total Calls.\n# TYPE c_total counter\n"
                    "c_total{m=\"x\",code=\"OK\"} 3\nc_total{m=\"y\"} 1 1700000000000\n"
                    "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                    "h_sum 0.25\nh_count 2\n# a comment\n\n"
                    "# TYPE g gauge\ng -1.5\n";
    const char *b = "# HELP c_total Calls (other words).\n# TYPE c_total counter\n"
                    "c_total{m=\"z\"} 4\n  c_total{ m = \"x\" , code=\"OK\", } 10\n"
                    "# TYPE h histogram\nh_bucket{le=\"0.1\"} 5\nh_bucket{le=\"+Inf\"} 5\n"
                    "h_sum 1\nh_count 5\ng 4\nu{a=\"q\\\"\\n\\\\\"} 2";
    px_err err;
    char *m = merge2(a, b, &err);
    assert_non_null(m);
    assert_string_equal(m, "# HELP c_total Calls.\n# TYPE c_total counter\n"
                           "c_total{m=\"x\",code=\"OK\"} 13\nc_total{m=\"y\"} 1\nc_total{m=\"z\"} 4\n"
                           "# TYPE h histogram\nh_bucket{le=\"0.1\"} 6\nh_bucket{le=\"+Inf\"} 7\n"
                           "h_sum 1.25\nh_count 7\n# TYPE g gauge\ng 2.5\n"
                           "u{a=\"q\\\"\\n\\\\\"} 2\n");
    /* A merge of one text is that text again: its own fixed point. */
    const char *one[] = {m};
    size_t len = strlen(m), n2;
    char *again = px_metrics_merge(one, &len, 1, &n2, &err);
    assert_string_equal(again, m);
    free(again);
    free(m);
}

static void test_merge_of_registry_text_is_itself(void **state)
{
    (void)state;
    size_t len;
    char *t = px_metrics_text(&len);
    const char *one[] = {t};
    px_err err;
    char *m = px_metrics_merge(one, &len, 1, NULL, &err);
    if (!m)
        fail_msg("%s", err.msg);
    assert_string_equal(m, t);
    free(m);
    free(t);
}

static void expect_refused(const char *a, const char *b, const char *want)
{
    px_err err;
    char *m = merge2(a, b, &err);
    assert_null(m);
    assert_int_equal(err.status, PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, want);
}

static void test_merge_refusals(void **state)
{
    (void)state;
    const char *ok = "a 1\n";
    expect_refused(ok, "a 1\nb{x=\"1\" 2\n",
                   "metrics text 2 of 2, line 2: column 9: , or } expected");
    expect_refused("x 1\nx 2\n", ok, "metrics text 1 of 2, line 2: x given twice (line 1 first)");
    expect_refused("# TYPE a counter\na 1\n", "# TYPE a gauge\na 1\n",
                   "metrics text 2 of 2, line 1: a is a gauge here, a counter in an earlier text");
    expect_refused("a 1\n# TYPE a counter\n", ok,
                   "metrics text 1 of 2, line 2: TYPE for a after its samples");
    expect_refused("# TYPE a counter\n# TYPE a counter\n", ok,
                   "metrics text 1 of 2, line 2: a second TYPE for a");
    expect_refused(ok, "a one\n", "metrics text 2 of 2, line 1: column 3: \"one\" is not a number");
    expect_refused(ok, "a{b=\"\\t\"} 1\n",
                   "metrics text 2 of 2, line 1: column 6: a label value escapes only \\\\, \\\" and \\n");
    expect_refused(ok, "# TYPE a gauges\n",
                   "metrics text 2 of 2, line 1: column 10: TYPE is none of counter, gauge, "
                   "histogram, summary, untyped");
    expect_refused(ok, "a{b=\"1\",b=\"2\"} 1\n",
                   "metrics text 2 of 2, line 1: column 9: label b given twice");
    expect_refused(ok, "a 1 12x\n",
                   "metrics text 2 of 2, line 1: column 5: a timestamp (integer milliseconds) or "
                   "the end of the line expected");
    expect_refused(ok, "{a=\"1\"} 1\n", "metrics text 2 of 2, line 1: column 1: a metric name expected");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_info_first),
        cmocka_unit_test(test_counter_exact_text),
        cmocka_unit_test(test_gauge_sums_handles_and_goes_with_them),
        cmocka_unit_test(test_histogram_exact_text),
        cmocka_unit_test(test_threads_count_exactly_live_and_exited),
        cmocka_unit_test(test_declaration_refusals),
        cmocka_unit_test(test_merge_sums_exactly),
        cmocka_unit_test(test_merge_of_registry_text_is_itself),
        cmocka_unit_test(test_merge_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
