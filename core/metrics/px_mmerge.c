/* px_metrics_merge: several processes' scrapes summed into one (a master's /metrics
 * over its workers). Families keep the order they first appear in; so do samples. */
#define _GNU_SOURCE /* hsearch_r: a hash table per merge */
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexus/px_metrics.h"
#include "px_mparse.h"
#include "px_mtext.h"

typedef struct msample {
    char *key; /* name{labels} */
    double value;
    size_t text; /* the last text (1-based) that gave it: a second time there is an error */
    size_t line;
    struct msample *next;
} msample;

typedef struct mfam {
    char *name;
    char *help;        /* as written; NULL: none yet */
    const char *type;  /* NULL: none yet */
    size_t help_text, type_text, sample_text; /* the last text of each (1-based) */
    msample *first, **tail;
    struct mfam *next;
} mfam;

typedef struct merge {
    struct hsearch_data fams, samples;
    mfam *first, **tail;
    px_buf labels, key, fkey;
    size_t text, line;
    char why[300];
} merge;

static mfam *fam_find(merge *m, const char *name, size_t len)
{
    m->fkey.len = 0;
    if (px_buf_append(&m->fkey, name, len) != 0 || px_buf_append(&m->fkey, "", 1) != 0)
        return NULL;
    ENTRY e = {(char *)m->fkey.data, NULL}, *r = NULL;
    return hsearch_r(e, FIND, &r, &m->fams) && r ? r->data : NULL;
}

static mfam *fam_new(merge *m, const char *name, size_t len)
{
    mfam *f = calloc(1, sizeof *f);
    if (!f || !(f->name = strndup(name, len))) {
        free(f);
        return NULL;
    }
    ENTRY e = {f->name, f}, *r;
    if (!hsearch_r(e, ENTER, &r, &m->fams)) {
        free(f->name);
        free(f);
        return NULL;
    }
    f->tail = &f->first;
    *m->tail = f;
    m->tail = &f->next;
    return f;
}

static int fail(merge *m, const char *fmt, ...) PX_PRINTF(2, 3);
static int fail(merge *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->why, sizeof m->why, fmt, ap);
    va_end(ap);
    return -1;
}

/* The family a sample belongs to: its own name, or a histogram's or summary's for its
 * _bucket, _sum and _count; else a family of its own, untyped. */
static mfam *family_of(merge *m, const px_mline *l)
{
    mfam *f = fam_find(m, l->name, l->name_len);
    if (f)
        return f;
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t sl = strlen(sfx[i]);
        if (l->name_len > sl && memcmp(l->name + l->name_len - sl, sfx[i], sl) == 0 &&
            (f = fam_find(m, l->name, l->name_len - sl)) && f->type &&
            (strcmp(f->type, "histogram") == 0 || (i > 0 && strcmp(f->type, "summary") == 0)))
            return f;
    }
    return fam_new(m, l->name, l->name_len);
}

static int on_meta(merge *m, const px_mline *l)
{
    mfam *f = fam_find(m, l->name, l->name_len);
    if (!f && !(f = fam_new(m, l->name, l->name_len)))
        return fail(m, "out of memory");
    const char *what = l->kind == PX_MLINE_HELP ? "HELP" : "TYPE";
    size_t *seen = l->kind == PX_MLINE_HELP ? &f->help_text : &f->type_text;
    if (*seen == m->text)
        return fail(m, "a second %s for %s", what, f->name);
    *seen = m->text;
    if (l->kind == PX_MLINE_HELP) {
        if (!f->help && !(f->help = strndup(l->text, l->text_len)))
            return fail(m, "out of memory");
        return 0;
    }
    if (f->sample_text == m->text)
        return fail(m, "TYPE for %s after its samples", f->name);
    if (f->type && strcmp(f->type, l->text) != 0)
        return fail(m, "%s is a %s here, a %s in an earlier text", f->name, l->text, f->type);
    if (!f->type && f->first)
        return fail(m, "%s is a %s here, untyped in an earlier text", f->name, l->text);
    f->type = l->text; /* one of px_mparse's static names */
    return 0;
}

