/* The metrics filter's method table (mx_methods.h). */
#include "mx_methods.h"

#include <stdlib.h>
#include <string.h>

int mx_methods_init(mx_methods *t, const mx_families *fam, const char *upstream, size_t max)
{
    memset(t, 0, sizeof *t);
    uint32_t slots = 16;
    while (slots < 2 * max + 2) /* at most half full: short probes */
        slots *= 2;
    if (!(t->slots = calloc(slots, sizeof *t->slots)))
        return -1;
    t->mask = slots - 1;
    t->fam = fam;
    t->upstream = upstream;
    t->max = max;
    pthread_mutex_init(&t->lock, NULL);
    return 0;
}

static void method_free(mx_method *m)
{
    for (int i = 0; i < MX_CODES; i++)
        px_metric_release(m->calls[i]);
    px_metric_release(m->seconds);
    px_metric_release(m->req_bytes);
    px_metric_release(m->resp_bytes);
    px_metric_release(m->in_flight);
    free(m->service);
    free(m->name);
    free(m);
}

void mx_methods_free(mx_methods *t)
{
    for (uint32_t i = 0; t->slots && i <= t->mask; i++)
        if (t->slots[i])
            method_free(t->slots[i]);
    if (t->other)
        method_free(t->other);
    free(t->slots);
    pthread_mutex_destroy(&t->lock);
}

/* FNV-1a, with the length. */
static uint32_t hash(const char *s, size_t *len)
{
    uint32_t h = 2166136261u;
    const char *p = s;
    for (; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    *len = (size_t)(p - s);
    return h;
}

/* Under the lock: the handles of a new method's series. */
static mx_method *method_new(mx_methods *t, const char *name, size_t len)
{
    mx_method *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strndup(name, len))) {
        free(m);
        return NULL;
    }
    m->len = len;
    /* "pkg.Svc/Method": service and method labels; no '/', the whole as the method. */
    const char *slash = strrchr(m->name, '/');
    m->service = strndup(m->name, slash ? (size_t)(slash - m->name) : 0);
    if (!m->service) {
        method_free(m);
        return NULL;
    }
    if (t->upstream)
        m->labels[m->nlabels++] = t->upstream;
    m->labels[m->nlabels++] = m->service;
    m->labels[m->nlabels++] = slash ? slash + 1 : m->name;
    m->seconds = px_metric_get(t->fam->seconds, m->labels, NULL);
    m->req_bytes = px_metric_get(t->fam->req_bytes, m->labels, NULL);
    m->resp_bytes = px_metric_get(t->fam->resp_bytes, m->labels, NULL);
    m->in_flight = px_metric_get(t->fam->in_flight, m->labels, NULL);
    if (!m->seconds || !m->req_bytes || !m->resp_bytes || !m->in_flight) {
        method_free(m);
        return NULL;
    }
    return m;
}

mx_method *mx_methods_get(mx_methods *t, const char *method)
{
    mx_method *m = __atomic_load_n(&t->last, __ATOMIC_ACQUIRE);
    if (m && strcmp(m->name, method) == 0)
        return m;
    size_t len;
    uint32_t i = hash(method, &len) & t->mask;
    for (;; i = (i + 1) & t->mask) {
        m = __atomic_load_n(&t->slots[i], __ATOMIC_ACQUIRE);
        if (!m)
            break;
        if (m->len == len && memcmp(m->name, method, len) == 0)
            goto found;
    }
    /* Past max: the shared series, without the lock. */
    if (__atomic_load_n(&t->n, __ATOMIC_ACQUIRE) >= t->max &&
        (m = __atomic_load_n(&t->other, __ATOMIC_ACQUIRE)))
        return m;
    /* First seen (by this thread): made under the lock, where another may have won. */
    pthread_mutex_lock(&t->lock);
    for (;; i = (i + 1) & t->mask) {
        m = t->slots[i];
        if (!m || (m->len == len && memcmp(m->name, method, len) == 0))
            break;
    }
    if (!m && t->n < t->max) {
        if ((m = method_new(t, method, len))) {
            __atomic_store_n(&t->slots[i], m, __ATOMIC_RELEASE);
            __atomic_store_n(&t->n, t->n + 1, __ATOMIC_RELEASE);
        }
    } else if (!m) {
        if (!t->other)
            __atomic_store_n(&t->other, method_new(t, "(other)/(other)", 15), __ATOMIC_RELEASE);
        return pthread_mutex_unlock(&t->lock), t->other; /* never the cached last one */
    }
    pthread_mutex_unlock(&t->lock);
    if (!m)
        return NULL;
found:
    if (__atomic_load_n(&t->last, __ATOMIC_RELAXED) != m)
        __atomic_store_n(&t->last, m, __ATOMIC_RELEASE);
    return m;
}

px_metric *mx_method_calls_make(mx_methods *t, mx_method *m, unsigned code)
{
    px_metric *c;
    pthread_mutex_lock(&t->lock);
    if (!(c = m->calls[code])) {
        const char *v[4];
        size_t k = 0;
        for (; k < m->nlabels; k++)
            v[k] = m->labels[k];
        v[k] = px_status_name((px_status)code);
        c = px_metric_get(t->fam->calls, v, NULL);
        __atomic_store_n(&m->calls[code], c, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&t->lock);
    return c;
}
