/* Refusing field number 0 in protobuf input (see pb_field0.c). */
#ifndef PB_FIELD0_H
#define PB_FIELD0_H

#include <protobuf-c/protobuf-c.h>

/** 1 when m, or a message inside it, kept an unknown field with field number 0. */
int px_pb_has_field0(const ProtobufCMessage *m);

#endif
