/* naming_dns against a DNS server the test controls (tests/support/px_dns.c) and real
 * plexusd calc servers on loopback addresses (127.0.0.1, .2, .3, ::1: all local), with a
 * client in this process whose upstream is `naming: {module: dns, ...}`:
 * - A records [s0, s1] with TTL 1 s: calls spread; the records become [s1, s2]: after
 *   the TTL the client lists [s1, s2] (the time it took is printed), no call issued
 *   after that goes to s0, and every call (those in flight included) is OK;
 * - SERVFAIL, no answer, NXDOMAIN: the list is kept and calls keep succeeding; the
 *   recovery picks up a change of the records; the log names the upstream, the name
 *   and the error, and says once that the name resolves again;
 * - SRV with two priorities: only the lowest priority's targets get calls, spread by
 *   their weights (1 and 3); when that priority's targets stop resolving, the next
 *   priority's are used; targets from the additional section, or looked up;
 * - AAAA with ::1, and ANY_IP (both), when the machine has an IPv6 loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexus/plexus.h"
#include "px_client_int.h"
#include "px_dns.h"
#include "px_load.h"
#include "px_proc.h"
#include "px_time.h"

#define SERVER_YAML                                                                            \
    "  io_threads: 1\n  codecs: [protobuf]\n  services:\n    - module: calc\n"                 \
    "      workers: 8\n      delay: 5ms\n"

enum { MAXSRV = 4, CALLS = 12000 };

/* ---- log lines of the module ---- */

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_log[16384];
static size_t g_log_len;

static void log_hook(void *arg, px_log_level lvl, const char *module, const char *msg)
{
    (void)arg;
    fprintf(stderr, "  [%s %s] %s\n", px_log_level_name(lvl), module, msg);
    pthread_mutex_lock(&g_log_lock);
    if (strcmp(module, "naming_dns") == 0)
        g_log_len += (size_t)snprintf(g_log + g_log_len, sizeof g_log - g_log_len, "%s\n", msg);
    if (g_log_len >= sizeof g_log)
        g_log_len = sizeof g_log - 1;
    pthread_mutex_unlock(&g_log_lock);
}

static int logged(const char *what)
{
    pthread_mutex_lock(&g_log_lock);
    int n = 0;
    for (const char *p = g_log; (p = strstr(p, what)) != NULL; p++)
        n++;
    pthread_mutex_unlock(&g_log_lock);
    return n;
}

static void log_clear(void)
{
    pthread_mutex_lock(&g_log_lock);
    g_log_len = 0;
    g_log[0] = '\0';
    pthread_mutex_unlock(&g_log_lock);
}

/* ---- servers, DNS and the client ---- */

typedef struct env {
    px_dns *dns;
    px_proc srv[MAXSRV];
    char addr[MAXSRV][64];
    int nsrv;
    char conf[160];
    px_config *cfg;
    px_client *cl;
    px_load load;
} env;

static env *env_new(void)
{
    env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    e->dns = px_dns_start();
    assert_non_null(e->dns);
    log_clear();
    return e;
}

/* Server s<i> on host:port. */
static void srv_up(env *e, int i, const char *host, int port)
{
    char id[8];
    snprintf(id, sizeof id, "s%d", i);
    assert_int_equal(px_proc_start_at(&e->srv[i], host, port, id, SERVER_YAML), 0);
    px_host_port(e->addr[i], sizeof e->addr[i], host, port);
    if (i + 1 > e->nsrv)
        e->nsrv = i + 1;
}

