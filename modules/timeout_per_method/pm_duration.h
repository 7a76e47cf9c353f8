/* Duration text for timeout_per_method's map entries, in the config's own syntax. */
#ifndef PX_PM_DURATION_H
#define PX_PM_DURATION_H

#include <stdint.h>

/**
 * Parses "250ms", "1.5s", "1m30s" (units us, ms, s, m, h, d; fractions down to 1us;
 * "0" needs no unit) into microseconds. Returns NULL, or a phrase that reads after
 * the quoted text, as the config's setters do.
 */
const char *pm_parse_duration(const char *text, int64_t *us);

#endif
