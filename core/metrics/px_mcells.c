/* Per-thread counter cells (px_mcells.h): shards, their pages, the retired totals. */
#include "px_mcells.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

__thread px_mshard *px__mshard_tls;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static px_mshard *g_shards;  /* live shards */
static px_mshard g_retired;  /* what exited threads counted (its pages, not its links) */
static uint32_t g_next;      /* the next free slot */
static uint8_t g_f64[PX_MCELLS_MAX / 8]; /* the slots that hold a double (a histogram's sum) */
/* Where a thread counts when a page cannot be allocated: lost, not a crash. */
static __thread uint64_t t_sink;

void px__mlock(void)
{
    pthread_mutex_lock(&g_mu);
}

void px__munlock(void)
{
    pthread_mutex_unlock(&g_mu);
}

static int is_f64(uint32_t slot)
{
    return (g_f64[slot >> 3] >> (slot & 7)) & 1;
}

uint32_t px__mcells_alloc(uint32_t n, int f64_last)
{
    if (n == 0 || n > PX_MCELLS_MAX - g_next)
        return UINT32_MAX;
    uint32_t base = g_next;
    g_next += n;
    if (f64_last)
        g_f64[(base + n - 1) >> 3] |= (uint8_t)(1u << ((base + n - 1) & 7));
    return base;
}

static uint64_t cell_of(const px_mshard *s, uint32_t slot)
{
    const uint64_t *p = __atomic_load_n(&s->pages[slot >> PX_MCELLS_PAGE_BITS], __ATOMIC_ACQUIRE);
    return p ? __atomic_load_n(&p[slot & (PX_MCELLS_PAGE - 1)], __ATOMIC_RELAXED) : 0;
}

static double f64_of(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

uint64_t px__mcells_sum_u64(uint32_t slot)
{
    uint64_t sum = cell_of(&g_retired, slot);
    for (const px_mshard *s = g_shards; s; s = s->next)
        sum += cell_of(s, slot);
    return sum;
}

double px__mcells_sum_f64(uint32_t slot)
{
    double sum = f64_of(cell_of(&g_retired, slot));
    for (const px_mshard *s = g_shards; s; s = s->next)
        sum += f64_of(cell_of(s, slot));
    return sum;
}

/* A thread's exit (pthread key destructor): its counts join the retired totals. */
static void shard_exit(void *arg)
{
    px_mshard *s = arg;
    pthread_mutex_lock(&g_mu);
    for (uint32_t pg = 0; pg < PX_MCELLS_PAGES; pg++) {
        uint64_t *p = s->pages[pg];
        if (!p)
            continue;
        uint64_t *r = g_retired.pages[pg];
        if (!r) {
            /* The dead thread's page becomes the retired one as it is. */
            __atomic_store_n(&g_retired.pages[pg], p, __ATOMIC_RELEASE);
            continue;
        }
        for (uint32_t i = 0; i < PX_MCELLS_PAGE; i++) {
            uint32_t slot = (pg << PX_MCELLS_PAGE_BITS) | i;
            uint64_t v = is_f64(slot) ? 0 : r[i] + p[i];
            if (is_f64(slot)) {
                double d = f64_of(r[i]) + f64_of(p[i]);
                memcpy(&v, &d, sizeof v);
            }
            __atomic_store_n(&r[i], v, __ATOMIC_RELAXED);
        }
        free(p);
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        g_shards = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&g_mu);
    free(s);
    px__mshard_tls = NULL;
}

static void make_key(void)
{
    pthread_key_create(&g_key, shard_exit);
}

uint64_t *px__mcell_slow(uint32_t slot)
{
    if (slot >= PX_MCELLS_MAX)
        return &t_sink;
    px_mshard *s = px__mshard_tls;
    if (!s) {
        pthread_once(&g_once, make_key);
        s = calloc(1, sizeof *s);
        if (!s)
            return &t_sink;
        pthread_mutex_lock(&g_mu);
        s->next = g_shards;
        if (g_shards)
            g_shards->prev = s;
        g_shards = s;
        pthread_mutex_unlock(&g_mu);
        pthread_setspecific(g_key, s);
        px__mshard_tls = s;
    }
    uint32_t pg = slot >> PX_MCELLS_PAGE_BITS;
    uint64_t *p = s->pages[pg];
    if (!p) {
        p = calloc(PX_MCELLS_PAGE, sizeof *p);
        if (!p)
            return &t_sink;
        __atomic_store_n(&s->pages[pg], p, __ATOMIC_RELEASE);
    }
    return p + (slot & (PX_MCELLS_PAGE - 1));
}
