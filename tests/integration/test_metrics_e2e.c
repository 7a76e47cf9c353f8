/* Metrics end to end: a real plexusd with the metrics filter serves a client whose
 * upstream has it too; a server embedded in this process (its config text, the same
 * filter) serves a second client, so px_metrics_text() of this process shows both
 * sides. After exactly N calls of which M fail, every count is checked exactly (calls
 * by status, histogram counts, bytes, in flight back to 0, frames, retries and hedges
 * against the client's own stats), the series of a freed client's endpoints go, and promtool
 * (Debian's prometheus package) checks scrapes taken while calls run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"

typedef struct fixture {
    char dir[64];
    px_proc srv;            /* plexusd */
    int local_port;         /* the embedded server's */
    int dead_port;          /* nothing listens there */
    int second_port;        /* the embedded server's second listener */
    px_config *cfg;         /* the embedded server's and the clients' config */
    px_server *local;
    px_client *remote_cl;   /* upstream "calc": plexusd */
    px_client *local_cl;    /* upstream "local": the embedded server */
} fixture;

static fixture F;

static const char *mod_dir(void)
{
    const char *d = getenv("PX_MODULE_DIR");
    return d ? d : "build/modules";
}

static int setup(void **state)
{
    (void)state;
    px_proc_die_with_test();
    snprintf(F.dir, sizeof F.dir, "/tmp/pxmetrics-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    if (px_proc_start(&F.srv, "mx", "  filters: [metrics]\n  services:\n    - module: calc\n") != 0)
        return -1;
    F.local_port = px_free_port();
    F.dead_port = px_free_port();
    F.second_port = px_free_port();
    char text[3072];
    snprintf(text, sizeof text,
             "modules:\n  path: [%s]\n"
             "server:\n  listen: '127.0.0.1:%d'\n  id: local\n  io_threads: 2\n"
             "  listeners: [{listen: '127.0.0.1:%d'}]\n"
             "  filters: [metrics]\n  services:\n    - module: calc\n      workers: 4\n"
             "client:\n  descriptors: [calc]\n  upstreams:\n"
             "    calc:\n      endpoints: ['127.0.0.1:%d']\n      filters: [metrics]\n"
             "    local:\n      endpoints: ['127.0.0.1:%d']\n      filters: [metrics]\n"
             "    flaky:\n      endpoints: ['127.0.0.1:%d', '127.0.0.1:%d']\n"
             "      balancer: round_robin\n      failover: {module: retry, retries: 2}\n"
             "      health: {max_fails: 2, ejection: 30s, max_ejection: 30s}\n"
             "    hedged:\n      endpoints: ['127.0.0.1:%d', '127.0.0.1:%d']\n"
             "      failover: {module: hedge, hedge_after: 2ms}\n"
             "      timeout: {module: fixed, call: 10s}\n",
             mod_dir(), F.local_port, F.second_port, F.srv.port, F.local_port, F.local_port,
             F.dead_port, F.local_port, F.second_port);
    px_err err;
    if (px_config_parse(text, strlen(text), "metrics-e2e.yaml", &F.cfg, &err) != PX_OK ||
        px_server_new(F.cfg, &F.local, &err) != PX_OK || px_server_start(F.local, &err) != PX_OK ||
        px_client_new(F.cfg, "calc", &F.remote_cl, &err) != PX_OK ||
        px_client_new(F.cfg, "local", &F.local_cl, &err) != PX_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    px_client_free(F.remote_cl);
    px_client_free(F.local_cl);
    if (F.local) {
        px_server_shutdown(F.local);
        px_server_free(F.local);
    }
    px_config_free(F.cfg);
    int rc = px_proc_stop(&F.srv);
    rmdir(F.dir);
    return rc;
}

/* The value of the series written exactly `series` ("name{labels}") in this process's
 * text; -1 when it is not there. */
static double value_of(const char *series)
{
    char *t = px_metrics_text(NULL);
    assert_non_null(t);
    double v = -1;
    size_t n = strlen(series);
    for (const char *line = t; *line;) {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            v = strtod(line + n + 1, NULL);
        if (!nl)
            break;
        line = nl + 1;
    }
    free(t);
    return v;
}

/* value_of, with 0 for a series not made yet (a counter before its first count). */
static double count_of(const char *series)
{
    double v = value_of(series);
    return v < 0 ? 0 : v;
}

static void series(char *buf, size_t cap, const char *fmt, ...) PX_PRINTF(3, 4);
static void series(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

/* n Adds (OK) and m Divs by zero (INVALID_ARGUMENT) on c, half of each through
 * px_call, half through px_call_wait. The request and reply bytes they make, out. */
static void make_calls(px_client *c, int n, int m, size_t *req_bytes, size_t *resp_bytes)
{
    *req_bytes = *resp_bytes = 0;
    for (int i = 0; i < n + m; i++) {
        int add = i < n;
        Calc__AddRequest a = CALC__ADD_REQUEST__INIT;
        Calc__DivRequest d = CALC__DIV_REQUEST__INIT;
        a.a = i;
        a.b = 1000;
        d.a = i + 1;
        d.b = 0;
        const ProtobufCMessage *req = add ? &a.base : &d.base;
        ProtobufCMessage *rep = NULL;
        px_err err;
        px_status st = (i % 2 ? px_call : px_call_wait)(
            c, add ? "calc.Calculator/Add" : "calc.Calculator/Div", req,
            add ? &calc__add_reply__descriptor : &calc__div_reply__descriptor, NULL, &rep, &err);
        assert_int_equal(st, add ? PX_OK : PX_INVALID_ARGUMENT);
        *req_bytes += protobuf_c_message_get_packed_size(req);
        if (rep) {
            *resp_bytes += protobuf_c_message_get_packed_size(rep);
            px_msg_free(rep);
        }
    }
}

#define N_OK 37
#define N_FAIL 11

static void test_client_side_against_plexusd(void **state)
{
    (void)state;
    char add_ok[256], div_bad[256], add_sec[256], add_req[256], add_resp[256], div_req[256],
        add_fl[256], up[256];
    const char *l = "upstream=\"calc\",service=\"calc.Calculator\"";
    series(add_ok, sizeof add_ok, "plexus_client_calls_total{%s,method=\"Add\",code=\"OK\"}", l);
    series(div_bad, sizeof div_bad,
           "plexus_client_calls_total{%s,method=\"Div\",code=\"INVALID_ARGUMENT\"}", l);
    series(add_sec, sizeof add_sec, "plexus_client_call_seconds_count{%s,method=\"Add\"}", l);
    series(add_req, sizeof add_req, "plexus_client_request_bytes_total{%s,method=\"Add\"}", l);
    series(add_resp, sizeof add_resp, "plexus_client_response_bytes_total{%s,method=\"Add\"}", l);
    series(div_req, sizeof div_req, "plexus_client_request_bytes_total{%s,method=\"Div\"}", l);
    series(add_fl, sizeof add_fl, "plexus_client_calls_in_flight{%s,method=\"Add\"}", l);
    series(up, sizeof up, "plexus_upstream_endpoint_up{upstream=\"calc\",endpoint=\"127.0.0.1:%d\"}",
           F.srv.port);
    double ok0 = count_of(add_ok), bad0 = count_of(div_bad), sec0 = count_of(add_sec);
    size_t req = 0, resp = 0, div_req_bytes = 0, none = 0;
    make_calls(F.remote_cl, N_OK, 0, &req, &resp);
    make_calls(F.remote_cl, 0, N_FAIL, &div_req_bytes, &none);
    assert_int_equal(none, 0);
    assert_true(count_of(add_ok) - ok0 == N_OK);
    assert_true(count_of(div_bad) - bad0 == N_FAIL);
    assert_true(count_of(add_sec) - sec0 == N_OK);
    assert_true(count_of(add_req) >= (double)req); /* earlier tests may have called too */
    assert_true(value_of(add_fl) == 0);
    assert_true(value_of(up) == 1);
    assert_true(value_of("plexus_loop_lag_seconds{loop=\"client-0\"}") >= 0);
    (void)add_resp;
    (void)div_req;
}

static void test_both_sides_in_one_process(void **state)
{
    (void)state;
    char s_ok[256], s_bad[256], s_sec[256], s_req[256], s_resp[256], s_fl[256], c_ok[256],
        c_bad[256], c_req[256], c_resp[256], c_sec_inf[256], acc[256], conns[256];
    const char *sl = "service=\"calc.Calculator\"";
    const char *cl = "upstream=\"local\",service=\"calc.Calculator\"";
    series(s_ok, sizeof s_ok, "plexus_server_calls_total{%s,method=\"Add\",code=\"OK\"}", sl);
    series(s_bad, sizeof s_bad,
           "plexus_server_calls_total{%s,method=\"Div\",code=\"INVALID_ARGUMENT\"}", sl);
    series(s_sec, sizeof s_sec, "plexus_server_handling_seconds_count{%s,method=\"Add\"}", sl);
    series(s_req, sizeof s_req, "plexus_server_request_bytes_total{%s,method=\"Add\"}", sl);
    series(s_resp, sizeof s_resp, "plexus_server_response_bytes_total{%s,method=\"Add\"}", sl);
    series(s_fl, sizeof s_fl, "plexus_server_calls_in_flight{%s,method=\"Div\"}", sl);
    series(c_ok, sizeof c_ok, "plexus_client_calls_total{%s,method=\"Add\",code=\"OK\"}", cl);
    series(c_bad, sizeof c_bad,
           "plexus_client_calls_total{%s,method=\"Div\",code=\"INVALID_ARGUMENT\"}", cl);
    series(c_req, sizeof c_req, "plexus_client_request_bytes_total{%s,method=\"Add\"}", cl);
    series(c_resp, sizeof c_resp, "plexus_client_response_bytes_total{%s,method=\"Add\"}", cl);
    series(c_sec_inf, sizeof c_sec_inf,
           "plexus_client_call_seconds_bucket{%s,method=\"Div\",le=\"+Inf\"}", cl);
    series(acc, sizeof acc, "plexus_server_connections_accepted_total{listener=\"127.0.0.1:%d\"}",
           F.local_port);
    series(conns, sizeof conns, "plexus_server_connections{listener=\"127.0.0.1:%d\"}",
           F.local_port);
    const char *rx = "plexus_server_frames_received_total{protocol=\"native\"}";
    const char *tx = "plexus_server_frames_sent_total{protocol=\"native\"}";
    double rx0 = count_of(rx), tx0 = count_of(tx);
    size_t req = 0, resp = 0, dreq = 0, dresp = 0;
    make_calls(F.local_cl, N_OK, 0, &req, &resp);
    make_calls(F.local_cl, 0, N_FAIL, &dreq, &dresp);
    /* This process's embedded server got exactly these calls, the first it ever got. */
    assert_true(value_of(s_ok) == N_OK);
    assert_true(value_of(s_bad) == N_FAIL);
    assert_true(value_of(s_sec) == N_OK);
    assert_true(value_of(s_req) == (double)req);
    assert_true(value_of(s_resp) == (double)resp);
    assert_true(value_of(s_fl) == 0);
    assert_true(value_of(c_ok) == N_OK);
    assert_true(value_of(c_bad) == N_FAIL);
    assert_true(value_of(c_req) == (double)req);
    assert_true(value_of(c_resp) == (double)resp);
    assert_true(value_of(c_sec_inf) == N_FAIL);
    assert_true(count_of(rx) - rx0 == N_OK + N_FAIL);
    assert_true(count_of(tx) - tx0 == N_OK + N_FAIL);
    /* The sync pool's connection and the async client's: open, and counted. */
    assert_true(value_of(acc) >= 2);
    assert_true(value_of(conns) >= 2 && value_of(conns) <= value_of(acc));
    assert_true(value_of("plexus_server_memory_limit_bytes") > 0);
    assert_true(value_of("plexus_server_memory_bytes") >= 0);
    assert_true(value_of("plexus_loop_lag_seconds{loop=\"server-1\"}") >= 0);
}

static void test_retries_and_ejection_match_client_stats(void **state)
{
    (void)state;
    px_err err;
    px_client *c = NULL;
    assert_int_equal(px_client_new(F.cfg, "flaky", &c, &err), PX_OK);
    char dead[200], live[200];
    series(dead, sizeof dead, "upstream=\"flaky\",endpoint=\"127.0.0.1:%d\"", F.dead_port);
    series(live, sizeof live, "upstream=\"flaky\",endpoint=\"127.0.0.1:%d\"", F.local_port);
    char ej[300], up_dead[300], up_live[300];
    series(ej, sizeof ej, "plexus_upstream_ejections_total{%s}", dead);
    series(up_dead, sizeof up_dead, "plexus_upstream_endpoint_up{%s}", dead);
    series(up_live, sizeof up_live, "plexus_upstream_endpoint_up{%s}", live);
    for (int i = 0; i < 20; i++) {
        Calc__AddRequest a = CALC__ADD_REQUEST__INIT;
        ProtobufCMessage *rep = NULL;
        /* Round robin sends every other first attempt to the dead port: retried there. */
        assert_int_equal((i % 2 ? px_call : px_call_wait)(c, "calc.Calculator/Add", &a.base,
                                                          &calc__add_reply__descriptor, NULL,
                                                          &rep, &err), PX_OK);
        px_msg_free(rep);
    }
    px_client_stats st;
    px_client_stats_get(c, &st);
    assert_true(st.retries > 0);
    assert_true(value_of("plexus_upstream_retries_total{upstream=\"flaky\"}") == (double)st.retries);
    assert_true(value_of(ej) >= 1);
    assert_true(value_of(up_dead) == 0);
    assert_true(value_of(up_live) == 1);
    px_client_free(c);
    /* Its endpoints' gauges go with it; the counters stay (a rate across a restart). */
    assert_true(value_of(up_dead) == -1);
    assert_true(value_of(up_live) == -1);
    assert_true(value_of("plexus_upstream_retries_total{upstream=\"flaky\"}") == (double)st.retries);
}

static void test_hedges_match_client_stats(void **state)
{
    (void)state;
    px_err err;
    px_client *c = NULL;
    assert_int_equal(px_client_new(F.cfg, "hedged", &c, &err), PX_OK);
    for (int i = 0; i < 10; i++) {
        /* 20 ms on the server, a backup after 2 ms: each call sends one (the first
         * answer cannot come before the backup is due). */
        Calc__SleepRequest r = CALC__SLEEP_REQUEST__INIT;
        r.ms = 20;
        ProtobufCMessage *rep = NULL;
        assert_int_equal((i % 2 ? px_call : px_call_wait)(c, "calc.Calculator/Sleep", &r.base,
                                                          &calc__sleep_reply__descriptor, NULL,
                                                          &rep, &err), PX_OK);
        px_msg_free(rep);
    }
    px_client_stats st;
    px_client_stats_get(c, &st);
    assert_true(st.hedges > 0);
    assert_true(value_of("plexus_upstream_hedges_total{upstream=\"hedged\"}") == (double)st.hedges);
    px_client_free(c);
}

/* Calls in a loop on a thread while the main thread scrapes. */
static volatile int g_stop;

static void *load(void *arg)
{
    px_client *c = arg;
    for (int i = 0; !__atomic_load_n(&g_stop, __ATOMIC_RELAXED) && i < 200000; i++) {
        Calc__DivRequest d = CALC__DIV_REQUEST__INIT;
        d.a = 7;
        d.b = i % 3; /* a third fail */
        ProtobufCMessage *rep = NULL;
        px_err err;
        px_call_wait(c, "calc.Calculator/Div", &d.base, &calc__div_reply__descriptor, NULL, &rep,
                     &err);
        px_msg_free(rep);
    }
    return NULL;
}

static void test_promtool_passes_scrapes_under_load(void **state)
{
    (void)state;
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        fail_msg("promtool not found: apt-get install prometheus (tools/install-deps.sh)");
    pthread_t th[2];
    g_stop = 0;
    pthread_create(&th[0], NULL, load, F.local_cl);
    pthread_create(&th[1], NULL, load, F.remote_cl);
    char path[128], cmd[300], out[4096];
    snprintf(path, sizeof path, "%s/scrape.txt", F.dir);
    char *texts[5];
    size_t lens[5];
    for (int k = 0; k < 5; k++) {
        usleep(100 * 1000);
        texts[k] = px_metrics_text(&lens[k]);
        assert_non_null(texts[k]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fwrite(texts[k], 1, lens[k], f);
        fclose(f);
        snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        int rc = pclose(p);
        if (rc != 0)
            fail_msg("promtool check metrics (exit %d) on scrape %d:\n%s", WEXITSTATUS(rc), k, out);
    }
    __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    /* Two scrapes merged: each series once, the counters the sum of both. */
    px_err err;
    size_t mlen;
    char *merged = px_metrics_merge((const char *const *)texts, lens, 2, &mlen, &err);
    if (!merged)
        fail_msg("merge: %s", err.msg);
    FILE *f = fopen(path, "w");
    fwrite(merged, 1, mlen, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    assert_int_equal(system(cmd), 0);
    free(merged);
    unlink(path);
    for (int k = 0; k < 5; k++)
        free(texts[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_side_against_plexusd),
        cmocka_unit_test(test_both_sides_in_one_process),
        cmocka_unit_test(test_retries_and_ejection_match_client_stats),
        cmocka_unit_test(test_hedges_match_client_stats),
        cmocka_unit_test(test_promtool_passes_scrapes_under_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
