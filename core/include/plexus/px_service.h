/* SERVICE modules: a protoc-c ProtobufCService implementation the server dispatches to. */
#ifndef PLEXUS_PX_SERVICE_H
#define PLEXUS_PX_SERVICE_H

#include <stdint.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>
#include "px_meta.h"
#include "px_module.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The server calls service->invoke(service, method_index, input, closure,
 * closure_data) with a decoded input. The handler answers by calling
 * closure(reply, closure_data) exactly once, now or later from any thread. To
 * fail the call, call px_handler_fail(closure_data, ...) first and then
 * closure(NULL, closure_data). The input is valid until closure is called; the
 * reply may be freed by the handler as soon as closure returns (the core has
 * encoded it by then).
 */
typedef struct px_service_ops {
    /** The generated service descriptor (static): clients and the CLI read method
     * and message types from it without making an instance. */
    const ProtobufCServiceDescriptor *descriptor;
    /** The service implementation of this instance (generated descriptor + handlers). */
    ProtobufCService *(*service)(void *state);
} px_service_ops;

/** Sets the status the call ends with when the handler then calls closure(NULL, closure_data). */
PX_API void px_handler_fail(void *closure_data, px_status st, const char *fmt, ...) PX_PRINTF(3, 4);
/** Microseconds left of the caller's deadline (propagated in the frame); INT64_MAX when none. */
PX_API int64_t px_handler_remaining_us(void *closure_data);
/** "calc.Calculator/Add". */
PX_API const char *px_handler_method(void *closure_data);
/**
 * The request's metadata (empty when the client sent none), read-only, valid until
 * closure is called. The server checked every entry before the handler ran.
 */
PX_API const px_meta *px_handler_meta(void *closure_data);
/**
 * Who the call comes from, as a filter of its chain set it (px_fcall_set_principal,
 * px_filter.h: e.g. the auth_token filter), valid until closure is called; NULL when
 * none did (an anonymous call, or a method without filters). New function of ABI
 * 1.5's library.
 */
PX_API const char *px_handler_principal(void *closure_data);
/**
 * The call's trace (W3C Trace Context, docs/OPERATIONS.md "Tracing"): its trace id (32
 * lowercase hex digits), from the request's `traceparent` metadata or begun by the
 * server when there was none (or a malformed one); its own span id (16 hex digits);
 * its parent span id, the caller's (16 hex digits; NULL when the trace began here).
 * Valid until closure is called. Client calls the handler makes while it runs, on its
 * thread, send `traceparent` with this trace id and this span as their parent. New
 * functions of ABI 1.5's library.
 */
PX_API const char *px_handler_trace_id(void *closure_data);
PX_API const char *px_handler_span_id(void *closure_data);
PX_API const char *px_handler_parent_span_id(void *closure_data);
/**
 * Adds key = value[0..len) to the response metadata, sent with the reply or with the
 * error of px_handler_fail, in the order added. Keys and values follow px_meta_add's
 * rules (and its errors). Call it before closure, from the thread that then calls
 * closure. When the metadata's encoding passes the server's limits.max_meta, the call
 * ends INTERNAL instead, without it.
 */
PX_API px_status px_handler_set_meta(void *closure_data, const char *key, const void *value,
                                     size_t len, px_err *err);

#ifdef __cplusplus
}
#endif
#endif
