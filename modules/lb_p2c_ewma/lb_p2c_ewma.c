/* BALANCER "p2c_ewma": two random choices, the lower peak-EWMA latency x (outstanding + 1). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <plexus/plexus.h>
#include "lb_p2c_ewma.h"
#include "px_lb_util.h"

/* An endpoint with no latency known yet costs this much more than any measured one:
 * its first call is a probe (below), and while that is out it gets no other. */
#define EWMA_PENALTY 1e12
/* "Never" as a time stamp: far in the past, yet now - EWMA_NEVER cannot overflow. */
#define EWMA_NEVER (INT64_MIN / 4)

/* A latency estimate and the time of its last sample, read and written with atomics. */
typedef struct ewma_avg {
    uint64_t bits;    /* double, in microseconds; 0 = none yet */
    int64_t stamp_us; /* when it last took a sample */
} ewma_avg;

/*
 * Per-endpoint estimate, reached through px_endpoint.lb_data. feedback updates `est`
 * under `lock` (a read-modify-write of two fields); pick reads the fields with atomic
 * loads and no lock: a torn pair only misplaces the decay by one sample's age. Made by
 * the first update that lists the endpoint and kept until destroy (endpoints live as
 * long as the upstream): an endpoint that stays keeps its estimate across updates, one
 * that comes back finds it (stale after stale_after, so its first sample replaces it).
 */
typedef struct ewma_ep {
    pthread_mutex_t lock;
    ewma_avg est;
    int64_t set_us;   /* when a sample last replaced est (a peak or a refresh); lock */
    int64_t probe_us; /* when pick last granted a probe (claimed by CAS) */
} ewma_ep;

typedef struct lb_ewma {
    double tau_us;
    double fail_penalty_us;
    int64_t stale_after_us;
    lb_p2c_ewma_clock now_us; /* CLOCK_MONOTONIC; a test's simulated time */
    px_lb_rng rng;
    ewma_ep **slots;   /* every estimate made (update and destroy only) ... */
    px_endpoint **eps; /* ... and the endpoint whose lb_data points to it */
    size_t n, cap;
    /* double: the upstream's typical latency now (ewma_ref_add); 0 = none yet.
     * Written by every feedback, so kept off the cache line pick reads above. */
    _Alignas(64) uint64_t ref_bits;
} lb_ewma;

/* An endpoint's estimate; NULL before an update listed it. Acquire: update publishes a
 * new estimate while picks on other threads run. */
static ewma_ep *ewma_slot(const px_endpoint *ep)
{
    return __atomic_load_n(&ep->lb_data, __ATOMIC_ACQUIRE);
}

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

static double ewma_load(const ewma_avg *a, int64_t *stamp)
{
    uint64_t bits = __atomic_load_n(&a->bits, __ATOMIC_RELAXED);
    *stamp = __atomic_load_n(&a->stamp_us, __ATOMIC_RELAXED);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static void ewma_store(ewma_avg *a, double v, int64_t stamp)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    __atomic_store_n(&a->bits, bits, __ATOMIC_RELAXED);
    __atomic_store_n(&a->stamp_us, stamp, __ATOMIC_RELAXED);
}

/* The weight exp(-elapsed/tau) the past keeps after `elapsed` (uneven sample spacing). */
static double ewma_keep(const lb_ewma *st, int64_t elapsed_us)
{
    return elapsed_us <= 0 ? 1.0 : exp(-(double)elapsed_us / st->tau_us);
}

/*
 * The reference an unrefreshed estimate decays toward: the geometric mean of about the
 * last EWMA_REF_SAMPLES samples of any endpoint. Counted per sample, not weighted by
 * time: a stall's one 300ms sample, after 300ms in which nothing else came back, would
 * otherwise weigh as much as 300ms of ordinary samples. In logs, so one outlier moves
 * it by a factor (300ms against 100us: x1.13), not by its size. Updated without a
 * lock: two feedbacks racing lose one sample, which an average can afford, where a
 * lock would serialise every thread's feedback on one cache line.
 */
#define EWMA_REF_SAMPLES 64

