/* The first strategy modules (lb_random, failover_failfast, timeout_fixed): descriptors and ops. */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "plexus/plexus.h"
#include "px_conf.h"
#include "px_loader.h"
#include "px_upstream.h"
#include "../../modules/lb_random/lb_random.h"
#include "../../modules/timeout_fixed/timeout_fixed.h"

typedef struct mods {
    px_loader *l;
    const px_module *random, *failfast, *fixed;
} mods;

static px_status load(px_loader *l, const char *file, px_module_kind kind,
                      const px_module **m)
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
    if (load(s->l, "lb_random.so", PX_MOD_BALANCER, &s->random) != PX_OK ||
        load(s->l, "failover_failfast.so", PX_MOD_FAILOVER, &s->failfast) != PX_OK ||
        load(s->l, "timeout_fixed.so", PX_MOD_TIMEOUT, &s->fixed) != PX_OK) {
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
    if (s == NULL) /* setup failed and said why */
        return 0;
    px_loader_free(s->l);
    free(s);
    return 0;
}

/* Fills conf from the module's directive defaults, as the config loader does. */
static void apply_defaults(const px_module *m, void *conf)
{
    px_err err;
    for (const px_directive *d = m->directives; d && d->name; d++)
        assert_int_equal(px_conf_set_default(d, conf, &err), PX_OK);
}

static void test_descriptors(void **state)
{
    mods *s = *state;
    assert_int_equal(px_loader_count(s->l), 3);

    assert_string_equal(s->random->name, "random");
    assert_int_equal(s->random->kind, PX_MOD_BALANCER);
    assert_int_equal(s->random->conf_size, sizeof(lb_random_conf));
    assert_string_equal(s->random->directives[0].name, "seed");
    assert_int_equal(s->random->directives[0].type, PX_DIR_INT);
    assert_null(s->random->directives[1].name);
    const px_balancer_ops *lb = s->random->ops;
    assert_non_null(lb->pick);

    assert_string_equal(s->failfast->name, "failfast");
    assert_int_equal(s->failfast->kind, PX_MOD_FAILOVER);
    assert_null(s->failfast->directives);
    assert_non_null(((const px_failover_ops *)s->failfast->ops)->on_result);

    assert_string_equal(s->fixed->name, "fixed");
    assert_int_equal(s->fixed->kind, PX_MOD_TIMEOUT);
    assert_null(s->fixed->create);
    assert_int_equal(s->fixed->conf_size, sizeof(timeout_fixed_conf));
    const px_directive *d = s->fixed->directives;
    assert_string_equal(d[0].name, "connect");
    assert_int_equal(d[0].type, PX_DIR_DURATION);
    assert_string_equal(d[0].def, "1s");
    assert_string_equal(d[0].min, "1ms");
    assert_null(d[0].max);
    assert_string_equal(d[1].name, "call");
    assert_string_equal(d[1].def, "1s");
    assert_string_equal(d[1].min, "1ms");
    assert_string_equal(d[1].max, "1h");
    assert_null(d[2].name);

    for (size_t i = 0; i < 3; i++) {
        const px_module *m = px_loader_at(s->l, i, NULL);
        assert_int_equal(m->abi_major, PX_ABI_MAJOR);
        assert_string_equal(m->signature, PX_MODULE_SIGNATURE);
        assert_true(m->version && m->version[0]);
        assert_true(m->description && m->description[0]);
    }
}

/* Three endpoints with the given weights, wired as the core hands them to a balancer. */
typedef struct eps3 {
    px_endpoint ep[3];
    px_endpoint *ptr[3];
} eps3;

static void eps3_init(eps3 *e, uint32_t w0, uint32_t w1, uint32_t w2)
{
    static const char *const addr[] = {"127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"};
    const uint32_t w[] = {w0, w1, w2};
    memset(e, 0, sizeof *e);
    for (uint32_t i = 0; i < 3; i++) {
        e->ep[i] = (px_endpoint){.address = addr[i], .index = i, .weight = w[i]};
        e->ptr[i] = &e->ep[i];
    }
}

