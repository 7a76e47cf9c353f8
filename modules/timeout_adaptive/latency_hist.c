/* latency_hist: HDR-style indexing (exponent + 3 mantissa bits); decay halves every
 * bucket with atomic subtractions, so concurrent adds are never lost. */
#include "latency_hist.h"

#include <math.h>
#include <string.h>

#define LH_MAX_US ((INT64_C(1) << 34) - 1)

void latency_hist_init(latency_hist *h, uint64_t half_life)
{
    memset(h, 0, sizeof *h);
    h->half_life = half_life ? half_life : 1;
}

int latency_hist_index(int64_t us)
{
    uint64_t v = us < 0 ? 0 : us > LH_MAX_US ? (uint64_t)LH_MAX_US : (uint64_t)us;
    if (v < 16)
        return (int)v;
    int e = 63 - __builtin_clzll(v);
    return (e - 2) * 8 + (int)((v >> (e - 3)) & 7);
}

int64_t latency_hist_upper(int idx)
{
    if (idx < 16)
        return idx;
    int e = idx / 8 + 2, sub = idx % 8;
    return ((int64_t)(9 + sub) << (e - 3)) - 1;
}

uint64_t latency_hist_add(latency_hist *h, int64_t us)
{
    __atomic_add_fetch(&h->bucket[latency_hist_index(us)], 1, __ATOMIC_RELAXED);
    uint64_t n = __atomic_add_fetch(&h->total, 1, __ATOMIC_RELAXED);
    if (n % h->half_life == 0) {
        /* Exactly one adder reaches each multiple, so one thread decays at a time. */
        for (int i = 0; i < LATENCY_HIST_BUCKETS; i++) {
            uint64_t w = __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
            if (w > 0) /* keep floor(w/2): a lone old sample does fade out */
                __atomic_sub_fetch(&h->bucket[i], w - w / 2, __ATOMIC_RELAXED);
        }
    }
    return n;
}

int64_t latency_hist_quantile(latency_hist *h, double q)
{
    uint64_t w[LATENCY_HIST_BUCKETS], sum = 0;
    for (int i = 0; i < LATENCY_HIST_BUCKETS; i++)
        sum += w[i] = __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
    if (sum == 0)
        return -1;
    uint64_t want = (uint64_t)ceil(q * (double)sum);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (int i = 0; i < LATENCY_HIST_BUCKETS; i++) {
        seen += w[i];
        if (seen >= want)
            return latency_hist_upper(i);
    }
    return latency_hist_upper(LATENCY_HIST_BUCKETS - 1);
}
