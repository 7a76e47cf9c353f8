/* Nesting limit check for protobuf input (see pb_depth.c). */
#ifndef PB_DEPTH_H
#define PB_DEPTH_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/* Levels of messages, the outermost counting as one; as every Plexus decoder. */
#define PX_PB_MAX_DEPTH 64

#define PX_PB_DEEP 2         /**< the type's fields can nest deeper than the limit */
#define PX_PB_HAS_MESSAGES 4 /**< the type has message-typed fields */
/** PX_PB_* flags of a message type, computed once per descriptor (any thread). */
unsigned px_pb_desc_info(const ProtobufCMessageDescriptor *desc);
/** 1 when data nests at most PX_PB_MAX_DEPTH levels (or is malformed: unpack says why).
 *  info is px_pb_desc_info(desc): only PX_PB_DEEP types are scanned. */
int px_pb_depth_ok(const ProtobufCMessageDescriptor *desc, unsigned info, const uint8_t *data,
                   size_t len);

#endif
