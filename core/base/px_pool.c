/* Worker pool: mutex + condition queue; handlers that block run here, not on IO threads. */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include "px_pool.h"

#include <stdlib.h>

#include "px_time.h"

static void *px__pool_main(void *arg)
{
    px_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cond, &p->lock);
        px_task *t = p->head;
        if (!t)
            break; /* stop requested and nothing left */
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        t->fn(NULL, t->arg);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int px_pool_start(px_pool *p, int n)
{
    *p = (px_pool){0};
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->threads = calloc((size_t)n, sizeof *p->threads);
    if (!p->threads)
        return -1;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&p->threads[i], NULL, px__pool_main, p) != 0)
            return -1;
        p->n++;
    }
    return 0;
}

void px_pool_submit(px_pool *p, px_task *t, px_task_fn fn, void *arg)
{
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void px_pool_stop(px_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    p->threads = NULL;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
}

int px_pool_stop_until(px_pool *p, int64_t until)
{
    if (until == INT64_MAX) {
        px_pool_stop(p);
        return 0;
    }
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    int left_running = 0;
    for (int i = 0; i < p->n; i++) {
        struct timespec ts;
        int64_t left = until - px_mono_us();
        px_abstime(&ts, left > 0 ? left : 0);
        if (pthread_timedjoin_np(p->threads[i], NULL, &ts) != 0)
            left_running++;
    }
    if (left_running)
        return left_running; /* its threads still use it */
    free(p->threads);
    p->threads = NULL;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    return 0;
}
