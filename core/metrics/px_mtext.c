/* Names, escapes and numbers of the Prometheus text format, shared by render and merge. */
#include "px_mtext.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int name_char(char c, int first, int colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':'))
        return 1;
    return !first && c >= '0' && c <= '9';
}

static int valid_name(const char *s, size_t n, int colon)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i], i == 0, colon))
            return 0;
    return 1;
}

int px_mtext_metric_name(const char *s, size_t n)
{
    return valid_name(s, n, 1);
}

int px_mtext_label_name(const char *s, size_t n)
{
    return valid_name(s, n, 0);
}

int px_mtext_escape(px_buf *b, const char *s, size_t n, int quotes)
{
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '\n' ? "\\n"
                          : (quotes && s[i] == '"') ? "\\\"" : NULL;
        if (!esc)
            continue;
        if (px_buf_append(b, s + from, i - from) != 0 || px_buf_append(b, esc, 2) != 0)
            return -1;
        from = i + 1;
    }
    return px_buf_append(b, s + from, n - from);
}

void px_mtext_f64(char out[PX_MTEXT_NUM], double v)
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* Whole numbers as integers (counts are), else the shortest %g that reads back. */
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v) {
        snprintf(out, PX_MTEXT_NUM, "%.0f", v);
        if (strcmp(out, "-0") == 0)
            strcpy(out, "0");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, PX_MTEXT_NUM, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

int px_mtext_put(px_buf *b, const char *s)
{
    return px_buf_append(b, s, strlen(s));
}
