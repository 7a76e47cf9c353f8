/* The metrics registry: families, their series and the handles holders keep. */
#include "px_mreg_int.h"

#include <stdlib.h>
#include <string.h>

#include "px_mcells.h"
#include "px_mtext.h"

static const double g_default_buckets[] = {.0001, .00025, .0005, .001, .0025, .005, .01, .025,
                                           .05, .1, .25, .5, 1, 2.5, 5, 10};

static px_metric_family *g_families, **g_ftail = &g_families;

px_metric_family *px__mreg_families(void)
{
    return g_families;
}

const double *px_metric_default_buckets(size_t *n)
{
    if (n)
        *n = sizeof g_default_buckets / sizeof g_default_buckets[0];
    return g_default_buckets;
}

static const char *type_name(px_metric_type t)
{
    return t == PX_METRIC_COUNTER ? "counter" : t == PX_METRIC_GAUGE ? "gauge" : "histogram";
}

static px_status check_decl(const char *name, px_metric_type type, const char *const *labels,
                            size_t nlabels, const double *buckets, size_t nbuckets, px_err *err)
{
    if (!name || !px_mtext_metric_name(name, strlen(name)))
        return px_err_set(err, PX_INVALID_ARGUMENT, "metric name \"%s\" is not [a-zA-Z_:][a-zA-Z0-9_:]*",
                          name ? name : "(null)");
    if (type != PX_METRIC_COUNTER && type != PX_METRIC_GAUGE && type != PX_METRIC_HISTOGRAM)
        return px_err_set(err, PX_INVALID_ARGUMENT, "metric %s: type %d is none of counter, gauge, histogram",
                          name, (int)type);
    if (nlabels > PX_METRIC_MAX_LABELS)
        return px_err_set(err, PX_INVALID_ARGUMENT, "metric %s: %zu labels, at most %d", name, nlabels,
                          PX_METRIC_MAX_LABELS);
    for (size_t i = 0; i < nlabels; i++) {
        const char *l = labels[i];
        if (!l || !px_mtext_label_name(l, strlen(l)) || strncmp(l, "__", 2) == 0 ||
            (type == PX_METRIC_HISTOGRAM && strcmp(l, "le") == 0))
            return px_err_set(err, PX_INVALID_ARGUMENT, "metric %s: label name \"%s\" is not [a-zA-Z_][a-zA-Z0-9_]* "
                              "(nor __*, nor a histogram's le)", name, l ? l : "(null)");
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[j], l) == 0)
                return px_err_set(err, PX_INVALID_ARGUMENT, "metric %s: label %s named twice", name, l);
    }
    if (type != PX_METRIC_HISTOGRAM && nbuckets)
        return px_err_set(err, PX_INVALID_ARGUMENT, "metric %s: buckets given to a %s", name, type_name(type));
    if (nbuckets > PX_METRIC_MAX_BUCKETS)
        return px_err_set(err, PX_INVALID_ARGUMENT, "metric %s: %zu buckets, at most %d", name, nbuckets,
                          PX_METRIC_MAX_BUCKETS);
    for (size_t i = 0; i < nbuckets; i++)
        if (!(buckets[i] > -1e308 && buckets[i] < 1e308) || (i && !(buckets[i] > buckets[i - 1])))
            return px_err_set(err, PX_INVALID_ARGUMENT, "metric %s: bucket %zu is not finite and above the one before",
                              name, i);
    return PX_OK;
}

static int same_decl(const px_metric_family *f, px_metric_type type, const char *const *labels,
                     size_t nlabels, const double *buckets, size_t nbuckets, const char **what)
{
    if (f->type != type)
        return *what = "type", 0;
    if (f->nlabels != nlabels)
        return *what = "label names", 0;
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return *what = "label names", 0;
    if (f->nbuckets != nbuckets ||
        (nbuckets && memcmp(f->bounds, buckets, nbuckets * sizeof *buckets) != 0))
        return *what = "buckets", 0;
    return 1;
}

static void family_free(px_metric_family *f)
{
    free(f->name);
    free(f->help);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f);
}

px_metric_family *px_metric_family_get(const char *name, const char *help, px_metric_type type,
                                       const char *const *labels, size_t nlabels,
                                       const double *buckets, size_t nbuckets, px_err *err)
{
    if (type == PX_METRIC_HISTOGRAM && nbuckets == 0)
        buckets = px_metric_default_buckets(&nbuckets);
    if (check_decl(name, type, labels, nlabels, buckets, nbuckets, err) != PX_OK)
        return NULL;
    px__mlock();
    px_metric_family *f;
    for (f = g_families; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            break;
    if (f) {
        const char *what = NULL;
        if (!same_decl(f, type, labels, nlabels, buckets, nbuckets, &what)) {
            px_err_set(err, PX_ALREADY_EXISTS, "metric %s exists with other %s", name, what);
            f = NULL;
        }
        px__munlock();
        return f;
    }
    f = calloc(1, sizeof *f);
    int ok = f && (f->name = strdup(name)) && (f->help = strdup(help ? help : ""));
    for (size_t i = 0; ok && i < nlabels; i++, f->nlabels++)
        ok = (f->labels[i] = strdup(labels[i])) != NULL;
    if (!ok) {
        if (f)
            family_free(f);
        px__munlock();
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "metric %s: out of memory", name);
        return NULL;
    }
    f->type = type;
    f->nbuckets = nbuckets;
    if (nbuckets)
        memcpy(f->bounds, buckets, nbuckets * sizeof *buckets);
    f->ncells = type == PX_METRIC_HISTOGRAM ? (uint32_t)nbuckets + 2 : 1;
    f->tail = &f->series;
    *g_ftail = f;
    g_ftail = &f->next;
    px__munlock();
    return f;
}

