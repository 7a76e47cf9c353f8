#include "px_arena.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* The size header in front of a spilled block: 16 bytes keep malloc's alignment. */
#define PX_ARENA_HDR 16

/* Past the arena's room: a heap block within the limit (kept out of line, so the usual
 * case above stays a few instructions). */
static __attribute__((noinline)) void *px__arena_spill(px_arena *a, size_t size)
{
    /* A decoder that asks for more than the budget (a small body that would grow into a
     * huge tree) gets NULL, as on out of memory, and fails. */
    if (size > a->limit - a->spill_bytes || size > SIZE_MAX - PX_ARENA_HDR) {
        a->over = 1;
        errno = ENOMEM; /* as malloc would: the codec tells a refusal from bad input */
        return NULL;
    }
    /* Each spilled block carries its size, so freeing it gives its bytes back: the
     * count is what is live (a decoder's scratch, freed as it goes, stops counting). */
    size_t *p = malloc(size + PX_ARENA_HDR);
    if (!p)
        return NULL;
    *p = size;
    a->spilled++;
    a->spill_bytes += size;
    return (char *)p + PX_ARENA_HDR;
}

void *px_arena_take(px_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15; /* keep every block 16-byte aligned */
    if (need < n || need > a->cap - a->used)
        return NULL;
    void *p = a->mem + a->used;
    a->used += need;
    return p;
}

static void *px__arena_alloc(void *data, size_t size)
{
    void *p = px_arena_take(data, size);
    return p ? p : px__arena_spill(data, size);
}

static void px__arena_free(void *data, void *p)
{
    px_arena *a = data;
    uintptr_t u = (uintptr_t)p, lo = (uintptr_t)a->mem;
    if (p == NULL || (u >= lo && u < lo + a->cap))
        return; /* released with the arena */
    size_t *base = (size_t *)((char *)p - PX_ARENA_HDR);
    a->spill_bytes -= *base;
    free(base);
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
    a->spill_bytes = 0;
    a->limit = SIZE_MAX;
    a->over = 0;
}

void px_arena_free_message(px_arena *a, ProtobufCMessage *msg)
{
    /* Nothing spilled: the whole message lives in the arena and goes with it. */
    if (msg && a->spilled)
        protobuf_c_message_free_unpacked(msg, &a->alloc);
    a->used = 0;
    a->spilled = 0;
    a->spill_bytes = 0;
    a->over = 0;
}
