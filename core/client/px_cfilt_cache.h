/* A per-thread cache of the blocks filtered async calls keep their filter state in. */
#ifndef PX_CFILT_CACHE_H
#define PX_CFILT_CACHE_H

#include <stddef.h>

/* The one size every block has: room for the longest chain, so that any upstream's
 * call can take any cached block. */
size_t px_cfilt_block_size(void);
/* A block of px_cfilt_block_size() bytes, from this thread's cache or malloc; NULL when
 * memory ran out. */
void *px_cfilt_get(void);
/* Gives a block back: to this thread's cache, or to free() when the cache is full. */
void px_cfilt_put(void *blk);

#endif