static void series_free(px_mseries *s, size_t nvalues)
{
    if (s->values)
        for (size_t i = 0; i < nvalues; i++)
            free(s->values[i]);
    free(s->values);
    free(s->labels);
    free(s);
}

/* Under the lock: a new series of f with these values, or NULL (err set). */
static px_mseries *series_new(px_metric_family *f, const char *const *values, px_err *err)
{
    px_mseries *s = calloc(1, sizeof *s);
    px_buf lb = {0};
    int ok = s && (s->values = calloc(f->nlabels + 1, sizeof *s->values));
    for (size_t i = 0; ok && i < f->nlabels; i++) {
        ok = (s->values[i] = strdup(values[i])) && (i == 0 || px_mtext_put(&lb, ",") == 0) &&
             px_mtext_put(&lb, f->labels[i]) == 0 && px_mtext_put(&lb, "=\"") == 0 &&
             px_mtext_escape(&lb, values[i], strlen(values[i]), 1) == 0 &&
             px_mtext_put(&lb, "\"") == 0;
    }
    ok = ok && px_buf_append(&lb, "", 1) == 0;
    if (ok && (s->base = px__mcells_alloc(f->ncells, f->type == PX_METRIC_HISTOGRAM)) == UINT32_MAX) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "metric %s: the registry's %u cells are all taken",
                   f->name, PX_MCELLS_MAX);
        ok = 0;
    } else if (!ok) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "metric %s: out of memory", f->name);
    }
    if (!ok) {
        px_buf_free(&lb);
        if (s)
            series_free(s, f->nlabels);
        return NULL;
    }
    s->fam = f;
    s->labels = (char *)lb.data;
    *f->tail = s;
    f->tail = &s->next;
    return s;
}

static px_metric *get(px_metric_family *f, const char *const *values, double (*read)(void *),
                      void *arg, px_err *err)
{
    if (!f) {
        px_err_set(err, PX_INVALID_ARGUMENT, "no metric family");
        return NULL;
    }
    for (size_t i = 0; i < f->nlabels; i++)
        if (!values || !values[i]) {
            px_err_set(err, PX_INVALID_ARGUMENT, "metric %s: no value for label %s", f->name, f->labels[i]);
            return NULL;
        }
    if (read && f->type != PX_METRIC_GAUGE) {
        px_err_set(err, PX_INVALID_ARGUMENT, "metric %s: a read function on a %s", f->name,
                   type_name(f->type));
        return NULL;
    }
    px_metric *m = calloc(1, sizeof *m);
    if (!m) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "metric %s: out of memory", f->name);
        return NULL;
    }
    px__mlock();
    px_mseries *s;
    for (s = f->series; s; s = s->next) {
        size_t i = 0;
        while (i < f->nlabels && strcmp(s->values[i], values[i]) == 0)
            i++;
        if (i == f->nlabels)
            break;
    }
    if (!s && !(s = series_new(f, values, err))) {
        px__munlock();
        free(m);
        return NULL;
    }
    m->base = s->base;
    m->type = f->type;
    m->bounds = f->bounds;
    m->nbuckets = f->nbuckets;
    m->read = read;
    m->arg = arg;
    m->series = s;
    m->next = s->first;
    if (s->first)
        s->first->prev = m;
    s->first = m;
    s->handles++;
    px__munlock();
    return m;
}

px_metric *px_metric_get(px_metric_family *f, const char *const *values, px_err *err)
{
    return get(f, values, NULL, NULL, err);
}

px_metric *px_metric_get_fn(px_metric_family *f, const char *const *values,
                            double (*read)(void *arg), void *arg, px_err *err)
{
    if (!read) {
        px_err_set(err, PX_INVALID_ARGUMENT, "no read function");
        return NULL;
    }
    return get(f, values, read, arg, err);
}

void px_metric_release(px_metric *m)
{
    if (!m)
        return;
    px__mlock();
    px_mseries *s = m->series;
    if (m->prev)
        m->prev->next = m->next;
    else
        s->first = m->next;
    if (m->next)
        m->next->prev = m->prev;
    s->handles--;
    px__munlock();
    free(m);
}

void px_metric_add(px_metric *m, int64_t n)
{
    px_mcell_add(m->base, (uint64_t)n);
}

void px_metric_set(px_metric *m, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    __atomic_store_n(&m->value, bits, __ATOMIC_RELAXED);
}

void px_metric_observe(px_metric *m, double v)
{
    /* Cells hold each bucket's own count (cumulated when rendered), then +Inf's, then
     * the sum. Buckets are few: a scan beats a search's branches. */
    size_t i = 0;
    while (i < m->nbuckets && !(v <= m->bounds[i]))
        i++;
    px_mcell_add(m->base + (uint32_t)i, 1);
    px_mcell_add_f64(m->base + (uint32_t)m->nbuckets + 1, v);
}