static void ewma_ref_add(lb_ewma *st, double sample)
{
    uint64_t bits = __atomic_load_n(&st->ref_bits, __ATOMIC_RELAXED);
    double ref;
    memcpy(&ref, &bits, sizeof ref);
    ref = ref > 0 ? ref * exp(log(sample / ref) / EWMA_REF_SAMPLES) : sample;
    memcpy(&bits, &ref, sizeof bits);
    __atomic_store_n(&st->ref_bits, bits, __ATOMIC_RELAXED);
}

static double ewma_ref(const lb_ewma *st)
{
    uint64_t bits = __atomic_load_n(&st->ref_bits, __ATOMIC_RELAXED);
    double ref;
    memcpy(&ref, &bits, sizeof ref);
    return ref;
}

/*
 * A probe: ep has told nothing for stale_after and has no call out, so it wins this
 * comparison whatever its stale estimate says; otherwise an endpoint that once looked
 * worse never gets the call that would show it is not. The CAS on probe_us lets one
 * pick among racing threads claim it (inflight rises only after pick returns), and
 * the next only stale_after later, even if this probe never reports back.
 */
static int ewma_probe(const lb_ewma *st, const px_endpoint *ep, int64_t now)
{
    ewma_ep *s = ewma_slot(ep);
    if (s == NULL || px_endpoint_inflight(ep) != 0)
        return 0;
    int64_t heard = __atomic_load_n(&s->est.stamp_us, __ATOMIC_RELAXED);
    int64_t probed = __atomic_load_n(&s->probe_us, __ATOMIC_RELAXED);
    if (now - heard < st->stale_after_us || now - probed < st->stale_after_us)
        return 0;
    return __atomic_compare_exchange_n(&s->probe_us, &probed, now, 0, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED);
}

/*
 * What sending one more call to ep is expected to cost. While nothing is heard from
 * ep, its estimate decays toward the upstream's reference latency (not toward 0, as
 * in Finagle and tower: an endpoint idle for long would look free and draw a flood).
 */
static double ewma_cost(const lb_ewma *st, const px_endpoint *ep, double ref, int64_t now)
{
    double inflight = (double)px_endpoint_inflight(ep);
    const ewma_ep *s = ewma_slot(ep);
    double est = 0;
    if (s != NULL) {
        int64_t stamp;
        est = ewma_load(&s->est, &stamp);
        if (est > 0 && ref > 0)
            est = ref + (est - ref) * ewma_keep(st, now - stamp);
    }
    double cost = est > 0 ? est * (inflight + 1) : EWMA_PENALTY + inflight;
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
    /* Both were drawn at random, so trying a first, or keeping a on a tie, is unbiased. */
    if (ewma_probe(st, eps[a], now))
        return a;
    if (ewma_probe(st, eps[b], now))
        return b;
    double ref = ewma_ref(st);
    return ewma_cost(st, eps[b], ref, now) < ewma_cost(st, eps[a], ref, now) ? b : a;
}

/*
 * Peak EWMA with a bounded hold: a sample above the estimate replaces it at once
 * (slowness is believed immediately); a lower one is blended in by how long ago the
 * last sample was. An estimate no sample has replaced for stale_after is stale, and
 * the next sample replaces it: after a silence that is the probe's reply, the only
 * news since; under traffic it ends a peak nothing has matched since. Blended in with
 * weight 1 - exp(-gap/decay) instead, a stall's 300ms would stand for over a minute,
 * and a client-side hiccup charged to whichever endpoints had calls out would set
 * identical servers apart for as long.
 */
