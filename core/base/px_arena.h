/* A decode arena: a protobuf-c allocator that carves a decoded message out of memory
 * the caller already owns (the server's recycled call record, the unused room of a
 * client call's block), falling back to malloc when the message does not fit.
 * Hand-written: it is the framework's own per-call memory, a few lines over
 * ProtobufCAllocator, where a general arena library would add a malloc per block. */
#ifndef PX_ARENA_H
#define PX_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct px_arena {
    ProtobufCAllocator alloc; /* allocator_data points back here */
    unsigned char *mem;
    size_t cap, used;
    unsigned spilled;         /* blocks that came from malloc */
    size_t spill_bytes;       /* bytes of them still allocated */
    size_t limit;             /* spill_bytes may not pass this: the allocation fails instead */
    int over;                 /* an allocation was refused for the limit */
} px_arena;

/** Points the arena at mem[0..cap) (16-byte aligned), empty, with no spill limit. */
void px_arena_init(px_arena *a, void *mem, size_t cap);
/** n bytes of the arena's own room (16-byte aligned), released with it; NULL when they
 *  do not fit there (nothing spills to the heap). */
void *px_arena_take(px_arena *a, size_t n);
/** Frees msg, decoded through a->alloc (only blocks that spilled to malloc cost
 *  anything), and empties the arena. */
void px_arena_free_message(px_arena *a, ProtobufCMessage *msg);

#endif
