/* The core's own metric families (docs/OPERATIONS.md, "Metrics"), declared once, and
 * the core's inline way to count into a handle. */
#ifndef PX_MCORE_H
#define PX_MCORE_H

#include "px_mcells.h"
#include "px_mreg_int.h"

typedef struct px_mcore {
    px_metric_family *conns, *accepted;          /* {listener} */
    px_metric_family *frames_rx, *frames_tx;     /* {protocol} */
    px_metric_family *mem, *mem_limit;           /* no labels */
    px_metric_family *loop_lag;                  /* {loop} */
    px_metric_family *ep_up, *ep_ejections, *ep_readmissions, *ep_timeouts,
        *ep_late;                                /* {upstream,endpoint} */
    px_metric_family *retries, *hedges;          /* {upstream} */
} px_mcore;

/* The families, made on the first call (a family that failed to be made is NULL, and
 * so is every handle taken on it: the counts are skipped, the process goes on). */
const px_mcore *px__mcore(void);

/* A handle on f's series with label values, NULL when f is NULL or the registry
 * refuses (logged). */
px_metric *px__mget(px_metric_family *f, const char *const *values);
px_metric *px__mget_fn(px_metric_family *f, const char *const *values, double (*read)(void *),
                       void *arg);

/* The core's add: px_metric_add inlined, and a NULL handle ignored. */
static inline void px_mcount(px_metric *m, int64_t n)
{
    if (m)
        px_mcell_add(m->base, (uint64_t)n);
}

#endif
