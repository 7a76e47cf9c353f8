/* Method table with an open-addressing index. Hand-written: a few lines keyed by
 * byte ranges straight from the frame, where hsearch(3) is process-global and
 * needs NUL-terminated keys. */
#include "px_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t px__fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

px_status px_methods_add(px_methods *t, ProtobufCService *svc, px_pool *pool,
                         const struct px_fchain *chain, px_err *err)
{
    const ProtobufCServiceDescriptor *d = svc->descriptor;
    for (unsigned i = 0; i < d->n_methods; i++) {
        char name[512];
        int len = snprintf(name, sizeof name, "%s/%s", d->name, d->methods[i].name);
        if (len <= 0 || (size_t)len >= sizeof name)
            return px_err_set(err, PX_INVALID_ARGUMENT, "method name %s/%s too long", d->name,
                              d->methods[i].name);
        for (size_t k = 0; k < t->n; k++) /* setup time only: linear is fine */
            if (strcmp(t->items[k].name, name) == 0)
                return px_err_set(err, PX_ALREADY_EXISTS,
                                  "method %s is provided by two services", name);
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            px_method *items = realloc(t->items, cap * sizeof *items);
            if (!items)
                return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
            t->items = items;
            t->cap = cap;
        }
        px_method *m = &t->items[t->n++];
        m->name = strdup(name);
        m->name_len = (size_t)len;
        m->service = svc;
        m->index = i;
        m->input = d->methods[i].input;
        m->output = d->methods[i].output;
        m->pool = pool;
        m->chain = chain;
        if (!m->name)
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    }
    return PX_OK;
}

px_status px_methods_seal(px_methods *t, px_err *err)
{
    free(t->slots);
    t->n_slots = 16;
    while (t->n_slots < t->n * 2)
        t->n_slots *= 2;
    t->slots = calloc(t->n_slots, sizeof *t->slots);
    if (!t->slots)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < t->n; i++) {
        size_t s = px__fnv1a((const uint8_t *)t->items[i].name, t->items[i].name_len) & (t->n_slots - 1);
        while (t->slots[s])
            s = (s + 1) & (t->n_slots - 1);
        t->slots[s] = i + 1;
    }
    return PX_OK;
}

const px_method *px_methods_find(const px_methods *t, const char *name, size_t len)
{
    if (!t->n_slots)
        return NULL;
    size_t s = px__fnv1a((const uint8_t *)name, len) & (t->n_slots - 1);
    while (t->slots[s]) {
        const px_method *m = &t->items[t->slots[s] - 1];
        if (m->name_len == len && memcmp(m->name, name, len) == 0)
            return m;
        s = (s + 1) & (t->n_slots - 1);
    }
    return NULL;
}

int px_methods_has_service(const px_methods *t, const char *svc, size_t len)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i].name_len > len && t->items[i].name[len] == '/' &&
            memcmp(t->items[i].name, svc, len) == 0)
            return 1;
    return 0;
}

void px_methods_free(px_methods *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i].name);
    free(t->items);
    free(t->slots);
    memset(t, 0, sizeof *t);
}
