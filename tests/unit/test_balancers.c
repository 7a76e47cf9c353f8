/* The balancer modules round_robin, least_loaded, p2c_ewma and consistent_hash, driven
 * through their ops as the core drives them. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dlfcn.h>
#include <cmocka.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_conf.h"
#include "px_test_module.h"
#include "../../modules/lb_consistent_hash/lb_consistent_hash.h"
#include "../../modules/lb_least_loaded/lb_least_loaded.h"
#include "../../modules/lb_p2c_ewma/lb_p2c_ewma.h"

enum { RR, LL, EWMA, CH, N_MODS };
static const char *const FILES[N_MODS] = {"lb_round_robin.so", "lb_least_loaded.so",
                                          "lb_p2c_ewma.so", "lb_consistent_hash.so"};

typedef struct mods {
    void *handle[N_MODS];
    const px_module *m[N_MODS];
} mods;

static int setup(void **state)
{
    mods *s = calloc(1, sizeof *s);
    *state = s;
    for (int i = 0; i < N_MODS; i++)
        if ((s->m[i] = px_test_load_module(FILES[i], &s->handle[i])) == NULL)
            return -1; /* the helper said why */
    return 0;
}

static int teardown(void **state)
{
    mods *s = *state;
    for (int i = 0; i < N_MODS; i++)
        if (s->handle[i])
            dlclose(s->handle[i]);
    free(s);
    return 0;
}

/* Up to 8 endpoints wired as the core hands them to a balancer. */
#define MAX_EPS 8
typedef struct eps {
    px_endpoint ep[MAX_EPS];
    px_endpoint *ptr[MAX_EPS];
    char addr[MAX_EPS][32];
    size_t n;
} eps;

/* n endpoints 127.0.0.1:(7101 + first + i), weight 1 unless weights says otherwise. */
static void eps_init(eps *e, size_t n, int first, const uint32_t *weights)
{
    memset(e, 0, sizeof *e);
    e->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(e->addr[i], sizeof e->addr[i], "127.0.0.1:%d", 7101 + first + (int)i);
        e->ep[i] = (px_endpoint){.address = e->addr[i], .index = (uint32_t)i,
                                 .weight = weights ? weights[i] : 1};
        e->ptr[i] = &e->ep[i];
    }
}

/* An instance made from the module's directive defaults (as the config loader stores
 * them), after `tweak` adjusted the conf; update() called with e when given. */
typedef void (*tweak_fn)(void *conf);

static void *lb_new(const px_module *m, tweak_fn tweak, eps *e)
{
    _Alignas(max_align_t) uint8_t conf[256] = {0}; /* any module's conf struct */
    assert_true(m->conf_size <= sizeof conf);
    px_err err;
    for (const px_directive *d = m->directives; d && d->name; d++)
        assert_int_equal(px_conf_set_default(d, conf, &err), PX_OK);
    if (tweak)
        tweak(conf);
    px_module_env env = {.config_file = "test.yaml", .server_id = "", .scope = "calc"};
    void *st = NULL;
    assert_int_equal(m->create(&env, conf, &st, &err), PX_OK);
    assert_non_null(st);
    const px_balancer_ops *ops = m->ops;
    if (e && ops->update)
        ops->update(st, e->ptr, e->n);
    return st;
}

static int pick(const px_module *m, void *st, eps *e, const uint8_t *avoid)
{
    const px_balancer_ops *ops = m->ops;
    px_pick_ctx ctx = {.method = "calc.Calculator/Add", .avoid = avoid};
    int k = ops->pick(st, e->ptr, e->n, &ctx);
    assert_in_range(k, 0, e->n - 1);
    assert_int_equal(avoid[k], 0);
    return k;
}

static int pick_key(const px_module *m, void *st, eps *e, const uint8_t *avoid, uint64_t key)
{
    const px_balancer_ops *ops = m->ops;
    px_pick_ctx ctx = {.method = "calc.Calculator/Add", .avoid = avoid, .hash_key = key,
                       .has_hash_key = 1};
    int k = ops->pick(st, e->ptr, e->n, &ctx);
    assert_in_range(k, 0, e->n - 1);
    assert_int_equal(avoid[k], 0);
    return k;
}

