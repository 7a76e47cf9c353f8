/* TIMEOUT modules: how long a call and a connect may take. */
#ifndef PLEXUS_PX_TIMEOUT_H
#define PLEXUS_PX_TIMEOUT_H

#include <stdint.h>
#include "px_module.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Modules compute deadlines; the core arms the timers. Hooks may run concurrently. */
typedef struct px_timeout_ops {
    /** Budget for a whole call to method, in microseconds; 0 = no deadline. */
    int64_t (*call_timeout_us)(void *state, const char *method);
    /** Budget for establishing a connection, in microseconds; 0 = the call's. */
    int64_t (*connect_timeout_us)(void *state);
    /** A call ended after latency_us with st (adaptive modules learn here). May be NULL. */
    void (*observe)(void *state, const char *method, int64_t latency_us, px_status st);
} px_timeout_ops;

#ifdef __cplusplus
}
#endif
#endif
