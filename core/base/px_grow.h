/* Growing an array indexed by a number that only grows (an endpoint's index): doubling,
 * new slots zeroed, old ones kept at their indexes. */
#ifndef PX_GROW_H
#define PX_GROW_H

#include <stddef.h>

/**
 * Makes *arr (*cap elements of elem bytes) hold at least need elements: doubles from
 * first (or *cap) until it does, zeroes the new elements. 0, or -1 when out of memory
 * (then *arr and *cap are unchanged).
 */
int px_grow_zeroed(void **arr, size_t *cap, size_t need, size_t elem, size_t first);

#endif
