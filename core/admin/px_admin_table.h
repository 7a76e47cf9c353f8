/* The admin's view of a metrics text: per-method calls and latency, per-endpoint health. */
#ifndef PX_ADMIN_TABLE_H
#define PX_ADMIN_TABLE_H

#include <stdio.h>
#include "plexus/px_status.h"

/**
 * Writes the per-method table of now (rates and window percentiles against prev,
 * taken secs earlier; prev NULL: none) to out. PX_OK, or PX_INVALID_ARGUMENT with err
 * naming the text ("metrics" or "previous metrics"), line and problem.
 */
px_status px_admin_table_write(FILE *out, const char *now, size_t now_len, const char *prev,
                               size_t prev_len, double secs, px_err *err);
/** The upstream endpoints of a metrics text (plexus_upstream_endpoint_up and the
 *  ejection counters) as a table on out. */
px_status px_admin_upstreams_write(FILE *out, const char *text, size_t len, px_err *err);

#endif
