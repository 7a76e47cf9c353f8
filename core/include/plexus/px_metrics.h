/* Metrics: the process's registry of counters, gauges and histograms, and its
 * Prometheus text exposition (format 0.0.4). docs/OPERATIONS.md lists the metrics. */
#ifndef PLEXUS_PX_METRICS_H
#define PLEXUS_PX_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reading them ---------------------------------------------------------------- */

/**
 * This process's metrics, Prometheus text exposition format 0.0.4, every series once
 * (the same series from several sources, two clients with one upstream name, summed).
 * malloc'd, NUL-terminated; *len its length (len may be NULL). NULL only when out of
 * memory. Any thread, any time.
 */
PX_API char *px_metrics_text(size_t *len);
/**
 * Several processes' texts summed into one (counters, gauges, histogram
 * _bucket/_sum/_count added per identical name+labels; HELP/TYPE once per family, the
 * first text's). NULL with err on a malformed text (err says which text, line and what).
 * malloc'd, NUL-terminated; *out_len its length (may be NULL).
 */
PX_API char *px_metrics_merge(const char *const *texts, const size_t *lens, size_t n,
                              size_t *out_len, px_err *err);

/* ---- exporting them (modules, programs) ------------------------------------------- */

typedef enum px_metric_type {
    PX_METRIC_COUNTER = 1,   /**< only goes up; px_metric_add with n >= 0 */
    PX_METRIC_GAUGE = 2,     /**< px_metric_add (+/-) and/or px_metric_set */
    PX_METRIC_HISTOGRAM = 3, /**< px_metric_observe */
} px_metric_type;

/** A metric family: one name, type, help and label names. Lives as long as the process. */
typedef struct px_metric_family px_metric_family;
/** A holder's handle on one series (the family's label values). */
typedef struct px_metric px_metric;

/** Most labels of one family, most buckets of one histogram (+Inf not counted). */
#define PX_METRIC_MAX_LABELS 8
#define PX_METRIC_MAX_BUCKETS 32

/**
 * The family NAME ([a-zA-Z_:][a-zA-Z0-9_:]*), created on the first call and found on
 * later ones (a module loaded twice, a server made again after a reload). A later call
 * must declare the same type, label names and buckets (else PX_ALREADY_EXISTS, and
 * err says what differs). labels: nlabels names ([a-zA-Z_][a-zA-Z0-9_]*, not "le",
 * none starting "__"). buckets: a histogram's upper bounds, increasing and finite
 * (+Inf is implied); NULL with nbuckets 0 gives px_metric_default_buckets. help: one
 * line for # HELP. May lock; call it at setup, not per call.
 */
PX_API px_metric_family *px_metric_family_get(const char *name, const char *help,
                                              px_metric_type type, const char *const *labels,
                                              size_t nlabels, const double *buckets,
                                              size_t nbuckets, px_err *err);
/** The default histogram bounds (seconds, .0001 to 10; 16 of them); *n their count. */
PX_API const double *px_metric_default_buckets(size_t *n);

/**
 * A handle on the series of family f with these label values (one per label name, any
 * UTF-8; NULL values with a family without labels). Several handles on one series
 * (two clients with the same upstream name) count into the one series. May lock and
 * allocate: take handles at setup, or the first time a label value is seen, and keep
 * them. NULL with err when the values are bad or the registry is full.
 */
PX_API px_metric *px_metric_get(px_metric_family *f, const char *const *values, px_err *err);
/**
 * As px_metric_get, for a gauge whose value is read when the metrics are: read(arg)
 * runs on the scraping thread, under the registry's lock (it must not take handles or
 * scrape), until px_metric_release of this handle returns.
 */
PX_API px_metric *px_metric_get_fn(px_metric_family *f, const char *const *values,
                                   double (*read)(void *arg), void *arg, px_err *err);
/**
 * Gives the handle back (NULL: nothing). A counter's or histogram's series stays for
 * the life of the process (a rate() across a reload stays right); a gauge's series
 * disappears when its last handle is released, and so does what this handle set.
 */
PX_API void px_metric_release(px_metric *m);

/*
 * The hot path: no lock, no allocation after a thread's first touch of a series (its
 * cells are per thread, summed when the metrics are read), safe from any thread.
 */
/** Adds n to a counter (n >= 0) or a gauge. */
PX_API void px_metric_add(px_metric *m, int64_t n);
/** A gauge's value as this handle sees it; the series shows the sum over its handles
 *  plus what px_metric_add added. */
PX_API void px_metric_set(px_metric *m, double v);
/** Counts v into a histogram (its _bucket, _sum and _count). */
PX_API void px_metric_observe(px_metric *m, double v);

#ifdef __cplusplus
}
#endif
#endif
