/* codec_protobuf: an allocator wrapper that remembers a refusal. libprotobuf-c's unpack returns NULL
 * for bad input and for a failed allocation alike; the server's budgeted allocator makes the second
 * an everyday answer (out of budget) that must be told apart: RESOURCE_EXHAUSTED, not bad input. */
#include "pb_watch.h"

void *px_pb_watch_alloc(void *data, size_t size)
{
    px_pb_watch *w = data;
    void *p = w->inner->alloc(w->inner->allocator_data, size);
    if (p == NULL)
        w->refused = 1;
    return p;
}

void px_pb_watch_free(void *data, void *p)
{
    px_pb_watch *w = data;
    w->inner->free(w->inner->allocator_data, p);
}