/* The client over upstream calc with `naming` (its keys after `module: dns, `). */
static void client_up(env *e, const char *naming)
{
    snprintf(e->conf, sizeof e->conf, "%s/dns-client.yaml", e->srv[0].dir);
    FILE *f = fopen(e->conf, "w");
    assert_non_null(f);
    fprintf(f,
            "modules:\n  path: [%s]\nclient:\n  descriptors: [calc]\n  upstreams:\n    calc:\n"
            "      naming: {module: dns, servers: '127.0.0.1:%d', query_timeout: 200ms, "
            "attempts: 1, ttl_min: 100ms, retry_min: 50ms, retry_max: 200ms, %s}\n"
            "      balancer: round_robin\n"
            "      timeout: {module: fixed, connect: 1s, call: 5s}\n",
            getenv("PX_MODULE_DIR"), px_dns_port(e->dns), naming);
    assert_int_equal(fclose(f), 0);
    px_err err;
    px_err_clear(&err);
    if (px_config_load(e->conf, &e->cfg, &err) != PX_OK ||
        px_client_new(e->cfg, "calc", &e->cl, &err) != PX_OK)
        print_error("%s\n", err.msg);
    assert_non_null(e->cl);
    assert_int_equal(px_load_init(&e->load, e->cl, CALLS), 0);
}

static void env_free(env *e)
{
    px_client_free(e->cl);
    px_config_free(e->cfg);
    if (e->conf[0])
        unlink(e->conf);
    for (int i = 0; i < e->nsrv; i++)
        if (e->srv[i].pid > 0)
            assert_int_equal(px_proc_stop(&e->srv[i]), 0);
    px_load_free(&e->load);
    px_dns_stop(e->dns);
    free(e);
}

/* Whether the client lists address now (its endpoint record's member flag). */
static int member(env *e, const char *address)
{
    px_upstream *up = e->cl->up;
    for (uint32_t i = 0; i < px_eptable_count(&up->table); i++)
        if (strcmp(px_upstream_ep(up, i)->pub.address, address) == 0)
            return px_ep_is_member(px_upstream_ep(up, i));
    return 0;
}

/* Whether the client lists exactly the servers of mask (bit i: s<i>). */
static int lists(env *e, unsigned mask)
{
    for (int i = 0; i < e->nsrv; i++)
        if (member(e, e->addr[i]) != !!(mask & (1u << i)))
            return 0;
    return px_upstream_live_count(e->cl->up) == (uint32_t)__builtin_popcount(mask);
}

/* Calls (500/s) until the client lists mask, for at most max_us; returns the calls
 * issued when it was first seen so (-1: never) and prints how long it took. */
static int calls_until(env *e, unsigned mask, int64_t max_us, const char *what)
{
    int64_t t0 = px_mono_us();
    while (!lists(e, mask)) {
        if (px_mono_us() - t0 > max_us || e->load.issued + 10 > CALLS) {
            print_error("%s: not seen within %lld ms\n", what, (long long)(max_us / 1000));
            return -1;
        }
        assert_int_equal(px_load_run(&e->load, 10, 20000, NULL, NULL), 0);
    }
    print_message("  %s: seen after %lld ms\n", what, (long long)((px_mono_us() - t0) / 1000));
    return e->load.issued;
}

static void calls(env *e, int n)
{
    assert_int_equal(px_load_run(&e->load, n, (int64_t)n * 2000, NULL, NULL), 0);
}

/* Every call issued so far completed once, OK. */
static void all_ok(env *e, const char *title)
{
    assert_int_equal(px_load_drain(&e->load, 10 * 1000000, NULL, NULL), 0);
    px_load_sum s;
    px_load_sum_up(&e->load, 0, e->load.issued, &s);
    px_load_sum_print(&e->load, 0, e->load.issued, &s, title);
    assert_int_equal(s.ok, e->load.issued);
    assert_int_equal(s.twice, 0);
    assert_int_equal(s.never, 0);
}

static px_load_sum sum(env *e, int from, int to)
{
    assert_int_equal(px_load_drain(&e->load, 10 * 1000000, NULL, NULL), 0);
    px_load_sum s;
    px_load_sum_up(&e->load, from, to, &s);
    return s;
}

/* Waits (bounded: 5 s) until the DNS server has seen n more queries than before. */
static void queries_after(env *e, int before, int n)
{
    for (int i = 0; i < 500 && px_dns_queries(e->dns) < before + n; i++)
        calls(e, 5);
    assert_true(px_dns_queries(e->dns) >= before + n);
}

/* The value of a series in the process's metrics; asserts it is there and >= min. */
static void metric_at_least(const char *series, double min)
{
    size_t len;
    char *text = px_metrics_text(&len);
    assert_non_null(text);
    const char *p = strstr(text, series);
    if (!p)
        print_error("no %s in:\n%s\n", series, text);
    assert_non_null(p);
    double v = strtod(p + strlen(series), NULL);
    print_message("  %s %g\n", series, v);
    assert_true(v >= min);
    free(text);
}