static void counts_of(const px_module *m, void *st, eps *e, const uint8_t *avoid, int picks,
                      int *counts)
{
    memset(counts, 0, e->n * sizeof *counts);
    for (int i = 0; i < picks; i++)
        counts[pick(m, st, e, avoid)]++;
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

static const uint8_t NONE[MAX_EPS] = {0};

/* ---- descriptors ---------------------------------------------------------------- */

static void test_descriptors(void **state)
{
    mods *s = *state;
    static const char *const names[N_MODS] = {"round_robin", "least_loaded", "p2c_ewma",
                                              "consistent_hash"};
    for (int i = 0; i < N_MODS; i++) {
        const px_module *m = s->m[i];
        assert_string_equal(m->name, names[i]);
        assert_int_equal(m->kind, PX_MOD_BALANCER);
        assert_int_equal(m->abi_major, PX_ABI_MAJOR);
        assert_string_equal(m->signature, PX_MODULE_SIGNATURE);
        assert_true(m->description && m->description[0]);
        assert_non_null(((const px_balancer_ops *)m->ops)->pick);
        px_err err;
        assert_int_equal(px_conf_check_table(m->directives, &err), PX_OK);
    }
    assert_null(s->m[RR]->directives);

    const px_directive *d = s->m[LL]->directives;
    assert_int_equal(s->m[LL]->conf_size, sizeof(lb_least_loaded_conf));
    assert_string_equal(d[0].name, "mode");
    assert_int_equal(d[0].type, PX_DIR_ENUM);
    assert_string_equal(d[0].def, "full");
    assert_string_equal(d[0].enum_values[0], "full");
    assert_string_equal(d[0].enum_values[1], "p2c");
    assert_null(d[0].enum_values[2]);
    assert_string_equal(d[1].name, "seed");
    assert_null(d[2].name);

    d = s->m[EWMA]->directives;
    assert_int_equal(s->m[EWMA]->conf_size, sizeof(lb_p2c_ewma_conf));
    assert_string_equal(d[0].name, "decay");
    assert_int_equal(d[0].type, PX_DIR_DURATION);
    assert_string_equal(d[0].def, "10s");
    assert_string_equal(d[1].name, "fail_penalty");
    assert_string_equal(d[1].def, "100ms");
    assert_string_equal(d[2].name, "seed");
    assert_null(d[3].name);
    assert_non_null(((const px_balancer_ops *)s->m[EWMA]->ops)->feedback);

    d = s->m[CH]->directives;
    assert_int_equal(s->m[CH]->conf_size, sizeof(lb_consistent_hash_conf));
    assert_string_equal(d[0].name, "vnodes");
    assert_string_equal(d[0].def, "160");
    assert_string_equal(d[1].name, "key_field");
    assert_int_equal(d[1].type, PX_DIR_STRING);
    assert_null(d[1].def);
    assert_string_equal(d[2].name, "seed");
    assert_null(d[3].name);
    assert_non_null(((const px_balancer_ops *)s->m[CH]->ops)->hash_key);
}

/* ---- every balancer: avoid flags ------------------------------------------------------ */

static void p2c_mode(void *conf)
{
    ((lb_least_loaded_conf *)conf)->mode = LB_LEAST_LOADED_P2C;
}

static void ch_tag(void *conf)
{
    ((lb_consistent_hash_conf *)conf)->key_field = "tag";
}

static void test_avoid_everywhere(void **state)
{
    mods *s = *state;
    const px_module *ms[] = {s->m[RR], s->m[LL], s->m[LL], s->m[EWMA], s->m[CH]};
    tweak_fn tweaks[] = {NULL, NULL, p2c_mode, NULL, ch_tag};
    const uint32_t w[5] = {3, 1, 2, 1, 5};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        eps e;
        eps_init(&e, 5, 0, w);
        void *st = lb_new(ms[i], tweaks[i], &e);
        const px_balancer_ops *ops = ms[i]->ops;
        /* Every mask of 5: never an avoided endpoint; -1 exactly when all are avoided. */
        for (unsigned mask = 0; mask < 32; mask++) {
            uint8_t avoid[5];
            for (int k = 0; k < 5; k++)
                avoid[k] = (mask >> k) & 1;
            for (int rep = 0; rep < 40; rep++) {
                px_pick_ctx ctx = {.avoid = avoid, .hash_key = (uint64_t)rep * 7919u,
                                   .has_hash_key = rep & 1};
                e.ep[rep % 5].inflight = (uint32_t)rep; /* loads change under the balancer */
                int k = ops->pick(st, e.ptr, 5, &ctx);
                if (mask == 31) {
                    assert_int_equal(k, -1);
                } else {
                    assert_in_range(k, 0, 4);
                    assert_int_equal(avoid[k], 0);
                }
                if (ops->feedback && k >= 0)
                    ops->feedback(st, e.ptr[k], 100 + rep, PX_OK);
            }
        }
        /* An empty set, before and after update says so. */
        px_pick_ctx none = {.avoid = NONE};
        assert_int_equal(ops->pick(st, e.ptr, 0, &none), -1);
        if (ops->update)
            ops->update(st, e.ptr, 0);
        assert_int_equal(ops->pick(st, e.ptr, 0, &none), -1);
        ms[i]->destroy(st);
    }
}

