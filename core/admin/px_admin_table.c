/* The per-method table of a metrics text: calls, errors, rate, latency percentiles. */
#include "px_admin_table.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "plexus/px_admin.h"
#include "px_prom_read.h"

#define PX__MAX_BUCKETS 32

/* One service/method (of the server, or of an upstream for clients). */
typedef struct px__row {
    char upstream[PX_PROM_MAX_VALUE]; /* "" for the server */
    char service[PX_PROM_MAX_VALUE], method[PX_PROM_MAX_VALUE];
    double calls, errors;
    double le[PX__MAX_BUCKETS], count[PX__MAX_BUCKETS]; /* cumulative, as exposed */
    size_t n_buckets;
} px__row;

typedef struct px__rows {
    px__row *v;
    size_t n, cap;
    int oom;
} px__rows;

static px__row *px__row_of(px__rows *r, const px_prom_sample *s)
{
    const char *up = px_prom_label_get(s, "upstream");
    const char *svc = px_prom_label_get(s, "service");
    const char *m = px_prom_label_get(s, "method");
    if (svc == NULL || m == NULL)
        return NULL;
    if (up == NULL)
        up = "";
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].upstream, up) == 0 && strcmp(r->v[i].service, svc) == 0 &&
            strcmp(r->v[i].method, m) == 0)
            return &r->v[i];
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        px__row *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL) {
            r->oom = 1;
            return NULL;
        }
        r->v = v;
        r->cap = cap;
    }
    px__row *row = &r->v[r->n++];
    memset(row, 0, sizeof *row);
    snprintf(row->upstream, sizeof row->upstream, "%s", up);
    snprintf(row->service, sizeof row->service, "%s", svc);
    snprintf(row->method, sizeof row->method, "%s", m);
    return row;
}

static int px__collect(void *ud, const px_prom_sample *s)
{
    px__rows *r = ud;
    int server = strncmp(s->name, "plexus_server_", 14) == 0;
    const char *rest = s->name + 14;
    if (!server) {
        if (strncmp(s->name, "plexus_client_", 14) != 0)
            return 0;
    }
    int calls = strcmp(rest, "calls_total") == 0;
    int bucket = strcmp(rest, server ? "handling_seconds_bucket" : "call_seconds_bucket") == 0;
    if (!calls && !bucket)
        return 0;
    px__row *row = px__row_of(r, s);
    if (row == NULL)
        return r->oom;
    if (calls) {
        const char *code = px_prom_label_get(s, "code");
        row->calls += s->value;
        if (code != NULL && strcmp(code, "OK") != 0)
            row->errors += s->value;
        return 0;
    }
    const char *le = px_prom_label_get(s, "le");
    double at = le ? strtod(le, NULL) : NAN;
    if (isnan(at))
        return 0;
    for (size_t i = 0; i < row->n_buckets; i++)
        if (row->le[i] == at) {
            row->count[i] += s->value; /* the same series twice: summed, as merge does */
            return 0;
        }
    if (row->n_buckets == PX__MAX_BUCKETS)
        return 0;
    /* Kept sorted by le whatever order the text lists them in. */
    size_t i = row->n_buckets++;
    while (i > 0 && row->le[i - 1] > at) {
        row->le[i] = row->le[i - 1];
        row->count[i] = row->count[i - 1];
        i--;
    }
    row->le[i] = at;
    row->count[i] = s->value;
    return 0;
}

static px_status px__read(px__rows *r, const char *text, size_t len, const char *which,
                          px_err *err)
{
    px_err e = {0};
    px_status st = px_prom_each(text, len, px__collect, r, &e);
    if (st == PX_OK && r->oom)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    if (st != PX_OK)
        return px_err_set(err, st, "%s: %s", which, e.msg);
    return PX_OK;
}

static const px__row *px__find(const px__rows *r, const px__row *like)
{
    for (size_t i = 0; r != NULL && i < r->n; i++)
        if (strcmp(r->v[i].upstream, like->upstream) == 0 &&
            strcmp(r->v[i].service, like->service) == 0 &&
            strcmp(r->v[i].method, like->method) == 0)
            return &r->v[i];
    return NULL;
}

