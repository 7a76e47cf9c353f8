/* An upstream's endpoint records (see px_eptable.h). */
#include "px_eptable.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "px_upstream.h"

int px_eptable_init(px_eptable *t, uint32_t cap)
{
    memset(t, 0, sizeof *t);
    uint32_t slots = 16;
    while (slots < 2 * cap) /* at most half full: short probes */
        slots *= 2;
    t->recs = calloc(cap ? cap : 1, sizeof *t->recs);
    t->slots = calloc(slots, sizeof *t->slots);
    if (!t->recs || !t->slots) {
        px_eptable_free(t);
        return -1;
    }
    t->cap = cap;
    t->mask = slots - 1;
    return 0;
}

void px_eptable_free(px_eptable *t)
{
    for (uint32_t i = 0; t->recs && i < t->cap && t->recs[i]; i++) {
        pthread_mutex_destroy(&t->recs[i]->lock);
        free(t->recs[i]);
    }
    free(t->recs);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static uint32_t px__hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The slot holding address, or the free slot where it would go. */
static uint32_t px__slot(const px_eptable *t, const char *address)
{
    uint32_t i = px__hash(address) & t->mask;
    while (t->slots[i] && strcmp(t->recs[t->slots[i] - 1]->pub.address, address) != 0)
        i = (i + 1) & t->mask;
    return i;
}

px_ep *px_eptable_find(const px_eptable *t, const char *address)
{
    uint32_t v = t->slots[px__slot(t, address)];
    return v ? t->recs[v - 1] : NULL;
}

px_ep *px_eptable_make(px_eptable *t, const char *address, const px_addr *sa, px_err *err)
{
    uint32_t i = t->n;
    if (i >= t->cap) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED,
                   "the upstream already has max_endpoints (%u) addresses", t->cap);
        return NULL;
    }
    size_t len = strlen(address);
    px_ep *ep = calloc(1, sizeof *ep + len + 1);
    if (ep == NULL) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    char *text = (char *)(ep + 1); /* the address lives with its record */
    memcpy(text, address, len + 1);
    ep->pub.address = text;
    ep->pub.index = i;
    ep->sa = *sa;
    pthread_mutex_init(&ep->lock, NULL);
    t->recs[i] = ep;
    return ep;
}

void px_eptable_commit(px_eptable *t)
{
    uint32_t i = t->n;
    t->slots[px__slot(t, t->recs[i]->pub.address)] = i + 1;
    __atomic_store_n(&t->n, i + 1, __ATOMIC_RELEASE);
}
