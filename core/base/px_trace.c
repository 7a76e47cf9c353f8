/* Trace context (see px_trace.h): parsing and writing traceparent, and the random ids. */
#include "px_trace.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

__thread px_trace *px__trace_current;

/* ---- random ids ------------------------------------------------------------- */

/* Written by hand: ids are needed per traced call, and what the system offers costs a
 * system call each (getrandom; glibc 2.36's arc4random is a wrapper of it). A per-thread
 * splitmix64 seeded from getrandom makes them in a few instructions, with no lock. A
 * child process after fork reseeds (else parent and child would make the same ids). */
static __thread uint64_t px__rng_state;
static __thread unsigned px__rng_gen; /* px__fork_gen when seeded; 0: never */
static unsigned px__fork_gen = 1;     /* atomic: bumped in every child */
static pthread_once_t px__atfork_once = PTHREAD_ONCE_INIT;

static void px__after_fork(void) { __atomic_add_fetch(&px__fork_gen, 1, __ATOMIC_RELAXED); }
static void px__atfork_init(void) { pthread_atfork(NULL, NULL, px__after_fork); }

static void px__rng_seed(unsigned gen)
{
    pthread_once(&px__atfork_once, px__atfork_init);
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        /* No entropy yet (early boot): the clock and this thread's address still keep
         * processes and threads apart. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uintptr_t)&px__rng_state;
    }
    px__rng_state = s;
    px__rng_gen = gen;
}

static uint64_t px__rand64(void)
{
    unsigned gen = __atomic_load_n(&px__fork_gen, __ATOMIC_RELAXED);
    if (__builtin_expect(px__rng_gen != gen, 0))
        px__rng_seed(gen);
    uint64_t z = (px__rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void px__hex(char *out, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        out[i] = hex[v & 15];
    out[digits] = '\0';
}

/* A random id of 16 hex digits, never all zero (the specification's invalid value). */
static void px__new_id(char out[17])
{
    uint64_t v;
    while ((v = px__rand64()) == 0)
        ;
    px__hex(out, v, 16);
}

/* ---- traceparent ---------------------------------------------------------------- */

static int px__lowhex(const char *p, size_t n, int *nonzero)
{
    int nz = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        nz |= c != '0';
    }
    if (nonzero)
        *nonzero = nz;
    return 1;
}

int px_trace_parse(const char *v, size_t len, px_trace *t)
{
    int nz_trace = 0, nz_parent = 0;
    if (len < PX_TRACEPARENT_LEN || !px__lowhex(v, 2, NULL) || memcmp(v, "ff", 2) == 0)
        return -1;
    /* Version 00 is exactly 55 bytes; a later one may carry more after a '-'. */
    if (memcmp(v, "00", 2) == 0 ? len != PX_TRACEPARENT_LEN
                                : len > PX_TRACEPARENT_LEN && v[PX_TRACEPARENT_LEN] != '-')
        return -1;
    if (v[2] != '-' || v[35] != '-' || v[52] != '-' || !px__lowhex(v + 3, 32, &nz_trace) ||
        !px__lowhex(v + 36, 16, &nz_parent) || !px__lowhex(v + 53, 2, NULL) || !nz_trace ||
        !nz_parent)
        return -1;
    memcpy(t->trace_id, v + 3, 32);
    t->trace_id[32] = '\0';
    memcpy(t->parent_id, v + 36, 16);
    t->parent_id[16] = '\0';
    memcpy(t->flags, v + 53, 2);
    t->flags[2] = '\0';
    return 0;
}

void px_trace_resolve(px_trace *t)
{
    size_t len = 0;
    const char *v = t->meta ? px_meta_get(t->meta, "traceparent", &len) : NULL;
    /* A malformed traceparent is ignored: the call begins a trace (§3.2.2.1). */
    if (!v || px_trace_parse(v, len, t) != 0) {
        px__new_id(t->trace_id);
        px__new_id(t->trace_id + 16);
        t->parent_id[0] = '\0';
        memcpy(t->flags, "01", 3); /* sampled: the access log records it */
    }
    px__new_id(t->span_id);
    t->ready = 1;
}

void px_trace_entry(const px_trace *t, uint8_t *w)
{
    w[0] = 11;
    memcpy(w + 1, "traceparent", 11);
    w[12] = 0;
    w[13] = PX_TRACEPARENT_LEN;
    char *v = (char *)w + 14;
    memcpy(v, "00-", 3);
    memcpy(v + 3, t->trace_id, 32);
    v[35] = '-';
    memcpy(v + 36, t->span_id, 16);
    v[52] = '-';
    memcpy(v + 53, t->flags, 2);
}

int px_trace_of_client(px_trace *out, const px_meta *sent)
{
    size_t len = 0;
    const char *v = sent ? px_meta_get(sent, "traceparent", &len) : NULL;
    if (!v || px_trace_parse(v, len, out) != 0)
        return -1;
    memcpy(out->span_id, out->parent_id, sizeof out->span_id);
    out->parent_id[0] = '\0';
    out->meta = NULL;
    out->ready = 1;
    return 0;
}