/* Calls until the module logged what n times (bounded: 5 s). */
static void calls_until_logged(env *e, const char *what, int n)
{
    for (int i = 0; i < 250 && logged(what) < n; i++)
        calls(e, 10);
    if (logged(what) < n)
        print_error("not logged %d times: %s\n", n, what);
    assert_true(logged(what) >= n);
}

/* ---- A records ---- */

static env *a_env(void)
{
    env *e = env_new();
    int port = px_free_port();
    srv_up(e, 0, "127.0.0.1", port);
    srv_up(e, 1, "127.0.0.2", port);
    srv_up(e, 2, "127.0.0.3", port);
    char naming[128];
    snprintf(naming, sizeof naming, "name: calc.test., type: A, port: %d", port);
    px_dns_add_a(e->dns, "calc.test", "127.0.0.1", 1);
    px_dns_add_a(e->dns, "calc.test", "127.0.0.2", 1);
    client_up(e, naming);
    return e;
}

static void set_a(env *e, const char *x, const char *y, uint32_t ttl)
{
    px_dns_clear(e->dns, "calc.test");
    px_dns_add_a(e->dns, "calc.test", x, ttl);
    px_dns_add_a(e->dns, "calc.test", y, ttl);
}

static void test_a_records_follow_ttl(void **state)
{
    (void)state;
    env *e = a_env();
    /* The first resolution ran in px_client_new: the list is there already. */
    assert_true(lists(e, 0x3));
    calls(e, 200);
    px_load_sum first = sum(e, 0, 200);
    assert_true(first.per_server[0] > 0 && first.per_server[1] > 0);
    int before = e->load.issued;
    set_a(e, "127.0.0.2", "127.0.0.3", 1);
    int at = calls_until(e, 0x6, 5000000, "A [s0,s1] -> [s1,s2] with TTL 1 s");
    assert_true(at > 0);
    calls(e, 200);
    all_ok(e, "A records");
    px_load_sum mid = sum(e, before, at), after = sum(e, at, e->load.issued);
    print_message("  before the change: s0 %d s1 %d | until seen: s0 %d s1 %d s2 %d | after: "
                  "s0 %d s1 %d s2 %d\n",
                  first.per_server[0], first.per_server[1], mid.per_server[0], mid.per_server[1],
                  mid.per_server[2], after.per_server[0], after.per_server[1],
                  after.per_server[2]);
    assert_int_equal(after.per_server[0], 0);
    assert_true(after.per_server[1] > 0 && after.per_server[2] > 0);
    assert_true(logged("upstream calc: A calc.test.: 2 endpoints") >= 2);
    metric_at_least("plexus_naming_dns_resolutions_total{upstream=\"calc\",result=\"ok\"}", 2);
    metric_at_least("plexus_naming_endpoints{upstream=\"calc\"}", 2);
    env_free(e);
}

/* A failure mode keeps the list; back to answers, a change of the records is seen. */
static void failure_kept_then_recovered(env *e, px_dns_mode mode, const char *title,
                                        const char *error, const char *to_x, const char *to_y,
                                        unsigned to_mask)
{
    unsigned was = 0;
    for (int i = 0; i < e->nsrv; i++)
        was |= member(e, e->addr[i]) ? 1u << i : 0;
    int from = e->load.issued;
    px_dns_set_mode(e->dns, mode);
    queries_after(e, px_dns_queries(e->dns), 3); /* three failed resolutions at least */
    calls(e, 100);
    assert_true(lists(e, was));
    px_load_sum s = sum(e, from, e->load.issued);
    int on = 0;
    for (int i = 0; i < e->nsrv; i++)
        on += s.per_server[i] > 0;
    print_message("  %s: %d calls during the failures, %d OK, on %d servers\n", title, s.calls,
                  s.ok, on);
    assert_int_equal(s.ok, s.calls);
    assert_int_equal(on, 2);
    assert_true(logged(error) >= 3);
    assert_true(logged("keeping the last list (2 endpoints)") >= 3);
    int recovered = logged("resolves again");
    set_a(e, to_x, to_y, 0);
    px_dns_set_mode(e->dns, PX_DNS_ANSWER);
    char what[80];
    snprintf(what, sizeof what, "%s, then answers with new records", title);
    assert_true(calls_until(e, to_mask, 5000000, what) > 0);
    assert_int_equal(logged("resolves again"), recovered + 1);
}

