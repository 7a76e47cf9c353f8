/* The argument checks every codec's encode/decode entry makes, with one wording. */
#include "px_cu.h"

px_status px__cu_check_encode(const char *codec, const ProtobufCMessage *msg, px_err *err)
{
    if (msg == NULL || msg->descriptor == NULL ||
        msg->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "%s: cannot encode: not a protobuf-c message (bad descriptor magic)",
                          codec);
    return PX_OK;
}

px_status px__cu_check_decode(const char *codec, const ProtobufCMessageDescriptor *desc,
                              px_err *err)
{
    if (desc == NULL || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "%s: cannot decode: not a protobuf-c message descriptor (bad magic)",
                          codec);
    return PX_OK;
}
