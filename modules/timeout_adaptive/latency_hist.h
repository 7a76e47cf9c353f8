/* A fixed-size log-bucketed latency histogram with exponential decay, updated with
 * atomics only: 8 buckets per power of two (<= 12.5% error), 1us to ~4.7 hours. */
#ifndef PX_LATENCY_HIST_H
#define PX_LATENCY_HIST_H

#include <stdint.h>

#define LATENCY_HIST_BUCKETS 256

typedef struct latency_hist {
    uint64_t bucket[LATENCY_HIST_BUCKETS]; /* decayed weights */
    uint64_t total;                        /* samples ever added (not decayed) */
    uint64_t half_life;                    /* every half_life samples, weights halve */
} latency_hist;

void latency_hist_init(latency_hist *h, uint64_t half_life);
/** Adds one latency; returns the number of samples added so far, this one included. */
uint64_t latency_hist_add(latency_hist *h, int64_t us);
/** The q-quantile (0 < q <= 1) of the decayed weights as a bucket's upper bound; -1 if empty. */
int64_t latency_hist_quantile(latency_hist *h, double q);
/** Bucket of a latency and the largest latency of a bucket (exposed for tests). */
int latency_hist_index(int64_t us);
int64_t latency_hist_upper(int idx);

#endif
