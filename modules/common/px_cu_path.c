/* Codec helpers: field paths for error messages, assembled from the inside out. */
#include <stdio.h>
#include <string.h>
#include "px_cu.h"

void px__cu_path_prepend(px_cu_path *p, const char *name, size_t index)
{
    char seg[96];
    int n = index == SIZE_MAX ? snprintf(seg, sizeof seg, "%s", name)
                              : snprintf(seg, sizeof seg, "%s[%zu]", name, index);
    if (n < 0)
        return;
    size_t slen = (size_t)n < sizeof seg ? (size_t)n : sizeof seg - 1;
    size_t dot = p->len > 0 ? 1 : 0; /* a dot joins a field to what is inside it */
    size_t cap = sizeof p->buf - 1;
    size_t keep = p->len;
    int cut = 0;
    if (slen + dot + keep > cap) { /* too deep to say in full: keep the outer part */
        keep = cap - slen - dot;
        cut = 1;
    }
    memmove(p->buf + slen + dot, p->buf, keep);
    memcpy(p->buf, seg, slen);
    if (dot)
        p->buf[slen] = '.';
    p->len = slen + dot + keep;
    p->buf[p->len] = '\0';
    if (cut)
        memcpy(p->buf + p->len - 3, "...", 3);
}
