/* method_map: split, validate, sort once; bsearch per call (no allocation, no lock). */
#include "method_map.h"

#include <plexus/px_units.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define PM_MIN_US 1000LL
#define PM_MAX_US 3600000000LL

static int me_cmp(const void *a, const void *b)
{
    return strcmp(((const method_entry *)a)->method, ((const method_entry *)b)->method);
}

/* Copies [b, e) without surrounding blanks. */
static char *trimmed(const char *b, const char *e)
{
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    char *s = malloc((size_t)(e - b) + 1);
    if (s) {
        memcpy(s, b, (size_t)(e - b));
        s[e - b] = '\0';
    }
    return s;
}

/* "package.Service/Method": one '/', a non-empty service of letters, digits, '.' and
 * '_', a method name of letters, digits and '_', or "*" (every method of the service). */
static int method_ok(const char *m)
{
    const char *slash = strchr(m, '/');
    if (slash == NULL || slash == m || strchr(slash + 1, '/') || slash[1] == '\0')
        return 0;
    for (const char *c = m; c < slash; c++)
        if (!(isalnum((unsigned char)*c) || *c == '.' || *c == '_'))
            return 0;
    if (strcmp(slash + 1, "*") == 0)
        return 1;
    for (const char *c = slash + 1; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_'))
            return 0;
    return 1;
}

/* Parses one "METHOD=DURATION" entry (already trimmed) into e. */
static px_status parse_entry(const char *text, int k, method_entry *e, px_err *err)
{
    const char *eq = strchr(text, '=');
    if (eq == NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "entry %d '%s' is not METHOD=DURATION (e.g. calc.Calculator/Add=100ms)",
                          k, text);
    char *method = trimmed(text, eq);
    char *dur = trimmed(eq + 1, eq + strlen(eq));
    px_status st = PX_OK;
    int64_t us = 0;
    const char *why;
    if (method == NULL || dur == NULL)
        st = px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    else if (!method_ok(method))
        st = px_err_set(err, PX_INVALID_ARGUMENT,
                        "entry %d: method '%s' is not package.Service/Method or package.Service/*",
                        k, method);
    else if ((why = px_parse_duration(dur, &us)) != NULL)
        st = px_err_set(err, PX_INVALID_ARGUMENT, "entry %d (%s): '%s' %s", k, method, dur, why);
    else if (us < PM_MIN_US || us > PM_MAX_US)
        st = px_err_set(err, PX_INVALID_ARGUMENT, "entry %d (%s): '%s' is out of range (1ms..1h)",
                        k, method, dur);
    free(dur);
    if (st != PX_OK) {
        free(method);
        return st;
    }
    e->method = method;
    e->us = us;
    return PX_OK;
}

px_status method_map_parse(method_map *m, const char *spec, px_err *err)
{
    m->e = NULL;
    m->n = 0;
    if (spec == NULL)
        return PX_OK;
    const char *p = spec;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0')
        return PX_OK;
    size_t cap = 1;
    for (const char *c = p; *c; c++)
        cap += *c == ',';
    m->e = calloc(cap, sizeof *m->e);
    if (m->e == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (int k = 1;; k++) {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        char *text = trimmed(p, end);
        if (text == NULL) {
            method_map_free(m);
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        }
        px_status st = *text == '\0'
                           ? px_err_set(err, PX_INVALID_ARGUMENT,
                                        "entry %d is empty (a stray ',')", k)
                           : parse_entry(text, k, &m->e[m->n], err);
        free(text);
        if (st != PX_OK) {
            method_map_free(m);
            return st;
        }
        m->n++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    /* Duplicates are found before sorting, so the message names entries as written. */
    for (size_t i = 0; i < m->n; i++)
        for (size_t j = i + 1; j < m->n; j++)
            if (strcmp(m->e[i].method, m->e[j].method) == 0) {
                px_err_set(err, PX_INVALID_ARGUMENT,
                           "entry %zu: method '%s' is already listed as entry %zu", j + 1,
                           m->e[j].method, i + 1);
                method_map_free(m);
                return PX_INVALID_ARGUMENT;
            }
    qsort(m->e, m->n, sizeof *m->e, me_cmp);
    return PX_OK;
}

static int64_t find_exact(const method_map *m, const char *key)
{
    method_entry probe = {.method = (char *)key};
    const method_entry *e = bsearch(&probe, m->e, m->n, sizeof *m->e, me_cmp);
    return e ? e->us : -1;
}

int64_t method_map_find(const method_map *m, const char *method)
{
    if (m->n == 0 || method == NULL)
        return -1;
    int64_t us = find_exact(m, method);
    if (us >= 0)
        return us;
    const char *slash = strchr(method, '/');
    size_t svc = slash ? (size_t)(slash - method) : 0;
    char key[512];
    if (svc == 0 || svc + 3 > sizeof key)
        return -1;
    memcpy(key, method, svc);
    memcpy(key + svc, "/*", 3);
    return find_exact(m, key);
}

void method_map_free(method_map *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].method);
    free(m->e);
    m->e = NULL;
    m->n = 0;
}
