/* lb_p2c_ewma's conf struct: what its directives fill (shared with its tests). */
#ifndef PX_LB_P2C_EWMA_H
#define PX_LB_P2C_EWMA_H

#include <stdint.h>

typedef struct lb_p2c_ewma_conf {
    int64_t decay_us;        /**< time constant of the moving average (Finagle's decayTime) */
    int64_t fail_penalty_us; /**< latency charged for an attempt that ended UNAVAILABLE */
    int64_t seed;            /**< 0: per-thread random generators; otherwise a fixed sequence */
} lb_p2c_ewma_conf;

#endif
