/* An IO thread: one libev loop, a cross-thread task queue woken by ev_async, and
 * a per-iteration flush of every connection that has output (one write per
 * connection per iteration, however many frames were queued). */
#ifndef PX_LOOP_H
#define PX_LOOP_H

#include <ev.h>
#include <pthread.h>
#include <stdint.h>
#include "plexus/px_buf.h"
#include "px_time.h"

typedef struct px_loop px_loop;
typedef void (*px_task_fn)(px_loop *loop, void *arg);

/** A task posted from another thread; embedded in the poster's object (no malloc). */
typedef struct px_task {
    px_task_fn fn;
    void *arg;
    struct px_task *next;
} px_task;

/** Something with buffered output, flushed once before the loop blocks. */
typedef struct px_flushable {
    void (*flush)(struct px_flushable *f);
    struct px_flushable *next;
    int queued;
} px_flushable;

struct px_loop {
    struct ev_loop *ev;
    pthread_t thread;
    int running;
    unsigned index;            /* position among its siblings */
    ev_async wake;             /* tasks posted or stop requested */
    ev_prepare flush_w;        /* runs flush hooks before blocking */
    px_task *q_head;           /* task queue: producers exchange it (lock-free MPSC) */
    px_task *q_tail;           /* loop thread only */
    px_task q_stub;
    int stop;                  /* atomic: break after draining tasks */
    px_flushable *flush_list;  /* loop-thread only */
    px_buf scratch;            /* shared read buffer of the loop's connections */
    int64_t mono_us;           /* loop-thread only: px_loop_mono_us's stamp ... */
    int mono_fresh;            /* ... taken in this iteration */
    void *data;                /* owner's */
    ev_timer lag_w;            /* px_loop_lag_start: how late a periodic timer fires */
    ev_tstamp lag_due;
    struct px_metric *lag_m;   /* plexus_loop_lag_seconds{loop} */
};

/** Initialises a loop (not started). Returns 0 or -1. */
int px_loop_init(px_loop *l, unsigned index);
/** Starts the loop on a new thread. */
int px_loop_start(px_loop *l);
/** Posts a task to run on the loop's thread (any thread). */
void px_loop_post(px_loop *l, px_task *t, px_task_fn fn, void *arg);
/** Asks the loop to stop once queued tasks have run; joins its thread. */
void px_loop_stop_join(px_loop *l);
/** px_loop_stop_join, giving up at the monotonic time `until` (INT64_MAX: never):
 *  -1 when the thread is still running then (stuck in a handler), else 0. */
int px_loop_stop_join_until(px_loop *l, int64_t until);
void px_loop_destroy(px_loop *l);
/** Before px_loop_start: the loop measures its lag (plexus_loop_lag_seconds, loop
 *  "KIND-INDEX") until px_loop_destroy. */
void px_loop_lag_start(px_loop *l, const char *kind);
/** Loop thread: queue f to be flushed before the loop next blocks. 1 if it was not
 *  queued yet (the owner may take a reference until its flush hook runs). */
int px_loop_want_flush(px_loop *l, px_flushable *f);
/** Whether the calling thread is l's IO thread. */
int px_loop_is_current(const px_loop *l);
/** Cached time of this iteration, in microseconds (libev's ev_now). */
static inline int64_t px_loop_now_us(px_loop *l) { return (int64_t)(ev_now(l->ev) * 1e6); }
/**
 * Loop thread: monotonic time in microseconds, read from the clock once per loop
 * iteration (at the first use after the loop wakes) instead of once per frame. It
 * lags the true time by at most the work done so far in this iteration: a deadline
 * computed from it ends early by that much, never late.
 */
static inline int64_t px_loop_mono_us(px_loop *l)
{
    if (!l->mono_fresh) {
        l->mono_us = px_mono_us();
        l->mono_fresh = 1;
    }
    return l->mono_us;
}

#endif
