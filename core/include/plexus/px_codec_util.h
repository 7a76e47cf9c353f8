/* Walking a protobuf-c message by its descriptor with the rules every Plexus codec
 * keeps: which fields are written, how many values, which repeated fields are maps,
 * and how a decoder sets up a message and marks a field it filled. */
#ifndef PLEXUS_PX_CODEC_UTIL_H
#define PLEXUS_PX_CODEC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "px_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * New functions only, so PX_ABI_MINOR stays: a module that calls them and is loaded
 * into an older libplexus fails at dlopen, which names the missing symbol; nothing
 * about the module descriptor changes.
 *
 * An encoder's loop over a message, as the standard codecs write it:
 *
 *     for (unsigned i = 0; i < d->n_fields; i++) {
 *         const ProtobufCFieldDescriptor *f = &d->fields[i];
 *         size_t n = px_pb_count(m, f);
 *         if (n == 0)
 *             continue;                    // unset, default or empty: not written
 *         if (f->label != PROTOBUF_C_LABEL_REPEATED)  write one value
 *         else if (px_pb_is_map(d, f))                write n entries
 *         else                                        write n elements
 *     }
 *
 * The bytes one value of a type takes in the struct or a repeated array are
 * px_pb_value_size (px_codec.h).
 */

/**
 * Sets up m (d->sizeof_message bytes the caller allocated) as a new message of type d:
 * the generated message_init when d has one (one struct copy), else, for a descriptor
 * built at run time (the CLI's, from a server's reflection), as libprotobuf-c's unpack
 * does: zeros, the descriptor, each singular field's default (a oneof starts unset).
 * A decoder calls it for every message and map entry it creates.
 */
PX_API void px_pb_message_init(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m);

/**
 * Whether singular field f of m is present and so written: the set member of a
 * oneof, a required field, a non-NULL message, a proto2 / proto3-optional field whose
 * has_ flag is set (a proto2 string: not NULL and not its default), or a proto3
 * implicit-presence field whose value is not the default (numbers compared bit for
 * bit, so -0.0 counts as set; a string that is not NULL or ""; bytes of length > 0).
 * f must not be repeated.
 */
PX_API int px_pb_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);

/**
 * How many values of field f an encoder writes: a repeated field's element count (a
 * map's entry count), else 1 when px_pb_present, 0 when not.
 */
PX_API size_t px_pb_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);

/**
 * Whether repeated field f of message d is a map<K, V>. protobuf-c keeps no map_entry
 * option, so this recognises what protoc generates: a repeated nested message named
 * "<d's name>.<f's name in CamelCase>Entry" whose fields are exactly key = 1 and
 * value = 2. Its entries are messages with fields[0] the key and fields[1] the value.
 */
PX_API int px_pb_is_map(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f);

/**
 * The number of the member set in the oneof that field f belongs to (0: none set, or f
 * is in no oneof). A decoder that refuses a second member of a oneof, as codec_json
 * and codec_msgpack do, checks it before storing f; look the member's name up with
 * protobuf_c_message_descriptor_get_field(d, number).
 */
static inline uint32_t px_pb_oneof_case(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return 0;
    return *(const uint32_t *)((const char *)m + f->quantifier_offset);
}

/**
 * Marks singular field f of m present once the decoder has stored its value: sets the
 * oneof case to f, or the has_ flag of an optional number, bool, enum or bytes field
 * (optional strings and messages have no flag: not NULL is present). Set it last, so a
 * failure in between leaves a message protobuf_c_message_free_unpacked frees exactly.
 * Inline: decoders call it for every field, and it only spells protobuf-c's layout.
 */
static inline void px_pb_mark_set(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    char *base = (char *)m;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)(base + f->quantifier_offset) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
             f->type != PROTOBUF_C_TYPE_STRING)
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
}

#ifdef __cplusplus
}
#endif
#endif
