/* Client calls through their upstream's filter chain, shared by the async and the
 * blocking client: on_request before the first attempt (a rejection ends the call with
 * its status, nothing sent), the metadata filters add sent with every attempt, on_done
 * before the caller hears of the outcome. A client chain decides at once: PENDING is
 * for server chains (a client call held by a filter would outlive px_client_free). */
#include <stdio.h>
#include <string.h>

#include "px_client_filter.h"
#include "px_meta.h"
#include "px_time.h"

static void px__no_resume(px_fcall *fc) { (void)fc; }

/* fc was begun by the caller (its start time is the budget's origin: one clock read). */
static px_status px__cfilter_in(px_upstream *up, px_fcall *fc, const char *method,
                                const ProtobufCMessage *req, size_t req_bytes,
                                const px_meta *meta, int64_t *deadline_mono, px_meta **added)
{
    fc->method = method;
    fc->peer = "";
    fc->request = req;
    fc->request_bytes = req_bytes;
    fc->meta = meta;
    fc->add_meta = added;
    fc->deadline_us = deadline_mono;
    fc->resume = px__no_resume;
    fc->owner = NULL;
    /* What the call sends: a handler's call has its traceparent in meta by now. */
    if (px_trace_of_client(&fc->own_trace, meta) == 0)
        fc->trace = &fc->own_trace;
    px_filter_verdict v = px_fchain_request(fc);
    fc->add_meta = NULL;
    if (v == PX_FILTER_CONTINUE)
        return PX_OK;
    if (v == PX_FILTER_PENDING) {
        fc->pending = 0;
        fc->status = PX_INTERNAL;
        snprintf(fc->msg, sizeof fc->msg,
                 "%s: filter '%s' of upstream %s returned PENDING: a client-side filter must "
                 "decide in on_request", method, up->chain.e[fc->current].name, up->conf->name);
    }
    return fc->status;
}

static px_status px__cfilter_meta(const px_upstream *up, const char *method, const uint8_t *base,
                           size_t base_len, const px_meta *added, px_buf *out, px_err *err)
{
    size_t total = base_len + added->enc.len;
    if (total > up->conf->limits.max_meta)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "%s: request metadata of %zu bytes with what filters added exceeds "
                          "max_meta %llu of upstream %s (not sent)", method, total,
                          (unsigned long long)up->conf->limits.max_meta, up->conf->name);
    if (px_buf_append(out, base, base_len) != 0 ||
        px_buf_append(out, added->enc.data, added->enc.len) != 0)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    return PX_OK;
}

static int64_t px__cfilter_budget(int64_t budget_us, int64_t before_mono, int64_t after_mono)
{
    if (after_mono == before_mono)
        return budget_us;
    int64_t left = after_mono - px_mono_us();
    return left > 1 ? left : 1; /* shortened to nothing: it fails DEADLINE_EXCEEDED at once */
}

px_status px__cfilter_run(px_upstream *up, px_fcall *fc, const char *method,
                          const ProtobufCMessage *req, size_t req_bytes, const px_meta *meta,
                          const uint8_t *base, size_t base_len, int64_t *budget, px_buf *fmeta)
{
    px_fcall_begin(fc, &up->chain, PX_FILTER_CLIENT);
    int64_t before = *budget > 0 ? fc->start_mono_us + *budget : INT64_MAX, dl = before;
    px_meta *added = NULL;
    px_status st = px__cfilter_in(up, fc, method, req, req_bytes, meta, &dl, &added);
    if (st == PX_OK && added) {
        px_err err;
        px_err_clear(&err);
        st = px__cfilter_meta(up, method, base, base_len, added, fmeta, &err);
        if (st != PX_OK) {
            fc->status = st;
            snprintf(fc->msg, sizeof fc->msg, "%.255s", err.msg);
        }
    }
    px_meta_free(added);
    if (st != PX_OK)
        return st;
    fc->status = PX_OK; /* a stray px_fcall_reject before CONTINUE is not a refusal */
    if (dl != before)
        *budget = px__cfilter_budget(*budget, before, dl);
    return PX_OK;
}

void px__cfilter_done(px_fcall *fc, px_status st, const char *msg, const char *peer,
                      size_t resp_bytes, const px_meta *reply_meta)
{
    fc->peer = peer ? peer : "";
    fc->response_bytes = resp_bytes;
    fc->reply_meta = reply_meta;
    px_fchain_done(fc, st, st == PX_OK ? "" : msg);
}
