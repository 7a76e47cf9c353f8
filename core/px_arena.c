#include "px_arena.h"

#include <stdint.h>
#include <stdlib.h>

static void *px__arena_alloc(void *data, size_t size)
{
    px_arena *a = data;
    size_t need = (size + 15) & ~(size_t)15; /* keep every block 16-byte aligned */
    if (need >= size && need <= a->cap - a->used) {
        void *p = a->mem + a->used;
        a->used += need;
        return p;
    }
    a->spilled++;
    return malloc(size);
}

static void px__arena_free(void *data, void *p)
{
    px_arena *a = data;
    uintptr_t u = (uintptr_t)p, lo = (uintptr_t)a->mem;
    if (u >= lo && u < lo + a->cap)
        return; /* released with the arena */
    free(p);
}

void px_arena_init(px_arena *a, void *mem, size_t cap)
{
    a->alloc.alloc = px__arena_alloc;
    a->alloc.free = px__arena_free;
    a->alloc.allocator_data = a;
    a->mem = mem;
    a->cap = cap;
    a->used = 0;
    a->spilled = 0;
}

void px_arena_free_message(px_arena *a, ProtobufCMessage *msg)
{
    /* Nothing spilled: the whole message lives in the arena and goes with it. */
    if (msg && a->spilled)
        protobuf_c_message_free_unpacked(msg, &a->alloc);
    a->used = 0;
    a->spilled = 0;
}
