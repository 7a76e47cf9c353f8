/* failover_retry's conf struct: what its directives fill (shared with its tests). */
#ifndef PX_FAILOVER_RETRY_H
#define PX_FAILOVER_RETRY_H

#include <stdint.h>

typedef struct failover_retry_conf {
    int64_t retries;            /**< extra attempts per call, 0..10 */
    double budget_percent;      /**< retries may add at most this % of the calls in the window */
    int64_t min_retries_per_second; /**< floor of the budget, so low traffic can still retry */
    int64_t window_us;          /**< how far back the budget counts calls and retries */
} failover_retry_conf;

#endif
