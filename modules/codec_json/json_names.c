/* codec_json helpers: JSON field names, error paths and descriptions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_int.h"

/* Appends pre, text and post; a path too long for the buffer ends in "..." */
static void px__path_add(px__json_path *p, const char *pre, const char *text, const char *post)
{
    size_t room = sizeof p->buf - p->len;
    int n = snprintf(p->buf + p->len, room, "%s%s%s", pre, text, post);
    if (n < 0)
        return;
    if ((size_t)n >= room) {
        memcpy(p->buf + sizeof p->buf - 4, "...", 4);
        p->len = sizeof p->buf - 1;
        return;
    }
    p->len += (size_t)n;
}

size_t px__json_path_key(px__json_path *p, const char *name)
{
    size_t old = p->len;
    px__path_add(p, p->len == 0 ? "" : ".", name, "");
    return old;
}

size_t px__json_path_index(px__json_path *p, size_t i)
{
    size_t old = p->len;
    char num[24];
    snprintf(num, sizeof num, "%zu", i);
    px__path_add(p, "[", num, "]");
    return old;
}

size_t px__json_path_mapkey(px__json_path *p, const char *key)
{
    size_t old = p->len;
    px__path_add(p, "[\"", key, "\"]");
    return old;
}

void px__json_path_pop(px__json_path *p, size_t len)
{
    p->len = len;
    p->buf[len] = '\0';
}

/* protoc's ToJsonName: drop each '_' and upper-case the letter after it. */
char *px__json_name(const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    char *out = n < cap ? buf : malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t j = 0;
    int upper = 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '_') {
            upper = 1;
        } else {
            out[j++] = upper && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
            upper = 0;
        }
    }
    out[j] = '\0';
    return out;
}

void px__json_describe(const json_t *v, char *buf, size_t cap)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        /* Quote at most 40 bytes, cut on a UTF-8 character boundary. */
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), show = n;
        if (show > 40) {
            show = 40;
            while (show > 0 && ((unsigned char)s[show] & 0xC0) == 0x80)
                show--;
        }
        snprintf(buf, cap, "string \"%.*s\"%s", (int)show, s, show < n ? "..." : "");
        break;
    }
    case JSON_INTEGER:
        snprintf(buf, cap, "number %lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(buf, cap, "number %.17g", json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(buf, cap, "true");
        break;
    case JSON_FALSE:
        snprintf(buf, cap, "false");
        break;
    case JSON_NULL:
        snprintf(buf, cap, "null");
        break;
    case JSON_OBJECT:
        snprintf(buf, cap, "an object");
        break;
    case JSON_ARRAY:
        snprintf(buf, cap, "an array");
        break;
    }
}
