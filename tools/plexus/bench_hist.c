/* A latency histogram with log-spaced buckets: index arithmetic, merge and quantiles. */
#include "bench_hist.h"

#include <math.h>
#include <string.h>

#define PX__SUB (1u << PX_HIST_SUB_BITS)

static unsigned px__index(uint64_t v)
{
    if (v < PX__SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* v's top bit, >= SUB_BITS */
    if (e > PX_HIST_TOP_BIT)
        return PX_HIST_BUCKETS - 1;
    unsigned group = e - PX_HIST_SUB_BITS + 1;
    unsigned mantissa = (unsigned)(v >> (e - PX_HIST_SUB_BITS)); /* in [SUB, 2*SUB) */
    return group * PX__SUB + (mantissa - PX__SUB);
}

/* The midpoint of bucket i. */
static uint64_t px__value(unsigned i)
{
    if (i < PX__SUB)
        return i;
    unsigned group = i / PX__SUB;
    unsigned shift = group - 1;
    uint64_t low = (uint64_t)(PX__SUB + i % PX__SUB) << shift;
    return low + ((1ull << shift) >> 1);
}

void px_hist_reset(px_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void px_hist_add(px_hist *h, uint64_t ns)
{
    h->counts[px__index(ns)]++;
    h->n++;
    h->sum += (double)ns;
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
}

void px_hist_merge(px_hist *into, const px_hist *from)
{
    for (unsigned i = 0; i < PX_HIST_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->n += from->n;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t px_hist_quantile(const px_hist *h, double q)
{
    if (h->n == 0)
        return 0;
    double want = ceil(q * (double)h->n);
    uint64_t rank = want < 1 ? 1 : want > (double)h->n ? h->n : (uint64_t)want;
    uint64_t seen = 0;
    for (unsigned i = 0; i < PX_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = px__value(i);
            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    return h->max;
}

double px_hist_mean(const px_hist *h)
{
    return h->n ? h->sum / (double)h->n : 0.0;
}
