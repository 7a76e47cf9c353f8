/* Protobuf-c descriptors built at run time from google.protobuf.FileDescriptorProto
 * bytes: what a program needs to encode and decode the messages of a service it has no
 * generated code for (`plexus call HOST:PORT` builds them from the server's reflection,
 * plexus.reflection.v1.Reflection/FileDescriptors). Since ABI 1.5 (new functions only). */
#ifndef PLEXUS_PX_DESCSET_H
#define PLEXUS_PX_DESCSET_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct px_descset px_descset;

/** Parses n serialized FileDescriptorProtos (from a peer: every byte is checked; a file's
 *  dependencies must come before it) and builds a descriptor for every message and enum
 *  they define. On failure err says what and where (file, type, field). */
PX_API px_status px_descset_build(const ProtobufCBinaryData *files, size_t n,
                                  px_descset **out, px_err *err);
/** The method "Method" of service "package.Service", or NULL. */
PX_API const ProtobufCMethodDescriptor *px_descset_method(const px_descset *d,
                                                          const char *service,
                                                          const char *method);
/** The message "package.Name", or NULL. */
PX_API const ProtobufCMessageDescriptor *px_descset_message(const px_descset *d,
                                                            const char *full_name);
/** Frees the set; messages decoded with its descriptors must be freed first. NULL: no-op. */
PX_API void px_descset_free(px_descset *d);

#ifdef __cplusplus
}
#endif
#endif