/* The count at upper bound le in a row (0 when it has no such bucket). */
static double px__count_at(const px__row *row, double le)
{
    for (size_t i = 0; row != NULL && i < row->n_buckets; i++)
        if (row->le[i] == le)
            return row->count[i];
    return 0;
}

/* Quantile q from cumulative buckets, as Prometheus's histogram_quantile estimates it:
 * linear within the bucket the rank falls in; in the +Inf bucket, the highest finite
 * bound. NAN without observations. */
static double px__quantile(const double *le, const double *count, size_t n, double q)
{
    if (n == 0 || count[n - 1] <= 0)
        return NAN;
    double rank = q * count[n - 1];
    size_t i = 0;
    while (i < n - 1 && count[i] < rank)
        i++;
    if (isinf(le[i]))
        return i > 0 ? le[i - 1] : NAN;
    double lo = i > 0 ? le[i - 1] : 0, below = i > 0 ? count[i - 1] : 0;
    double in = count[i] - below;
    return in > 0 ? lo + (le[i] - lo) * (rank - below) / in : lo;
}

static void px__duration(char *buf, size_t cap, double s)
{
    if (isnan(s))
        snprintf(buf, cap, "-");
    else if (s < 1e-3)
        snprintf(buf, cap, "%.0fus", s * 1e6);
    else if (s < 1)
        snprintf(buf, cap, "%.2fms", s * 1e3);
    else
        snprintf(buf, cap, "%.2fs", s);
}

static int px__cmp(const void *a, const void *b)
{
    const px__row *x = a, *y = b;
    int c = strcmp(x->upstream, y->upstream);
    if (c == 0)
        c = strcmp(x->service, y->service);
    return c ? c : strcmp(x->method, y->method);
}

static void px__write_row(FILE *out, const px__row *row, const px__row *old, double secs)
{
    double le[PX__MAX_BUCKETS], count[PX__MAX_BUCKETS];
    size_t n = row->n_buckets;
    int window = 0;
    if (old != NULL && n > 0 && row->count[n - 1] > px__count_at(old, row->le[n - 1])) {
        for (size_t i = 0; i < n; i++) {
            le[i] = row->le[i];
            count[i] = row->count[i] - px__count_at(old, row->le[i]);
        }
        window = 1;
    }
    const double *use_le = window ? le : row->le, *use_count = window ? count : row->count;
    char p[3][16], rate[24], name[600];
    static const double qs[3] = {0.5, 0.9, 0.99};
    for (int i = 0; i < 3; i++)
        px__duration(p[i], sizeof p[i], px__quantile(use_le, use_count, n, qs[i]));
    if (secs > 0 && old != NULL && row->calls >= old->calls)
        snprintf(rate, sizeof rate, "%.1f", (row->calls - old->calls) / secs);
    else if (old != NULL && row->calls < old->calls)
        snprintf(rate, sizeof rate, "-"); /* counted anew (a worker replaced): no rate */
    else if (secs > 0)
        snprintf(rate, sizeof rate, "%.1f", row->calls / secs);
    else
        snprintf(rate, sizeof rate, "-");
    snprintf(name, sizeof name, "%s/%s", row->service, row->method);
    fprintf(out, "  %-38s %10.0f %8.0f %9s %9s %9s %9s\n", name, row->calls, row->errors, rate,
            p[0], p[1], p[2]);
}

px_status px_admin_table_write(FILE *out, const char *now, size_t now_len, const char *prev,
                               size_t prev_len, double secs, px_err *err)
{
    px__rows cur = {0}, old = {0};
    px_status st = px__read(&cur, now, now_len, "metrics", err);
    if (st == PX_OK && prev != NULL)
        st = px__read(&old, prev, prev_len, "previous metrics", err);
    if (st == PX_OK) {
        if (cur.n > 1)
            qsort(cur.v, cur.n, sizeof *cur.v, px__cmp);
        const char *group = NULL;
        for (size_t i = 0; i < cur.n; i++) {
            const px__row *row = &cur.v[i];
            if (group == NULL || strcmp(group, row->upstream) != 0) {
                group = row->upstream;
                if (row->upstream[0])
                    fprintf(out, "%sclient, upstream %s\n", i ? "\n" : "", row->upstream);
                else
                    fprintf(out, "server\n");
                fprintf(out, "%-40s %10s %8s %9s %9s %9s %9s\n", "  SERVICE/METHOD", "CALLS",
                        "ERRORS", "RATE/s", "P50", "P90", "P99");
            }
            px__write_row(out, row, prev ? px__find(&old, row) : NULL, prev ? secs : 0);
        }
        if (cur.n == 0)
            fprintf(out, "no calls recorded (is the metrics filter configured?)\n");
    }
    free(cur.v);
    free(old.v);
    return st;
}

