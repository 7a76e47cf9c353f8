/* failover_retry, timeout_per_method and timeout_adaptive: retry decisions, the retry
 * budget under a flood, per-method lookup and parse errors, adaptive convergence. */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "plexus/plexus.h"
#include "px_conf.h"
#include "px_loader.h"
#include "px_upstream.h"
#include "../../modules/failover_retry/failover_retry.h"
#include "../../modules/timeout_adaptive/timeout_adaptive.h"
#include "../../modules/timeout_per_method/timeout_per_method.h"

typedef struct mods {
    px_loader *l;
    const px_module *retry, *per_method, *adaptive;
} mods;

static const px_module_env ENV = {.config_file = "c.yaml", .server_id = "", .scope = "calc"};

static px_status load(px_loader *l, const char *file, px_module_kind kind, const px_module **m)
{
    const char *dir = getenv("PX_MODULE_DIR");
    char path[1024];
    px_err err;
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "(PX_MODULE_DIR unset)", file);
    px_status st = px_loader_load_file(l, path, kind, m, &err);
    if (st != PX_OK)
        print_error("%s\n", err.msg);
    return st;
}

static int setup(void **state)
{
    mods *s = calloc(1, sizeof *s);
    s->l = px_loader_new();
    if (load(s->l, "failover_retry.so", PX_MOD_FAILOVER, &s->retry) != PX_OK ||
        load(s->l, "timeout_per_method.so", PX_MOD_TIMEOUT, &s->per_method) != PX_OK ||
        load(s->l, "timeout_adaptive.so", PX_MOD_TIMEOUT, &s->adaptive) != PX_OK) {
        px_loader_free(s->l);
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    mods *s = *state;
    if (s == NULL)
        return 0;
    px_loader_free(s->l);
    free(s);
    return 0;
}

/* Fills conf from the module's directive defaults, as the config loader does. */
static void apply_defaults(const px_module *m, void *conf)
{
    px_err err;
    memset(conf, 0, m->conf_size);
    for (const px_directive *d = m->directives; d && d->name; d++)
        assert_int_equal(px_conf_set_default(d, conf, &err), PX_OK);
}

static void *create(const px_module *m, const void *conf)
{
    void *st = NULL;
    px_err err;
    px_status rc = m->create(&ENV, conf, &st, &err);
    if (rc != PX_OK)
        print_error("create: %s\n", err.msg);
    assert_int_equal(rc, PX_OK);
    assert_non_null(st);
    return st;
}

static void test_descriptors(void **state)
{
    mods *s = *state;
    struct {
        const px_module *m;
        px_module_kind kind;
        const char *name;
    } want[] = {{s->retry, PX_MOD_FAILOVER, "retry"},
                {s->per_method, PX_MOD_TIMEOUT, "per_method"},
                {s->adaptive, PX_MOD_TIMEOUT, "adaptive"}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(want[i].m->kind, want[i].kind);
        assert_string_equal(want[i].m->name, want[i].name);
        assert_int_equal(want[i].m->abi_major, PX_ABI_MAJOR);
        assert_non_null(want[i].m->create);
        assert_non_null(want[i].m->destroy);
    }
    /* The hedging hook belongs to the hedge module. */
    assert_null(((const px_failover_ops *)s->retry->ops)->hedge_after_us);

    failover_retry_conf rc;
    apply_defaults(s->retry, &rc);
    assert_int_equal(rc.retries, 2);
    assert_true(rc.budget_percent == 20.0);
    assert_int_equal(rc.min_retries_per_second, 10);
    assert_int_equal(rc.window_us, 10000000);

    timeout_per_method_conf pc;
    apply_defaults(s->per_method, &pc);
    assert_null(pc.methods);
    assert_int_equal(pc.default_us, 1000000);
    assert_int_equal(pc.connect_us, 1000000);

    timeout_adaptive_conf ac;
    apply_defaults(s->adaptive, &ac);
    assert_true(ac.k == 3.0);
    assert_int_equal(ac.floor_us, 10000);
    assert_int_equal(ac.ceiling_us, 10000000);
    assert_int_equal(ac.min_samples, 100);
    assert_int_equal(ac.initial_us, 1000000);
    assert_int_equal(ac.half_life, 1000);
    assert_int_equal(ac.connect_us, 1000000);
}

/* ---- failover_retry ------------------------------------------------------ */

static void *retry_new(const px_module *m, int64_t retries, double percent, int64_t min_rps,
                       int64_t window_us)
{
    failover_retry_conf c;
    apply_defaults(m, &c);
    c.retries = retries;
    c.budget_percent = percent;
    c.min_retries_per_second = min_rps;
    c.window_us = window_us;
    return create(m, &c);
}

/* The documented rules, written out independently of the module. */
static int expect_retry(px_status st, int sent, int idem, unsigned attempt, unsigned retries)
{
    static const px_status never[] = {PX_OK, PX_CANCELLED, PX_DEADLINE_EXCEEDED};
    static const px_status server_side[] = {PX_UNAVAILABLE, PX_RESOURCE_EXHAUSTED, PX_ABORTED,
                                            PX_INTERNAL, PX_UNKNOWN};
    if (attempt >= retries)
        return 0;
    for (size_t i = 0; i < 3; i++)
        if (st == never[i])
            return 0;
    if (!sent)
        return 1;
    if (!idem)
        return 0;
    for (size_t i = 0; i < 5; i++)
        if (st == server_side[i])
            return 1;
    return 0;
}

static void test_retry_decision_table(void **state)
{
    mods *s = *state;
    const px_failover_ops *ops = s->retry->ops;
    /* A budget that never says no, so only the rules decide. */
    void *st = retry_new(s->retry, 2, 1000, 1000000, 10000000);
    int rows = 0, retries = 0;
    for (int code = 0; code < PX_STATUS_COUNT; code++)
        for (int sent = 0; sent < 2; sent++)
            for (int idem = 0; idem < 2; idem++)
                for (unsigned attempt = 0; attempt < 3; attempt++) {
                    px_attempt a = {.method = "calc.Calculator/Add", .status = (px_status)code,
                                    .attempt = attempt, .sent = sent, .idempotent = idem,
                                    .remaining_us = 1000000};
                    px_failover_action act = ops->on_result(st, &a);
                    int want = expect_retry((px_status)code, sent, idem, attempt, 2);
                    if ((act == PX_FAILOVER_RETRY) != want) {
                        print_error("%s sent=%d idempotent=%d attempt=%u: got %s\n",
                                    px_status_name((px_status)code), sent, idem, attempt,
                                    act == PX_FAILOVER_RETRY ? "RETRY" : "DONE");
                        fail();
                    }
                    rows++;
                    retries += act == PX_FAILOVER_RETRY;
                }
    assert_int_equal(rows, PX_STATUS_COUNT * 2 * 2 * 3);
    /* 14 retryable statuses unsent (x2 idempotency x2 attempts) + 5 sent and idempotent (x2). */
    assert_int_equal(retries, 14 * 2 * 2 + 5 * 2);

    /* No time left: never, whatever else holds. */
    px_attempt late = {.status = PX_UNAVAILABLE, .sent = 0, .idempotent = 1, .remaining_us = 0};
    assert_int_equal(ops->on_result(st, &late), PX_FAILOVER_DONE);
    late.remaining_us = -5;
    assert_int_equal(ops->on_result(st, &late), PX_FAILOVER_DONE);
    s->retry->destroy(st);

    /* retries: 0 is failfast (health is the core's either way). */
    st = retry_new(s->retry, 0, 1000, 1000000, 10000000);
    px_attempt a = {.status = PX_UNAVAILABLE, .sent = 0, .idempotent = 1, .remaining_us = 1000000};
    assert_int_equal(ops->on_result(st, &a), PX_FAILOVER_DONE);
    s->retry->destroy(st);
}

/* An upstream of one endpoint as the core builds it, with the retry module as its
 * failover, so the core's records land in real health. */
static const px_balancer_ops no_feedback = {0};
static const px_timeout_ops no_observe = {0};

typedef struct one_ep {
    px_upstream_conf uc;
    px_upstream up;
    px_ep ep;
} one_ep;

static void one_ep_init(one_ep *o, const px_module *failover, void *failover_state)
{
    memset(o, 0, sizeof *o);
    o->uc = (px_upstream_conf){
        .name = "calc",
        .health = {.max_fails = 3, .fail_window_us = 60000000, .ejection_us = 1000000,
                   .max_ejection_us = 30000000, .max_ejected_percent = 100},
    };
    o->up = (px_upstream){.conf = &o->uc, .config_file = "test", .n_live = 1,
                          .balancer = &no_feedback, .timeout = &no_observe,
                          .failover = failover->ops, .failover_state = failover_state};
    o->ep = (px_ep){.pub = {.address = "127.0.0.1:7101", .weight = 1}, .up = &o->up,
                    .member = 1};
    pthread_mutex_init(&o->ep.lock, NULL);
}

/* Since ABI 1.2 the core records every attempt (px_upstream_attempt_done) whatever the
 * module decides; the module itself reports nothing. */
static void test_core_records_every_attempt(void **state)
{
    mods *s = *state;
    const px_failover_ops *ops = s->retry->ops;
    void *st = retry_new(s->retry, 2, 1000, 1000000, 10000000);
    one_ep o;
    one_ep_init(&o, s->retry, st);
    px_attempt a = {.method = "calc.Calculator/Add", .endpoint = &o.ep.pub, .sent = 0,
                    .status = PX_UNAVAILABLE, .remaining_us = 1000000};
    assert_int_equal(ops->on_result(st, &a), PX_FAILOVER_RETRY);
    assert_int_equal(o.ep.fails, 0);
    /* Failures count up whether or not the module retries; a success resets. */
    const px_status seq[] = {PX_UNAVAILABLE, PX_UNAVAILABLE, PX_OK, PX_DEADLINE_EXCEEDED,
                             PX_INVALID_ARGUMENT, PX_UNAVAILABLE};
    const unsigned attempt[] = {0, 1, 2, 0, 1, 0};
    const int fails_after[] = {1, 2, 0, 1, 0, 1};
    const px_failover_action act[] = {PX_FAILOVER_RETRY, PX_FAILOVER_RETRY, PX_FAILOVER_DONE,
                                      PX_FAILOVER_DONE, PX_FAILOVER_RETRY, PX_FAILOVER_RETRY};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        assert_int_equal(px_upstream_attempt_done(&o.up, &o.ep, a.method, seq[i], attempt[i], 0,
                                                  0, 0, NULL, 0, 1000, 1000000),
                         act[i]);
        assert_int_equal(o.ep.fails, fails_after[i]);
    }
    assert_int_equal(px_upstream_attempt_done(&o.up, &o.ep, a.method, PX_UNAVAILABLE, 1, 0, 0, 0,
                                              NULL, 0, 1000, 1000000),
                     PX_FAILOVER_RETRY);
    /* An attempt that waited for a place under the server's announced limit and ended
     * there (its deadline) says nothing of the endpoint: failover decides, health does
     * not count it. */
    assert_int_equal(px_upstream_attempt_done(&o.up, &o.ep, a.method, PX_DEADLINE_EXCEEDED, 1, 0,
                                              0, 0, NULL, 1, 1000, 0),
                     PX_FAILOVER_DONE);
    assert_int_equal(o.ep.fails, 2);
    /* The third failure in the window ejects, even on the last attempt. */
    assert_int_equal(px_upstream_attempt_done(&o.up, &o.ep, a.method, PX_UNAVAILABLE, 2, 0, 0, 0,
                                              NULL, 0, 1000, 1000000),
                     PX_FAILOVER_DONE);
    assert_int_equal(px_endpoint_is_ejected(&o.ep.pub), 1);
    pthread_mutex_destroy(&o.ep.lock);
    s->retry->destroy(st);
}

