/* timeout_adaptive's conf struct: what its directives fill (shared with its tests). */
#ifndef PX_TIMEOUT_ADAPTIVE_H
#define PX_TIMEOUT_ADAPTIVE_H

#include <stdint.h>

typedef struct timeout_adaptive_conf {
    double k;             /**< deadline = k x observed p99 */
    int64_t floor_us;     /**< the deadline never goes below this */
    int64_t ceiling_us;   /**< ... nor above this */
    int64_t min_samples;  /**< observations needed before the p99 is trusted */
    int64_t initial_us;   /**< the deadline until then */
    int64_t half_life;    /**< samples after which older observations weigh half */
    int64_t connect_us;   /**< budget to establish a connection */
} timeout_adaptive_conf;

#endif
