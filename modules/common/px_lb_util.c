/* Helpers shared by the balancer modules: seeded or per-thread RNG, weights, avoid flags. */
#include <time.h>
#include "px_lb_util.h"

uint64_t px_lb_mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The same generator as lb_random: splitmix64 over a Weyl sequence. */
uint64_t px_lb_rng_next(px_lb_rng *r)
{
    const uint64_t gamma = 0x9e3779b97f4a7c15ull;
    if (r->seed != 0) {
        uint64_t pos = __atomic_fetch_add(&r->counter, 1, __ATOMIC_RELAXED);
        return px_lb_mix64(r->seed * gamma + pos + gamma);
    }
    static _Thread_local uint64_t tl_state;
    if (tl_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        /* The TLS address tells threads started in the same nanosecond apart. */
        tl_state = px_lb_mix64((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^
                   px_lb_mix64((uint64_t)(uintptr_t)&tl_state);
        if (tl_state == 0)
            tl_state = 1;
    }
    tl_state += gamma;
    return px_lb_mix64(tl_state);
}

uint64_t px_lb_rng_below(px_lb_rng *r, uint64_t bound)
{
    return (uint64_t)(((unsigned __int128)px_lb_rng_next(r) * bound) >> 64);
}

size_t px_lb_count_free(const uint8_t *avoid, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += avoid[i] == 0;
    return k;
}

int px_lb_nth_free(const uint8_t *avoid, size_t n, size_t k)
{
    for (size_t i = 0; i < n; i++)
        if (!avoid[i] && k-- == 0)
            return (int)i;
    return -1;
}

int px_lb_random_free(px_lb_rng *r, px_endpoint *const *eps, size_t n, const uint8_t *avoid)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (!avoid[i])
            total += px_lb_weight(eps[i]);
    if (total == 0)
        return -1;
    uint64_t x = px_lb_rng_below(r, total);
    for (size_t i = 0; i < n; i++) {
        if (avoid[i])
            continue;
        uint64_t w = px_lb_weight(eps[i]);
        if (x < w)
            return (int)i;
        x -= w;
    }
    return -1; /* unreachable: x < total */
}

int px_lb_two_free(px_lb_rng *r, const uint8_t *avoid, size_t n, int *a, int *b)
{
    size_t k = px_lb_count_free(avoid, n);
    if (k == 0)
        return 0;
    if (k == 1) {
        *a = px_lb_nth_free(avoid, n, 0);
        return 1;
    }
    /* The second rank is drawn from the k-1 others, so the pair is always distinct. */
    size_t ra = (size_t)px_lb_rng_below(r, k);
    size_t rb = (size_t)px_lb_rng_below(r, k - 1);
    if (rb >= ra)
        rb++;
    *a = px_lb_nth_free(avoid, n, ra);
    *b = px_lb_nth_free(avoid, n, rb);
    return 2;
}
