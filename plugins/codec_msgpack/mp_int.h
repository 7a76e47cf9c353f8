/* Internal to codec_msgpack: its limits, the encoder, the decoder and the helpers they share. */
#ifndef PX_CODEC_MSGPACK_INT_H
#define PX_CODEC_MSGPACK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <plexus/plexus.h>

/* The ceiling of max_depth: it bounds the recursion of both directions. */
#define PX__MP_MAX_DEPTH 64
/* Defaults, used when the codec runs without a config (state NULL or zeroed). */
#define PX__MP_DEFAULT_MAX_SIZE (64u << 20)

/** The module's conf struct, filled by the core from the YAML directives. */
typedef struct px__mp_conf {
    uint64_t max_size;  /**< PX_DIR_SIZE: largest encoding accepted either way */
    int64_t max_depth;  /**< PX_DIR_INT: deepest message nesting accepted either way */
} px__mp_conf;

/** The limits one call works with (the conf, or the defaults). */
typedef struct px__mp_limits {
    size_t max_size;
    int max_depth;
} px__mp_limits;

/* A field path for error messages ("inner.children[2].name"), built as we descend. */
typedef struct px__mp_path {
    char buf[192];
    size_t len;
} px__mp_path;

/** Appends ".name" (or "name" at the root); returns the previous length for pop. */
size_t px__mp_path_name(px__mp_path *p, const char *name);
/** Appends "[i]"; returns the previous length for pop. */
size_t px__mp_path_index(px__mp_path *p, size_t i);
/** Appends "#number" for a field this schema does not know; returns the previous length. */
size_t px__mp_path_number(px__mp_path *p, uint64_t number);
void px__mp_path_pop(px__mp_path *p, size_t len);

/**
 * Whether s[0..len) is UTF-8 with no NUL (protobuf-c strings end at the first NUL).
 * Returns 1, or 0 with *bad_at set to the offset of the first bad byte.
 */
int px__mp_text_ok(const char *s, size_t len, size_t *bad_at);

/** Appends the MessagePack encoding of msg to out; on failure out is unchanged. */
px_status px__mp_encode(const px__mp_limits *lim, const ProtobufCMessage *msg, px_buf *out,
                        px_err *err);

/** Decodes len bytes into a malloc'd message of type desc (protobuf-c layout). */
px_status px__mp_decode(const px__mp_limits *lim, const ProtobufCMessageDescriptor *desc,
                        const uint8_t *data, size_t len, ProtobufCMessage **out, px_err *err);

#endif
