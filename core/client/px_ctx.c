/* Request-id context table: id = generation << 32 | (slot + 1). A reply whose call
 * already ended finds either an empty slot or a newer generation, and is dropped. */
#include "px_ctx.h"

#include <stdlib.h>

static int px__ctx_grow(px_ctx_table *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 256;
    void **items = realloc(t->items, cap * sizeof *items);
    if (!items)
        return -1;
    t->items = items;
    uint64_t *ids = realloc(t->ids, cap * sizeof *ids);
    if (!ids)
        return -1;
    t->ids = ids;
    uint32_t *gens = realloc(t->gens, cap * sizeof *gens);
    if (!gens)
        return -1;
    t->gens = gens;
    uint32_t *fl = realloc(t->free_list, cap * sizeof *fl);
    if (!fl)
        return -1;
    t->free_list = fl;
    for (uint32_t i = t->cap; i < cap; i++) {
        t->items[i] = NULL;
        t->ids[i] = 0;
        t->gens[i] = 0;
    }
    /* Lowest slots on top of the stack: ids stay small and caches warm. */
    for (uint32_t i = cap; i > t->cap; i--)
        t->free_list[t->n_free++] = i - 1;
    t->cap = cap;
    return 0;
}

uint64_t px_ctx_put(px_ctx_table *t, void *item)
{
    if (t->n_free == 0 && px__ctx_grow(t) != 0)
        return 0;
    uint32_t slot = t->free_list[--t->n_free];
    t->items[slot] = item;
    t->gens[slot]++;
    t->ids[slot] = (uint64_t)t->gens[slot] << 32 | (slot + 1);
    t->count++;
    return t->ids[slot];
}

void *px_ctx_find(const px_ctx_table *t, uint64_t id)
{
    uint32_t low = (uint32_t)id;
    if (low == 0 || low > t->cap || t->ids[low - 1] != id)
        return NULL;
    return t->items[low - 1];
}

void px_ctx_del(px_ctx_table *t, uint64_t id)
{
    uint32_t slot = (uint32_t)id - 1;
    t->items[slot] = NULL;
    t->ids[slot] = 0;
    t->free_list[t->n_free++] = slot;
    t->count--;
}

void px_ctx_free(px_ctx_table *t)
{
    free(t->items);
    free(t->ids);
    free(t->gens);
    free(t->free_list);
    *t = (px_ctx_table){0};
}
