/* Helpers the standard codec modules share beyond the SDK's descriptor walking
 * (plexus/px_codec_util.h): building messages from an allocator, error paths, base64. */
#ifndef PX_CU_H
#define PX_CU_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include <plexus/px_codec.h>
#include <plexus/px_codec_util.h>
#include <plexus/px_status.h>

/* Messages nested deeper than this are refused by every codec, both ways (the root
 * message is depth 1): bounds the recursion of encoders and decoders alike. */
#define PX_CU_MAX_DEPTH 64

/*
 * Memory of a decoded message. A decoder takes every byte of the message and of what
 * it points to (sub-messages, repeated arrays, strings, bytes) from the caller's
 * protobuf-c allocator and gives back through it what it drops, so that
 * protobuf_c_message_free_unpacked(msg, alloc) frees it exactly; a NULL allocator is
 * malloc / free, as in libprotobuf-c. Working memory that is not part of the message
 * (a parse tree, a text buffer) stays on malloc.
 */

/** size bytes from alloc (malloc when NULL); NULL when out of memory or out of budget. */
static inline void *px__cu_alloc(ProtobufCAllocator *alloc, size_t size)
{
    return alloc != NULL ? alloc->alloc(alloc->allocator_data, size) : malloc(size);
}

/** Gives p (NULL: nothing) back to alloc, or to free when alloc is NULL. */
static inline void px__cu_free(ProtobufCAllocator *alloc, void *p)
{
    if (p == NULL)
        return;
    if (alloc != NULL)
        alloc->free(alloc->allocator_data, p);
    else
        free(p);
}

/** A NUL-terminated copy of s[0..len) from alloc; NULL when out of memory. Inline: a
 *  decoder makes one per string, and the call cost plain decode 5% on small messages. */
static inline char *px__cu_strdup(ProtobufCAllocator *alloc, const void *s, size_t len)
{
    char *copy = len < SIZE_MAX ? px__cu_alloc(alloc, len + 1) : NULL;
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

/*
 * Building a decoded message in protobuf-c layout, so that
 * protobuf_c_message_free_unpacked(msg, alloc) frees it at any point: a decoder that
 * fails half-way frees what it built and nothing leaks or is freed twice. Every
 * helper takes the allocator the message is built from.
 */

/** sizeof_message bytes from alloc, set up as a new message; NULL when out of memory.
 *  The generated message_init is called inline (one struct copy, on every decode);
 *  px_pb_message_init sets up a descriptor built at run time, which has none. */
static inline ProtobufCMessage *px__cu_msg_new(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *alloc)
{
    ProtobufCMessage *m = px__cu_alloc(alloc, d->sizeof_message);
    if (m == NULL)
        return NULL;
    if (d->message_init != NULL)
        d->message_init(m);
    else
        px_pb_message_init(d, m);
    return m;
}

/* The slow paths of px__cu_singular_begin and px__cu_repeated_room below (values that own
 * memory, oneofs, arrays that must grow). */
void *px__cu_singular_begin_slow(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                 ProtobufCAllocator *alloc);
void *px__cu_repeated_grow(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t add,
                           ProtobufCAllocator *alloc);

/**
 * Readies singular field f of m for a new value: frees the value it held (the last
 * occurrence of a field wins, as in protobuf) or, in a oneof, the value of whichever
 * member was set, and unsets the oneof. Returns the field's storage; the caller
 * stores the value there and then calls px_pb_mark_set.
 */
static inline void *px__cu_singular_begin(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                          ProtobufCAllocator *alloc)
{
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || f->type == PROTOBUF_C_TYPE_STRING ||
        f->type == PROTOBUF_C_TYPE_BYTES || f->type == PROTOBUF_C_TYPE_MESSAGE)
        return px__cu_singular_begin_slow(m, f, alloc);
    return (char *)m + f->offset; /* a number owns nothing: just overwrite it */
}

/* The capacity an array of n elements has: none, then 4, then powers of two. The
 * protobuf-c layout keeps only the count, so the capacity is a function of it. */
static inline size_t px__cu_capacity(size_t n)
{
    if (n <= 4)
        return n == 0 ? 0 : 4;
    if (n > SIZE_MAX / 2)
        return n;
    return (size_t)1 << (sizeof(unsigned long long) * 8 - (size_t)__builtin_clzll((unsigned long long)n - 1));
}

/**
 * Makes room for `add` (> 0) more elements of repeated field f and returns the first
 * new slot (index n_f), or NULL when out of memory. The caller fills the slots and
 * then counts them with px__cu_repeated_added, so a failure in between leaves only
 * counted, complete elements for free_unpacked. Arrays grow by doubling, from alloc.
 */
static inline void *px__cu_repeated_room(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t add,
                                         ProtobufCAllocator *alloc)
{
    char *base = (char *)m;
    size_t n = *(size_t *)(base + f->quantifier_offset);
    char *arr = *(char **)(base + f->offset);
    if (arr != NULL && add <= px__cu_capacity(n) - n)
        return arr + n * px_pb_value_size(f->type);
    return px__cu_repeated_grow(m, f, add, alloc);
}

/** Counts `add` filled elements of repeated field f. */
static inline void px__cu_repeated_added(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                         size_t add)
{
    *(size_t *)((char *)m + f->quantifier_offset) += add;
}

/*
 * A field path for error messages ("inner.children[2].name"), built while a failed
 * encode or decode unwinds: each level puts its field in front, so a call that
 * succeeds pays nothing for it.
 */
typedef struct px_cu_path {
    char buf[192];
    size_t len;
} px_cu_path;

/** Puts "name" (or "name[index]" when index != SIZE_MAX) in front of the path. */
void px__cu_path_prepend(px_cu_path *p, const char *name, size_t index);

/**
 * Standard base64 with padding (RFC 4648). Returns a malloc'd NUL-terminated string
 * and its length in *out_len (may be NULL), or NULL when out of memory.
 */
char *px__cu_b64_encode(const uint8_t *data, size_t len, size_t *out_len);

/**
 * Decodes standard or URL-safe base64, padding optional. Returns 0 and *out taken
 * from alloc (NULL when empty), -1 when out of memory, or -2 with *bad_at set to the
 * offending offset when the text is not base64 (nothing allocated then).
 */
int px__cu_b64_decode(const char *text, size_t len, ProtobufCAllocator *alloc, uint8_t **out,
                      size_t *out_len, size_t *bad_at);

/** Entry checks of a codec's encode / decode: PX_OK, or INVALID_ARGUMENT naming the codec. */
px_status px__cu_check_encode(const char *codec, const ProtobufCMessage *msg, px_err *err);
px_status px__cu_check_decode(const char *codec, const ProtobufCMessageDescriptor *desc,
                              px_err *err);

#endif
