/* Per-thread counter cells: every thread that bumps a metric owns a shard of cells that
 * only it writes, with a relaxed load and store (no read-modify-write: no lock prefix,
 * no contention); a scrape sums the shards with relaxed loads. A shard is one flat
 * array of PX_MCELLS_MAX cells, reserved as address space (mmap, MAP_NORESERVE): only
 * the pages holding cells the thread touched take memory, and finding a cell is one
 * index. A thread that exits folds its shard into a retired total, so nothing it
 * counted is lost. Cells are numbered by slot; a series takes a contiguous run of
 * slots from px__mcells_alloc, forever (slots are never reused, so a shard never holds
 * another series' stale counts). */
#ifndef PX_MCELLS_H
#define PX_MCELLS_H

#include <stddef.h>
#include <stdint.h>

/* 2 MiB of address space per counting thread: room for 262,144 cells (a histogram
 * series takes its buckets + 2). */
#define PX_MCELLS_MAX (256u * 1024u)

/* This thread's cells, NULL before its first count. */
extern __thread uint64_t *px__mcells_tls;

/* The registry's one lock: series creation, shard (un)registration, scrapes. */
void px__mlock(void);
void px__munlock(void);

/* Under the lock: n slots (the last one a double when f64_last), or UINT32_MAX
 * when the registry is full. */
uint32_t px__mcells_alloc(uint32_t n, int f64_last);
/* Under the lock: a slot's total over live shards and the retired ones. */
uint64_t px__mcells_sum_u64(uint32_t slot);
double px__mcells_sum_f64(uint32_t slot);

/* This thread's cell of slot, making its shard on first use (locks then). */
uint64_t *px__mcell_slow(uint32_t slot);

static inline uint64_t *px_mcell(uint32_t slot)
{
    uint64_t *c = px__mcells_tls;
    if (__builtin_expect(c != NULL, 1))
        return c + slot;
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
