/* naming `file`: the list's entries, checked as they are added, and the repeat check. */
#include "nf_list.h"

#include <stdlib.h>
#include <string.h>
#include <plexus/px_naming.h>

/* Quoted text in a message: bounded, so a line of garbage stays a readable message. */
#define NF_QUOTE_MAX 100

nf_format nf_format_of(const char *path)
{
    size_t n = strlen(path);
    if ((n >= 5 && strcmp(path + n - 5, ".yaml") == 0) ||
        (n >= 4 && strcmp(path + n - 4, ".yml") == 0))
        return NF_YAML;
    return NF_PLAIN;
}

void nf_list_free(nf_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].address);
    free(l->e);
    l->e = NULL;
    l->n = l->cap = 0;
}

static px_status nf_weight(const char *file, const char *t, size_t n, int line, int col,
                           uint32_t *w, px_err *err)
{
    unsigned long v = 0;
    size_t digits = 0;
    while (digits < n && t[digits] >= '0' && t[digits] <= '9' && digits < 6)
        v = v * 10 + (unsigned long)(t[digits++] - '0');
    if (n == 0 || digits != n || v < 1 || v > NF_WEIGHT_MAX)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "%s:%d:%d: weight '%.*s%s' is not an integer in 1..%d", file, line,
                          col, (int)(n < NF_QUOTE_MAX ? n : NF_QUOTE_MAX), t,
                          n > NF_QUOTE_MAX ? "..." : "", NF_WEIGHT_MAX);
    *w = (uint32_t)v;
    return PX_OK;
}

px_status nf_add(nf_list *l, const char *file, const char *address, size_t alen, int line,
                 int col, const char *wtext, size_t wlen, int wline, int wcol, px_err *err)
{
    int q = (int)(alen < NF_QUOTE_MAX ? alen : NF_QUOTE_MAX);
    const char *more = alen > NF_QUOTE_MAX ? "..." : "";
    if (memchr(address, '\0', alen) != NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: the address holds a NUL byte",
                          file, line, col);
    uint32_t w = 1;
    if (wtext && nf_weight(file, wtext, wlen, wline, wcol, &w, err) != PX_OK)
        return err->status;
    char *a = malloc(alen + 1);
    if (a == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", file);
    memcpy(a, address, alen);
    a[alen] = '\0';
    px_err why;
    if (px_naming_check_address(a, &why) != PX_OK) {
        free(a);
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: '%.*s%s': %s", file, line, col,
                          q, address, more, why.msg);
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        nf_entry *e = realloc(l->e, cap * sizeof *e);
        if (e == NULL) {
            free(a);
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", file);
        }
        l->e = e;
        l->cap = cap;
    }
    l->e[l->n++] = (nf_entry){.address = a, .weight = w, .line = line, .col = col};
    return PX_OK;
}

static int nf_by_address(const void *x, const void *y)
{
    const nf_entry *a = *(const nf_entry *const *)x, *b = *(const nf_entry *const *)y;
    int c = strcmp(a->address, b->address);
    return c ? c : (a < b ? -1 : a > b);
}

/* The core would refuse a repeat with a log line and no place: say where both are. Sorted,
 * not compared pairwise, so a long file costs n log n. */
static px_status nf_repeats(const nf_list *l, const char *file, px_err *err)
{
    const nf_entry **by = malloc(l->n * sizeof *by);
    if (by == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", file);
    for (size_t i = 0; i < l->n; i++)
        by[i] = &l->e[i];
    qsort(by, l->n, sizeof *by, nf_by_address);
    const nf_entry *first = NULL, *again = NULL; /* the repeat that comes first in the file */
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(by[i - 1]->address, by[i]->address) == 0 &&
            (i < 2 || strcmp(by[i - 2]->address, by[i]->address) != 0) &&
            (again == NULL || by[i] < again)) {
            first = by[i - 1];
            again = by[i];
        }
    free(by);
    if (again == NULL)
        return PX_OK;
    return px_err_set(err, PX_INVALID_ARGUMENT, "%s:%d:%d: '%s' is listed twice (first at %d:%d)",
                      file, again->line, again->col, again->address, first->line, first->col);
}

px_status nf_parse(const char *text, size_t len, nf_format fmt, const char *file, nf_list *out,
                   px_err *err)
{
    px_status st = fmt == NF_YAML ? nf_parse_yaml(text, len, file, out, err)
                                  : nf_parse_plain(text, len, file, out, err);
    /* An empty list would send every call to UNAVAILABLE: a file caught half-written, or
     * emptied by mistake, must not do that. */
    if (st == PX_OK && out->n == 0)
        st = px_err_set(err, PX_INVALID_ARGUMENT, "%s: lists no endpoint", file);
    if (st == PX_OK)
        st = nf_repeats(out, file, err);
    if (st != PX_OK)
        nf_list_free(out);
    return st;
}
