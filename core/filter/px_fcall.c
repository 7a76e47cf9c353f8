/* What a filter reads and does to a call (the SDK side of px_filter.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "px_fchain.h"
#include "px_meta.h"
#include "px_time.h"

px_filter_side px_fcall_side(const px_fcall *call) { return call->side; }
const char *px_fcall_method(const px_fcall *call) { return call->method; }
const char *px_fcall_peer(const px_fcall *call) { return call->peer ? call->peer : ""; }
const char *px_fcall_peer_subject(const px_fcall *call)
{
    return call->peer_cert ? call->peer_cert(call, 0) : NULL;
}
const char *px_fcall_peer_san(const px_fcall *call, size_t i)
{
    return call->peer_cert ? call->peer_cert(call, i + 1) : NULL;
}
const ProtobufCMessage *px_fcall_request(const px_fcall *call) { return call->request; }
size_t px_fcall_request_bytes(const px_fcall *call) { return call->request_bytes; }
size_t px_fcall_response_bytes(const px_fcall *call) { return call->response_bytes; }
int64_t px_fcall_start_unix_us(const px_fcall *call)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t unix_now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    return unix_now - (px_mono_us() - call->start_mono_us);
}

int64_t px_fcall_elapsed_us(const px_fcall *call)
{
    int64_t end = call->end_mono_us ? call->end_mono_us : px_mono_us();
    return end - call->start_mono_us;
}

int64_t px_fcall_remaining_us(const px_fcall *call)
{
    int64_t d = *call->deadline_us;
    return d == INT64_MAX ? INT64_MAX : d - px_mono_us();
}

px_status px_fcall_status(const px_fcall *call, const char **msg)
{
    if (msg)
        *msg = call->msg;
    return call->status;
}

/* What a call without metadata shows: px_meta_at never writes an empty list's cursor. */
static px_meta px__no_meta;

const px_meta *px_fcall_meta(const px_fcall *call)
{
    return call->meta ? call->meta : &px__no_meta;
}

const px_meta *px_fcall_reply_meta(const px_fcall *call)
{
    return call->reply_meta ? call->reply_meta : &px__no_meta;
}

px_status px_fcall_add_meta(px_fcall *call, const char *key, const void *value, size_t len,
                            px_err *err)
{
    if (!call->add_meta)
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "%s: this call sends no more metadata (px_fcall_add_meta in on_done?)",
                          call->method);
    /* Made on first use: a call no filter adds to costs nothing. */
    if (!*call->add_meta && !(*call->add_meta = px_meta_new()))
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    return px_meta_add(*call->add_meta, key, value, len, err);
}

const char *px_fcall_trace_id(const px_fcall *call)
{
    return call->trace ? px_trace_get(call->trace)->trace_id : NULL;
}

const char *px_fcall_span_id(const px_fcall *call)
{
    return call->trace ? px_trace_get(call->trace)->span_id : NULL;
}

const char *px_fcall_parent_span_id(const px_fcall *call)
{
    if (!call->trace)
        return NULL;
    const px_trace *t = px_trace_get(call->trace);
    return t->parent_id[0] ? t->parent_id : NULL;
}

void **px_fcall_data(px_fcall *call)
{
    return &call->data[call->current];
}

void px_fcall_reject(px_fcall *call, px_status st, const char *fmt, ...)
{
    call->status = st == PX_OK ? PX_UNKNOWN : st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->msg, sizeof call->msg, fmt, ap);
    va_end(ap);
}

void px_fcall_limit_deadline(px_fcall *call, int64_t budget_us)
{
    if (budget_us < 0)
        budget_us = 0;
    int64_t until = px_mono_us() + budget_us;
    if (until < *call->deadline_us)
        *call->deadline_us = until;
}

void px_fcall_resume(px_fcall *call, px_filter_verdict verdict)
{
    call->verdict = verdict == PX_FILTER_REJECT ? PX_FILTER_REJECT : PX_FILTER_CONTINUE;
    call->resume(call);
}
