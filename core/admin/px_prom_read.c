/* Reading the Prometheus text format. Written here because no Debian C library parses
 * it; it reads only what the admin needs (names, labels, values), refusing the rest. */
#include "px_prom_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct px__cur {
    const char *p, *end;
    int line;
    px_err *err;
} px__cur;

static int px__name_char(char ch, int first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':' ||
           (!first && ch >= '0' && ch <= '9');
}

static px_status px__bad(px__cur *c, const char *what)
{
    return px_err_set(c->err, PX_INVALID_ARGUMENT, "line %d: %s", c->line, what);
}

/* A metric or label name into out (NUL-terminated). */
static px_status px__name(px__cur *c, char *out, const char *what)
{
    size_t n = 0;
    if (c->p == c->end || !px__name_char(*c->p, 1)) {
        char msg[96];
        snprintf(msg, sizeof msg, "expected a %s", what);
        return px__bad(c, msg);
    }
    while (c->p < c->end && px__name_char(*c->p, 0)) {
        if (n + 1 >= PX_PROM_MAX_NAME)
            return px__bad(c, "name too long");
        out[n++] = *c->p++;
    }
    out[n] = '\0';
    return PX_OK;
}

/* A quoted label value, unescaped (\\, \", \n). */
static px_status px__quoted(px__cur *c, char *out)
{
    if (c->p == c->end || *c->p != '"')
        return px__bad(c, "expected '\"' opening a label value");
    c->p++;
    size_t n = 0;
    for (;;) {
        if (c->p == c->end || *c->p == '\n')
            return px__bad(c, "label value not closed by '\"'");
        char ch = *c->p++;
        if (ch == '"')
            break;
        if (ch == '\\') {
            if (c->p == c->end)
                return px__bad(c, "label value ends in '\\'");
            ch = *c->p++;
            if (ch == 'n')
                ch = '\n';
            else if (ch != '\\' && ch != '"')
                return px__bad(c, "unknown escape in a label value (\\\\, \\\" and \\n only)");
        }
        if (n + 1 >= PX_PROM_MAX_VALUE)
            return px__bad(c, "label value too long");
        out[n++] = ch;
    }
    out[n] = '\0';
    return PX_OK;
}

static px_status px__labels(px__cur *c, px_prom_sample *s)
{
    c->p++; /* '{' */
    for (;;) {
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return PX_OK;
        }
        if (s->n_labels == PX_PROM_MAX_LABELS)
            return px__bad(c, "too many labels");
        px_prom_label *l = &s->labels[s->n_labels];
        px_status st = px__name(c, l->name, "label name");
        if (st != PX_OK)
            return st;
        if (c->p == c->end || *c->p != '=')
            return px__bad(c, "expected '=' after a label name");
        c->p++;
        if ((st = px__quoted(c, l->value)) != PX_OK)
            return st;
        s->n_labels++;
        if (c->p < c->end && *c->p == ',')
            c->p++;
        else if (c->p == c->end || *c->p != '}')
            return px__bad(c, "expected ',' or '}' after a label");
    }
}

/* The value: a float as Go's ParseFloat reads it (strtod's forms, Inf, NaN). */
static px_status px__value(px__cur *c, double *out)
{
    while (c->p < c->end && *c->p == ' ')
        c->p++;
    char buf[64];
    size_t n = 0;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\n') {
        if (n + 1 >= sizeof buf)
            return px__bad(c, "value too long");
        buf[n++] = *c->p++;
    }
    buf[n] = '\0';
    char *stop = NULL;
    *out = n ? strtod(buf, &stop) : 0;
    if (n == 0 || *stop != '\0')
        return px__bad(c, "expected a number after the name and labels");
    /* An optional timestamp (integer milliseconds) follows; nothing else may. */
    while (c->p < c->end && *c->p == ' ')
        c->p++;
    if (c->p < c->end && *c->p != '\n') {
        if (*c->p == '-')
            c->p++;
        const char *d = c->p;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
            c->p++;
        if (c->p == d)
            return px__bad(c, "unexpected text after the value");
        while (c->p < c->end && *c->p == ' ')
            c->p++;
        if (c->p < c->end && *c->p != '\n')
            return px__bad(c, "unexpected text after the timestamp");
    }
    return PX_OK;
}

px_status px_prom_each(const char *text, size_t len, px_prom_fn fn, void *ud, px_err *err)
{
    px__cur c = {text, text + len, 0, err};
    px_prom_sample *s = malloc(sizeof *s);
    if (s == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    px_status st = PX_OK;
    while (st == PX_OK && c.p < c.end) {
        c.line++;
        const char *eol = memchr(c.p, '\n', (size_t)(c.end - c.p));
        const char *next = eol ? eol + 1 : c.end;
        if (*c.p == '#' || *c.p == '\n') {
            c.p = next;
            continue;
        }
        s->n_labels = 0;
        s->line = c.line;
        st = px__name(&c, s->name, "metric name");
        if (st == PX_OK && c.p < c.end && *c.p == '{')
            st = px__labels(&c, s);
        if (st == PX_OK && (c.p == c.end || *c.p != ' '))
            st = px__bad(&c, "expected a space before the value");
        if (st == PX_OK)
            st = px__value(&c, &s->value);
        if (st == PX_OK && fn(ud, s) != 0)
            break;
        c.p = next;
    }
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
