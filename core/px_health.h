/* Endpoint health: eject after repeated failures, re-admit after a backing-off time. */
#ifndef PX_HEALTH_H
#define PX_HEALTH_H

#include <stdint.h>

struct px_ep;

/** Whether ep is ejected at now_us; re-admits it when its ejection has run out. */
int px_health_is_out(struct px_ep *ep, int64_t now_us);

#endif
