/* Reflection's descriptor work, both directions (internal):
 *  - server: the protobuf-c descriptors of a service to google.protobuf.FileDescriptorProto
 *    bytes (px_reflect_fdp.c), what plexus.reflection.v1.Reflection/FileDescriptors sends;
 *  - client: those bytes back to protobuf-c descriptors built at run time (px_reflect_dyn.c,
 *    public as plexus/px_descset.h),
 *    so `plexus call HOST:PORT` can encode and decode messages it has no generated code for.
 *
 * Why rebuild rather than embed: protobuf-c keeps no FileDescriptorProto at run time, and
 * embedding protoc's --descriptor_set_out in every service module would need a new module
 * op (an ABI minor), a change to every module's build and would leave the modules built
 * before without reflection. A ProtobufCMessageDescriptor holds everything the wire and the
 * JSON mapping need (names, numbers, types, labels, packing, oneofs, enums, maps), so every
 * service module ever built gets reflection unchanged. What is lost: file names (a file is
 * made per package, "<package>.proto"), oneof names ("oneof0", ...), comments, options
 * other than packed and map_entry, and proto2 default values. */
#ifndef PX_REFLECT_H
#define PX_REFLECT_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>
#include "plexus/px_status.h"

/** Every type sd's methods reach, as serialized FileDescriptorProtos, one per package, a
 *  file's dependencies before it, the service in its own package's file. *files is a
 *  malloc'd array of *n malloc'd buffers (px__reflect_files_free). */
px_status px__reflect_files(const ProtobufCServiceDescriptor *sd, ProtobufCBinaryData **files,
                            size_t *n, px_err *err);
void px__reflect_files_free(ProtobufCBinaryData *files, size_t n);

/* The client direction is public: plexus/px_descset.h (px_reflect_dyn.c). */

#endif
