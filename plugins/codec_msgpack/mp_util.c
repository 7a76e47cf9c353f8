/* codec_msgpack helpers: error paths and UTF-8 checks (descriptor walking is the SDK's,
 * plexus/px_codec_util.h). */
#include <string.h>
#include "mp_int.h"

/* Appends sep (unless 0) and text; a path too long for the buffer ends in "...". Plain
 * copies, no snprintf: the path is built on every field of every successful call. */
static void px__path_add(px__mp_path *p, char sep, const char *text, size_t n)
{
    size_t room = sizeof p->buf - 1 - p->len;
    if ((sep != 0) + n > room) { /* keep what fits, then mark the cut at the very end */
        if (sep != 0 && room > 0) {
            p->buf[p->len++] = sep;
            room--;
        }
        memcpy(p->buf + p->len, text, room);
        memcpy(p->buf + sizeof p->buf - 4, "...", 4);
        p->len = sizeof p->buf - 1;
        return;
    }
    if (sep != 0)
        p->buf[p->len++] = sep;
    memcpy(p->buf + p->len, text, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

/* Decimal digits of v into the end of buf; returns where they start. */
static char *px__digits(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

size_t px__mp_path_name(px__mp_path *p, const char *name)
{
    size_t old = p->len;
    px__path_add(p, old ? '.' : 0, name, strlen(name));
    return old;
}

size_t px__mp_path_index(px__mp_path *p, size_t i)
{
    char num[24], *end = num + sizeof num;
    *--end = ']';
    char *start = px__digits(end, i);
    *--start = '[';
    size_t old = p->len;
    px__path_add(p, 0, start, (size_t)(num + sizeof num - start));
    return old;
}

size_t px__mp_path_number(px__mp_path *p, uint64_t number)
{
    char num[24], *end = num + sizeof num;
    char *start = px__digits(end, number);
    *--start = '#';
    size_t old = p->len;
    px__path_add(p, old ? '.' : 0, start, (size_t)(end - start));
    return old;
}

void px__mp_path_pop(px__mp_path *p, size_t len)
{
    p->len = len;
    p->buf[len] = '\0';
}

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF; and no NUL. */
int px__mp_text_ok(const char *str, size_t len, size_t *bad_at)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0x01 && c <= 0x7f) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            *bad_at = i; /* NUL, a stray continuation byte, or a byte UTF-8 never uses */
            return 0;
        }
        if (n > len - i - 1 || s[i + 1] < lo || s[i + 1] > hi) {
            *bad_at = i;
            return 0;
        }
        for (size_t k = 2; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                *bad_at = i;
                return 0;
            }
        }
        i += n + 1;
    }
    return 1;
}
