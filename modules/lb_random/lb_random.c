/* BALANCER "random": a uniformly random endpoint, weighted when weights differ. It keeps
 * no state per list, so it needs no update: every pick reads the list it is given. */
#include <stdlib.h>
#include <time.h>
#include <plexus/plexus.h>
#include "lb_random.h"

typedef struct lb_random {
    uint64_t seed;    /* 0: per-thread generators */
    uint64_t counter; /* seeded mode: splitmix64 position, advanced atomically */
} lb_random;

static uint64_t lb_splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Unseeded: one generator per thread, so picks on different threads share no
 * cache line. Seeded: one atomic counter, so a test gets the same sequence. */
static uint64_t lb_next(lb_random *st)
{
    if (st->seed != 0) {
        uint64_t pos = __atomic_fetch_add(&st->counter, 1, __ATOMIC_RELAXED);
        return lb_splitmix64(st->seed * 0x9e3779b97f4a7c15ull + pos);
    }
    static _Thread_local uint64_t tl_state;
    if (tl_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        /* The TLS address tells threads started in the same nanosecond apart. */
        tl_state = lb_splitmix64((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^
                   lb_splitmix64((uint64_t)(uintptr_t)&tl_state);
        if (tl_state == 0)
            tl_state = 1;
    }
    tl_state += 0x9e3779b97f4a7c15ull;
    return lb_splitmix64(tl_state);
}

/* A number in [0, bound) without modulo bias worth measuring (Lemire's multiply-shift). */
static uint64_t lb_below(lb_random *st, uint64_t bound)
{
    return (uint64_t)(((unsigned __int128)lb_next(st) * bound) >> 64);
}

/* The core gives weight 1 by default; 0 is read as 1 so no endpoint is unreachable.
 * Atomic: a naming update may change it under a pick. */
static uint64_t lb_weight(const px_endpoint *ep)
{
    uint32_t w = px_endpoint_weight(ep);
    return w ? w : 1;
}

static int lb_pick(void *state, px_endpoint *const *eps, size_t n, const px_pick_ctx *ctx)
{
    lb_random *st = state;
    uint64_t count = 0, total = 0, first_w = 0;
    int same = 1;
    for (size_t i = 0; i < n; i++) {
        if (ctx->avoid[i])
            continue;
        uint64_t w = lb_weight(eps[i]);
        if (count == 0)
            first_w = w;
        else if (w != first_w)
            same = 0;
        count++;
        total += w;
    }
    if (count == 0)
        return -1;
    if (same) {
        uint64_t r = lb_below(st, count);
        for (size_t i = 0; i < n; i++)
            if (!ctx->avoid[i] && r-- == 0)
                return (int)i;
    } else {
        uint64_t r = lb_below(st, total);
        for (size_t i = 0; i < n; i++) {
            if (ctx->avoid[i])
                continue;
            uint64_t w = lb_weight(eps[i]);
            if (r < w)
                return (int)i;
            r -= w;
        }
    }
    return -1; /* unreachable: r < count (or total) */
}

static px_status lb_create(const px_module_env *env, const void *conf, void **state, px_err *err)
{
    const lb_random_conf *c = conf;
    lb_random *st = calloc(1, sizeof *st);
    if (st == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "balancer random: out of memory");
    st->seed = c ? (uint64_t)c->seed : 0;
    *state = st;
    return PX_OK;
}

static void lb_destroy(void *state)
{
    free(state);
}

static const px_directive lb_directives[] = {
    {.name = "seed", .type = PX_DIR_INT, .offset = offsetof(lb_random_conf, seed), .def = "0",
     .help = "fixed random seed for reproducible picks; 0 seeds each thread from the clock"},
    {.name = NULL},
};

static const px_balancer_ops lb_ops = {.pick = lb_pick};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_BALANCER,
    .name = "random",
    .version = "1.0.0",
    .description = "uniformly random endpoint, weighted by endpoint weight",
    .conf_size = sizeof(lb_random_conf),
    .directives = lb_directives,
    .create = lb_create,
    .destroy = lb_destroy,
    .ops = &lb_ops,
};
