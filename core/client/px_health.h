/* Endpoint health: eject after repeated failures, re-admit after a backing-off time; the
 * core records every attempt here. */
#ifndef PX_HEALTH_H
#define PX_HEALTH_H

#include <stdint.h>
#include "plexus/px_status.h"
#include "px_upstream.h"

/** Whether an attempt's status counts toward ejection: the server or the way to it
 *  failed (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED). Any other status,
 *  an application error included, proves the endpoint alive. */
static inline int px_health_is_failure(px_status st)
{
    return st == PX_UNAVAILABLE || st == PX_DEADLINE_EXCEEDED || st == PX_RESOURCE_EXHAUSTED;
}

/** A failure on ep: counted in its window, and ep ejected at max_fails. Thread-safe. */
void px_health_failure(px_ep *ep);

/**
 * Records one attempt's outcome on ep (the core calls it for every attempt, whatever
 * the failover module): a failure counts toward ejection, any other status resets the
 * count. Inline: the success path is every call's, one relaxed load. Thread-safe.
 */
static inline void px_health_report(px_ep *ep, px_status st)
{
    if (px_health_is_failure(st))
        px_health_failure(ep);
    else if (__atomic_load_n(&ep->fails, __ATOMIC_RELAXED) != 0)
        __atomic_store_n(&ep->fails, 0, __ATOMIC_RELAXED);
}
/**
 * Whether ep is ejected at now_us. With probing off (probe_interval 0) an endpoint
 * whose ejection ran out is re-admitted here; otherwise only a probe re-admits it.
 */
int px_health_is_out(px_ep *ep, int64_t now_us);
/** Whether ep should be probed now (ejected, ejection over, no probe running); marks it probing. */
int px_health_probe_due(px_ep *ep, int64_t now_us);
/** A probe ended: ok re-admits ep; a failure ejects it again for twice as long (capped).
 *  The result of a probe of an endpoint removed meanwhile is dropped. */
void px_health_probe_done(px_ep *ep, int ok, const char *why);
/**
 * ep joins the live list (naming update, before it is published): fresh health. A
 * re-added address had been removed, most likely restarted or redeployed: its old
 * failures say nothing of the new server.
 */
void px_health_join(px_ep *ep);
/** ep left the live list (after the new list is published): no longer a member; an
 *  ejection ends, so that max_ejected_percent counts live endpoints only. */
void px_health_leave(px_ep *ep);

#endif
