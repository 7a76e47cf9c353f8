/* Durations and sizes as config files write them, parsed by the one central parser. */
#ifndef PLEXUS_PX_UNITS_H
#define PLEXUS_PX_UNITS_H

#include <stdint.h>
#include "px_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A duration: a number (fraction allowed) and a unit us, ms, s, m, h or d; parts may be
 * chained ("1m30s"); "0" alone needs no unit. Stores microseconds and returns NULL, or
 * returns a short phrase that reads after the quoted value ("is not a duration (use
 * e.g. 250ms, 5s)"). Modules that take durations inside their own strings use this, so
 * every duration in a config reads the same.
 */
PX_API const char *px_parse_duration(const char *text, int64_t *us);
/** A size: a number and an optional unit B, KB, MB, GB, TB (powers of 1000) or KiB,
 *  MiB, GiB, TiB (powers of 1024); no unit means bytes. NULL or a phrase, as above. */
PX_API const char *px_parse_size(const char *text, uint64_t *bytes);

#ifdef __cplusplus
}
#endif
#endif
