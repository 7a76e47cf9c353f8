/* Reading the Prometheus text format (0.0.4): the samples of a metrics text, one by one. */
#ifndef PX_PROM_READ_H
#define PX_PROM_READ_H

#include <stddef.h>
#include "plexus/px_status.h"

#define PX_PROM_MAX_LABELS 8
#define PX_PROM_MAX_NAME 128
#define PX_PROM_MAX_VALUE 256

typedef struct px_prom_label {
    char name[PX_PROM_MAX_NAME];
    char value[PX_PROM_MAX_VALUE]; /**< unescaped */
} px_prom_label;

/** One sample line: name{labels} value. */
typedef struct px_prom_sample {
    char name[PX_PROM_MAX_NAME];
    px_prom_label labels[PX_PROM_MAX_LABELS];
    size_t n_labels;
    double value;
    int line; /**< 1-based, for messages */
} px_prom_sample;

/** Called per sample; nonzero stops the walk (px_prom_each then returns PX_OK). */
typedef int (*px_prom_fn)(void *ud, const px_prom_sample *s);

/**
 * Calls fn for every sample of text (len bytes; need not be NUL-terminated), skipping
 * comments (# HELP, # TYPE) and blank lines. A malformed line: PX_INVALID_ARGUMENT with
 * err "line N: what" and no further calls. Names and label values longer than the
 * bounds above, or more labels, are refused the same way.
 */
px_status px_prom_each(const char *text, size_t len, px_prom_fn fn, void *ud, px_err *err);

/** The value of label name in s, or NULL. */
const char *px_prom_label_get(const px_prom_sample *s, const char *name);

#endif
