/* Generated protoc-c stubs over the async client, and px_call_wait. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_client_int.h"
#include "px_frame.h"
#include "px_meta.h"

typedef struct px__stub_call {
    ProtobufCClosure closure;
    void *closure_data;
    px_task task;   /* a call that never started: its closure runs from a task ... */
    px_status st;   /* ... with this status ... */
    char msg[];     /* ... and message */
} px__stub_call;

/* px_stub_call_opts: what this thread's stub calls use (generated stubs take none). */
static __thread px_call_opts px__stub_opts;
static __thread int px__stub_has_opts;

void px_stub_call_opts(const px_call_opts *opts)
{
    px__stub_has_opts = opts != NULL;
    px__stub_opts = opts ? *opts : (px_call_opts){0};
}

static void px__stub_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    px__stub_call *sc = user;
    /* px_stub_status() reads the status the client set for this callback. */
    sc->closure(reply, sc->closure_data);
    free(sc);
}

static void px__stub_fail_task(px_loop *l, void *arg)
{
    (void)l;
    px__stub_call *sc = arg;
    px__status_enter(sc->st, sc->msg);
    sc->closure(NULL, sc->closure_data);
    px__status_leave();
    free(sc);
}

/* The call never started: its closure still runs exactly once, with NULL, as every
 * closure does: on an IO thread, after the stub call returned, px_stub_status() saying
 * why. sc (may be NULL) is reused for the task. */
static void px__stub_fail(px_client *c, px__stub_call *sc, ProtobufCClosure closure,
                          void *closure_data, px_status st, const char *msg)
{
    size_t n = strlen(msg) + 1;
    px__stub_call *f = sc ? realloc(sc, sizeof *sc + n) : malloc(sizeof *sc + n);
    if (!f) {
        /* Out of memory for even that: it runs here, still telling why. */
        free(sc);
        px__status_enter(st, msg);
        closure(NULL, closure_data);
        px__status_leave();
        return;
    }
    f->closure = closure;
    f->closure_data = closure_data;
    f->st = st;
    memcpy(f->msg, msg, n);
    px_loop_post(px__client_loop(c), &f->task, px__stub_fail_task, f);
}

static void px__stub_invoke(ProtobufCService *service, unsigned method_index,
                            const ProtobufCMessage *input, ProtobufCClosure closure,
                            void *closure_data)
{
    px_stub *stub = (px_stub *)service;
    const ProtobufCServiceDescriptor *d = service->descriptor;
    char method[PX_FRAME_MAX_METHOD + 1];
    int n = snprintf(method, sizeof method, "%s/%s", d->name, d->methods[method_index].name);
    px__stub_call *sc = malloc(sizeof *sc);
    px_err err;
    px_err_clear(&err);
    if (!sc) {
        px__stub_fail(stub->cl, NULL, closure, closure_data, PX_RESOURCE_EXHAUSTED,
                      "out of memory");
        return;
    }
    if (n <= 0 || (size_t)n >= sizeof method) {
        px_err_set(&err, PX_INVALID_ARGUMENT, "method %s/%s is longer than %d bytes", d->name,
                   d->methods[method_index].name, PX_FRAME_MAX_METHOD);
        px__stub_fail(stub->cl, sc, closure, closure_data, err.status, err.msg);
        return;
    }
    sc->closure = closure;
    sc->closure_data = closure_data;
    const px_call_opts *opts = px__stub_has_opts ? &px__stub_opts : NULL;
    if (px_call_async(stub->cl, method, input, d->methods[method_index].output, opts,
                      px__stub_done, sc, &err) != PX_OK)
        px__stub_fail(stub->cl, sc, closure, closure_data, err.status, err.msg);
}

static void px__stub_destroy(ProtobufCService *service) { (void)service; }

ProtobufCService *px_client_service(px_client *c, const ProtobufCServiceDescriptor *desc)
{
    pthread_mutex_lock(&c->stub_lock);
    px_stub *s;
    for (s = c->stubs; s; s = s->next)
        if (s->base.descriptor == desc)
            break;
    if (!s && (s = calloc(1, sizeof *s))) {
        s->base.descriptor = desc;
        s->base.invoke = px__stub_invoke;
        s->base.destroy = px__stub_destroy;
        s->cl = c;
        s->next = c->stubs;
        c->stubs = s;
    }
    pthread_mutex_unlock(&c->stub_lock);
    return s ? &s->base : NULL;
}

typedef struct px__waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    px_status st;
    char msg[512];
    px_meta *reply_meta; /* the caller's, filled on the IO thread while it waits */
} px__waiter;

static void px__wait_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    px__waiter *w = user;
    const px_meta *rm = px_call_reply_meta();
    if (w->reply_meta && rm && rm->enc.len &&
        px_meta_assign(w->reply_meta, rm->enc.data, rm->enc.len, rm->count) != 0 && st == PX_OK) {
        st = PX_RESOURCE_EXHAUSTED;
        msg = "out of memory for the response metadata";
    }
    pthread_mutex_lock(&w->lock);
    w->st = st;
    snprintf(w->msg, sizeof w->msg, "%s", msg ? msg : "");
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

px_status px_call_wait(px_client *c, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *reply_desc, const px_call_opts *opts,
                       ProtobufCMessage **reply, px_err *err)
{
    px__waiter w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
                    .reply_meta = opts ? opts->reply_meta : NULL};
    ProtobufCMessage *got = NULL;
    *reply = NULL;
    px_meta_clear(w.reply_meta);
    px_status st = px__call_async_keep(c, method, req, reply_desc, opts, px__wait_done, &w, &got, err);
    if (st != PX_OK)
        return st;
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    if (w.st != PX_OK) {
        px_msg_free(got);
        return px_err_set(err, w.st, "%s", w.msg);
    }
    *reply = got;
    return PX_OK;
}