static void *random_new(const px_module *m, int64_t seed)
{
    lb_random_conf conf;
    memset(&conf, 0, sizeof conf);
    apply_defaults(m, &conf);
    assert_int_equal(conf.seed, 0);
    conf.seed = seed;
    px_module_env env = {.config_file = "test", .server_id = "", .scope = "calc"};
    void *st = NULL;
    px_err err;
    assert_int_equal(m->create(&env, &conf, &st, &err), PX_OK);
    assert_non_null(st);
    return st;
}

/* Counts of `picks` picks over 3 endpoints; fails on -1 or an avoided index. */
static void pick_counts(const px_module *m, void *st, eps3 *e, const uint8_t avoid[3],
                        int picks, int counts[3])
{
    const px_balancer_ops *ops = m->ops;
    px_pick_ctx ctx = {.method = "calc.Calculator/Add", .avoid = avoid};
    counts[0] = counts[1] = counts[2] = 0;
    for (int i = 0; i < picks; i++) {
        int k = ops->pick(st, e->ptr, 3, &ctx);
        assert_in_range(k, 0, 2);
        assert_int_equal(avoid[k], 0);
        counts[k]++;
    }
}

/* |count - n p| within 6 standard deviations: a false failure has odds below 1e-8. */
static void assert_share(int count, int n, double p)
{
    double mean = n * p, var = n * p * (1 - p), dev = count - mean;
    if (dev * dev > 36 * var) {
        print_error("count %d is too far from %.0f (variance %.0f)\n", count, mean, var);
        fail();
    }
}

static void test_random_uniform_and_avoid(void **state)
{
    mods *s = *state;
    void *st = random_new(s->random, 42);
    eps3 e;
    eps3_init(&e, 1, 1, 1);
    int c[3];
    const int n = 30000;

    pick_counts(s->random, st, &e, (const uint8_t[]){0, 0, 0}, n, c);
    for (int i = 0; i < 3; i++)
        assert_share(c[i], n, 1.0 / 3);

    pick_counts(s->random, st, &e, (const uint8_t[]){0, 1, 0}, n, c);
    assert_int_equal(c[1], 0);
    assert_share(c[0], n, 0.5);
    assert_share(c[2], n, 0.5);

    pick_counts(s->random, st, &e, (const uint8_t[]){1, 1, 0}, 1000, c);
    assert_int_equal(c[2], 1000);

    const px_balancer_ops *ops = s->random->ops;
    px_pick_ctx ctx = {.avoid = (const uint8_t[]){1, 1, 1}};
    assert_int_equal(ops->pick(st, e.ptr, 3, &ctx), -1);
    assert_int_equal(ops->pick(st, e.ptr, 0, &ctx), -1);
    s->random->destroy(st);
}

static void test_random_weights(void **state)
{
    mods *s = *state;
    void *st = random_new(s->random, 7);
    eps3 e;
    eps3_init(&e, 1, 2, 3);
    int c[3];
    const int n = 30000;

    pick_counts(s->random, st, &e, (const uint8_t[]){0, 0, 0}, n, c);
    assert_share(c[0], n, 1.0 / 6);
    assert_share(c[1], n, 2.0 / 6);
    assert_share(c[2], n, 3.0 / 6);
    assert_true(c[0] < c[1] && c[1] < c[2]);

    /* Avoiding the heaviest leaves the others in ratio 1:2. */
    pick_counts(s->random, st, &e, (const uint8_t[]){0, 0, 1}, n, c);
    assert_int_equal(c[2], 0);
    assert_share(c[0], n, 1.0 / 3);
    assert_share(c[1], n, 2.0 / 3);
    s->random->destroy(st);
}

