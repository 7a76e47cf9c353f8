/* plexus-demo, asynchronous calls: many in flight through px_call_async, and a generated stub. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "calc.pb-c.h"
#include "demo.h"

#define N_ASYNC 20

/* Completion bookkeeping shared by the callbacks (IO thread) and the waiting main thread. */
typedef struct async_batch {
    pthread_mutex_t lock;
    pthread_cond_t all_done;
    int pending;
    struct {
        px_status st;
        char id[64];  /* who answered */
        char msg[128];
    } res[N_ASYNC];
} async_batch;

typedef struct async_slot {
    async_batch *batch;
    int index;
} async_slot;

static void whoami_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    async_slot *s = user;
    async_batch *b = s->batch;
    pthread_mutex_lock(&b->lock);
    b->res[s->index].st = st;
    if (st == PX_OK)
        snprintf(b->res[s->index].id, sizeof b->res[s->index].id, "%s",
                 ((const Calc__WhoamiReply *)reply)->id);
    else
        snprintf(b->res[s->index].msg, sizeof b->res[s->index].msg, "%s", msg ? msg : "");
    if (--b->pending == 0)
        pthread_cond_signal(&b->all_done);
    pthread_mutex_unlock(&b->lock);
}

static void whoami_burst(demo *d)
{
    async_batch b = {.lock = PTHREAD_MUTEX_INITIALIZER, .all_done = PTHREAD_COND_INITIALIZER};
    async_slot slots[N_ASYNC];
    Calc__WhoamiRequest req = CALC__WHOAMI_REQUEST__INIT;
    printf("-> calc.Calculator/Whoami {} x%d, all in flight at once (px_call_async)\n", N_ASYNC);
    for (int i = 0; i < N_ASYNC; i++) {
        slots[i] = (async_slot){&b, i};
        px_err err;
        px_err_clear(&err);
        pthread_mutex_lock(&b.lock);
        b.pending++; /* counted before the call: its callback may run before we return */
        pthread_mutex_unlock(&b.lock);
        if (px_call_async(d->client, "calc.Calculator/Whoami", &req.base,
                          &calc__whoami_reply__descriptor, NULL, whoami_done, &slots[i],
                          &err) != PX_OK) {
            /* The callback never runs for a call that did not start. */
            pthread_mutex_lock(&b.lock);
            b.pending--;
            b.res[i].st = err.status;
            snprintf(b.res[i].msg, sizeof b.res[i].msg, "%.127s", err.msg);
            pthread_mutex_unlock(&b.lock);
        }
    }
    /* Every started call ends exactly once, by its deadline at the latest. */
    pthread_mutex_lock(&b.lock);
    while (b.pending > 0)
        pthread_cond_wait(&b.all_done, &b.lock);
    pthread_mutex_unlock(&b.lock);

    /* Tally per server id, in order of first appearance. */
    char ids[N_ASYNC][64];
    int counts[N_ASYNC] = {0}, n_ids = 0, ok = 0;
    for (int i = 0; i < N_ASYNC; i++) {
        if (b.res[i].st != PX_OK) {
            printf("<- #%02d %s: %s\n", i + 1, px_status_name(b.res[i].st), b.res[i].msg);
            continue;
        }
        ok++;
        int k = 0;
        while (k < n_ids && strcmp(ids[k], b.res[i].id) != 0)
            k++;
        if (k == n_ids)
            snprintf(ids[n_ids++], sizeof ids[0], "%s", b.res[i].id);
        counts[k]++;
    }
    printf("<- %d replies; answered by:", ok);
    for (int k = 0; k < n_ids; k++)
        printf("  %s x%d", ids[k], counts[k]);
    printf("\n");
    demo_expect(d, ok == N_ASYNC, "%d of %d async calls failed", N_ASYNC - ok, N_ASYNC);
}

/* The generated stub's closure runs on an IO thread: hand the result to the caller. */
typedef struct stub_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    px_status st;
    char msg[128];
    int64_t sum;
} stub_wait;

static void add_closure(const Calc__AddReply *reply, void *data)
{
    stub_wait *w = data;
    const char *msg = NULL;
    px_status st = reply ? PX_OK : px_stub_status(&msg); /* why it is NULL */
    pthread_mutex_lock(&w->lock);
    w->st = st;
    if (reply)
        w->sum = reply->sum;
    else
        snprintf(w->msg, sizeof w->msg, "%s", msg ? msg : "");
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void stub_add(demo *d)
{
    stub_wait w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    req.a = 40;
    req.b = 2;
    printf("-> calc__calculator__add(px_client_service(client, &calc__calculator__descriptor),"
           " {a: 40, b: 2}, closure, data)\n");
    ProtobufCService *svc = px_client_service(d->client, &calc__calculator__descriptor);
    if (svc == NULL) {
        demo_expect(d, 0, "px_client_service returned NULL (out of memory)");
        return;
    }
    /* The closure runs exactly once, even when the call cannot start. */
    calc__calculator__add(svc, &req, add_closure, &w);
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    if (w.st == PX_OK)
        printf("<- AddReply {sum: %lld}   in the closure, on an IO thread\n", (long long)w.sum);
    else
        printf("<- closure(NULL): %s: %s\n", px_status_name(w.st), w.msg);
    demo_expect(d, w.st == PX_OK && w.sum == 42, "expected sum 42");
}

void demo_async(demo *d)
{
    printf("\n== asynchronous calls (px_call_async, callbacks on the client IO thread)\n");
    whoami_burst(d);
    printf("\n== generated protoc-c stub (px_client_service)\n");
    stub_add(d);
}
