/* The growable byte buffer codecs append to. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "plexus/px_buf.h"

int px_buf_reserve(px_buf *b, size_t n)
{
    if (n <= b->cap - b->len)
        return 0;
    if (n > SIZE_MAX - b->len)
        return -1;
    size_t need = b->len + n;
    size_t cap = b->cap ? b->cap : 64;
    /* Doubling keeps appends amortised O(1). */
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = b->borrowed ? malloc(cap) : realloc(b->data, cap);
    if (p == NULL)
        return -1;
    if (b->borrowed && b->len)
        memcpy(p, b->data, b->len);
    b->borrowed = 0;
    b->data = p;
    b->cap = cap;
    return 0;
}

int px_buf_append(px_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (px_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void px_buf_free(px_buf *b)
{
    if (!b->borrowed)
        free(b->data);
    b->borrowed = 0;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
