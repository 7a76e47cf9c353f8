/* Reading a codec's op table across ABI minors: fields a minor appended exist only in
 * modules built with that minor (an older module's table simply ends before them). */
#ifndef PX_CODEC_ABI_H
#define PX_CODEC_ABI_H

#include "plexus/px_codec.h"

/* px_codec_decode_with (the module's decode_with across minors) is public: px_codec.h. */
typedef px_codec_decode_with_fn px_decode_with_fn;

#endif
