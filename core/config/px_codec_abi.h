/* Reading a codec's op table across ABI minors: fields a minor appended exist only in
 * modules built with that minor (an older module's table simply ends before them). */
#ifndef PX_CODEC_ABI_H
#define PX_CODEC_ABI_H

#include "plexus/px_codec.h"

typedef px_status (*px_decode_with_fn)(void *, const ProtobufCMessageDescriptor *,
                                       const uint8_t *, size_t, ProtobufCAllocator *,
                                       ProtobufCMessage **, px_err *);

/** The codec module's decode_with, or NULL when it predates ABI 1.1 or has none. */
static inline px_decode_with_fn px_codec_decode_with(const px_module *m)
{
    if (m->kind != PX_MOD_CODEC || m->abi_major != 1 || m->abi_minor < 1)
        return NULL;
    return ((const px_codec_ops *)m->ops)->decode_with;
}

#endif
