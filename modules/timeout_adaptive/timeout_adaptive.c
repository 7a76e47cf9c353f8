/* TIMEOUT "adaptive": deadline = k x the p99 of recent latencies, clamped to
 * [floor, ceiling]; `initial` until min_samples calls have been observed. The p99 is
 * recomputed on the observe path every 16 samples and published in one atomic, so
 * call_timeout_us is a single load. */
#include <stdlib.h>
#include <plexus/plexus.h>

#include "latency_hist.h"
#include "timeout_adaptive.h"

#define TA_RECOMPUTE_EVERY 16

typedef struct ta_state {
    latency_hist hist;
    double k;
    int64_t floor_us, ceiling_us, connect_us;
    uint64_t min_samples;
    int64_t deadline_us; /* atomic: what call_timeout_us answers */
} ta_state;

static int64_t ta_call(void *state, const char *method)
{
    return __atomic_load_n(&((ta_state *)state)->deadline_us, __ATOMIC_RELAXED);
}

static int64_t ta_connect(void *state) { return ((const ta_state *)state)->connect_us; }

/* Latencies that say how long the service takes: replies of any status, and timeouts
 * (a lower bound, which lets the deadline grow when the service slows down). Not
 * connection failures or cancellations: they end quickly for reasons unrelated. */
static int ta_informative(px_status st)
{
    return st != PX_UNAVAILABLE && st != PX_CANCELLED && st != PX_RESOURCE_EXHAUSTED;
}

static void ta_observe(void *state, const char *method, int64_t latency_us, px_status st)
{
    ta_state *s = state;
    if (!ta_informative(st))
        return;
    uint64_t n = latency_hist_add(&s->hist, latency_us);
    if (n < s->min_samples || (n != s->min_samples && n % TA_RECOMPUTE_EVERY != 0))
        return;
    int64_t p99 = latency_hist_quantile(&s->hist, 0.99);
    if (p99 < 0)
        return;
    double d = s->k * (double)p99;
    int64_t us = d < (double)s->floor_us ? s->floor_us
                 : d > (double)s->ceiling_us ? s->ceiling_us
                 : (int64_t)d;
    __atomic_store_n(&s->deadline_us, us, __ATOMIC_RELAXED);
}

static px_status ta_create(const px_module_env *env, const void *conf, void **state, px_err *err)
{
    const timeout_adaptive_conf *c = conf;
    if (c->floor_us > c->ceiling_us)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "floor (%lldms) is above ceiling (%lldms)",
                          (long long)(c->floor_us / 1000), (long long)(c->ceiling_us / 1000));
    ta_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    latency_hist_init(&s->hist, (uint64_t)c->half_life);
    s->k = c->k;
    s->floor_us = c->floor_us;
    s->ceiling_us = c->ceiling_us;
    s->connect_us = c->connect_us;
    s->min_samples = (uint64_t)c->min_samples;
    s->deadline_us = c->initial_us;
    *state = s;
    return PX_OK;
}

static void ta_destroy(void *state) { free(state); }

static const px_directive ta_directives[] = {
    {.name = "k", .type = PX_DIR_DOUBLE, .offset = offsetof(timeout_adaptive_conf, k),
     .def = "3", .min = "1", .max = "100", .help = "deadline = k x observed p99"},
    {.name = "floor", .type = PX_DIR_DURATION, .offset = offsetof(timeout_adaptive_conf, floor_us),
     .def = "10ms", .min = "1ms", .max = "1h", .help = "the deadline never goes below this"},
    {.name = "ceiling", .type = PX_DIR_DURATION,
     .offset = offsetof(timeout_adaptive_conf, ceiling_us), .def = "10s", .min = "1ms",
     .max = "1h", .help = "the deadline never goes above this"},
    {.name = "min_samples", .type = PX_DIR_INT,
     .offset = offsetof(timeout_adaptive_conf, min_samples), .def = "100", .min = "1",
     .max = "1000000", .help = "calls observed before the p99 is used"},
    {.name = "initial", .type = PX_DIR_DURATION,
     .offset = offsetof(timeout_adaptive_conf, initial_us), .def = "1s", .min = "1ms",
     .max = "1h", .help = "the deadline until min_samples calls have been observed"},
    {.name = "half_life", .type = PX_DIR_INT, .offset = offsetof(timeout_adaptive_conf, half_life),
     .def = "1000", .min = "10", .max = "100000000",
     .help = "observations after which older ones weigh half"},
    {.name = "connect", .type = PX_DIR_DURATION,
     .offset = offsetof(timeout_adaptive_conf, connect_us), .def = "1s", .min = "1ms",
     .max = "1h", .help = "time allowed to establish a connection"},
    {.name = NULL},
};

static const px_timeout_ops ta_ops = {
    .call_timeout_us = ta_call,
    .connect_timeout_us = ta_connect,
    .observe = ta_observe,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_TIMEOUT,
    .name = "adaptive",
    .version = "1.0.0",
    .description = "deadline = k x observed p99 latency, clamped between floor and ceiling",
    .conf_size = sizeof(timeout_adaptive_conf),
    .directives = ta_directives,
    .create = ta_create,
    .destroy = ta_destroy,
    .ops = &ta_ops,
};
