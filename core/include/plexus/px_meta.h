/* Call metadata: ordered key/value pairs sent with a request and with its answer. */
#ifndef PLEXUS_PX_META_H
#define PLEXUS_PX_META_H

#include <stddef.h>
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * An ordered list of metadata entries (docs/PROTOCOL.md §2.3). Keys are 1 to 255
 * bytes of lowercase a-z, 0-9, '-', '_' and '.', so they map one to one onto HTTP/2
 * and gRPC header names. A key ending in "-bin" holds any bytes; any other key's
 * value is printable ASCII (0x20..0x7e). Values have 0 to 65535 bytes. A key may
 * appear more than once: every value is kept, in order; px_meta_get returns the first.
 * Keys beginning with "px-" (the framework's) and "grpc-" (gRPC's) are refused.
 *
 * The list holds its wire encoding, so sending it is one copy. Not thread-safe for
 * writing; any number of threads may read a list no one writes.
 */
typedef struct px_meta px_meta;

/** An empty list; NULL when out of memory. */
PX_API px_meta *px_meta_new(void);
/** Frees the list (NULL is ignored). */
PX_API void px_meta_free(px_meta *m);
/** Removes every entry (keeps the memory for the next ones). */
PX_API void px_meta_clear(px_meta *m);
/**
 * Appends key = value[0..len). Refuses, with err saying what is wrong: a key that is
 * empty, longer than 255 bytes, has a character outside a-z 0-9 - _ ., or begins with
 * "px-" or "grpc-"; a value longer than 65535 bytes, or with a byte outside 0x20..0x7e
 * when the key does not end in "-bin"; a list that would pass 16 MiB.
 */
PX_API px_status px_meta_add(px_meta *m, const char *key, const void *value, size_t len,
                             px_err *err);
/** px_meta_add with a NUL-terminated text value. */
PX_API px_status px_meta_add_str(px_meta *m, const char *key, const char *value, px_err *err);
/**
 * The first value of key and its length in *len (len may be NULL), or NULL when the
 * key is absent. The value is not NUL-terminated and stays valid until m changes.
 */
PX_API const void *px_meta_get(const px_meta *m, const char *key, size_t *len);
/** Entries in the list (a repeated key counts each time). 0 for NULL. */
PX_API size_t px_meta_count(const px_meta *m);
/**
 * Entry i (0 <= i < px_meta_count): its key (not NUL-terminated) and key_len, its
 * value and len; any out pointer may be NULL. Returns 0, or -1 when i is out of range.
 * Walking i = 0, 1, 2... costs O(1) per step.
 */
PX_API int px_meta_at(const px_meta *m, size_t i, const char **key, size_t *key_len,
                      const void **value, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
