/* lb_consistent_hash's conf struct and its key hashing (shared with its tests). */
#ifndef PX_LB_CONSISTENT_HASH_H
#define PX_LB_CONSISTENT_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

typedef struct lb_consistent_hash_conf {
    int64_t vnodes;  /**< ring points per unit of weight */
    char *key_field; /**< request field whose value is the key; NULL: only call options */
    int64_t seed;    /**< random fallback: 0 per-thread generators, otherwise a fixed sequence */
} lb_consistent_hash_conf;

/** 64-bit FNV-1a over bytes, continuing from h (start with CH_FNV_OFFSET). */
#define CH_FNV_OFFSET 0xcbf29ce484222325ull
uint64_t ch_fnv1a(uint64_t h, const void *data, size_t len);

/** What hashing a field may find. */
typedef enum ch_key_result {
    CH_KEY_OK = 0,     /**< *key set */
    CH_KEY_ABSENT,     /**< no such field in this message, or it is unset / empty */
    CH_KEY_BAD_TYPE,   /**< the field exists but cannot be a key (message, float, repeated) */
} ch_key_result;

/**
 * The key of msg's field `name`: FNV-1a of a string's or bytes' bytes, or of an
 * integer's (bool's, enum's) value as 8 little-endian bytes, sign-extended. An empty
 * string or bytes counts as absent: proto3 cannot tell it from unset.
 */
ch_key_result ch_field_key(const ProtobufCMessage *msg, const char *name, uint64_t *key);

#endif
