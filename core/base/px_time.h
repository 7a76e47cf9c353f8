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

/** The CLOCK_REALTIME time `us` microseconds from now, for pthread timed waits. */
static inline void px_abstime(struct timespec *ts, int64_t us)
{
    clock_gettime(CLOCK_REALTIME, ts);
    int64_t ns = ts->tv_nsec + (us % 1000000) * 1000;
    ts->tv_sec += (time_t)(us / 1000000 + ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}

#endif
