/* Starting and stopping an upstream's naming module on the naming thread (the client's
 * first IO loop): start, stop and the module's event-loop callbacks all run there, so a
 * module that watches a file or resolves names on the loop needs no lock of its own. */
#include "px_naming_int.h"

#include <stdio.h>
#include <string.h>

#include "px_upstream.h"

/* A start or a stop run on the naming thread while the caller waits. */
typedef struct px__job {
    px_task task;
    px_upstream *up;
    px_err *err; /* start */
    px_status st;
    int stop;
    int done;
    pthread_mutex_t lock;
    pthread_cond_t cond;
} px__job;

static px_status px__start_here(px_upstream *up, px_err *err)
{
    px_naming_sink *s = up->sink;
    px_err why;
    px_err_clear(&why);
    px_status st = up->naming->start(up->naming_state, s, &why);
    pthread_mutex_lock(&s->lock);
    s->started = st == PX_OK;
    pthread_mutex_unlock(&s->lock);
    if (st == PX_OK)
        return PX_OK;
    px_naming_io_close_all(s); /* a failed start may have opened some */
    return px_err_set(err, st, "naming '%s' (upstream %s): %s", s->module, up->conf->name,
                      why.msg[0] ? why.msg : px_status_message(st));
}

static void px__stop_here(px_upstream *up)
{
    px_naming_sink *s = up->sink;
    /* Updates that arrive from now on (a library thread the module is stopping) are
     * refused; stop is called unlocked, so such a thread never waits on us. */
    pthread_mutex_lock(&s->lock);
    int run = s->started && !s->stopped;
    s->stopped = 1;
    pthread_mutex_unlock(&s->lock);
    if (run && up->naming->stop)
        up->naming->stop(up->naming_state);
    px_naming_io_close_all(s);
    s->loop = NULL; /* the loop may go before the upstream: nothing may reach it now */
}

static void px__job_task(px_loop *l, void *arg)
{
    px__job *j = arg;
    px_status st = PX_OK;
    if (j->stop)
        px__stop_here(j->up);
    else
        st = px__start_here(j->up, j->err);
    pthread_mutex_lock(&j->lock);
    j->st = st;
    j->done = 1;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
}

/* Runs the job on loop's thread and waits for it. */
static px_status px__on_loop(px_loop *loop, px_upstream *up, int stop, px_err *err)
{
    px__job j = {.up = up, .err = err, .stop = stop};
    pthread_mutex_init(&j.lock, NULL);
    pthread_cond_init(&j.cond, NULL);
    px_loop_post(loop, &j.task, px__job_task, &j);
    pthread_mutex_lock(&j.lock);
    while (!j.done)
        pthread_cond_wait(&j.cond, &j.lock);
    pthread_mutex_unlock(&j.lock);
    pthread_cond_destroy(&j.cond);
    pthread_mutex_destroy(&j.lock);
    return j.st;
}

px_status px_upstream_naming_start(px_upstream *up, px_loop *loop, px_err *err)
{
    if (up->naming == NULL)
        return px_err_set(err, PX_FAILED_PRECONDITION, "upstream %s has no naming module",
                          up->conf->name);
    up->sink->loop = loop;
    if (loop == NULL || px_loop_is_current(loop))
        return px__start_here(up, err);
    return px__on_loop(loop, up, 0, err);
}

void px_upstream_naming_stop(px_upstream *up)
{
    px_naming_sink *s = up->sink;
    if (s == NULL || up->naming == NULL)
        return;
    px_loop *loop = s->loop;
    if (loop != NULL && loop->running && !px_loop_is_current(loop))
        px__on_loop(loop, up, 1, NULL);
    else
        px__stop_here(up);
}