static int on_sample(merge *m, const px_mline *l)
{
    mfam *f = family_of(m, l);
    if (!f)
        return fail(m, "out of memory");
    f->sample_text = m->text;
    m->key.len = 0;
    if (px_buf_append(&m->key, l->name, l->name_len) != 0 ||
        (m->labels.len && (px_mtext_put(&m->key, "{") != 0 ||
                           px_buf_append(&m->key, m->labels.data, m->labels.len) != 0 ||
                           px_mtext_put(&m->key, "}") != 0)) ||
        px_buf_append(&m->key, "", 1) != 0)
        return fail(m, "out of memory");
    ENTRY e = {(char *)m->key.data, NULL}, *r = NULL;
    msample *s = hsearch_r(e, FIND, &r, &m->samples) && r ? r->data : NULL;
    if (s) {
        if (s->text == m->text)
            return fail(m, "%s given twice (line %zu first)", s->key, s->line);
        s->value += l->value;
        s->text = m->text;
        s->line = m->line;
        return 0;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->key = strdup((const char *)m->key.data))) {
        free(s);
        return fail(m, "out of memory");
    }
    e.key = s->key;
    e.data = s;
    if (!hsearch_r(e, ENTER, &r, &m->samples)) {
        free(s->key);
        free(s);
        return fail(m, "out of memory");
    }
    s->value = l->value;
    s->text = m->text;
    s->line = m->line;
    *f->tail = s;
    f->tail = &s->next;
    return 0;
}

static int read_text(merge *m, const char *t, size_t len)
{
    size_t at = 0;
    for (m->line = 1; at < len; m->line++) {
        const char *nl = memchr(t + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (t + at)) : len - at;
        px_mline l;
        char why[240];
        if (px_mparse_line(t + at, n, &l, &m->labels, why, sizeof why) != 0)
            return fail(m, "%s", why);
        if ((l.kind == PX_MLINE_HELP || l.kind == PX_MLINE_TYPE) && on_meta(m, &l) != 0)
            return -1;
        if (l.kind == PX_MLINE_SAMPLE && on_sample(m, &l) != 0)
            return -1;
        at += n + 1;
    }
    return 0;
}

static int render(const merge *m, px_buf *b)
{
    for (const mfam *f = m->first; f; f = f->next) {
        if (!f->first)
            continue; /* HELP/TYPE with no sample anywhere: nothing to add up */
        if (f->help && (px_mtext_put(b, "# HELP ") != 0 || px_mtext_put(b, f->name) != 0 ||
                        px_mtext_put(b, " ") != 0 || px_mtext_put(b, f->help) != 0 ||
                        px_mtext_put(b, "\n") != 0))
            return -1;
        if (f->type && (px_mtext_put(b, "# TYPE ") != 0 || px_mtext_put(b, f->name) != 0 ||
                        px_mtext_put(b, " ") != 0 || px_mtext_put(b, f->type) != 0 ||
                        px_mtext_put(b, "\n") != 0))
            return -1;
        for (const msample *s = f->first; s; s = s->next) {
            char num[PX_MTEXT_NUM];
            px_mtext_f64(num, s->value);
            if (px_mtext_put(b, s->key) != 0 || px_mtext_put(b, " ") != 0 ||
                px_mtext_put(b, num) != 0 || px_mtext_put(b, "\n") != 0)
                return -1;
        }
    }
    return px_buf_append(b, "", 1);
}

static void merge_free(merge *m)
{
    for (mfam *f = m->first, *fn; f; f = fn) {
        fn = f->next;
        for (msample *s = f->first, *sn; s; s = sn) {
            sn = s->next;
            free(s->key);
            free(s);
        }
        free(f->name);
        free(f->help);
        free(f);
    }
    hdestroy_r(&m->fams);
    hdestroy_r(&m->samples);
    px_buf_free(&m->labels);
    px_buf_free(&m->key);
    px_buf_free(&m->fkey);
}

char *px_metrics_merge(const char *const *texts, const size_t *lens, size_t n, size_t *out_len,
                       px_err *err)
{
    /* A line is at most one family and one sample: the tables never fill. */
    size_t lines = 16;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < lens[i]; j++)
            lines += texts[i][j] == '\n';
    lines += n;
    merge m = {0};
    m.tail = &m.first;
    if (!hcreate_r(lines + lines / 2, &m.fams) || !hcreate_r(lines + lines / 2, &m.samples)) {
        merge_free(&m);
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "merging metrics: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        m.text = i + 1;
        if (read_text(&m, texts[i], lens[i]) != 0) {
            px_err_set(err, PX_INVALID_ARGUMENT, "metrics text %zu of %zu, line %zu: %s", i + 1, n,
                       m.line, m.why);
            merge_free(&m);
            return NULL;
        }
    }
    px_buf out = {0};
    char *text = NULL;
    if (render(&m, &out) == 0) {
        text = (char *)out.data;
        if (out_len)
            *out_len = out.len - 1;
    } else {
        px_buf_free(&out);
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "merging metrics: out of memory");
    }
    merge_free(&m);
    return text;
}
