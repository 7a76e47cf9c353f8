/* Test helper: a counting, checking, refusing protobuf-c allocator over malloc. */
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include "px_test_alloc.h"

#define PX_TEST_LIVE 0x4c495645424c4b31ull  /* "LIVEBLK1" */
#define PX_TEST_DEAD 0x444541444241424eull  /* freed: a second free sees this */

/* 16 bytes, so the block after it keeps malloc's 16-byte alignment. */
typedef struct px_test_hdr {
    size_t size;
    uint64_t tag;
} px_test_hdr;

static void *px_test_alloc_fn(void *data, size_t size)
{
    px_test_alloc *t = data;
    if (++t->calls == t->fail_at || size > SIZE_MAX - sizeof(px_test_hdr)) {
        errno = ENOMEM; /* the decode_with contract: a refusal reads as malloc's */
        return NULL;
    }
    px_test_hdr *h = malloc(sizeof *h + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    h->tag = PX_TEST_LIVE;
    t->live++;
    t->bytes_alloc += size;
    return h + 1;
}

static void px_test_free_fn(void *data, void *p)
{
    px_test_alloc *t = data;
    if (p == NULL)
        return;
    px_test_hdr *h = (px_test_hdr *)p - 1;
    if (h->tag != PX_TEST_LIVE) {
        t->bad_frees++; /* not ours, or freed before: leave it alone */
        return;
    }
    h->tag = PX_TEST_DEAD;
    t->live--;
    t->bytes_freed += h->size;
    free(h);
}

void px_test_alloc_init(px_test_alloc *t, size_t fail_at)
{
    *t = (px_test_alloc){ .a = { px_test_alloc_fn, px_test_free_fn, t }, .fail_at = fail_at };
}

int px_test_alloc_balanced(const px_test_alloc *t, char *why, size_t cap)
{
    if (t->live == 0 && t->bytes_alloc == t->bytes_freed && t->bad_frees == 0)
        return 1;
    snprintf(why, cap, "%zu blocks still live, %zu bytes allocated, %zu freed, %zu bad frees", t->live,
             t->bytes_alloc, t->bytes_freed, t->bad_frees);
    return 0;
}