static void ewma_feedback(void *state, px_endpoint *ep, int64_t latency_us, px_status status)
{
    lb_ewma *st = state;
    ewma_ep *s = ewma_slot(ep);
    /* A cancelled attempt lost a hedge race or its caller gave up: it says nothing of ep. */
    if (s == NULL || status == PX_CANCELLED)
        return;
    double sample = latency_us > 0 ? (double)latency_us : 1.0;
    /* A refused or reset connection answers fast but serves nothing: charge it. */
    if (status == PX_UNAVAILABLE && sample < st->fail_penalty_us)
        sample = st->fail_penalty_us;
    pthread_mutex_lock(&s->lock);
    int64_t now = st->now_us(), stamp;
    double est = ewma_load(&s->est, &stamp);
    if (sample > est || now - s->set_us >= st->stale_after_us) {
        est = sample;
        s->set_us = now;
    } else {
        double keep = ewma_keep(st, now - stamp);
        est = est * keep + sample * (1.0 - keep);
    }
    ewma_store(&s->est, est, now);
    pthread_mutex_unlock(&s->lock);
    ewma_ref_add(st, sample);
}

static void ewma_release(lb_ewma *st)
{
    for (size_t i = 0; i < st->n; i++) {
        if (st->eps[i]->lb_data == st->slots[i])
            st->eps[i]->lb_data = NULL;
        pthread_mutex_destroy(&st->slots[i]->lock);
        free(st->slots[i]);
    }
    free(st->slots);
    free(st->eps);
    st->slots = NULL;
    st->eps = NULL;
    st->n = st->cap = 0;
}

/* An estimate for every endpoint listed for the first time; the others keep theirs.
 * Published with release, so a pick on another thread sees it whole or not at all
 * (then the endpoint counts as unmeasured). */
static void ewma_update(void *state, px_endpoint *const *eps, size_t n)
{
    lb_ewma *st = state;
    for (size_t i = 0; i < n; i++) {
        if (ewma_slot(eps[i]) != NULL)
            continue;
        if (st->n == st->cap) {
            size_t cap = st->cap ? 2 * st->cap : 8;
            ewma_ep **slots = realloc(st->slots, cap * sizeof *slots);
            if (slots != NULL)
                st->slots = slots;
            px_endpoint **owners = slots ? realloc(st->eps, cap * sizeof *owners) : NULL;
            if (owners == NULL)
                return; /* out of memory: the rest stay unmeasured (p2c on load) */
            st->eps = owners;
            st->cap = cap;
        }
        ewma_ep *s = calloc(1, sizeof *s);
        if (s == NULL)
            return;
        pthread_mutex_init(&s->lock, NULL);
        s->est.stamp_us = EWMA_NEVER;
        s->set_us = EWMA_NEVER;
        s->probe_us = EWMA_NEVER;
        st->slots[st->n] = s;
        st->eps[st->n++] = eps[i];
        __atomic_store_n(&eps[i]->lb_data, s, __ATOMIC_RELEASE);
    }
}

static px_status ewma_create(const px_module_env *env, const void *conf, void **state,
                             px_err *err)
{
    const lb_p2c_ewma_conf *c = conf;
    /* Aligned as its type says: ref_bits must start a cache line of its own. */
    lb_ewma *st = aligned_alloc(_Alignof(lb_ewma), sizeof *st);
    if (st == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "balancer p2c_ewma (upstream %s): out of memory",
                          env && env->scope ? env->scope : "?");
    memset(st, 0, sizeof *st);
    st->tau_us = (double)c->decay_us;
    st->fail_penalty_us = (double)c->fail_penalty_us;
    st->stale_after_us = c->stale_after_us;
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
     .help = "time constant of the latency average: a lower sample weighs 1 - exp(-gap/decay), "
             "and an unrefreshed estimate moves toward the upstream's typical latency at "
             "this pace"},
    {.name = "stale_after", .type = PX_DIR_DURATION,
     .offset = offsetof(lb_p2c_ewma_conf, stale_after_us), .def = "500ms", .min = "1ms",
     .max = "1h",
     .help = "an estimate no sample has replaced for this long is stale: the next sample "
             "replaces it, and an endpoint silent this long with no call out wins its next "
             "draw (a probe)"},
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
    .version = "1.1.0",
    .description = "latency-aware: two random choices, lower peak-EWMA latency x (outstanding+1)",
    .conf_size = sizeof(lb_p2c_ewma_conf),
    .directives = ewma_directives,
    .create = ewma_create,
    .destroy = ewma_destroy,
    .ops = &ewma_ops,
};
