/* Running a call through its filter chain (see px_fchain.h). */
#include "px_fchain.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "px_insts.h"
#include "px_time.h"

int px_fchain_append(px_fchain *ch, const px_fentry *e, size_t n)
{
    if (n > (size_t)(PX_FCHAIN_MAX - ch->n))
        return -1;
    memcpy(&ch->e[ch->n], e, n * sizeof *e);
    ch->n = (uint8_t)(ch->n + n);
    return 0;
}

int px_fchain_add_insts(px_fchain *ch, const px_insts *in)
{
    size_t n;
    px_inst *f = px_insts_of(in, PX_MOD_FILTER, &n);
    for (size_t i = 0; i < n; i++) {
        px_fentry e = {.ops = f[i].ops, .state = f[i].state, .name = f[i].ref->mod->name};
        if (px_fchain_append(ch, &e, 1) != 0)
            return -1;
    }
    return 0;
}

/* A filter rejected without saying why: say which one did. */
static void px__rejected(px_fcall *fc, const px_fentry *e)
{
    if (fc->status != PX_OK)
        return;
    fc->status = PX_UNKNOWN;
    snprintf(fc->msg, sizeof fc->msg, "%s: rejected by filter '%s'", fc->method, e->name);
}

px_filter_verdict px_fchain_request(px_fcall *fc)
{
    const px_fchain *ch = fc->chain;
    while (fc->next < ch->n) {
        uint8_t i = fc->next++;
        const px_fentry *e = &ch->e[i];
        if (!e->ops->on_request)
            continue;
        fc->current = i;
        fc->ran = (uint8_t)(i + 1);
        px_filter_verdict v = e->ops->on_request(e->state, fc);
        if (v == PX_FILTER_CONTINUE)
            continue;
        if (v == PX_FILTER_PENDING) {
            fc->pending = 1;
            return v;
        }
        px__rejected(fc, e);
        return PX_FILTER_REJECT;
    }
    /* Filters with on_done only see the outcome too: they are "in" once passed. */
    fc->ran = ch->n;
    return PX_FILTER_CONTINUE;
}

px_filter_verdict px_fchain_resumed(px_fcall *fc, px_filter_verdict v)
{
    fc->pending = 0;
    if (v == PX_FILTER_REJECT) {
        px__rejected(fc, &fc->chain->e[fc->current]);
        return PX_FILTER_REJECT;
    }
    return px_fchain_request(fc);
}

void px_fchain_done(px_fcall *fc, px_status st, const char *msg)
{
    fc->end_mono_us = px_mono_us();
    fc->status = st;
    /* Most calls end OK with no message: nothing to measure or copy on that path. */
    if (!msg || !*msg) {
        fc->msg[0] = '\0';
    } else if (msg != fc->msg) {
        size_t n = strnlen(msg, sizeof fc->msg - 1);
        memcpy(fc->msg, msg, n);
        fc->msg[n] = '\0';
    }
    for (uint8_t i = fc->ran; i-- > 0;) {
        const px_fentry *e = &fc->chain->e[i];
        if (!e->ops->on_done)
            continue;
        fc->current = i;
        e->ops->on_done(e->state, fc);
    }
}
