/* Open addressing with linear probing and backward-shift deletion (no tombstones), so
 * a busy connection's set never degrades. Hand-written: a dozen lines, keyed by the
 * u64 id straight from the frame, where a generic hash table would allocate per entry. */
#include "px_idset.h"

#include <stdlib.h>

static uint32_t px__mix(uint64_t id, uint32_t mask)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdull; /* murmur3's finalizer: ids from a counter spread out */
    id ^= id >> 33;
    return (uint32_t)id & mask;
}

static int px__grow(px_idset *s)
{
    uint32_t cap = s->cap ? s->cap * 2 : 16;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (uint32_t i = 0; i < s->cap; i++) {
        uint64_t id = s->slots[i];
        if (!id)
            continue;
        uint32_t k = px__mix(id, cap - 1);
        while (slots[k])
            k = (k + 1) & (cap - 1);
        slots[k] = id;
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int px_idset_add(px_idset *s, uint64_t id)
{
    if ((s->count + 1) * 2 > s->cap && px__grow(s) != 0)
        return -1;
    uint32_t mask = s->cap - 1, k = px__mix(id, mask);
    while (s->slots[k]) {
        if (s->slots[k] == id)
            return 0;
        k = (k + 1) & mask;
    }
    s->slots[k] = id;
    s->count++;
    return 1;
}

int px_idset_has(const px_idset *s, uint64_t id)
{
    if (!s->cap)
        return 0;
    uint32_t mask = s->cap - 1, k = px__mix(id, mask);
    while (s->slots[k]) {
        if (s->slots[k] == id)
            return 1;
        k = (k + 1) & mask;
    }
    return 0;
}

void px_idset_del(px_idset *s, uint64_t id)
{
    if (!s->cap)
        return;
    uint32_t mask = s->cap - 1, k = px__mix(id, mask);
    while (s->slots[k] && s->slots[k] != id)
        k = (k + 1) & mask;
    if (!s->slots[k])
        return;
    s->slots[k] = 0;
    s->count--;
    /* Backward shift: pull later entries of the run into the hole when that keeps
     * them reachable from their home slot. */
    uint32_t hole = k;
    for (uint32_t j = (k + 1) & mask; s->slots[j]; j = (j + 1) & mask) {
        uint32_t home = px__mix(s->slots[j], mask);
        int movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            s->slots[hole] = s->slots[j];
            s->slots[j] = 0;
            hole = j;
        }
    }
}

void px_idset_free(px_idset *s)
{
    free(s->slots);
    *s = (px_idset){0};
}
