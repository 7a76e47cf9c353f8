/* BALANCER "p2c_ewma": two random choices, the lower peak-EWMA latency x (outstanding + 1). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <plexus/plexus.h>
#include "lb_p2c_ewma.h"
#include "px_lb_util.h"

/* An endpoint with calls outstanding but no latency known yet costs this much more than
 * any measured one, so a new endpoint is probed by one call, not flooded (Finagle). */
#define EWMA_PENALTY 1e12

/*
 * Per-endpoint estimate, reached through px_endpoint.lb_data. feedback updates it under
 * `lock` (a read-modify-write of two fields); pick reads both fields with atomic loads
 * and no lock: a torn pair only misplaces the decay by one sample's age.
 */
typedef struct ewma_ep {
    pthread_mutex_t lock;
    uint64_t est_bits; /* double: the estimate in microseconds; 0 = none yet */
    int64_t stamp_us;  /* when est was last updated */
} ewma_ep;

typedef struct lb_ewma {
    double tau_us;
    double fail_penalty_us;
    px_lb_rng rng;
    ewma_ep *slots;
    px_endpoint **eps; /* the endpoints whose lb_data points into slots */
    size_t n;
    lb_p2c_ewma_clock now_us; /* CLOCK_MONOTONIC; a test's simulated time */
} lb_ewma;

static int64_t ewma_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

PX_API void lb_p2c_ewma_set_clock(void *state, lb_p2c_ewma_clock now_us)
{
    ((lb_ewma *)state)->now_us = now_us ? now_us : ewma_mono_us;
}

static double ewma_load(const ewma_ep *s, int64_t *stamp)
{
    uint64_t bits = __atomic_load_n(&s->est_bits, __ATOMIC_RELAXED);
    *stamp = __atomic_load_n(&s->stamp_us, __ATOMIC_RELAXED);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static void ewma_store(ewma_ep *s, double v, int64_t stamp)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    __atomic_store_n(&s->est_bits, bits, __ATOMIC_RELAXED);
    __atomic_store_n(&s->stamp_us, stamp, __ATOMIC_RELAXED);
}

/* The weight exp(-elapsed/tau) the past keeps after `elapsed` (uneven sample spacing). */
static double ewma_keep(const lb_ewma *st, int64_t elapsed_us)
{
    return elapsed_us <= 0 ? 1.0 : exp(-(double)elapsed_us / st->tau_us);
}

/*
 * What sending one more call to ep is expected to cost. The estimate decays toward 0
 * while nothing is heard (as in Finagle and tower), so a once-slow endpoint is probed
 * again after a few decay periods instead of being shunned for good.
 */
static double ewma_cost(const lb_ewma *st, const px_endpoint *ep, int64_t now)
{
    double inflight = (double)px_endpoint_inflight(ep);
    const ewma_ep *s = ep->lb_data;
    double est = 0;
    if (s != NULL) {
        int64_t stamp;
        est = ewma_load(s, &stamp);
        est *= ewma_keep(st, now - stamp);
    }
    double cost = est > 0 ? est * (inflight + 1) : inflight > 0 ? EWMA_PENALTY + inflight : 0;
    return cost / (double)px_lb_weight(ep);
}

static int ewma_pick(void *state, px_endpoint *const *eps, size_t n, const px_pick_ctx *ctx)
{
    lb_ewma *st = state;
    int a = -1, b = -1;
    int found = px_lb_two_free(&st->rng, ctx->avoid, n, &a, &b);
    if (found < 2)
        return found == 1 ? a : -1;
    int64_t now = st->now_us();
    /* Both were drawn at random, so keeping the first on a tie is unbiased. */
    return ewma_cost(st, eps[b], now) < ewma_cost(st, eps[a], now) ? b : a;
}

/*
 * Peak EWMA: a sample above the estimate replaces it at once (slowness is believed
 * immediately); a lower one is blended in by how long ago the last sample was.
 */