/* ---- round_robin ------------------------------------------------------------------- */

static void rr_sequence(const px_module *m, void *st, eps *e, const uint8_t *avoid, char *out,
                        int len)
{
    for (int i = 0; i < len; i++)
        out[i] = (char)('a' + pick(m, st, e, avoid));
    out[len] = 0;
}

static void test_round_robin_smooth(void **state)
{
    mods *s = *state;
    eps e;
    eps_init(&e, 3, 0, (const uint32_t[]){5, 1, 1});
    void *st = lb_new(s->m[RR], NULL, &e);
    char seq[32];
    /* nginx's smooth weighted round robin: the heavy one is spread out, not bunched. */
    rr_sequence(s->m[RR], st, &e, NONE, seq, 14);
    assert_string_equal(seq, "aabacaaaabacaa");

    /* Equal weights: plain rotation; an avoided endpoint is skipped, not queued. */
    eps_init(&e, 3, 0, NULL);
    const px_balancer_ops *ops = s->m[RR]->ops;
    ops->update(st, e.ptr, 3);
    rr_sequence(s->m[RR], st, &e, NONE, seq, 6);
    assert_string_equal(seq, "abcabc");
    rr_sequence(s->m[RR], st, &e, (const uint8_t[]){0, 1, 0}, seq, 6);
    assert_string_equal(seq, "acacac");

    /* Weights 3:2 over 500 picks: exactly 300 and 200. */
    eps_init(&e, 2, 0, (const uint32_t[]){3, 2});
    ops->update(st, e.ptr, 2);
    int c[2];
    counts_of(s->m[RR], st, &e, NONE, 500, c);
    assert_int_equal(c[0], 300);
    assert_int_equal(c[1], 200);
    s->m[RR]->destroy(st);
}

typedef struct rr_job {
    const px_module *m;
    void *st;
    eps *e;
    int counts[3];
} rr_job;

static void *rr_thread(void *arg)
{
    rr_job *j = arg;
    const px_balancer_ops *ops = j->m->ops;
    px_pick_ctx ctx = {.avoid = NONE};
    for (int i = 0; i < 30000; i++) {
        int k = ops->pick(j->st, j->e->ptr, 3, &ctx);
        if (k >= 0 && k < 3)
            j->counts[k]++;
    }
    return NULL;
}

static void test_round_robin_threads_exact(void **state)
{
    mods *s = *state;
    eps e;
    eps_init(&e, 3, 0, NULL);
    void *st = lb_new(s->m[RR], NULL, &e);
    rr_job jobs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (rr_job){.m = s->m[RR], .st = st, .e = &e};
        assert_int_equal(pthread_create(&t[i], NULL, rr_thread, &jobs[i]), 0);
    }
    int total[3] = {0, 0, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        for (int k = 0; k < 3; k++)
            total[k] += jobs[i].counts[k];
    }
    /* One shared cycle, whichever thread picks: 120,000 picks, exactly a third each. */
    for (int k = 0; k < 3; k++)
        assert_int_equal(total[k], 40000);
    s->m[RR]->destroy(st);
}

/* ---- least_loaded ---------------------------------------------------------------- */

static void seed_11(void *conf)
{
    ((lb_least_loaded_conf *)conf)->seed = 11;
}

