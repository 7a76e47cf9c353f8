/* Monotonic time for code that runs off the loops (workers, blocking clients). */
#ifndef PX_TIME_H
#define PX_TIME_H

#include <stdint.h>
#include <time.h>

static inline int64_t px_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
