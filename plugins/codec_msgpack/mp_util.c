/* codec_msgpack helpers: error paths, map-field detection, value sizes, UTF-8 checks. */
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

/*
 * protobuf-c keeps no map_entry option, so recognise what protoc generates for
 * map<K, V> name: a repeated nested message "<Parent>.<CamelName>Entry" whose
 * fields are exactly key = 1 and value = 2.
 */
int px__mp_is_map(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return 0;
    const ProtobufCMessageDescriptor *e = f->descriptor;
    if (e->n_fields != 2 || e->fields[0].id != 1 || strcmp(e->fields[0].name, "key") != 0 ||
        e->fields[1].id != 2 || strcmp(e->fields[1].name, "value") != 0)
        return 0;
    size_t plen = strlen(d->name);
    if (strncmp(e->name, d->name, plen) != 0 || e->name[plen] != '.')
        return 0;
    /* protoc's entry name: the field name in CamelCase (first letter up) + "Entry". */
    const char *s = e->name + plen + 1;
    int upper = 1;
    for (const char *c = f->name; *c != '\0'; c++) {
        if (*c == '_') {
            upper = 1;
            continue;
        }
        char want = upper && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        upper = 0;
        if (*s++ != want)
            return 0;
    }
    return strcmp(s, "Entry") == 0;
}

size_t px__mp_value_size(ProtobufCType type) { return px_pb_value_size(type); }

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
