/* lb_least_loaded's conf struct: what its directives fill (shared with its tests). */
#ifndef PX_LB_LEAST_LOADED_H
#define PX_LB_LEAST_LOADED_H

#include <stdint.h>

enum { LB_LEAST_LOADED_FULL = 0, LB_LEAST_LOADED_P2C = 1 };

typedef struct lb_least_loaded_conf {
    int mode;     /**< LB_LEAST_LOADED_FULL: scan every endpoint; _P2C: two random choices */
    int64_t seed; /**< 0: per-thread random generators; otherwise a fixed sequence */
} lb_least_loaded_conf;

#endif
