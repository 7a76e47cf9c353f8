/* The samples of a metrics text, for the admin's tables: each line is read and checked
 * by the metrics layer's parser (px_mparse_line); what it re-renders, a="x",b="y" in
 * the one escaping it writes, is split here into names and unescaped values. */
#include "px_prom_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "px_mparse.h"

/* One label of well-formed labels at *p (name="escaped"), unescaped into l; advances
 * *p past it and its comma. -1 when the name or the value exceeds the bounds. */
static int px__label(const char **p, px_prom_label *l)
{
    const char *eq = strchr(*p, '=');
    size_t nlen = (size_t)(eq - *p);
    if (nlen >= sizeof l->name)
        return -1;
    memcpy(l->name, *p, nlen);
    l->name[nlen] = '\0';
    const char *s = eq + 2; /* past =" */
    size_t n = 0;
    for (; *s != '"'; s++) {
        char ch = *s;
        if (ch == '\\')
            ch = *++s == 'n' ? '\n' : *s;
        if (n + 1 >= sizeof l->value)
            return -1;
        l->value[n++] = ch;
    }
    l->value[n] = '\0';
    *p = s[1] == ',' ? s + 2 : s + 1;
    return 0;
}

px_status px_prom_each(const char *text, size_t len, px_prom_fn fn, void *ud, px_err *err)
{
    px_prom_sample *s = malloc(sizeof *s);
    px_buf labels = {0};
    if (s == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    px_status st = PX_OK;
    const char *p = text, *end = text + len;
    for (int line = 1; st == PX_OK && p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        px_mline m;
        char why[160];
        labels.len = 0;
        if (px_mparse_line(p, n, &m, &labels, why, sizeof why) != 0) {
            st = px_err_set(err, PX_INVALID_ARGUMENT, "line %d: %s", line, why);
            break;
        }
        p = eol ? eol + 1 : end;
        if (m.kind != PX_MLINE_SAMPLE)
            continue;
        if (m.name_len >= sizeof s->name) {
            st = px_err_set(err, PX_INVALID_ARGUMENT, "line %d: name longer than %d bytes",
                            line, PX_PROM_MAX_NAME - 1);
            break;
        }
        memcpy(s->name, m.name, m.name_len);
        s->name[m.name_len] = '\0';
        s->value = m.value;
        s->line = line;
        s->n_labels = 0;
        const char *l = labels.len ? (const char *)labels.data : "";
        while (*l != '\0' && st == PX_OK) {
            if (s->n_labels == PX_PROM_MAX_LABELS ||
                px__label(&l, &s->labels[s->n_labels]) != 0)
                st = px_err_set(err, PX_INVALID_ARGUMENT,
                                "line %d: more than %d labels, or a label name or value "
                                "longer than %d bytes", line, PX_PROM_MAX_LABELS,
                                PX_PROM_MAX_VALUE - 1);
            else
                s->n_labels++;
        }
        if (st == PX_OK && fn(ud, s) != 0)
            break;
    }
    px_buf_free(&labels);
    free(s);
    return st;
}

const char *px_prom_label_get(const px_prom_sample *s, const char *name)
{
    for (size_t i = 0; i < s->n_labels; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    return NULL;
}
