/* Per-thread counter cells (px_mcells.h): shards, the retired totals. */
#include "px_mcells.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct px_mshard {
    uint64_t *cells;              /* PX_MCELLS_MAX of them, written by its thread only */
    struct px_mshard *next, *prev; /* the shard list, under the lock */
} px_mshard;

__thread uint64_t *px__mcells_tls;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static px_mshard *g_shards;  /* live shards */
static uint64_t *g_retired;  /* what exited threads counted (NULL: none yet) */
static uint32_t g_next;      /* the next free slot */
static uint8_t g_f64[PX_MCELLS_MAX / 8]; /* the slots that hold a double (a histogram's sum) */
/* Where a thread counts when its shard cannot be mapped: lost, not a crash. */
static __thread uint64_t t_sink;

/* A fork while another thread holds the lock (a scrape) would leave the child's copy
 * locked for ever: the lock is taken across fork (plexusd's workers are forked). */
static void fork_prepare(void) { pthread_mutex_lock(&g_mu); }
static void fork_after(void) { pthread_mutex_unlock(&g_mu); }

__attribute__((constructor)) static void px__mcells_init(void)
{
    pthread_atfork(fork_prepare, fork_after, fork_after);
}

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

static uint64_t *cells_map(void)
{
    /* Address space only: the pages of untouched cells are never backed, and reading
     * them (a scrape) maps the shared zero page. */
    void *p = mmap(NULL, PX_MCELLS_MAX * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
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

static double f64_of(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

uint64_t px__mcells_sum_u64(uint32_t slot)
{
    uint64_t sum = g_retired ? g_retired[slot] : 0;
    for (const px_mshard *s = g_shards; s; s = s->next)
        sum += __atomic_load_n(&s->cells[slot], __ATOMIC_RELAXED);
    return sum;
}

double px__mcells_sum_f64(uint32_t slot)
{
    double sum = g_retired ? f64_of(g_retired[slot]) : 0;
    for (const px_mshard *s = g_shards; s; s = s->next)
        sum += f64_of(__atomic_load_n(&s->cells[slot], __ATOMIC_RELAXED));
    return sum;
}

/* A thread's exit (pthread key destructor): its counts join the retired totals. */
static void shard_exit(void *arg)
{
    px_mshard *s = arg;
    pthread_mutex_lock(&g_mu);
    if (!g_retired) {
        g_retired = s->cells; /* the first to go hands its cells over as they are */
        s->cells = NULL;
    }
    for (uint32_t i = 0; s->cells && i < g_next; i++) {
        if (is_f64(i)) {
            double d = f64_of(g_retired[i]) + f64_of(s->cells[i]);
            memcpy(&g_retired[i], &d, sizeof d);
        } else {
            g_retired[i] += s->cells[i];
        }
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        g_shards = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&g_mu);
    if (s->cells)
        munmap(s->cells, PX_MCELLS_MAX * sizeof(uint64_t));
    free(s);
    px__mcells_tls = NULL;
}

static void make_key(void)
{
    pthread_key_create(&g_key, shard_exit);
}

uint64_t *px__mcell_slow(uint32_t slot)
{
    pthread_once(&g_once, make_key);
    px_mshard *s = calloc(1, sizeof *s);
    if (!s || !(s->cells = cells_map())) {
        free(s);
        return &t_sink;
    }
    pthread_mutex_lock(&g_mu);
    s->next = g_shards;
    if (g_shards)
        g_shards->prev = s;
    g_shards = s;
    pthread_mutex_unlock(&g_mu);
    pthread_setspecific(g_key, s);
    px__mcells_tls = s->cells;
    return s->cells + slot;
}