static void test_least_loaded_full(void **state)
{
    mods *s = *state;
    eps e;
    eps_init(&e, 3, 0, NULL);
    void *st = lb_new(s->m[LL], seed_11, &e);
    int c[3];

    e.ep[0].inflight = 5;
    e.ep[1].inflight = 2;
    e.ep[2].inflight = 7;
    counts_of(s->m[LL], st, &e, NONE, 1000, c);
    assert_int_equal(c[1], 1000);
    counts_of(s->m[LL], st, &e, (const uint8_t[]){0, 1, 0}, 1000, c);
    assert_int_equal(c[0], 1000); /* the least loaded of those left */

    /* A tie between 0 and 1 is broken at random, evenly; 2 never wins. */
    e.ep[0].inflight = 3;
    e.ep[1].inflight = 3;
    e.ep[2].inflight = 9;
    counts_of(s->m[LL], st, &e, NONE, 30000, c);
    assert_int_equal(c[2], 0);
    assert_share(c[0], 30000, 0.5);
    assert_share(c[1], 30000, 0.5);
    /* All idle: a three-way tie, a third each. */
    e.ep[0].inflight = e.ep[1].inflight = e.ep[2].inflight = 0;
    counts_of(s->m[LL], st, &e, NONE, 30000, c);
    for (int k = 0; k < 3; k++)
        assert_share(c[k], 30000, 1.0 / 3);
    s->m[LL]->destroy(st);

    /* Load is per unit of weight: 4 calls on weight 4 beat 2 calls on weight 1. */
    eps_init(&e, 2, 0, (const uint32_t[]){1, 4});
    st = lb_new(s->m[LL], seed_11, &e);
    e.ep[0].inflight = 2;
    e.ep[1].inflight = 4;
    counts_of(s->m[LL], st, &e, NONE, 100, c);
    assert_int_equal(c[1], 100);
    s->m[LL]->destroy(st);
}

static void p2c_seeded(void *conf)
{
    lb_least_loaded_conf *c = conf;
    c->mode = LB_LEAST_LOADED_P2C;
    c->seed = 5;
}

static void test_least_loaded_p2c(void **state)
{
    mods *s = *state;
    eps e;
    eps_init(&e, 3, 0, NULL);
    void *st = lb_new(s->m[LL], p2c_seeded, &e);
    int c[3];

    /* The busiest of three is in 2 of 3 pairs and loses each time. */
    e.ep[0].inflight = 50;
    counts_of(s->m[LL], st, &e, NONE, 30000, c);
    assert_int_equal(c[0], 0);
    assert_share(c[1], 30000, 0.5);
    assert_share(c[2], 30000, 0.5);

    /* p2c is not a full scan: the middle one wins only when paired with the busiest. */
    e.ep[1].inflight = 10;
    counts_of(s->m[LL], st, &e, NONE, 30000, c);
    assert_int_equal(c[0], 0);
    assert_share(c[1], 30000, 1.0 / 3);
    assert_share(c[2], 30000, 2.0 / 3);

    /* A single candidate is returned however loaded it is. */
    counts_of(s->m[LL], st, &e, (const uint8_t[]){0, 1, 1}, 100, c);
    assert_int_equal(c[0], 100);

    /* Idle: uniform. */
    e.ep[0].inflight = e.ep[1].inflight = 0;
    counts_of(s->m[LL], st, &e, NONE, 30000, c);
    for (int k = 0; k < 3; k++)
        assert_share(c[k], 30000, 1.0 / 3);
    s->m[LL]->destroy(st);
}

/* ---- p2c_ewma --------------------------------------------------------------------- */

static void ewma_seeded(void *conf)
{
    ((lb_p2c_ewma_conf *)conf)->seed = 3;
}

static void feed(const px_module *m, void *st, px_endpoint *ep, int64_t us, int times)
{
    const px_balancer_ops *ops = m->ops;
    for (int i = 0; i < times; i++)
        ops->feedback(st, ep, us, PX_OK);
}