static void test_failures_keep_the_list(void **state)
{
    (void)state;
    env *e = a_env();
    set_a(e, "127.0.0.1", "127.0.0.2", 0); /* TTL 0: ttl_min (100ms) */
    calls(e, 50);
    failure_kept_then_recovered(e, PX_DNS_SERVFAIL, "SERVFAIL",
                                "upstream calc: A calc.test. via 127.0.0.1:", "127.0.0.2",
                                "127.0.0.3", 0x6);
    assert_true(logged("no server gave an answer (each said SERVFAIL or REFUSED") >= 3);
    log_clear();
    failure_kept_then_recovered(e, PX_DNS_DROP, "no answer", "Timeout", "127.0.0.1",
                                "127.0.0.3", 0x5);
    log_clear();
    failure_kept_then_recovered(e, PX_DNS_NXDOMAIN, "NXDOMAIN", "Domain name not found",
                                "127.0.0.1", "127.0.0.2", 0x3);
    /* No records of the type asked: a failure too, not an empty list. */
    log_clear();
    px_dns_clear(e->dns, "calc.test");
    px_dns_add_aaaa(e->dns, "calc.test", "::1", 0);
    queries_after(e, px_dns_queries(e->dns), 3);
    assert_true(logged("the answer has no usable records") >= 1);
    assert_true(lists(e, 0x3));
    all_ok(e, "failures");
    static const char *const results[] = {"servers_failed", "timeout", "nxdomain", "no_records"};
    for (int i = 0; i < 4; i++) {
        char series[160];
        snprintf(series, sizeof series,
                 "plexus_naming_dns_resolutions_total{upstream=\"calc\",result=\"%s\"}",
                 results[i]);
        metric_at_least(series, 3);
    }
    /* Freed while a query waits for an answer that never comes: stop ends it. */
    px_dns_set_mode(e->dns, PX_DNS_DROP);
    queries_after(e, px_dns_queries(e->dns), 1);
    env_free(e);
}

/* ---- SRV ---- */

