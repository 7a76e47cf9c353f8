/* Telling an allocator's refusal from bad input in libprotobuf-c's unpack (see pb_watch.c). */
#ifndef PB_WATCH_H
#define PB_WATCH_H

#include <protobuf-c/protobuf-c.h>

/** An allocator handed to unpack in place of the caller's: forwards, and notes a NULL. */
typedef struct px_pb_watch {
    ProtobufCAllocator a;      /* what unpack is given; allocator_data points back here */
    ProtobufCAllocator *inner; /* the caller's allocator */
    int refused;               /* set when an allocation returned NULL */
} px_pb_watch;

void *px_pb_watch_alloc(void *data, size_t size);
void px_pb_watch_free(void *data, void *p);

static inline void px_pb_watch_init(px_pb_watch *w, ProtobufCAllocator *inner)
{
    w->a.alloc = px_pb_watch_alloc;
    w->a.free = px_pb_watch_free;
    w->a.allocator_data = w;
    w->inner = inner;
    w->refused = 0;
}

#endif
