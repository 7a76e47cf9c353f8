/* Nesting limit check for protobuf input (see pb_depth.c). */
#ifndef PB_DEPTH_H
#define PB_DEPTH_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/* Levels of messages, the outermost counting as one; as every Plexus decoder. */
#define PX_PB_MAX_DEPTH 64

/** 1 when data nests at most PX_PB_MAX_DEPTH levels (or is malformed: unpack says why). */
int px_pb_depth_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len);

#endif