static void test_random_seed_reproducible(void **state)
{
    mods *s = *state;
    void *a = random_new(s->random, 1234), *b = random_new(s->random, 1234);
    void *other = random_new(s->random, 99);
    eps3 e;
    eps3_init(&e, 1, 1, 1);
    const px_balancer_ops *ops = s->random->ops;
    px_pick_ctx ctx = {.avoid = (const uint8_t[]){0, 0, 0}};
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        int ka = ops->pick(a, e.ptr, 3, &ctx);
        assert_int_equal(ka, ops->pick(b, e.ptr, 3, &ctx));
        differ += ka != ops->pick(other, e.ptr, 3, &ctx);
    }
    /* Two independent sequences agree on about a third of the picks. */
    assert_in_range(differ, 500, 830);
    s->random->destroy(a);
    s->random->destroy(b);
    s->random->destroy(other);
}

static void test_random_unseeded(void **state)
{
    mods *s = *state;
    void *st = random_new(s->random, 0);
    eps3 e;
    eps3_init(&e, 1, 1, 1);
    int c[3];
    pick_counts(s->random, st, &e, (const uint8_t[]){0, 0, 0}, 30000, c);
    for (int i = 0; i < 3; i++)
        assert_share(c[i], 30000, 1.0 / 3);
    s->random->destroy(st);
}

typedef struct pick_job {
    const px_module *m;
    void *st;
    eps3 *e;
    int counts[3];
} pick_job;

static void *pick_thread(void *arg)
{
    pick_job *j = arg;
    const px_balancer_ops *ops = j->m->ops;
    const uint8_t avoid[3] = {0, 1, 0};
    px_pick_ctx ctx = {.avoid = avoid};
    for (int i = 0; i < 20000; i++) {
        int k = ops->pick(j->st, j->e->ptr, 3, &ctx);
        if (k >= 0 && k < 3)
            j->counts[k]++;
    }
    return NULL;
}

static void test_random_threads(void **state)
{
    mods *s = *state;
    eps3 e;
    eps3_init(&e, 1, 1, 1);
    for (int seeded = 0; seeded < 2; seeded++) {
        void *st = random_new(s->random, seeded ? 5 : 0);
        pick_job jobs[4];
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            jobs[i] = (pick_job){.m = s->random, .st = st, .e = &e};
            assert_int_equal(pthread_create(&t[i], NULL, pick_thread, &jobs[i]), 0);
        }
        int total[3] = {0, 0, 0};
        for (int i = 0; i < 4; i++) {
            assert_int_equal(pthread_join(t[i], NULL), 0);
            for (int k = 0; k < 3; k++)
                total[k] += jobs[i].counts[k];
        }
        assert_int_equal(total[1], 0);
        assert_int_equal(total[0] + total[2], 80000);
        assert_share(total[0], 80000, 0.5);
        s->random->destroy(st);
    }
}

static void test_failfast_never_retries(void **state)
{
    mods *s = *state;
    const px_failover_ops *ops = s->failfast->ops;
    /* No create(): the core hands the conf pointer, NULL for a module without one. */
    assert_null(s->failfast->create);
    int done = 0;
    for (int st = 0; st < PX_STATUS_COUNT; st++) {
        for (unsigned attempt = 0; attempt < 3; attempt++) {
            px_attempt a = {.method = "calc.Calculator/Add", .endpoint = NULL,
                            .status = (px_status)st, .attempt = attempt, .sent = (int)attempt & 1,
                            .idempotent = 1, .remaining_us = 1000000};
            assert_int_equal(ops->on_result(NULL, &a), PX_FAILOVER_DONE);
            done++;
        }
    }
    assert_int_equal(done, 3 * PX_STATUS_COUNT);
}

/* An upstream of one endpoint as the core builds it, with failfast as its failover: the
 * core records every attempt to endpoint health (px_upstream_attempt_done), so a dead
 * endpoint is ejected although failfast reports nothing and never retries; and
 * px_endpoint_report, which modules built before ABI 1.2 still call, counts nothing. */
