/* Reading one line of the Prometheus text format 0.0.4 (px_mparse.h). */
#include "px_mparse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "px_mtext.h"

typedef struct cur {
    const char *p;
    size_t n, i;
    char *why;
    size_t why_len;
} cur;

static int bad(cur *c, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->why, c->why_len, "column %zu: %s", c->i + 1, msg);
    return -1;
}

static void skip_blanks(cur *c)
{
    while (c->i < c->n && (c->p[c->i] == ' ' || c->p[c->i] == '\t'))
        c->i++;
}

static size_t token_end(const cur *c)
{
    size_t j = c->i;
    while (j < c->n && c->p[j] != ' ' && c->p[j] != '\t')
        j++;
    return j;
}

static size_t name_end(const cur *c, int colon)
{
    size_t j = c->i;
    while (j < c->n) {
        char ch = c->p[j];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                 (colon && ch == ':') || (j > c->i && ch >= '0' && ch <= '9');
        if (!ok)
            break;
        j++;
    }
    return j;
}

static int comment(cur *c, px_mline *out)
{
    c->i++; /* '#' */
    skip_blanks(c);
    size_t e = token_end(c);
    size_t kw = e - c->i;
    int help = kw == 4 && memcmp(c->p + c->i, "HELP", 4) == 0;
    int type = kw == 4 && memcmp(c->p + c->i, "TYPE", 4) == 0;
    if (!help && !type)
        return 0; /* any other comment */
    c->i = e;
    skip_blanks(c);
    size_t ne = name_end(c, 1);
    if (ne == c->i || (ne < c->n && c->p[ne] != ' ' && c->p[ne] != '\t'))
        return bad(c, "%s wants a metric name", help ? "HELP" : "TYPE");
    out->name = c->p + c->i;
    out->name_len = ne - c->i;
    c->i = ne;
    if (help) {
        if (c->i < c->n)
            c->i++; /* the one separator; the rest, spaces included, is the text */
        for (size_t j = c->i; j < c->n; j++) {
            if (c->p[j] != '\\')
                continue;
            if (j + 1 == c->n || (c->p[j + 1] != '\\' && c->p[j + 1] != 'n'))
                return c->i = j, bad(c, "HELP escapes only \\\\ and \\n");
            j++;
        }
        out->kind = PX_MLINE_HELP;
        out->text = c->p + c->i;
        out->text_len = c->n - c->i;
        return 0;
    }
    skip_blanks(c);
    size_t te = token_end(c);
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (te - c->i == strlen(types[t]) && memcmp(c->p + c->i, types[t], te - c->i) == 0) {
            out->kind = PX_MLINE_TYPE;
            out->text = types[t];
            out->text_len = te - c->i;
            c->i = te;
            skip_blanks(c);
            return c->i == c->n ? 0 : bad(c, "text after the TYPE");
        }
    }
    return bad(c, "TYPE is none of counter, gauge, histogram, summary, untyped");
}

