/* Client calls through their upstream's filter chain (px_client_filter.c). */
#ifndef PX_CLIENT_FILTER_H
#define PX_CLIENT_FILTER_H

#include "px_fchain.h"
#include "px_upstream.h"

/**
 * Runs the upstream's on_request filters for a call about to be made with the request
 * metadata meta (base[0..base_len) its encoding) and *budget µs (0: none). PX_OK: it
 * goes on; *budget is what a filter's shorter deadline left, and when filters added
 * metadata, fmeta holds base then theirs (within max_meta) to send instead. Otherwise
 * the call ends with that status and fc->msg, nothing sent.
 */
px_status px__cfilter_run(px_upstream *up, px_fcall *fc, const char *method,
                          const ProtobufCMessage *req, size_t req_bytes, const px_meta *meta,
                          const uint8_t *base, size_t base_len, int64_t *budget, px_buf *fmeta);
/** The call is over: on_done, last filter first. */
void px__cfilter_done(px_fcall *fc, px_status st, const char *msg, const char *peer,
                      size_t resp_bytes, const px_meta *reply_meta);

#endif
