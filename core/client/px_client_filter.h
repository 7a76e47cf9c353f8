/* Client calls through their upstream's filter chain (px_client_filter.c). */
#ifndef PX_CLIENT_FILTER_H
#define PX_CLIENT_FILTER_H

#include "px_fchain.h"
#include "px_upstream.h"

/**
 * Runs the upstream's on_request filters for a call about to be made. PX_OK: it goes
 * on (*deadline_mono may have been shortened; *added holds what filters added to the
 * request metadata, NULL when nothing). Otherwise the call ends with that status and
 * fc->msg, nothing sent.
 */
px_status px__cfilter_in(px_upstream *up, px_fcall *fc, const char *method,
                         const ProtobufCMessage *req, size_t req_bytes, const px_meta *meta,
                         int64_t *deadline_mono, px_meta **added);
/** The request metadata to send when filters added some: base then added, into out,
 *  within the upstream's max_meta (else RESOURCE_EXHAUSTED). */
px_status px__cfilter_meta(const px_upstream *up, const char *method, const uint8_t *base,
                           size_t base_len, const px_meta *added, px_buf *out, px_err *err);
/** The call's budget after its filters: unchanged, or what a filter's shorter deadline
 *  leaves (at least 1 µs). */
int64_t px__cfilter_budget(int64_t budget_us, int64_t before_mono, int64_t after_mono);
/** The call is over: on_done, last filter first. */
void px__cfilter_done(px_fcall *fc, px_status st, const char *msg, const char *peer,
                      size_t resp_bytes, const px_meta *reply_meta);

#endif
