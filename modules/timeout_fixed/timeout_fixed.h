/* timeout_fixed's conf struct: what its directives fill (shared with its tests). */
#ifndef PX_TIMEOUT_FIXED_H
#define PX_TIMEOUT_FIXED_H

#include <stdint.h>

typedef struct timeout_fixed_conf {
    int64_t connect_us; /**< budget to establish a connection */
    int64_t call_us;    /**< budget of a whole call */
} timeout_fixed_conf;

#endif
