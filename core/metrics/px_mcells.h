/* Per-thread counter cells: every thread that bumps a metric owns a shard of cells
 * (pages allocated on its first touch of them) that only it writes, with a relaxed
 * load and store (no read-modify-write: no lock prefix, no contention); a scrape sums
 * the shards with relaxed loads. A thread that exits folds its shard into a retired
 * total, so nothing it counted is lost. Cells are numbered by slot; a series takes a
 * contiguous run of slots from px__mcells_alloc, forever (slots are never reused, so a
 * shard never holds another series' stale counts). */
#ifndef PX_MCELLS_H
#define PX_MCELLS_H

#include <stddef.h>
#include <stdint.h>

#define PX_MCELLS_PAGE_BITS 10
#define PX_MCELLS_PAGE (1u << PX_MCELLS_PAGE_BITS)
#define PX_MCELLS_PAGES 256
#define PX_MCELLS_MAX (PX_MCELLS_PAGE * PX_MCELLS_PAGES)

typedef struct px_mshard {
    uint64_t *pages[PX_MCELLS_PAGES]; /* atomic: the owner stores (release), scrapes load */
    struct px_mshard *next, *prev;    /* the shard list, under px__mlock */
} px_mshard;

extern __thread px_mshard *px__mshard_tls;

/* The registry's one lock: series creation, shard (un)registration, scrapes. */
void px__mlock(void);
void px__munlock(void);

/* Under the lock: n slots (the last one a double when f64_last), or UINT32_MAX
 * when the registry is full. */
uint32_t px__mcells_alloc(uint32_t n, int f64_last);
/* Under the lock: a slot's total over live shards and the retired ones. */
uint64_t px__mcells_sum_u64(uint32_t slot);
double px__mcells_sum_f64(uint32_t slot);

/* This thread's cell of slot, making its shard or page on first use (locks then). */
uint64_t *px__mcell_slow(uint32_t slot);

static inline uint64_t *px_mcell(uint32_t slot)
{
    px_mshard *s = px__mshard_tls;
    if (__builtin_expect(s != NULL, 1)) {
        uint64_t *p = __atomic_load_n(&s->pages[slot >> PX_MCELLS_PAGE_BITS], __ATOMIC_RELAXED);
        if (__builtin_expect(p != NULL, 1))
            return p + (slot & (PX_MCELLS_PAGE - 1));
    }
    return px__mcell_slow(slot);
}

/* The owner's add: a plain load and store of its own cell. */
static inline void px_mcell_add(uint32_t slot, uint64_t n)
{
    uint64_t *c = px_mcell(slot);
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void px_mcell_add_f64(uint32_t slot, double v)
{
    uint64_t *c = px_mcell(slot);
    uint64_t bits = __atomic_load_n(c, __ATOMIC_RELAXED);
    double d;
    __builtin_memcpy(&d, &bits, sizeof d);
    d += v;
    __builtin_memcpy(&bits, &d, sizeof d);
    __atomic_store_n(c, bits, __ATOMIC_RELAXED);
}

#endif
