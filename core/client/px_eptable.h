/* An upstream's endpoint records: one per distinct address it has ever listed, made on
 * the first listing and kept, at the same address and index, until the upstream is
 * freed. So a call, a connection or a balancer may hold a px_ep across any membership
 * change (a removed endpoint is only flagged), and per-endpoint state is found by a
 * stable index. The table is bounded by the upstream's max_endpoints. */
#ifndef PX_EPTABLE_H
#define PX_EPTABLE_H

#include <stdint.h>
#include "plexus/px_status.h"
#include "px_net.h"

struct px_ep;

typedef struct px_eptable {
    struct px_ep **recs; /* [cap], allocated once: readers index it without a lock */
    uint32_t n;          /* records made; atomic (release on commit, acquire to read) */
    uint32_t cap;        /* max_endpoints */
    uint32_t *slots;     /* address -> index + 1 (0: free), open addressing; writer only */
    uint32_t mask;
} px_eptable;

/** Room for cap records. 0, or -1 when out of memory. */
int px_eptable_init(px_eptable *t, uint32_t cap);
/** Frees every record. */
void px_eptable_free(px_eptable *t);
/** The record of address, or NULL. Writer only. */
struct px_ep *px_eptable_find(const px_eptable *t, const char *address);
/**
 * A zeroed record for a new address (pub.address, pub.index and sa set, lock
 * initialised), not yet visible to readers: the caller fills it, then commits it
 * before making another.
 * NULL when the table is full (PX_RESOURCE_EXHAUSTED) or out of memory. Writer only.
 */
struct px_ep *px_eptable_make(px_eptable *t, const char *address, const px_addr *sa,
                              px_err *err);
/** Makes the record px_eptable_make returned visible to readers. */
void px_eptable_commit(px_eptable *t);

/** Records readers may look at: [0, count). */
static inline uint32_t px_eptable_count(const px_eptable *t)
{
    return __atomic_load_n(&t->n, __ATOMIC_ACQUIRE);
}

static inline struct px_ep *px_eptable_at(const px_eptable *t, uint32_t i)
{
    return t->recs[i];
}

#endif
