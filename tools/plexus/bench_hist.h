/* A latency histogram with log-spaced buckets (HDR-style): fixed size, no malloc per value. */
#ifndef PX_BENCH_HIST_H
#define PX_BENCH_HIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Values are nanoseconds. Below 2^PX_HIST_SUB_BITS every value has its own bucket;
 * above, each power of two is split into 2^PX_HIST_SUB_BITS buckets, so a bucket is
 * never wider than 1/128 of its value (< 0.8% error). Values past 2^PX_HIST_TOP_BIT
 * ns (~18 minutes) land in the last bucket; max stays exact.
 */
#define PX_HIST_SUB_BITS 7
#define PX_HIST_TOP_BIT 40
#define PX_HIST_BUCKETS ((PX_HIST_TOP_BIT - PX_HIST_SUB_BITS + 2) << PX_HIST_SUB_BITS)

typedef struct px_hist {
    uint64_t counts[PX_HIST_BUCKETS];
    uint64_t n;   /**< values recorded */
    uint64_t min; /**< exact; UINT64_MAX when n == 0 */
    uint64_t max; /**< exact */
    double sum;   /**< for the mean */
} px_hist;

void px_hist_reset(px_hist *h);
/** Records one value (ns): a few instructions, no allocation. */
void px_hist_add(px_hist *h, uint64_t ns);
/** Adds every value of from into into. */
void px_hist_merge(px_hist *into, const px_hist *from);
/**
 * The value at quantile q (0..1): the midpoint of the bucket holding the
 * ceil(q * n)-th smallest value, clamped to [min, max]; 0 when empty.
 */
uint64_t px_hist_quantile(const px_hist *h, double q);
double px_hist_mean(const px_hist *h);

#ifdef __cplusplus
}
#endif
#endif