/* `calls` calls whose every attempt fails before sending; returns the retries granted. */
static int flood(const px_failover_ops *ops, void *st, int calls)
{
    int retries = 0;
    for (int i = 0; i < calls; i++) {
        px_attempt a = {.method = "calc.Calculator/Add", .status = PX_UNAVAILABLE, .sent = 0,
                        .remaining_us = 1000000};
        for (a.attempt = 0; ops->on_result(st, &a) == PX_FAILOVER_RETRY; a.attempt++)
            retries++;
        assert_true(a.attempt <= 2);
    }
    return retries;
}

static void test_budget_caps_a_flood(void **state)
{
    mods *s = *state;
    const px_failover_ops *ops = s->retry->ops;
    /* No floor: exactly 20% of 10,000 calls, although each could take 2 retries. */
    void *st = retry_new(s->retry, 2, 20, 0, 10000000);
    int r = flood(ops, st, 10000);
    assert_int_equal(r, 2000);
    /* Spent: more failures get no retries until calls add budget back. */
    assert_int_equal(flood(ops, st, 4), 0);
    assert_int_equal(flood(ops, st, 6), 2); /* 10,010 calls: 2002 */
    s->retry->destroy(st);

    /* 50%: still capped, and each call at most `retries` times. */
    st = retry_new(s->retry, 2, 50, 0, 10000000);
    assert_in_range(flood(ops, st, 10000), 4999, 5000);
    s->retry->destroy(st);

    /* 0% with a floor of 10/s over a 1 s window: the floor alone, 10 retries. */
    st = retry_new(s->retry, 2, 0, 10, 1000000);
    assert_int_equal(flood(ops, st, 1000), 10);
    s->retry->destroy(st);

    /* Successes deposit too: 1,000 good calls fund 200 retries for later failures. */
    st = retry_new(s->retry, 2, 20, 0, 10000000);
    px_attempt ok = {.status = PX_OK, .remaining_us = 1000000};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ops->on_result(st, &ok), PX_FAILOVER_DONE);
    assert_int_equal(flood(ops, st, 100), 2 * 100); /* 1,100 calls: 220 >= 200 wanted */
    assert_int_equal(flood(ops, st, 100), 40);     /* 1,200 calls: 240 in all */
    s->retry->destroy(st);
}

