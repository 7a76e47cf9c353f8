/* A fixed pool of worker threads for blocking handlers (the seed's worker threads). */
#ifndef PX_POOL_H
#define PX_POOL_H

#include <pthread.h>
#include "px_loop.h"

typedef struct px_pool {
    pthread_t *threads;
    int n;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    px_task *head, *tail; /* tasks reuse px_task: fn gets loop == NULL */
    int stop;
} px_pool;

int px_pool_start(px_pool *p, int n);
/** Queues fn(NULL, arg) to run on a worker; t is embedded in the caller's object. */
void px_pool_submit(px_pool *p, px_task *t, px_task_fn fn, void *arg);
/** Runs what is queued, then stops and joins the workers. */
void px_pool_stop(px_pool *p);
/**
 * px_pool_stop, giving up at the monotonic time `until` (INT64_MAX: never) on workers
 * still in a task then. Returns how many were left running (their pool is not freed).
 */
int px_pool_stop_until(px_pool *p, int64_t until);

#endif