static void test_core_reports_health_under_failfast(void **state)
{
    mods *s = *state;
    const px_failover_ops *ops = s->failfast->ops;
    px_upstream_conf uc = {
        .name = "calc",
        .health = {.max_fails = 3, .fail_window_us = 60000000, .ejection_us = 1000000,
                   .max_ejection_us = 30000000, .max_ejected_percent = 100},
    };
    timeout_fixed_conf tconf = {.connect_us = 100000, .call_us = 300000};
    px_upstream up = {.conf = &uc, .config_file = "test", .n_live = 1, .balancer = s->random->ops,
                      .failover = ops, .timeout = s->fixed->ops, .timeout_state = &tconf};
    px_ep ep = {.pub = {.address = "127.0.0.1:7101", .weight = 1}, .up = &up, .member = 1};
    pthread_mutex_init(&ep.lock, NULL);

    /* The module alone, and the old report call, leave health alone. */
    px_attempt a = {.method = "calc.Calculator/Add", .endpoint = &ep.pub,
                    .status = PX_UNAVAILABLE, .sent = 1, .remaining_us = 1000000};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ops->on_result(NULL, &a), PX_FAILOVER_DONE);
        px_endpoint_report(&ep.pub, PX_UNAVAILABLE);
    }
    assert_int_equal(ep.fails, 0);
    assert_int_equal(px_endpoint_is_ejected(&ep.pub), 0);

    const px_status seq[] = {PX_UNAVAILABLE, PX_DEADLINE_EXCEEDED, PX_OK,
                             PX_INVALID_ARGUMENT, PX_UNAVAILABLE, PX_UNAVAILABLE};
    const int fails_after[] = {1, 2, 0, 0, 1, 2};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        px_failover_action act = px_upstream_attempt_done(
            &up, &ep, "calc.Calculator/Add", seq[i], 0, 1, 0, 0, NULL, 0, 1000, 1000000);
        assert_int_equal(act, PX_FAILOVER_DONE);
        assert_int_equal(ep.fails, fails_after[i]);
        assert_int_equal(px_endpoint_is_ejected(&ep.pub), 0);
    }
    /* The third failure in the window ejects it, although failfast never retried. */
    assert_int_equal(px_upstream_attempt_done(&up, &ep, "calc.Calculator/Add", PX_UNAVAILABLE,
                                              0, 1, 0, 0, NULL, 0, 1000, 1000000),
                     PX_FAILOVER_DONE);
    assert_int_equal(px_endpoint_is_ejected(&ep.pub), 1);
    assert_int_equal(up.n_ejected, 1);
    pthread_mutex_destroy(&ep.lock);
}

static void test_fixed_values(void **state)
{
    mods *s = *state;
    const px_timeout_ops *ops = s->fixed->ops;
    assert_null(ops->observe);

    /* Defaults as the config loader stores them: "1s" each. */
    timeout_fixed_conf conf;
    memset(&conf, 0, sizeof conf);
    apply_defaults(s->fixed, &conf);
    assert_int_equal(conf.connect_us, 1000000);
    assert_int_equal(conf.call_us, 1000000);
    assert_int_equal(ops->call_timeout_us(&conf, "calc.Calculator/Add"), 1000000);
    assert_int_equal(ops->connect_timeout_us(&conf), 1000000);

    /* connect: 100ms, call: 300ms, set by hand; the state is the conf itself. */
    conf = (timeout_fixed_conf){.connect_us = 100000, .call_us = 300000};
    assert_int_equal(ops->call_timeout_us(&conf, "calc.Calculator/Add"), 300000);
    assert_int_equal(ops->call_timeout_us(&conf, "calc.Calculator/Div"), 300000);
    assert_int_equal(ops->connect_timeout_us(&conf), 100000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptors),
        cmocka_unit_test(test_random_uniform_and_avoid),
        cmocka_unit_test(test_random_weights),
        cmocka_unit_test(test_random_seed_reproducible),
        cmocka_unit_test(test_random_unseeded),
        cmocka_unit_test(test_random_threads),
        cmocka_unit_test(test_failfast_never_retries),
        cmocka_unit_test(test_core_reports_health_under_failfast),
        cmocka_unit_test(test_fixed_values),
    };
    return cmocka_run_group_tests_name("modules_basic", tests, setup, teardown);
}
