/* The context manager of one IO loop (the seed's request id -> context map):
 * a slot array with generations, O(1) insert, lookup and delete. */
#ifndef PX_CTX_H
#define PX_CTX_H

#include <stdint.h>

typedef struct px_ctx_table {
    void **items;
    uint64_t *ids;      /* id of the item in each slot */
    uint32_t *gens;     /* bumped on every reuse of a slot */
    uint32_t *free_list;
    uint32_t n_free, cap, count;
} px_ctx_table;

/** Stores item, returns its request id (never 0), or 0 when out of memory. */
uint64_t px_ctx_put(px_ctx_table *t, void *item);
/** The item stored under id, or NULL (unknown, or a stale id of a reused slot). */
void *px_ctx_find(const px_ctx_table *t, uint64_t id);
/** Removes id (which must be present). */
void px_ctx_del(px_ctx_table *t, uint64_t id);
/** The item in slot i (0 <= i < cap), for sweeping; NULL when free. */
static inline void *px_ctx_slot(const px_ctx_table *t, uint32_t i) { return t->items[i]; }
void px_ctx_free(px_ctx_table *t);

#endif
