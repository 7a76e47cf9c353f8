/* Endpoint health: eject after repeated failures, re-admit after a backing-off time. */
#ifndef PX_HEALTH_H
#define PX_HEALTH_H

#include <stdint.h>

struct px_ep;

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
