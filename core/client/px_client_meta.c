/* Metadata on the client side, shared by the async and the blocking client: the
 * request's checked against the upstream's limit before anything is sent, the reply's
 * checked as it arrives. */
#include "px_client_int.h"

px_status px__call_meta(const px_upstream *up, const char *method, const px_meta *meta,
                        const uint8_t **p, size_t *len, px_err *err)
{
    uint64_t max = up->conf->limits.max_meta;
    if (meta->enc.len > max)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "%s: request metadata of %zu bytes exceeds max_meta %llu of upstream "
                          "%s (not sent)", method, meta->enc.len, (unsigned long long)max,
                          up->conf->name);
    *p = meta->enc.len ? meta->enc.data : NULL;
    *len = meta->enc.len;
    return PX_OK;
}

px_status px__call_traced_opts(const px_upstream *up, const char *method,
                               const px_call_opts *opts, const px_trace *trace, px_call_opts *o,
                               px_meta *m, uint8_t *room, size_t cap, px_err *err)
{
    const px_meta *caller = opts ? opts->meta : NULL;
    size_t len = caller ? caller->enc.len : 0;
    uint64_t max = up->conf->limits.max_meta;
    px_buf_borrow(&m->enc, room, cap);
    if (len + PX_TRACE_ENTRY_LEN > max)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "%s: request metadata of %zu bytes with the traceparent of the "
                          "handler's trace (%d bytes) exceeds max_meta %llu of upstream %s (not "
                          "sent)", method, len, PX_TRACE_ENTRY_LEN, (unsigned long long)max,
                          up->conf->name);
    if ((len && px_buf_append(&m->enc, caller->enc.data, len) != 0) ||
        px_buf_reserve(&m->enc, PX_TRACE_ENTRY_LEN) != 0)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    px_trace_entry(trace, m->enc.data + m->enc.len);
    m->enc.len += PX_TRACE_ENTRY_LEN;
    m->count = (caller ? caller->count : 0) + 1;
    m->cursor = 0;
    *o = opts ? *opts : (px_call_opts){0};
    o->meta = m;
    return PX_OK;
}

px_status px__reply_meta_check(const uint8_t *meta, uint32_t meta_len, const char *peer,
                               size_t *count, px_meta *copy, px_err *err)
{
    size_t at = 0;
    char what[200];
    if (px_meta_wire_check(meta, meta_len, count, &at, what, sizeof what) != 0)
        return px_err_set(err, PX_INTERNAL, "malformed response metadata from %s at byte %zu: %s",
                          peer, at, what);
    if (copy && px_meta_assign(copy, meta, meta_len, *count) != 0)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    return PX_OK;
}