static void ewma_feedback(void *state, px_endpoint *ep, int64_t latency_us, px_status status)
{
    lb_ewma *st = state;
    ewma_ep *s = ep->lb_data;
    /* A cancelled attempt lost a hedge race or its caller gave up: it says nothing of ep. */
    if (s == NULL || status == PX_CANCELLED)
        return;
    double sample = latency_us > 0 ? (double)latency_us : 1.0;
    /* A refused or reset connection answers fast but serves nothing: charge it. */
    if (status == PX_UNAVAILABLE && sample < st->fail_penalty_us)
        sample = st->fail_penalty_us;
    pthread_mutex_lock(&s->lock);
    int64_t now = st->now_us(), stamp;
    double est = ewma_load(s, &stamp);
    if (sample > est) {
        est = sample;
    } else {
        double keep = ewma_keep(st, now - stamp);
        est = est * keep + sample * (1.0 - keep);
    }
    ewma_store(s, est, now);
    pthread_mutex_unlock(&s->lock);
}

static void ewma_release(lb_ewma *st)
{
    for (size_t i = 0; i < st->n; i++) {
        if (st->eps[i]->lb_data == &st->slots[i])
            st->eps[i]->lb_data = NULL;
        pthread_mutex_destroy(&st->slots[i].lock);
    }
    free(st->slots);
    free(st->eps);
    st->slots = NULL;
    st->eps = NULL;
    st->n = 0;
}

/* Fresh estimates for the new set (not concurrent with pick: the core calls it first). */
static void ewma_update(void *state, px_endpoint *const *eps, size_t n)
{
    lb_ewma *st = state;
    ewma_release(st);
    st->slots = calloc(n ? n : 1, sizeof *st->slots);
    st->eps = calloc(n ? n : 1, sizeof *st->eps);
    if (st->slots == NULL || st->eps == NULL) {
        /* Without slots every endpoint reads as unmeasured: p2c on outstanding calls. */
        free(st->slots);
        free(st->eps);
        st->slots = NULL;
        st->eps = NULL;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_init(&st->slots[i].lock, NULL);
        st->eps[i] = eps[i];
        eps[i]->lb_data = &st->slots[i];
    }
    st->n = n;
}

static px_status ewma_create(const px_module_env *env, const void *conf, void **state,
                             px_err *err)
{
    const lb_p2c_ewma_conf *c = conf;
    lb_ewma *st = calloc(1, sizeof *st);
    if (st == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "balancer p2c_ewma (upstream %s): out of memory",
                          env && env->scope ? env->scope : "?");
    st->tau_us = (double)c->decay_us;
    st->fail_penalty_us = (double)c->fail_penalty_us;
    st->rng.seed = (uint64_t)c->seed;
    st->now_us = ewma_mono_us;
    *state = st;
    return PX_OK;
}

static void ewma_destroy(void *state)
{
    lb_ewma *st = state;
    ewma_release(st);
    free(st);
}

static const px_directive ewma_directives[] = {
    {.name = "decay", .type = PX_DIR_DURATION, .offset = offsetof(lb_p2c_ewma_conf, decay_us),
     .def = "10s", .min = "1ms", .max = "1h",
     .help = "time constant of the latency average: older samples weigh exp(-age/decay)"},
    {.name = "fail_penalty", .type = PX_DIR_DURATION,
     .offset = offsetof(lb_p2c_ewma_conf, fail_penalty_us), .def = "100ms", .min = "0ms",
     .max = "1h",
     .help = "latency charged for an attempt that ended UNAVAILABLE (refused connections answer fast)"},
    {.name = "seed", .type = PX_DIR_INT, .offset = offsetof(lb_p2c_ewma_conf, seed), .def = "0",
     .help = "fixed random seed for reproducible draws; 0 seeds each thread from the clock"},
    {.name = NULL},
};

static const px_balancer_ops ewma_ops = {
    .update = ewma_update,
    .pick = ewma_pick,
    .feedback = ewma_feedback,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_BALANCER,
    .name = "p2c_ewma",
    .version = "1.0.0",
    .description = "latency-aware: two random choices, lower peak-EWMA latency x (outstanding+1)",
    .conf_size = sizeof(lb_p2c_ewma_conf),
    .directives = ewma_directives,
    .create = ewma_create,
    .destroy = ewma_destroy,
    .ops = &ewma_ops,
};
