/* An upstream endpoint as strategy modules see it. */
#ifndef PLEXUS_PX_ENDPOINT_H
#define PLEXUS_PX_ENDPOINT_H

#include <stdint.h>
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * One server of an upstream. The core owns it, and keeps it, at the same address and
 * index, for the upstream's whole life: an endpoint the naming module removes is only
 * taken out of the live list (a balancer may keep per-endpoint state by pointer or by
 * index), and one it lists again gets the same record back. Counters and the weight
 * change under the balancer (atomically): read them with the accessors below.
 */
typedef struct px_endpoint {
    const char *address; /**< "127.0.0.1:7101" as configured or as naming delivered it */
    uint32_t index;      /**< the endpoint's number in its upstream: 0, 1, ... in order of
                              first appearance, never reused; not its position in a list */
    uint32_t weight;     /**< weight from the config or naming, 1 by default
                              (read with px_endpoint_weight) */
    uint32_t inflight;   /**< calls outstanding on it (read with px_endpoint_inflight) */
    uint32_t ejected;    /**< nonzero while health has ejected it */
    void *lb_data;       /**< free for the balancer's per-endpoint state (a pick on another
                              thread may read it while update sets it: use atomics) */
    void *spare[4];
} px_endpoint;

static inline uint32_t px_endpoint_inflight(const px_endpoint *ep)
{
    return __atomic_load_n(&ep->inflight, __ATOMIC_RELAXED);
}

/** The endpoint's weight, at least 1 once listed; a naming update may change it. */
static inline uint32_t px_endpoint_weight(const px_endpoint *ep)
{
    return __atomic_load_n(&ep->weight, __ATOMIC_RELAXED);
}

static inline int px_endpoint_is_ejected(const px_endpoint *ep)
{
    return __atomic_load_n(&ep->ejected, __ATOMIC_RELAXED) != 0;
}

/**
 * Does nothing. Since ABI 1.2 the core records every attempt's outcome to endpoint
 * health itself (connect failures, resets, timeouts, hedge losers, statuses), so a
 * failover module only decides; kept so modules built before still load (their
 * reports would otherwise count each attempt twice).
 */
PX_API void px_endpoint_report(px_endpoint *ep, px_status st);

#ifdef __cplusplus
}
#endif
#endif