typedef struct flood_job {
    const px_failover_ops *ops;
    void *st;
    int calls, retries;
} flood_job;

static void *flood_thread(void *arg)
{
    flood_job *j = arg;
    j->retries = flood(j->ops, j->st, j->calls);
    return NULL;
}

static void test_budget_caps_a_flood_from_threads(void **state)
{
    mods *s = *state;
    void *st = retry_new(s->retry, 2, 20, 0, 10000000);
    enum { T = 4, N = 20000 };
    flood_job jobs[T];
    pthread_t t[T];
    for (int i = 0; i < T; i++) {
        jobs[i] = (flood_job){.ops = s->retry->ops, .st = st, .calls = N};
        assert_int_equal(pthread_create(&t[i], NULL, flood_thread, &jobs[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < T; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        total += jobs[i].retries;
    }
    /* Never above the share, and the budget was actually used. */
    assert_true(total <= T * N / 5);
    assert_true(total >= T * N / 5 - 2 * T);
    s->retry->destroy(st);
}

static void test_budget_window_slides(void **state)
{
    mods *s = *state;
    const px_failover_ops *ops = s->retry->ops;
    void *st = retry_new(s->retry, 2, 20, 0, 100000); /* a 100 ms window */
    assert_int_equal(flood(ops, st, 100), 20);
    assert_int_equal(flood(ops, st, 4), 0);
    /* Once the window has passed, old calls and retries no longer count: 10 new calls
     * fund 2 retries, where the whole history (114 calls, 20 retries) would give 2.8
     * minus 20 spent, i.e. none. Waiting here is for time itself to pass. */
    struct timespec ts = {0, 150 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_int_equal(flood(ops, st, 10), 2);
    s->retry->destroy(st);
}

/* ---- timeout_per_method --------------------------------------------------- */

static px_status pm_try(const px_module *m, const char *methods, void **st, px_err *err)
{
    timeout_per_method_conf c;
    apply_defaults(m, &c);
    c.methods = (char *)methods;
    c.default_us = 700000;
    c.connect_us = 50000;
    *st = NULL;
    px_err_clear(err);
    return m->create(&ENV, &c, st, err);
}

static void test_per_method_lookup(void **state)
{
    mods *s = *state;
    const px_timeout_ops *ops = s->per_method->ops;
    assert_null(ops->observe);
    void *st;
    px_err err;
    assert_int_equal(pm_try(s->per_method,
                            " calc.Calculator/Sleep=2s, calc.Calculator/Add = 100ms ,"
                            "calc.Echo/*=250ms,calc.Echo/Fast=1m30s,x.Y/Z=1.5s",
                            &st, &err), PX_OK);
    assert_int_equal(ops->call_timeout_us(st, "calc.Calculator/Sleep"), 2000000);
    assert_int_equal(ops->call_timeout_us(st, "calc.Calculator/Add"), 100000);
    assert_int_equal(ops->call_timeout_us(st, "calc.Calculator/Div"), 700000); /* default */
    assert_int_equal(ops->call_timeout_us(st, "calc.Echo/Anything"), 250000); /* service */
    assert_int_equal(ops->call_timeout_us(st, "calc.Echo/Fast"), 90000000);   /* exact wins */
    assert_int_equal(ops->call_timeout_us(st, "x.Y/Z"), 1500000);
    assert_int_equal(ops->call_timeout_us(st, "x.Y/Zz"), 700000);
    assert_int_equal(ops->call_timeout_us(st, "calc.Calculator/Sleepy"), 700000);
    assert_int_equal(ops->connect_timeout_us(st), 50000);
    s->per_method->destroy(st);

    /* No map (or a blank one): the default for everything. */
    const char *empty[] = {NULL, "", "   "};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pm_try(s->per_method, empty[i], &st, &err), PX_OK);
        assert_int_equal(ops->call_timeout_us(st, "calc.Calculator/Add"), 700000);
        s->per_method->destroy(st);
    }

    /* 300 methods: every one found through the sorted array. */
    size_t cap = 300 * 40;
    char *spec = malloc(cap), *p = spec;
    for (int i = 0; i < 300; i++)
        p += snprintf(p, cap - (size_t)(p - spec), "%ssvc%d.S/M%d=%dms", i ? "," : "",
                      (i * 7919) % 300, i, i + 1);
    assert_int_equal(pm_try(s->per_method, spec, &st, &err), PX_OK);
    for (int i = 0; i < 300; i++) {
        char m[64];
        snprintf(m, sizeof m, "svc%d.S/M%d", (i * 7919) % 300, i);
        assert_int_equal(ops->call_timeout_us(st, m), (i + 1) * 1000);
    }
    s->per_method->destroy(st);
    free(spec);
}

static void test_per_method_parse_errors(void **state)
{
    mods *s = *state;
    static const struct {
        const char *spec, *msg;
    } cases[] = {
        {"calc.Calculator/Add",
         "entry 1 'calc.Calculator/Add' is not METHOD=DURATION (e.g. calc.Calculator/Add=100ms)"},
        {"a.B/C=1s,,x.Y/Z=2s", "entry 2 is empty (a stray ',')"},
        {"a.B/C=1s,", "entry 2 is empty (a stray ',')"},
        {"Add=1s", "entry 1: method 'Add' is not package.Service/Method or package.Service/*"},
        {"a.B/C=1s, calc.Calculator/ Add=1s",
         "entry 2: method 'calc.Calculator/ Add' is not package.Service/Method or package.Service/*"},
        {"=1s", "entry 1: method '' is not package.Service/Method or package.Service/*"},
        {"calc.Calculator/Add=5 parsecs",
         "entry 1 (calc.Calculator/Add): '5 parsecs' is not a duration (use e.g. 250ms, 5s)"},
        {"calc.Calculator/Add=300",
         "entry 1 (calc.Calculator/Add): '300' has no unit (use us, ms, s, m, h or d, e.g. 250ms)"},
        {"calc.Calculator/Add=", "entry 1 (calc.Calculator/Add): '' is not a duration (use e.g. 250ms, 5s)"},
        {"calc.Calculator/Add=-1s",
         "entry 1 (calc.Calculator/Add): '-1s' is negative (durations are 0 or more, e.g. 250ms)"},
        {"calc.Calculator/Add=0.5us",
         "entry 1 (calc.Calculator/Add): '0.5us' is finer than 1us"},
        {"calc.Calculator/Add=2h", "entry 1 (calc.Calculator/Add): '2h' is out of range (1ms..1h)"},
        {"calc.Calculator/Add=0", "entry 1 (calc.Calculator/Add): '0' is out of range (1ms..1h)"},
        {"calc.Calculator/Add=1s,calc.Calculator/Sleep=2s,calc.Calculator/Add=3s",
         "entry 3: method 'calc.Calculator/Add' is already listed as entry 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *st;
        px_err err;
        assert_int_equal(pm_try(s->per_method, cases[i].spec, &st, &err), PX_INVALID_ARGUMENT);
        assert_null(st);
        char want[600];
        snprintf(want, sizeof want, "c.yaml: upstreams.calc.timeout.methods: %s", cases[i].msg);
        assert_string_equal(err.msg, want);
    }
}

/* The same error through a config file, as a user meets it: at load time (so
 * `plexusd -t` and `plexus check` report it), at the module's line and column. */
static void test_per_method_error_from_config(void **state)
{
    (void)state;
    char path[] = "/tmp/pxtest-pm-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "modules:\n  path: [%s]\nclient:\n  upstreams:\n    calc:\n"
            "      endpoints: [127.0.0.1:1]\n"
            "      timeout: { module: per_method, methods: \"calc.Calculator/Sleep=2s,Add=1s\" }\n",
            getenv("PX_MODULE_DIR"));
    fclose(f);
    px_config *cfg = NULL;
    px_err err;
    assert_int_equal(px_config_load(path, &cfg, &err), PX_INVALID_ARGUMENT);
    assert_null(cfg);
    char want[700];
    snprintf(want, sizeof want,
             "%s:7:26: timeout 'per_method': %s: "
             "upstreams.calc.timeout.methods: entry 2: method 'Add' is "
             "not package.Service/Method or package.Service/*",
             path, path);
    assert_string_equal(err.msg, want);
    unlink(path);
}

/* ---- timeout_adaptive ----------------------------------------------------- */

static void *adaptive_new(const px_module *m, int64_t floor_us, int64_t ceiling_us,
                          int64_t half_life)
{
    timeout_adaptive_conf c;
    apply_defaults(m, &c);
    c.floor_us = floor_us;
    c.ceiling_us = ceiling_us;
    c.half_life = half_life;
    return create(m, &c);
}

/* n latencies spread evenly over [lo, hi] microseconds: the p99 is lo + 0.99 (hi - lo). */
static void feed(const px_timeout_ops *ops, void *st, int n, int64_t lo, int64_t hi, px_status s)
{
    for (int i = 0; i < n; i++)
        ops->observe(st, "calc.Calculator/Add", lo + (hi - lo) * (i % 100) / 99, s);
}

/* Buckets hold 1/8 of a power of two: the p99 read back is at most 12.5% above (and a
 * little below when decayed weights put the 99% point one sample lower). */
static void assert_near_k_p99(int64_t got, double k, int64_t p99)
{
    double lo = k * (double)p99 * 0.97, hi = k * (double)p99 * 1.126;
    if ((double)got < lo || (double)got > hi) {
        print_error("deadline %lld us not in [%.0f, %.0f] (k=%g, p99=%lld us)\n", (long long)got,
                    lo, hi, k, (long long)p99);
        fail();
    }
}

static void test_adaptive_converges(void **state)
{
    mods *s = *state;
    const px_timeout_ops *ops = s->adaptive->ops;
    void *st = adaptive_new(s->adaptive, 1000, 3600000000LL, 1000);
    const char *m = "calc.Calculator/Add";
    assert_int_equal(ops->connect_timeout_us(st), 1000000);
    /* Until min_samples (100): `initial`. */
    assert_int_equal(ops->call_timeout_us(st, m), 1000000);
    feed(ops, st, 99, 1000, 100000, PX_OK);
    assert_int_equal(ops->call_timeout_us(st, m), 1000000);
    feed(ops, st, 1, 1000, 1000, PX_OK); /* the 100th: 1 ms */
    int64_t first = ops->call_timeout_us(st, m);
    assert_true(first < 1000000);
    /* 1..100 ms evenly: p99 = 99 ms, deadline ~ 3 x 99 ms. */
    feed(ops, st, 900, 1000, 100000, PX_OK);
    assert_near_k_p99(ops->call_timeout_us(st, m), 3, 99010);
    /* Connection failures and cancellations say nothing about the service: ignored. */
    feed(ops, st, 3000, 1, 1, PX_UNAVAILABLE);
    feed(ops, st, 3000, 1, 1, PX_CANCELLED);
    assert_near_k_p99(ops->call_timeout_us(st, m), 3, 99010);
    /* The service slows to 10..1000 ms: after a few half-lives the p99 follows. */
    feed(ops, st, 10000, 10000, 1000000, PX_OK);
    assert_near_k_p99(ops->call_timeout_us(st, m), 3, 990100);
    /* ... and back. Application errors are replies too: they count. */
    feed(ops, st, 10000, 1000, 100000, PX_INVALID_ARGUMENT);
    assert_near_k_p99(ops->call_timeout_us(st, m), 3, 99010);
    s->adaptive->destroy(st);
}

static void test_adaptive_clamps(void **state)
{
    mods *s = *state;
    const px_timeout_ops *ops = s->adaptive->ops;
    const char *m = "calc.Calculator/Add";
    void *st = adaptive_new(s->adaptive, 50000, 400000, 1000); /* 50 ms .. 400 ms */
    feed(ops, st, 1000, 10, 1000, PX_OK);                      /* p99 ~1 ms: 3 ms < floor */
    assert_int_equal(ops->call_timeout_us(st, m), 50000);
    /* Every call times out at the floor: observed at the deadline (a lower bound of
     * their latency), they push it up, by k per round, up to the ceiling. */
    feed(ops, st, 5000, 50000, 50000, PX_DEADLINE_EXCEEDED);
    assert_near_k_p99(ops->call_timeout_us(st, m), 3, 50000);
    feed(ops, st, 5000, 150000, 150000, PX_DEADLINE_EXCEEDED);
    assert_int_equal(ops->call_timeout_us(st, m), 400000);
    feed(ops, st, 5000, 100000, 1000000, PX_OK); /* p99 ~1 s: 3 s > ceiling */
    assert_int_equal(ops->call_timeout_us(st, m), 400000);
    s->adaptive->destroy(st);

    timeout_adaptive_conf c;
    apply_defaults(s->adaptive, &c);
    c.floor_us = 2000000;
    c.ceiling_us = 1000000;
    px_err err;
    void *bad = NULL;
    assert_int_equal(s->adaptive->create(&ENV, &c, &bad, &err), PX_INVALID_ARGUMENT);
    assert_null(bad);
    assert_string_equal(err.msg, "floor (2000ms) is above ceiling (1000ms)");
}

typedef struct obs_job {
    const px_timeout_ops *ops;
    void *st;
    int64_t lo, hi;
} obs_job;

static void *observe_thread(void *arg)
{
    obs_job *j = arg;
    for (int round = 0; round < 50; round++) {
        feed(j->ops, j->st, 1000, j->lo, j->hi, PX_OK);
        int64_t d = j->ops->call_timeout_us(j->st, "calc.Calculator/Add");
        if (d <= 0)
            return (void *)1;
    }
    return NULL;
}

static void test_adaptive_threads(void **state)
{
    mods *s = *state;
    const px_timeout_ops *ops = s->adaptive->ops;
    void *st = adaptive_new(s->adaptive, 1000, 3600000000LL, 1000);
    enum { T = 4 };
    obs_job jobs[T];
    pthread_t t[T];
    for (int i = 0; i < T; i++) {
        jobs[i] = (obs_job){.ops = ops, .st = st, .lo = 2000, .hi = 20000};
        assert_int_equal(pthread_create(&t[i], NULL, observe_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        void *rc;
        assert_int_equal(pthread_join(t[i], &rc), 0);
        assert_null(rc);
    }
    assert_near_k_p99(ops->call_timeout_us(st, "calc.Calculator/Add"), 3, 19820);
    s->adaptive->destroy(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptors),
        cmocka_unit_test(test_retry_decision_table),
        cmocka_unit_test(test_core_records_every_attempt),
        cmocka_unit_test(test_budget_caps_a_flood),
        cmocka_unit_test(test_budget_caps_a_flood_from_threads),
        cmocka_unit_test(test_budget_window_slides),
        cmocka_unit_test(test_per_method_lookup),
        cmocka_unit_test(test_per_method_parse_errors),
        cmocka_unit_test(test_per_method_error_from_config),
        cmocka_unit_test(test_adaptive_converges),
        cmocka_unit_test(test_adaptive_clamps),
        cmocka_unit_test(test_adaptive_threads),
    };
    return cmocka_run_group_tests_name("failover_timeout", tests, setup, teardown);
}
