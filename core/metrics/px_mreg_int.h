/* The metrics registry's records, shared by its API (px_mreg.c) and its rendering
 * (px_mrender.c). Everything here is read and changed under px__mlock, except what
 * the hot path touches: a handle's base, type, bounds and value. */
#ifndef PX_MREG_INT_H
#define PX_MREG_INT_H

#include <stddef.h>
#include <stdint.h>
#include "plexus/px_metrics.h"

typedef struct px_mseries px_mseries;

struct px_metric_family {
    char *name;
    char *help;
    px_metric_type type;
    size_t nlabels;
    char *labels[PX_METRIC_MAX_LABELS];
    size_t nbuckets;
    double bounds[PX_METRIC_MAX_BUCKETS];
    uint32_t ncells;      /* a series' slots: 1, or a histogram's buckets + 1 + its sum */
    px_mseries *series;   /* in creation order */
    px_mseries **tail;
    px_metric_family *next;
};

struct px_mseries {
    px_metric_family *fam;
    char **values;        /* nlabels values */
    char *labels;         /* rendered: a="x",b="y" (empty without labels) */
    uint32_t base;        /* the first of fam->ncells slots */
    size_t handles;       /* live handles; a gauge shows only while some are */
    px_metric *first;     /* the live handles */
    px_mseries *next;
};

struct px_metric {
    uint32_t base;
    px_metric_type type;
    const double *bounds; /* a histogram's, nbuckets of them */
    size_t nbuckets;
    uint64_t value;       /* a gauge's px_metric_set, double bits, atomic */
    double (*read)(void *arg);
    void *arg;
    px_mseries *series;
    px_metric *prev, *next;
};

/* Under the lock: the first family (in creation order). */
px_metric_family *px__mreg_families(void);

#endif
