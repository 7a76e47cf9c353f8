/* The heap a decoded protobuf-c message holds, for codecs that decode with malloc. */
#ifndef PX_MSGSIZE_H
#define PX_MSGSIZE_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/**
 * Bytes msg and everything it points to were allocated with (the struct, sub-messages,
 * repeated arrays, strings, bytes, unknown fields), as requested from the allocator:
 * malloc's own headers are not counted. Walks the message once.
 */
size_t px_msg_heap_size(const ProtobufCMessage *msg);

#endif
