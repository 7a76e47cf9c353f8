/* What the built-in services (core/builtin/px_svc_*.c) ask of the server, from inside a
 * handler (closure_data): internal, not part of the SDK. */
#ifndef PX_HANDLER_INT_H
#define PX_HANDLER_INT_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/** The services the call's server serves, in order (from the config, the built-in ones
 *  included, then those of px_server_add_service): up to cap of them in out; returns how
 *  many there are. */
size_t px__handler_services(void *closure_data, const ProtobufCServiceDescriptor **out,
                            size_t cap);
/** Whether the call's server has begun its shutdown (px_server_shutdown). */
int px__handler_draining(void *closure_data);

#endif