static void test_srv_priority_and_weights(void **state)
{
    (void)state;
    env *e = env_new();
    srv_up(e, 0, "127.0.0.1", px_free_port());
    srv_up(e, 1, "127.0.0.2", px_free_port());
    srv_up(e, 2, "127.0.0.3", px_free_port());
    const char *svc = "_calc._tcp.test";
    px_dns_add_srv(e->dns, svc, 10, 1, e->srv[0].port, "a.test", 1);
    px_dns_add_srv(e->dns, svc, 10, 3, e->srv[1].port, "b.test", 1);
    px_dns_add_srv(e->dns, svc, 20, 1, e->srv[2].port, "c.test", 1);
    px_dns_add_a(e->dns, "a.test", "127.0.0.1", 1);
    px_dns_add_a(e->dns, "b.test", "127.0.0.2", 1);
    px_dns_add_a(e->dns, "c.test", "127.0.0.3", 1);
    client_up(e, "name: _calc._tcp.test., type: SRV, srv_target: A");
    assert_true(lists(e, 0x3));
    calls(e, 400);
    px_load_sum s = sum(e, 0, 400);
    print_message("  SRV priority 10 (weights 1, 3), 20: s0 %d s1 %d s2 %d\n", s.per_server[0],
                  s.per_server[1], s.per_server[2]);
    assert_int_equal(s.per_server[2], 0);
    assert_true(s.per_server[0] > 0);
    assert_true(s.per_server[1] > 2 * s.per_server[0]); /* 3:1, loosely */
    /* Priority 10's targets stop resolving: priority 20's serve. The targets' addresses
     * now come in the additional section (no lookups of their own). */
    int q = px_dns_queries(e->dns);
    px_dns_set_additional(e->dns, 1);
    px_dns_clear(e->dns, "a.test");
    px_dns_clear(e->dns, "b.test");
    assert_true(calls_until(e, 0x4, 5000000, "SRV priority 10 unresolvable -> priority 20") > 0);
    /* Back: the additional section names a.test and b.test again (TTL 0: a resolution
     * every ttl_min), and the targets need no query of their own. */
    px_dns_add_a(e->dns, "a.test", "127.0.0.1", 0);
    px_dns_add_a(e->dns, "b.test", "127.0.0.2", 0);
    int at = calls_until(e, 0x3, 5000000, "SRV priority 10 back (additional section)");
    assert_true(at > 0);
    print_message("  %d DNS queries since the targets were cut\n", px_dns_queries(e->dns) - q);
    int a_before = px_dns_queries_of(e->dns, 1), srv_before = px_dns_queries_of(e->dns, 33);
    for (int i = 0; i < 500 && px_dns_queries_of(e->dns, 33) < srv_before + 3; i++)
        calls(e, 5);
    print_message("  additional section: %d SRV queries, %d A queries\n",
                  px_dns_queries_of(e->dns, 33) - srv_before,
                  px_dns_queries_of(e->dns, 1) - a_before);
    assert_true(px_dns_queries_of(e->dns, 33) >= srv_before + 3);
    assert_int_equal(px_dns_queries_of(e->dns, 1), a_before);
    calls(e, 400);
    px_load_sum b = sum(e, at, e->load.issued);
    assert_int_equal(b.per_server[2], 0);
    assert_true(b.per_server[1] > 2 * b.per_server[0] && b.per_server[0] > 0);
    /* No target resolves: a failure, the list stays. */
    px_dns_clear(e->dns, "a.test");
    px_dns_clear(e->dns, "b.test");
    px_dns_clear(e->dns, "c.test");
    calls_until_logged(e, "no SRV target has an address (a.test.: Domain name not found); "
                          "keeping the last list (2 endpoints)", 2);
    assert_true(lists(e, 0x3));
    all_ok(e, "SRV");
    env_free(e);
}

/* ---- IPv6 ---- */

static void test_aaaa_and_any_ip(void **state)
{
    (void)state;
    if (!px_have_ipv6_loopback()) {
        print_message("  skipped: this machine has no IPv6 loopback (::1)\n");
        skip();
    }
    env *e = env_new();
    int port = px_free_port_on("::1");
    srv_up(e, 0, "127.0.0.1", port);
    srv_up(e, 1, "::1", port);
    px_dns_add_a(e->dns, "calc.test", "127.0.0.1", 1);
    px_dns_add_aaaa(e->dns, "calc.test", "::1", 1);
    char naming[128];
    snprintf(naming, sizeof naming, "name: calc.test., type: AAAA, port: %d", port);
    client_up(e, naming);
    assert_true(lists(e, 0x2));
    assert_true(member(e, e->addr[1]));
    print_message("  AAAA: %s\n", e->addr[1]);
    calls(e, 50);
    all_ok(e, "AAAA");
    px_client_free(e->cl);
    px_config_free(e->cfg);
    px_load_free(&e->load);
    snprintf(naming, sizeof naming, "name: calc.test., type: ANY_IP, port: %d", port);
    client_up(e, naming);
    assert_true(lists(e, 0x3));
    calls(e, 100);
    px_load_sum s = sum(e, 0, 100);
    print_message("  ANY_IP: s0 (127.0.0.1) %d, s1 (::1) %d\n", s.per_server[0],
                  s.per_server[1]);
    assert_true(s.per_server[0] > 0 && s.per_server[1] > 0);
    all_ok(e, "ANY_IP");
    env_free(e);
}

int main(void)
{
    px_proc_die_with_test();
    px_log_set_hook(log_hook, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_records_follow_ttl),
        cmocka_unit_test(test_failures_keep_the_list),
        cmocka_unit_test(test_srv_priority_and_weights),
        cmocka_unit_test(test_aaaa_and_any_ip),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    px_log_set_hook(NULL, NULL);
    return rc;
}
