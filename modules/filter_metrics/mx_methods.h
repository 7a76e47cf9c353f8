/* The metrics filter's per-method series: a table from "pkg.Svc/Method" to the handles
 * of that method's series, read without a lock on every call, grown under one when a
 * method is first seen. */
#ifndef MX_METHODS_H
#define MX_METHODS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <plexus/plexus.h>

/* px_status values 0..16: a calls_total series per status, made on its first use. */
#define MX_CODES 17

typedef struct mx_method {
    char *name;                 /* "pkg.Svc/Method" */
    size_t len;
    px_metric *calls[MX_CODES]; /* atomic pointers: made under the table's lock */
    px_metric *seconds, *req_bytes, *resp_bytes, *in_flight;
    const char *labels[3];      /* [upstream,] service, method: for calls[] made later */
    size_t nlabels;
    char *service;              /* label values owned here */
} mx_method;

typedef struct mx_families {
    px_metric_family *calls, *seconds, *req_bytes, *resp_bytes, *in_flight;
} mx_families;

typedef struct mx_methods {
    const mx_families *fam;
    const char *upstream;       /* a client's: the first label; NULL on a server */
    size_t max;                 /* methods with series of their own; then "(other)" */
    uint32_t mask;
    mx_method **slots;          /* open addressing, atomic pointers; never removed */
    mx_method *last;            /* atomic: the last method looked up (calls repeat one) */
    mx_method *other;           /* methods past max share this one */
    size_t n;
    pthread_mutex_t lock;
} mx_methods;

/** Room for max methods. 0, or -1 when out of memory. */
int mx_methods_init(mx_methods *t, const mx_families *fam, const char *upstream, size_t max);
/** Gives every handle back (counters stay in the registry, gauges go) and frees. */
void mx_methods_free(mx_methods *t);
/** The record of method (NULL: out of memory or the registry refused: not counted). */
mx_method *mx_methods_get(mx_methods *t, const char *method);
/** The calls_total handle of code st, made under the lock on its first use. */
px_metric *mx_method_calls_make(mx_methods *t, mx_method *m, unsigned code);

/** The calls_total handle of code st (made on its first use). Inline: every call
 *  takes it, and it is made once. */
static inline px_metric *mx_method_calls(mx_methods *t, mx_method *m, px_status st)
{
    unsigned code = (unsigned)st < MX_CODES ? (unsigned)st : (unsigned)PX_UNKNOWN;
    px_metric *c = __atomic_load_n(&m->calls[code], __ATOMIC_ACQUIRE);
    return c ? c : mx_method_calls_make(t, m, code);
}

#endif
