/* SERVICE modules: a protoc-c ProtobufCService implementation the server dispatches to. */
#ifndef PLEXUS_PX_SERVICE_H
#define PLEXUS_PX_SERVICE_H

#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
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

#ifdef __cplusplus
}
#endif
#endif
