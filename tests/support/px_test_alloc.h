/* Test helper: a protobuf-c allocator that counts, checks and can refuse (decode_with tests, fuzzing). */
#ifndef PX_TEST_ALLOC_H
#define PX_TEST_ALLOC_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/**
 * Every block is malloc'd with a header (its size and a tag), so the allocator knows
 * the bytes each free gives back, and a block freed twice or freed through it though
 * it came from elsewhere shows (a wrong tag; under ASan, a use after free or a bad
 * free). A block it gave out and that was then passed to plain free() is an ASan bad
 * free too, since the pointer is not where malloc's block starts.
 */
typedef struct px_test_alloc {
    ProtobufCAllocator a;  /**< hand &a to decode_with and free_unpacked */
    size_t fail_at;        /**< 0: never refuse; k: the k-th allocation returns NULL */
    size_t calls;          /**< allocations asked for (the refused one included) */
    size_t live;           /**< blocks given out and not yet freed */
    size_t bytes_alloc;    /**< bytes given out */
    size_t bytes_freed;    /**< bytes given back */
    size_t bad_frees;      /**< frees of a block not (or no longer) given out by this allocator */
} px_test_alloc;

/** Ready to count, refusing the fail_at-th allocation (0: none). */
void px_test_alloc_init(px_test_alloc *t, size_t fail_at);

/** 1 when everything given out was given back exactly once, else 0 with why. */
int px_test_alloc_balanced(const px_test_alloc *t, char *why, size_t cap);

#endif
