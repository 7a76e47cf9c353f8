/* Growing an array with zeroed new elements (see px_grow.h). */
#include "px_grow.h"

#include <stdlib.h>
#include <string.h>

int px_grow_zeroed(void **arr, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : first;
    while (n < need)
        n *= 2;
    char *p = realloc(*arr, n * elem);
    if (p == NULL)
        return -1;
    memset(p + *cap * elem, 0, (n - *cap) * elem);
    *arr = p;
    *cap = n;
    return 0;
}
