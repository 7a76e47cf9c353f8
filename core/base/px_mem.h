/* Byte accounting for the server's memory budget: each IO loop keeps its own count and
 * publishes it to the server-wide total in quanta, so the per-call cost is a few plain
 * adds and the shared atomic is touched only when a loop's count has moved by a
 * quantum (the total is off by at most one quantum per loop). */
#ifndef PX_MEM_H
#define PX_MEM_H

#include <stdint.h>

#define PX_MEM_QUANTUM (256 * 1024)

typedef struct px_mem {
    int64_t held;      /* loop thread only: bytes this loop's connections and calls hold */
    int64_t published; /* the part of held already added to *total */
    int64_t *total;    /* server-wide, atomic; NULL: not accounted */
    int64_t *peak;     /* the highest total published, atomic (may be NULL) */
} px_mem;

static inline void px_mem_add(px_mem *m, int64_t d)
{
    m->held += d;
    int64_t diff = m->held - m->published;
    if (m->total && (diff >= PX_MEM_QUANTUM || diff <= -PX_MEM_QUANTUM)) {
        int64_t t = __atomic_add_fetch(m->total, diff, __ATOMIC_RELAXED);
        m->published = m->held;
        /* Racy max between loops: a peak missed by one quantum changes nothing. */
        if (m->peak && t > __atomic_load_n(m->peak, __ATOMIC_RELAXED))
            __atomic_store_n(m->peak, t, __ATOMIC_RELAXED);
    }
}

/** The server-wide total as this loop sees it (its own unpublished part included). */
static inline int64_t px_mem_total(const px_mem *m)
{
    int64_t t = m->total ? __atomic_load_n(m->total, __ATOMIC_RELAXED) : 0;
    return t + (m->held - m->published);
}

#endif
