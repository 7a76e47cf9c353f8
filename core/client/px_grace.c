/* Grace periods (see px_grace.h). */
#include "px_grace.h"

#include <stdlib.h>

typedef struct px_grace_item {
    void *p;
    void (*fn)(void *);
    uint32_t idle_seen; /* stripes seen with no reader since the retirement */
    struct px_grace_item *next;
} px_grace_item;

#define PX__ALL_STRIPES ((uint32_t)((1ull << PX_GRACE_STRIPES) - 1))

static uint32_t px__next_stripe; /* atomic: hands stripes to threads in turn */
__thread unsigned px__grace_stripe_plus1;

unsigned px__grace_take_stripe(void)
{
    px__grace_stripe_plus1 =
        __atomic_fetch_add(&px__next_stripe, 1, __ATOMIC_RELAXED) % PX_GRACE_STRIPES + 1;
    return px__grace_stripe_plus1 - 1;
}

void px_grace_init(px_grace *g)
{
    for (int i = 0; i < PX_GRACE_STRIPES; i++)
        g->stripe[i].readers = 0;
    pthread_mutex_init(&g->lock, NULL);
    g->retired = NULL;
    g->n_retired = 0;
}

void px_grace_destroy(px_grace *g)
{
    for (px_grace_item *it = g->retired, *next; it; it = next) {
        next = it->next;
        it->fn(it->p);
        free(it);
    }
    g->retired = NULL;
    pthread_mutex_destroy(&g->lock);
}

/* Called locked. The fence orders the writer's publication of the new object before
 * these loads: a reader whose enter is not counted here enters later, and its loads see
 * the new object; one that is counted holds the stripe until it is done. A stripe need
 * not be idle at the same moment as the others: each idle sighting after the retirement
 * proves the reads on that stripe that could hold the old object are over. */
static void px__sweep_locked(px_grace *g)
{
    if (g->retired == NULL)
        return;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint32_t idle = 0;
    for (unsigned s = 0; s < PX_GRACE_STRIPES; s++)
        if (__atomic_load_n(&g->stripe[s].readers, __ATOMIC_SEQ_CST) == 0)
            idle |= 1u << s;
    for (px_grace_item **pp = &g->retired; *pp;) {
        px_grace_item *it = *pp;
        it->idle_seen |= idle;
        if (it->idle_seen == PX__ALL_STRIPES) {
            *pp = it->next;
            g->n_retired--;
            it->fn(it->p);
            free(it);
        } else {
            pp = &it->next;
        }
    }
}

int px_grace_retire(px_grace *g, void *p, void (*fn)(void *))
{
    px_grace_item *it = malloc(sizeof *it);
    if (it == NULL)
        return -1;
    *it = (px_grace_item){.p = p, .fn = fn};
    pthread_mutex_lock(&g->lock);
    it->next = g->retired;
    g->retired = it;
    g->n_retired++;
    px__sweep_locked(g);
    pthread_mutex_unlock(&g->lock);
    return 0;
}

void px_grace_sweep(px_grace *g)
{
    pthread_mutex_lock(&g->lock);
    px__sweep_locked(g);
    pthread_mutex_unlock(&g->lock);
}
