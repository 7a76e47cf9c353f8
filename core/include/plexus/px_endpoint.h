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
 * One server of an upstream. The core owns it; counters are updated by the core
 * with atomic operations and are read with the accessors below.
 */
typedef struct px_endpoint {
    const char *address; /**< "127.0.0.1:7101" as configured */
    uint32_t index;      /**< position in the upstream's endpoint list */
    uint32_t weight;     /**< configured weight, 1 by default */
    uint32_t inflight;   /**< calls outstanding on it (read with px_endpoint_inflight) */
    uint32_t ejected;    /**< nonzero while health has ejected it */
    void *lb_data;       /**< free for the balancer's per-endpoint state */
    void *spare[4];
} px_endpoint;

static inline uint32_t px_endpoint_inflight(const px_endpoint *ep)
{
    return __atomic_load_n(&ep->inflight, __ATOMIC_RELAXED);
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
