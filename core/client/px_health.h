/* Endpoint health: eject after repeated failures, re-admit after a backing-off time. */
#ifndef PX_HEALTH_H
#define PX_HEALTH_H

#include <stdint.h>
#include "plexus/px_status.h"

struct px_ep;

/**
 * Records one attempt's outcome on ep (the core calls it for every attempt, whatever
 * the failover module): UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED count
 * toward ejection, any other status proves ep alive and resets the count. Thread-safe.
 */
void px_health_report(struct px_ep *ep, px_status st);
/**
 * Whether ep is ejected at now_us. With probing off (probe_interval 0) an endpoint
 * whose ejection ran out is re-admitted here; otherwise only a probe re-admits it.
 */
int px_health_is_out(struct px_ep *ep, int64_t now_us);
/** Whether ep should be probed now (ejected, ejection over, no probe running); marks it probing. */
int px_health_probe_due(struct px_ep *ep, int64_t now_us);
/** A probe ended: ok re-admits ep; a failure ejects it again for twice as long (capped). */
void px_health_probe_done(struct px_ep *ep, int ok, const char *why);

#endif