static void test_p2c_ewma_prefers_fast(void **state)
{
    mods *s = *state;
    const px_module *m = s->m[EWMA];
    eps e;
    eps_init(&e, 3, 0, NULL);
    void *st = lb_new(m, ewma_seeded, &e);
    int c[3];
    feed(m, st, &e.ep[0], 100, 20);
    feed(m, st, &e.ep[1], 100, 20);
    feed(m, st, &e.ep[2], 50000, 20);
    counts_of(m, st, &e, NONE, 30000, c);
    assert_int_equal(c[2], 0);
    /* The two fast ones share: half each, or 2/3 for ep0 when its estimate is a few
     * microseconds older and so decayed a hair more (a strictly lower cost wins). */
    assert_in_range(c[0], 30000 / 3 - 1000, 2 * 30000 / 3 + 1000);

    /* Cost is latency x (outstanding + 1): 1000 calls queued on a fast one make it
     * dearer than the slow idle one. */
    e.ep[0].inflight = 1000;
    counts_of(m, st, &e, NONE, 30000, c);
    assert_int_equal(c[0], 0);
    assert_true(c[2] > 0);
    e.ep[0].inflight = 0;

    /* Peak: one slow reply makes ep1 slow at once; fast replies right after barely
     * lower it (the average decays over `decay`, 10s here). */
    feed(m, st, &e.ep[1], 20000, 1);
    feed(m, st, &e.ep[1], 100, 50);
    counts_of(m, st, &e, (const uint8_t[]){0, 0, 1}, 1000, c);
    assert_int_equal(c[0], 1000);
    m->destroy(st);
}

static void ewma_fast_decay(void *conf)
{
    lb_p2c_ewma_conf *c = conf;
    c->decay_us = 1000; /* 1ms */
    c->seed = 9;
}

static void test_p2c_ewma_decay_and_unknown(void **state)
{
    mods *s = *state;
    const px_module *m = s->m[EWMA];
    const px_balancer_ops *ops = m->ops;
    eps e;
    eps_init(&e, 2, 0, NULL);
    void *st = lb_new(m, ewma_fast_decay, &e);
    int c[2];
    feed(m, st, &e.ep[0], 50000, 1);
    /* 20 decay periods without news: ep0's estimate is ~e^-20 of what it was, so the
     * once-slow endpoint is tried again ahead of one just measured at 100us. */
    struct timespec ts = {0, 20 * 1000 * 1000};
    while (nanosleep(&ts, &ts) != 0)
        ;
    feed(m, st, &e.ep[1], 100, 1);
    counts_of(m, st, &e, NONE, 100, c);
    assert_int_equal(c[0], 100);
    m->destroy(st);

    /* No latency known yet: free when idle, a heavy penalty once a call is out on it. */
    st = lb_new(m, ewma_seeded, &e);
    feed(m, st, &e.ep[1], 10000, 1);
    counts_of(m, st, &e, NONE, 100, c);
    assert_int_equal(c[0], 100);
    e.ep[0].inflight = 1;
    counts_of(m, st, &e, NONE, 100, c);
    assert_int_equal(c[1], 100);
    e.ep[0].inflight = 0;

    /* A refused connection is charged fail_penalty (100ms), not its 50us; a cancelled
     * attempt teaches nothing. */
    ops->feedback(st, &e.ep[0], 50, PX_UNAVAILABLE);
    ops->feedback(st, &e.ep[1], 1, PX_CANCELLED);
    counts_of(m, st, &e, NONE, 100, c);
    assert_int_equal(c[1], 100);
    m->destroy(st);
    /* destroy hands the lb_data slots back. */
    assert_null(e.ep[0].lb_data);
    assert_null(e.ep[1].lb_data);
}

typedef struct ewma_job {
    const px_module *m;
    void *st;
    eps *e;
    int picks;
} ewma_job;

static void *ewma_thread(void *arg)
{
    ewma_job *j = arg;
    const px_balancer_ops *ops = j->m->ops;
    px_pick_ctx ctx = {.avoid = NONE};
    for (int i = 0; i < 20000; i++) {
        int k = ops->pick(j->st, j->e->ptr, j->e->n, &ctx);
        if (k < 0)
            continue;
        j->picks++;
        /* endpoint 2 answers 100 times slower */
        ops->feedback(j->st, j->e->ptr[k], k == 2 ? 10000 : 100, PX_OK);
    }
    return NULL;
}

