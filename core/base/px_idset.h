/* A set of the request ids in flight on one server connection, so a reused id is
 * refused instead of producing two answers the client cannot tell apart. */
#ifndef PX_IDSET_H
#define PX_IDSET_H

#include <stdint.h>

typedef struct px_idset {
    uint64_t *slots; /* 0 = empty (id 0 is never a request id) */
    uint32_t cap, count;
} px_idset;

/** Adds id (nonzero): 1 added, 0 already present, -1 out of memory. */
int px_idset_add(px_idset *s, uint64_t id);
/** Removes id if present. */
void px_idset_del(px_idset *s, uint64_t id);
int px_idset_has(const px_idset *s, uint64_t id);
void px_idset_free(px_idset *s);

#endif
