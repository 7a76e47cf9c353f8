/* Grace periods for what readers on other threads may still hold: an upstream's old
 * endpoint lists and the state a balancer replaces in update. A reader (a pick) marks
 * its stripe busy while it reads; a writer publishes the new object, then retires the
 * old one, which is freed once every stripe has been seen idle since the retirement: a
 * reader that began before then has finished, and one that began after sees the new
 * object. Stripes, one cache line each, are taken by threads in turn, so the IO loops
 * and the first blocking callers each count on a line of their own: a pick costs two
 * uncontended atomic adds, where one shared reference count would move one cache line
 * between every picking thread on every call. */
#ifndef PX_GRACE_H
#define PX_GRACE_H

#include <pthread.h>
#include <stdint.h>

#define PX_GRACE_STRIPES 16

typedef struct px_grace_stripe {
    _Alignas(64) uint64_t readers; /* picks in progress on this stripe */
} px_grace_stripe;

struct px_grace_item;

typedef struct px_grace {
    px_grace_stripe stripe[PX_GRACE_STRIPES];
    pthread_mutex_t lock;          /* the retired list */
    struct px_grace_item *retired; /* waiting for their grace period */
    uint32_t n_retired;
} px_grace;

void px_grace_init(px_grace *g);
/** Frees everything still retired (no reader may be left) and the lock. */
void px_grace_destroy(px_grace *g);

/* The calling thread's stripe + 1; 0 until its first read takes one. */
extern __thread unsigned px__grace_stripe_plus1;
unsigned px__grace_take_stripe(void);

/** Begins a read: objects loaded from now on stay valid until px_grace_exit. */
static inline unsigned px_grace_enter(px_grace *g)
{
    unsigned s = __builtin_expect(px__grace_stripe_plus1 != 0, 1) ? px__grace_stripe_plus1 - 1
                                                                   : px__grace_take_stripe();
    /* seq_cst: ordered before the loads of the read (see px_grace_sweep). */
    __atomic_add_fetch(&g->stripe[s].readers, 1, __ATOMIC_SEQ_CST);
    return s;
}

static inline void px_grace_exit(px_grace *g, unsigned s)
{
    __atomic_sub_fetch(&g->stripe[s].readers, 1, __ATOMIC_RELEASE);
}

/**
 * Frees p with fn(p) once no read that began before this call is still running; at
 * once when no such read is. The new object must be published first. -1 when memory
 * ran out for the bookkeeping: then p is not freed (a leak, not a crash), else 0.
 */
int px_grace_retire(px_grace *g, void *p, void (*fn)(void *));
/** Frees what has had its grace period. Writers call it after each update. */
void px_grace_sweep(px_grace *g);

#endif
