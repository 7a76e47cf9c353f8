/* px_metrics_text: the registry rendered in the Prometheus text format 0.0.4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_mbuild.h"
#include "px_mcells.h"
#include "px_mreg_int.h"
#include "px_mtext.h"

static int visible(const px_mseries *s)
{
    /* A counter's or histogram's series stays once made; a gauge's, while held. */
    return s->fam->type != PX_METRIC_GAUGE || s->handles > 0;
}

/* name{labels[,extra]} value\n */
static int sample(px_buf *b, const char *name, const char *suffix, const char *labels,
                  const char *extra, const char *value)
{
    int ok = px_mtext_put(b, name) == 0 && px_mtext_put(b, suffix) == 0;
    if (labels[0] || extra) {
        ok = ok && px_mtext_put(b, "{") == 0 && px_mtext_put(b, labels) == 0;
        if (extra)
            ok = ok && px_mtext_put(b, labels[0] ? "," : "") == 0 && px_mtext_put(b, extra) == 0;
        ok = ok && px_mtext_put(b, "}") == 0;
    }
    return ok && px_mtext_put(b, " ") == 0 && px_mtext_put(b, value) == 0 &&
           px_mtext_put(b, "\n") == 0 ? 0 : -1;
}

static int gauge(px_buf *b, const px_mseries *s)
{
    double v = (double)(int64_t)px__mcells_sum_u64(s->base);
    for (const px_metric *m = s->first; m; m = m->next) {
        if (m->read) {
            v += m->read(m->arg);
        } else {
            uint64_t bits = __atomic_load_n(&m->value, __ATOMIC_RELAXED);
            double d;
            memcpy(&d, &bits, sizeof d);
            v += d;
        }
    }
    char num[PX_MTEXT_NUM];
    px_mtext_f64(num, v);
    return sample(b, s->fam->name, "", s->labels, NULL, num);
}

static int histogram(px_buf *b, const px_mseries *s)
{
    const px_metric_family *f = s->fam;
    uint64_t cum = 0;
    char num[PX_MTEXT_NUM], le[PX_MTEXT_NUM + 8];
    for (size_t i = 0; i <= f->nbuckets; i++) {
        cum += px__mcells_sum_u64(s->base + (uint32_t)i);
        char bound[PX_MTEXT_NUM];
        px_mtext_f64(bound, i < f->nbuckets ? f->bounds[i] : __builtin_inf());
        snprintf(le, sizeof le, "le=\"%s\"", bound);
        snprintf(num, sizeof num, "%llu", (unsigned long long)cum);
        if (sample(b, f->name, "_bucket", s->labels, le, num) != 0)
            return -1;
    }
    px_mtext_f64(num, px__mcells_sum_f64(s->base + (uint32_t)f->nbuckets + 1));
    if (sample(b, f->name, "_sum", s->labels, NULL, num) != 0)
        return -1;
    snprintf(num, sizeof num, "%llu", (unsigned long long)cum);
    return sample(b, f->name, "_count", s->labels, NULL, num);
}

static int family(px_buf *b, const px_metric_family *f)
{
    const px_mseries *s = f->series;
    while (s && !visible(s))
        s = s->next;
    if (!s)
        return 0; /* nothing to show: no HELP/TYPE alone */
    static const char *const types[] = {"", "counter", "gauge", "histogram"};
    if (px_mtext_put(b, "# HELP ") != 0 || px_mtext_put(b, f->name) != 0 ||
        px_mtext_put(b, " ") != 0 || px_mtext_escape(b, f->help, strlen(f->help), 0) != 0 ||
        px_mtext_put(b, "\n# TYPE ") != 0 || px_mtext_put(b, f->name) != 0 ||
        px_mtext_put(b, " ") != 0 || px_mtext_put(b, types[f->type]) != 0 ||
        px_mtext_put(b, "\n") != 0)
        return -1;
    for (; s; s = s->next) {
        if (!visible(s))
            continue;
        int rc;
        if (f->type == PX_METRIC_COUNTER) {
            char num[PX_MTEXT_NUM];
            snprintf(num, sizeof num, "%llu", (unsigned long long)px__mcells_sum_u64(s->base));
            rc = sample(b, f->name, "", s->labels, NULL, num);
        } else {
            rc = f->type == PX_METRIC_GAUGE ? gauge(b, s) : histogram(b, s);
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

char *px_metrics_text(size_t *len)
{
    px__mbuild_info();
    px_buf b = {0};
    int ok = px_buf_reserve(&b, 4096) == 0;
    px__mlock();
    for (const px_metric_family *f = px__mreg_families(); ok && f; f = f->next)
        ok = family(&b, f) == 0;
    px__munlock();
    if (!ok || px_buf_append(&b, "", 1) != 0) {
        px_buf_free(&b);
        return NULL;
    }
    if (len)
        *len = b.len - 1;
    return (char *)b.data;
}
