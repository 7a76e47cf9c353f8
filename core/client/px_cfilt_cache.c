/* Why a cache of our own: an async client keeps many calls in flight, and a loop
 * iteration ends a burst of them at once. glibc's per-thread cache keeps only 7 free
 * blocks of a size, so with 64 calls in flight most of a burst's frees (and the next
 * burst's mallocs) took malloc's slow path: about 130 instructions per filtered call.
 * This is a plain stack of free blocks per thread, bounded, given back to free() when
 * full and when the thread exits. A block made on a caller's thread and given back on
 * an IO thread lands in the IO thread's stack: the common case (calls made from the
 * loop's callbacks) stays on one thread; the other costs no more than malloc did. */
#include "px_cfilt_cache.h"

#include <pthread.h>
#include <stdlib.h>

#include "px_client_int.h"
#include "plexus/px_filter.h"

/* Enough for a loop's burst of calls; 256 blocks of under 1 KiB per thread at most. */
#define PX_CFILT_CACHE_MAX 256

typedef struct px_cfree {
    struct px_cfree *next;
} px_cfree;

typedef struct px_cstack {
    px_cfree *head;
    unsigned n;
    int keyed; /* the exit destructor is registered for this thread */
} px_cstack;

static __thread px_cstack px__cstack;
static pthread_key_t px__ckey;
static pthread_once_t px__ckey_once = PTHREAD_ONCE_INIT;

static void px__cstack_drain(void *arg)
{
    px_cstack *s = arg;
    while (s->head) {
        px_cfree *f = s->head;
        s->head = f->next;
        free(f);
    }
    s->n = 0;
}

static void px__ckey_make(void)
{
    (void)pthread_key_create(&px__ckey, px__cstack_drain);
}

size_t px_cfilt_block_size(void)
{
    return sizeof(px_cfilt) + PX_FILTER_MAX_CHAIN * sizeof(void *);
}

void *px_cfilt_get(void)
{
    px_cstack *s = &px__cstack;
    px_cfree *f = s->head;
    if (__builtin_expect(f != NULL, 1)) {
        s->head = f->next;
        s->n--;
        return f;
    }
    return malloc(px_cfilt_block_size());
}

void px_cfilt_put(void *blk)
{
    px_cstack *s = &px__cstack;
    if (__builtin_expect(s->n >= PX_CFILT_CACHE_MAX, 0)) {
        free(blk);
        return;
    }
    if (__builtin_expect(!s->keyed, 0)) {
        /* The thread's stack is freed when it exits (the process's main thread keeps
         * its stack reachable until exit). */
        pthread_once(&px__ckey_once, px__ckey_make);
        if (pthread_setspecific(px__ckey, s) != 0) {
            free(blk);
            return;
        }
        s->keyed = 1;
    }
    px_cfree *f = blk;
    f->next = s->head;
    s->head = f;
    s->n++;
}
