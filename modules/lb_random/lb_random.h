/* lb_random's conf struct: what its directives fill (shared with its tests). */
#ifndef PX_LB_RANDOM_H
#define PX_LB_RANDOM_H

#include <stdint.h>

typedef struct lb_random_conf {
    int64_t seed; /**< 0: seeded per thread from the clock; otherwise a fixed sequence */
} lb_random_conf;

#endif
