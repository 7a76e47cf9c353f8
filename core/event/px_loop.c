/* IO thread loop: libev + task queue + per-iteration output flush. */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include "px_loop.h"

#include <stdlib.h>

#include "plexus/px_metrics.h"

/*
 * The task queue is Vyukov's intrusive MPSC queue: a post is one atomic exchange and
 * one store, no lock, and the loop drains it without blocking posters. A pop can see
 * a producer between its two steps; it then stops, and that producer's
 * ev_async_send (after its second step) wakes the loop again.
 */
static void px__q_push(px_loop *l, px_task *t)
{
    __atomic_store_n(&t->next, NULL, __ATOMIC_RELAXED);
    px_task *prev = __atomic_exchange_n(&l->q_head, t, __ATOMIC_ACQ_REL);
    __atomic_store_n(&prev->next, t, __ATOMIC_RELEASE);
}

static px_task *px__q_pop(px_loop *l)
{
    px_task *tail = l->q_tail;
    px_task *next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE);
    if (tail == &l->q_stub) {
        if (!next)
            return NULL;
        l->q_tail = tail = next;
        next = __atomic_load_n(&next->next, __ATOMIC_ACQUIRE);
    }
    if (next) {
        l->q_tail = next;
        return tail;
    }
    if (tail != __atomic_load_n(&l->q_head, __ATOMIC_ACQUIRE))
        return NULL; /* a producer is between its two steps */
    px__q_push(l, &l->q_stub);
    next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE);
    if (next) {
        l->q_tail = next;
        return tail;
    }
    return NULL;
}

static void px__loop_wake_cb(struct ev_loop *ev, ev_async *w, int revents)
{
    px_loop *l = w->data;
    px_task *t;
    while ((t = px__q_pop(l)) != NULL)
        t->fn(l, t->arg); /* the task may free its container: t is not touched again */
    if (__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE))
        ev_break(ev, EVBREAK_ALL);
}

static void px__loop_flush_cb(struct ev_loop *ev, ev_prepare *w, int revents)
{
    px_loop *l = w->data;
    l->mono_fresh = 0; /* the next iteration reads the clock again, once */
    /* A flush may queue more output (it should not, but be safe): loop until empty. */
    while (l->flush_list) {
        px_flushable *f = l->flush_list;
        l->flush_list = NULL;
        while (f) {
            px_flushable *next = f->next;
            f->queued = 0;
            f->next = NULL;
            f->flush(f);
            f = next;
        }
    }
}

int px_loop_init(px_loop *l, unsigned index)
{
    *l = (px_loop){0};
    l->index = index;
    l->ev = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!l->ev)
        return -1;
    l->q_head = l->q_tail = &l->q_stub;
    ev_async_init(&l->wake, px__loop_wake_cb);
    l->wake.data = l;
    ev_async_start(l->ev, &l->wake);
    ev_prepare_init(&l->flush_w, px__loop_flush_cb);
    l->flush_w.data = l;
    ev_prepare_start(l->ev, &l->flush_w);
    /* Neither internal watcher should keep the loop alive on its own. */
    ev_unref(l->ev);
    ev_unref(l->ev);
    return 0;
}

static __thread px_loop *px__current;

int px_loop_is_current(const px_loop *l) { return px__current == l; }

static void *px__loop_main(void *arg)
{
    px_loop *l = arg;
    px__current = l;
    /* ev_run returns when no watcher is active; the wake watcher keeps it alive
     * through ev_ref until stop is requested. */
    ev_ref(l->ev);
    ev_run(l->ev, 0);
    ev_unref(l->ev);
    return NULL;
}

int px_loop_start(px_loop *l)
{
    l->running = 1; /* before the thread exists: nobody races on it */
    if (pthread_create(&l->thread, NULL, px__loop_main, l) != 0) {
        l->running = 0;
        return -1;
    }
    return 0;
}

void px_loop_post(px_loop *l, px_task *t, px_task_fn fn, void *arg)
{
    t->fn = fn;
    t->arg = arg;
    px__q_push(l, t);
    ev_async_send(l->ev, &l->wake);
}

void px_loop_stop_join(px_loop *l)
{
    if (!l->running)
        return;
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    ev_async_send(l->ev, &l->wake);
    pthread_join(l->thread, NULL);
    l->running = 0;
}

int px_loop_stop_join_until(px_loop *l, int64_t until)
{
    if (!l->running)
        return 0;
    if (until == INT64_MAX) {
        px_loop_stop_join(l);
        return 0;
    }
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    ev_async_send(l->ev, &l->wake);
    struct timespec ts;
    int64_t left = until - px_mono_us();
    px_abstime(&ts, left > 0 ? left : 0);
    if (pthread_timedjoin_np(l->thread, NULL, &ts) != 0)
        return -1;
    l->running = 0;
    return 0;
}

void px_loop_destroy(px_loop *l)
{
    if (!l->ev)
        return;
    /* Flush hooks still queued hold references on their owners: let them run. */
    px__loop_flush_cb(l->ev, &l->flush_w, 0);
    ev_ref(l->ev);
    ev_ref(l->ev);
    ev_async_stop(l->ev, &l->wake);
    ev_prepare_stop(l->ev, &l->flush_w);
    if (l->lag_m) {
        ev_ref(l->ev);
        ev_timer_stop(l->ev, &l->lag_w);
        px_metric_release(l->lag_m);
        l->lag_m = NULL;
    }
    ev_loop_destroy(l->ev);
    l->ev = NULL;
    px_buf_free(&l->scratch);
}

int px_loop_want_flush(px_loop *l, px_flushable *f)
{
    if (f->queued)
        return 0;
    f->queued = 1;
    f->next = l->flush_list;
    l->flush_list = f;
    return 1;
}