static void test_p2c_ewma_threads(void **state)
{
    mods *s = *state;
    eps e;
    eps_init(&e, 3, 0, NULL);
    void *st = lb_new(s->m[EWMA], NULL, &e);
    ewma_job jobs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (ewma_job){.m = s->m[EWMA], .st = st, .e = &e};
        assert_int_equal(pthread_create(&t[i], NULL, ewma_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(jobs[i].picks, 20000);
    }
    /* After its first slow reply endpoint 2 loses every pair: far fewer than a third. */
    int c[3];
    counts_of(s->m[EWMA], st, &e, NONE, 3000, c);
    assert_int_equal(c[2], 0);
    s->m[EWMA]->destroy(st);
}

/* ---- consistent_hash ---------------------------------------------------------------- */

#define N_KEYS 10000

static uint64_t key_of(int i)
{
    return (uint64_t)i; /* small consecutive keys: the ring must spread them itself */
}

/* The port of the endpoint each key lands on. */
static void ch_map(const px_module *m, void *st, eps *e, const uint8_t *avoid, int *where)
{
    for (int i = 0; i < N_KEYS; i++)
        where[i] = atoi(strchr(e->addr[pick_key(m, st, e, avoid, key_of(i))], ':') + 1);
}

static void test_consistent_hash_same_key_and_spread(void **state)
{
    mods *s = *state;
    const px_module *m = s->m[CH];
    eps e;
    eps_init(&e, 5, 0, NULL);
    void *a = lb_new(m, NULL, &e), *b = lb_new(m, NULL, &e);
    int c[5] = {0};
    for (int i = 0; i < N_KEYS; i++) {
        int k = pick_key(m, a, &e, NONE, key_of(i));
        c[k]++;
        /* The same key: the same endpoint, again and in another instance (process). */
        assert_int_equal(pick_key(m, a, &e, NONE, key_of(i)), k);
        assert_int_equal(pick_key(m, b, &e, NONE, key_of(i)), k);
    }
    /* 160 points each: every share within 0.2 +- 0.06. */
    for (int k = 0; k < 5; k++)
        assert_in_range(c[k], 1400, 2600);
    m->destroy(a);
    m->destroy(b);

    /* Weight 3 owns three times the arcs. */
    eps_init(&e, 2, 0, (const uint32_t[]){1, 3});
    a = lb_new(m, NULL, &e);
    int w[2] = {0, 0};
    for (int i = 0; i < N_KEYS; i++)
        w[pick_key(m, a, &e, NONE, key_of(i))]++;
    assert_in_range(w[1], 6800, 8200);
    m->destroy(a);

    /* Without a key: random, weighted, avoid respected. */
    eps_init(&e, 3, 0, NULL);
    a = lb_new(m, NULL, &e);
    int r[3];
    counts_of(m, a, &e, (const uint8_t[]){0, 0, 1}, 30000, r);
    assert_int_equal(r[2], 0);
    assert_share(r[0], 30000, 0.5);
    m->destroy(a);
}

static void test_consistent_hash_minimal_movement(void **state)
{
    mods *s = *state;
    const px_module *m = s->m[CH];
    static int before[N_KEYS], after[N_KEYS];
    eps e4, e5;
    eps_init(&e4, 4, 0, NULL);
    eps_init(&e5, 5, 0, NULL); /* the same four plus 127.0.0.1:7105 */
    void *st = lb_new(m, NULL, &e4);
    ch_map(m, st, &e4, NONE, before);
    const px_balancer_ops *ops = m->ops;
    ops->update(st, e5.ptr, 5);
    ch_map(m, st, &e5, NONE, after);
    int moved = 0;
    for (int i = 0; i < N_KEYS; i++) {
        if (after[i] != before[i]) {
            assert_int_equal(after[i], 7105); /* a key only ever moves to the newcomer */
            moved++;
        }
    }
    /* About 1/5 of the keys move (fixed addresses and keys: the count is exact). */
    assert_in_range(moved, N_KEYS / 5 - 600, N_KEYS / 5 + 600);

    /* Removing 127.0.0.1:7103 (and listing the rest in another order) moves only its keys. */
    eps e4b;
    eps_init(&e4b, 4, 0, NULL);
    const int ports[4] = {7105, 7101, 7104, 7102};
    for (int i = 0; i < 4; i++)
        snprintf(e4b.addr[i], sizeof e4b.addr[i], "127.0.0.1:%d", ports[i]);
    ops->update(st, e4b.ptr, 4);
    ch_map(m, st, &e4b, NONE, before);
    moved = 0;
    for (int i = 0; i < N_KEYS; i++) {
        if (after[i] != 7103)
            assert_int_equal(before[i], after[i]);
        else
            moved++;
    }
    assert_in_range(moved, N_KEYS / 5 - 600, N_KEYS / 5 + 600);
    m->destroy(st);
}

static void test_consistent_hash_avoid_walks_ring(void **state)
{
    mods *s = *state;
    const px_module *m = s->m[CH];
    static int full[N_KEYS], skipped[N_KEYS], without[N_KEYS];
    eps e5, e4;
    eps_init(&e5, 5, 0, NULL);
    void *st = lb_new(m, NULL, &e5);
    ch_map(m, st, &e5, NONE, full);
    /* Avoiding 7102 sends its keys where a ring without it would, and no others move. */
    ch_map(m, st, &e5, (const uint8_t[]){0, 1, 0, 0, 0}, skipped);
    eps_init(&e4, 4, 0, NULL);
    const int ports[4] = {7101, 7103, 7104, 7105};
    for (int i = 0; i < 4; i++)
        snprintf(e4.addr[i], sizeof e4.addr[i], "127.0.0.1:%d", ports[i]);
    void *st4 = lb_new(m, NULL, &e4);
    ch_map(m, st4, &e4, NONE, without);
    for (int i = 0; i < N_KEYS; i++) {
        assert_int_not_equal(skipped[i], 7102);
        assert_int_equal(skipped[i], without[i]);
        if (full[i] != 7102)
            assert_int_equal(skipped[i], full[i]);
    }
    /* One left: always it; none left: -1. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(pick_key(m, st, &e5, (const uint8_t[]){1, 1, 1, 0, 1}, key_of(i)), 3);
    px_pick_ctx ctx = {.avoid = (const uint8_t[]){1, 1, 1, 1, 1}, .hash_key = 1,
                       .has_hash_key = 1};
    assert_int_equal(((const px_balancer_ops *)m->ops)->pick(st, e5.ptr, 5, &ctx), -1);
    m->destroy(st);
    m->destroy(st4);
}

/* Runs hash_key with stderr captured into buf. */
static int hash_key_captured(const px_module *m, void *st, const ProtobufCMessage *req,
                             uint64_t *key, char *buf, size_t cap)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 2);
    int r = ((const px_balancer_ops *)m->ops)->hash_key(st, "calc.Calculator/Echo", req, key);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, cap - 1, tmp);
    buf[n] = 0;
    fclose(tmp);
    return r;
}