/* {a="x",b="y"} into labels, re-escaped the registry's way. */
static int label_set(cur *c, px_buf *labels)
{
    c->i++; /* '{' */
    size_t count = 0;
    size_t starts[64];
    for (;;) {
        skip_blanks(c);
        if (c->i < c->n && c->p[c->i] == '}') {
            c->i++;
            return 0;
        }
        size_t ne = name_end(c, 0);
        if (ne == c->i)
            return bad(c, "a label name or } expected");
        size_t nlen = ne - c->i;
        const char *name = c->p + c->i;
        if (count == sizeof starts / sizeof starts[0])
            return bad(c, "more than %zu labels", count);
        for (size_t k = 0; k < count; k++) {
            const char *o = (const char *)labels->data + starts[k];
            if (strncmp(o, name, nlen) == 0 && o[nlen] == '=')
                return bad(c, "label %.*s given twice", (int)nlen, name);
        }
        starts[count] = labels->len + (count > 0);
        if ((++count > 1 && px_mtext_put(labels, ",") != 0) || px_buf_append(labels, name, nlen) != 0 ||
            px_mtext_put(labels, "=\"") != 0)
            return bad(c, "out of memory");
        c->i = ne;
        skip_blanks(c);
        if (c->i >= c->n || c->p[c->i] != '=')
            return bad(c, "= expected after label %.*s", (int)nlen, name);
        c->i++;
        skip_blanks(c);
        if (c->i >= c->n || c->p[c->i] != '"')
            return bad(c, "a quoted value expected for label %.*s", (int)nlen, name);
        c->i++;
        for (;;) {
            if (c->i >= c->n)
                return bad(c, "the value of label %.*s is not closed", (int)nlen, name);
            char ch = c->p[c->i];
            if (ch == '"')
                break;
            if (ch == '\\') {
                char nx = c->i + 1 < c->n ? c->p[c->i + 1] : 0;
                if (nx != '\\' && nx != '"' && nx != 'n')
                    return bad(c, "a label value escapes only \\\\, \\\" and \\n");
                ch = nx == 'n' ? '\n' : nx;
                c->i++;
            }
            if (px_mtext_escape(labels, &ch, 1, 1) != 0)
                return bad(c, "out of memory");
            c->i++;
        }
        c->i++;
        if (px_mtext_put(labels, "\"") != 0)
            return bad(c, "out of memory");
        skip_blanks(c);
        if (c->i < c->n && c->p[c->i] == ',')
            c->i++;
        else if (c->i >= c->n || c->p[c->i] != '}')
            return bad(c, ", or } expected");
    }
}

static int value(cur *c, double *v)
{
    size_t e = token_end(c);
    char tok[64];
    if (e == c->i)
        return bad(c, "a value expected");
    if (e - c->i >= sizeof tok)
        return bad(c, "the value is too long");
    memcpy(tok, c->p + c->i, e - c->i);
    tok[e - c->i] = 0;
    const char *w = tok + (tok[0] == '+' || tok[0] == '-');
    if (strcasecmp(w, "inf") == 0 || strcasecmp(w, "infinity") == 0) {
        *v = tok[0] == '-' ? -__builtin_inf() : __builtin_inf();
    } else if (strcasecmp(tok, "nan") == 0) {
        *v = __builtin_nan("");
    } else {
        char *end;
        if (strspn(tok, "0123456789.eE+-") != strlen(tok) || (*v = strtod(tok, &end), *end != 0))
            return bad(c, "\"%s\" is not a number", tok);
    }
    c->i = e;
    return 0;
}

int px_mparse_line(const char *p, size_t n, px_mline *out, px_buf *labels, char *why,
                   size_t why_len)
{
    cur c = {p, n, 0, why, why_len};
    memset(out, 0, sizeof *out);
    labels->len = 0;
    if (memchr(p, 0, n))
        return c.i = (size_t)((const char *)memchr(p, 0, n) - p), bad(&c, "a NUL byte");
    skip_blanks(&c);
    if (c.i == n)
        return 0;
    if (p[c.i] == '#')
        return comment(&c, out);
    size_t ne = name_end(&c, 1);
    if (ne == c.i)
        return bad(&c, "a metric name expected");
    out->name = p + c.i;
    out->name_len = ne - c.i;
    c.i = ne;
    skip_blanks(&c);
    size_t blank_from = ne;
    if (c.i < n && p[c.i] == '{') {
        if (label_set(&c, labels) != 0)
            return -1;
        blank_from = c.i;
        skip_blanks(&c);
    }
    if (px_buf_append(labels, "", 1) != 0)
        return bad(&c, "out of memory");
    labels->len--;
    if (c.i == blank_from && c.i < n)
        return bad(&c, "a space expected before the value");
    if (value(&c, &out->value) != 0)
        return -1;
    skip_blanks(&c);
    if (c.i < n) { /* a timestamp, milliseconds: checked, not kept */
        size_t e = token_end(&c), d = c.i + (p[c.i] == '-'), j = d;
        while (j < e && p[j] >= '0' && p[j] <= '9')
            j++;
        if (d == e || j < e || e - d > 19)
            return bad(&c, "a timestamp (integer milliseconds) or the end of the line expected");
        c.i = e;
        skip_blanks(&c);
        if (c.i < n)
            return bad(&c, "text after the timestamp");
    }
    out->kind = PX_MLINE_SAMPLE;
    return 0;
}
