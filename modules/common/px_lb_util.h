/* Helpers shared by the balancer modules: seeded or per-thread RNG, weights, avoid flags. */
#ifndef PX_LB_UTIL_H
#define PX_LB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <plexus/plexus.h>

/*
 * Compiled into each balancer .so (listed in its SOURCES, hidden visibility), so no
 * target ordering between modules/common and the balancers is needed.
 */

/** A random source: seed 0 = one clock-seeded generator per thread (no shared cache
 *  line); otherwise one atomic counter, so a test replays the same sequence. */
typedef struct px_lb_rng {
    uint64_t seed;
    uint64_t counter; /* seeded mode: position in the sequence, advanced atomically */
} px_lb_rng;

/** The splitmix64 output function: a fast bijective 64-bit mixer (good avalanche). */
uint64_t px_lb_mix64(uint64_t x);
/** Next 64 random bits. Thread-safe. */
uint64_t px_lb_rng_next(px_lb_rng *r);
/** A number in [0, bound), bound > 0 (Lemire's multiply-shift: bias below 2^-32 for our sizes). */
uint64_t px_lb_rng_below(px_lb_rng *r, uint64_t bound);

/** The core gives weight 1 by default; 0 is read as 1 so no endpoint is unreachable. Read
 *  atomically: a naming update may change it while a pick runs. */
static inline uint64_t px_lb_weight(const px_endpoint *ep)
{
    uint32_t w = px_endpoint_weight(ep);
    return w ? w : 1;
}

/** How many of the n flags are 0 (endpoints a pick may return). */
size_t px_lb_count_free(const uint8_t *avoid, size_t n);
/** Index of the k-th (from 0) endpoint whose avoid flag is 0, or -1. */
int px_lb_nth_free(const uint8_t *avoid, size_t n, size_t k);
/** A non-avoided endpoint at random, weighted by endpoint weight; -1 when all are avoided. */
int px_lb_random_free(px_lb_rng *r, px_endpoint *const *eps, size_t n, const uint8_t *avoid);
/**
 * Two distinct non-avoided endpoints chosen uniformly (power of two choices). Returns
 * how many were found: 2 (both set), 1 (only *a set: a single candidate) or 0.
 */
int px_lb_two_free(px_lb_rng *r, const uint8_t *avoid, size_t n, int *a, int *b);

#endif