static void ch_field(void *conf, const char *name)
{
    ((lb_consistent_hash_conf *)conf)->key_field = (char *)name;
}
static void ch_a(void *conf) { ch_field(conf, "a"); }
static void ch_double(void *conf) { ch_field(conf, "f_double"); }
static void ch_bytes(void *conf) { ch_field(conf, "f_bytes"); }
static void ch_oneof(void *conf) { ch_field(conf, "c_text"); }
static void ch_empty(void *conf) { ch_field(conf, ""); }

static void test_consistent_hash_key_field(void **state)
{
    mods *s = *state;
    const px_module *m = s->m[CH];
    const px_balancer_ops *ops = m->ops;
    uint64_t k1 = 0, k2 = 0;

    /* No key_field: the op finds nothing, calls are spread. */
    void *st = lb_new(m, NULL, NULL);
    Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    add.tag = "user-1";
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Add", &add.base, &k1), 0);
    m->destroy(st);

    /* A string field: its FNV-1a (pinned: a ring must hash alike in every release). */
    st = lb_new(m, ch_tag, NULL);
    add.tag = "a";
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Add", &add.base, &k1), 1);
    assert_true(k1 == 0xaf63dc4c8601ec8cull);
    add.tag = "user-1";
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Add", &add.base, &k1), 1);
    Calc__AddRequest other = CALC__ADD_REQUEST__INIT;
    other.a = 99; /* other fields do not matter */
    other.tag = "user-1";
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Add", &other.base, &k2), 1);
    assert_true(k1 == k2);
    other.tag = "user-2";
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Add", &other.base, &k2), 1);
    assert_true(k1 != k2);
    /* Empty (proto3: unset) or a message without the field: no key. */
    k2 = 77;
    other.tag = "";
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Add", &other.base, &k2), 0);
    Calc__WhoamiRequest who = CALC__WHOAMI_REQUEST__INIT;
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Whoami", &who.base, &k2), 0);
    assert_true(k2 == 77); /* left alone */
    m->destroy(st);

    /* An integer field: hashed as its 8 little-endian bytes; 0 is a key too. */
    st = lb_new(m, ch_a, NULL);
    add.a = 42;
    other.a = 42;
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Add", &add.base, &k1), 1);
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Add", &other.base, &k2), 1);
    assert_true(k1 == k2);
    other.a = 0;
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Add", &other.base, &k2), 1);
    assert_true(k1 != k2);
    m->destroy(st);

    /* Bytes and a oneof member (a key only while it is the chosen case). */
    Calc__EchoMsg echo = CALC__ECHO_MSG__INIT;
    st = lb_new(m, ch_bytes, NULL);
    echo.f_bytes.data = (uint8_t *)"a";
    echo.f_bytes.len = 1;
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Echo", &echo.base, &k2), 1);
    assert_true(k2 == 0xaf63dc4c8601ec8cull);
    m->destroy(st);
    st = lb_new(m, ch_oneof, NULL);
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Echo", &echo.base, &k2), 0);
    echo.choice_case = CALC__ECHO_MSG__CHOICE_C_TEXT;
    echo.c_text = "a";
    assert_int_equal(ops->hash_key(st, "calc.Calculator/Echo", &echo.base, &k2), 1);
    assert_true(k2 == 0xaf63dc4c8601ec8cull);
    m->destroy(st);

    /* A field that cannot be a key: no key, and one warning that says why. */
    st = lb_new(m, ch_double, NULL);
    char msg[1024];
    assert_int_equal(hash_key_captured(m, st, &echo.base, &k2, msg, sizeof msg), 0);
    assert_string_equal(msg, "plexus: balancer consistent_hash (upstream calc): key_field "
                             "'f_double' of calc.EchoMsg (method calc.Calculator/Echo) is not a "
                             "string, bytes, integer, bool or enum field; such calls are spread "
                             "at random\n");
    assert_int_equal(hash_key_captured(m, st, &echo.base, &k2, msg, sizeof msg), 0);
    assert_string_equal(msg, ""); /* once */
    m->destroy(st);

    /* An empty key_field is refused at create. */
    _Alignas(max_align_t) uint8_t conf[256] = {0}; /* any module's conf struct */
    px_err err;
    for (const px_directive *d = m->directives; d && d->name; d++)
        assert_int_equal(px_conf_set_default(d, conf, &err), PX_OK);
    ch_empty(conf);
    px_module_env env = {.config_file = "test.yaml", .server_id = "", .scope = "calc"};
    void *bad = NULL;
    assert_int_equal(m->create(&env, conf, &bad, &err), PX_INVALID_ARGUMENT);
    assert_string_equal(err.msg, "balancer consistent_hash (upstream calc): key_field is empty; "
                                 "name a request field or leave the key out");
    assert_null(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptors),
        cmocka_unit_test(test_avoid_everywhere),
        cmocka_unit_test(test_round_robin_smooth),
        cmocka_unit_test(test_round_robin_threads_exact),
        cmocka_unit_test(test_least_loaded_full),
        cmocka_unit_test(test_least_loaded_p2c),
        cmocka_unit_test(test_p2c_ewma_prefers_fast),
        cmocka_unit_test(test_p2c_ewma_decay_and_unknown),
        cmocka_unit_test(test_p2c_ewma_threads),
        cmocka_unit_test(test_consistent_hash_same_key_and_spread),
        cmocka_unit_test(test_consistent_hash_minimal_movement),
        cmocka_unit_test(test_consistent_hash_avoid_walks_ring),
        cmocka_unit_test(test_consistent_hash_key_field),
    };
    return cmocka_run_group_tests_name("balancers", tests, setup, teardown);
}