char *px_admin_method_table(const char *now, size_t now_len, const char *prev, size_t prev_len,
                            double secs, size_t *out_len, px_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    px_status st = px_admin_table_write(out, now, now_len, prev, prev_len, secs, err);
    if (fclose(out) != 0 && st == PX_OK)
        st = px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    if (st != PX_OK) {
        free(text);
        return NULL;
    }
    if (out_len != NULL)
        *out_len = len;
    return text;
}

/* ---- upstream endpoints ----------------------------------------------------------- */

typedef struct px__ep {
    char upstream[PX_PROM_MAX_VALUE], endpoint[PX_PROM_MAX_VALUE];
    double up, ejections, timeouts;
} px__ep;

typedef struct px__eps {
    px__ep *v;
    size_t n, cap;
    int oom;
} px__eps;

static int px__collect_ep(void *ud, const px_prom_sample *s)
{
    px__eps *e = ud;
    double *field = NULL;
    size_t off;
    if (strcmp(s->name, "plexus_upstream_endpoint_up") == 0)
        off = offsetof(px__ep, up);
    else if (strcmp(s->name, "plexus_upstream_ejections_total") == 0)
        off = offsetof(px__ep, ejections);
    else if (strcmp(s->name, "plexus_upstream_timeouts_total") == 0)
        off = offsetof(px__ep, timeouts);
    else
        return 0;
    const char *up = px_prom_label_get(s, "upstream"), *ep = px_prom_label_get(s, "endpoint");
    if (up == NULL || ep == NULL)
        return 0;
    px__ep *row = NULL;
    for (size_t i = 0; i < e->n && row == NULL; i++)
        if (strcmp(e->v[i].upstream, up) == 0 && strcmp(e->v[i].endpoint, ep) == 0)
            row = &e->v[i];
    if (row == NULL) {
        if (e->n == e->cap) {
            size_t cap = e->cap ? e->cap * 2 : 16;
            px__ep *v = realloc(e->v, cap * sizeof *v);
            if (v == NULL)
                return e->oom = 1;
            e->v = v;
            e->cap = cap;
        }
        row = &e->v[e->n++];
        memset(row, 0, sizeof *row);
        snprintf(row->upstream, sizeof row->upstream, "%s", up);
        snprintf(row->endpoint, sizeof row->endpoint, "%s", ep);
    }
    field = (double *)((char *)row + off);
    *field += s->value;
    return 0;
}

static int px__cmp_ep(const void *a, const void *b)
{
    const px__ep *x = a, *y = b;
    int c = strcmp(x->upstream, y->upstream);
    return c ? c : strcmp(x->endpoint, y->endpoint);
}

px_status px_admin_upstreams_write(FILE *out, const char *text, size_t len, px_err *err)
{
    px__eps e = {0};
    px_err pe = {0};
    px_status st = px_prom_each(text, len, px__collect_ep, &e, &pe);
    if (st != PX_OK)
        st = px_err_set(err, st, "metrics: %s", pe.msg);
    else if (e.oom)
        st = px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    if (st == PX_OK && e.n == 0)
        fprintf(out, "no upstreams\n");
    if (st == PX_OK && e.n > 0) {
        qsort(e.v, e.n, sizeof *e.v, px__cmp_ep);
        fprintf(out, "%-20s %-30s %-8s %10s %10s\n", "UPSTREAM", "ENDPOINT", "HEALTH",
                "EJECTIONS", "TIMEOUTS");
        for (size_t i = 0; i < e.n; i++)
            fprintf(out, "%-20s %-30s %-8s %10.0f %10.0f\n", e.v[i].upstream, e.v[i].endpoint,
                    e.v[i].up > 0 ? "up" : "ejected", e.v[i].ejections, e.v[i].timeouts);
    }
    free(e.v);
    return st;
}
