/* lb_p2c_ewma's conf struct: what its directives fill (shared with its tests). */
#ifndef PX_LB_P2C_EWMA_H
#define PX_LB_P2C_EWMA_H

#include <stdint.h>

typedef struct lb_p2c_ewma_conf {
    int64_t decay_us;        /**< time constant of the moving average (Finagle's decayTime) */
    int64_t stale_after_us;  /**< age at which an estimate gives way to the next sample */
    int64_t fail_penalty_us; /**< latency charged for an attempt that ended UNAVAILABLE */
    int64_t seed;            /**< 0: per-thread random generators; otherwise a fixed sequence */
} lb_p2c_ewma_conf;

/** A monotonic clock in microseconds. */
typedef int64_t (*lb_p2c_ewma_clock)(void);

/**
 * Test hook, exported by lb_p2c_ewma.so and found with dlsym(handle, LB_P2C_EWMA_SET_CLOCK):
 * the instance `state` reads time from now_us instead of CLOCK_MONOTONIC (NULL puts the
 * real clock back), so a test can run the balancer on simulated time. Call it before
 * the first pick or feedback; estimates stamped on one clock mean nothing on another.
 */
void lb_p2c_ewma_set_clock(void *state, lb_p2c_ewma_clock now_us);
typedef void (*lb_p2c_ewma_set_clock_fn)(void *state, lb_p2c_ewma_clock now_us);
#define LB_P2C_EWMA_SET_CLOCK "lb_p2c_ewma_set_clock"

#endif
