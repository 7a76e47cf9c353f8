/* Internal to codec_json: the encoder, decoder and the helpers they share. */
#ifndef PX_CODEC_JSON_INT_H
#define PX_CODEC_JSON_INT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <plexus/plexus.h>
#include "px_cu.h"

/* Messages nested deeper than this are refused, both ways: bounds the recursion. */
#define PX__JSON_MAX_DEPTH PX_CU_MAX_DEPTH

/* A field path for error messages ("inner.children[2].name"), built as we descend. */
typedef struct px__json_path {
    char buf[192];
    size_t len;
} px__json_path;

/** Appends ".name" (or "name" at the root); returns the previous length for pop. */
size_t px__json_path_key(px__json_path *p, const char *name);
/** Appends "[i]"; returns the previous length for pop. */
size_t px__json_path_index(px__json_path *p, size_t i);
/** Appends "[\"key\"]" (map entries); returns the previous length for pop. */
size_t px__json_path_mapkey(px__json_path *p, const char *key);
void px__json_path_pop(px__json_path *p, size_t len);

/**
 * The proto3 JSON name of a field (lowerCamelCase: "f_int32" -> "fInt32"), written
 * to buf when it fits, else malloc'd. Returns NULL on out of memory; the caller
 * frees the result when it is not buf.
 */
char *px__json_name(const char *name, char *buf, size_t cap);

/** "string \"abc\"", "number 1.5", "an object"...: what a JSON value is, for errors. */
void px__json_describe(const json_t *v, char *buf, size_t cap);

/** Builds the JSON object of msg; *precision receives the digits doubles need. NULL + err on failure. */
json_t *px__json_encode_message(const ProtobufCMessage *msg, int *precision, px_err *err);

/** Builds a protobuf-c message of type desc from a JSON value, from alloc (NULL: malloc);
 *  err on failure, with what was built given back to alloc. */
px_status px__json_decode_message(const ProtobufCMessageDescriptor *desc, const json_t *root,
                                  ProtobufCAllocator *alloc, ProtobufCMessage **out, px_err *err);

#endif
