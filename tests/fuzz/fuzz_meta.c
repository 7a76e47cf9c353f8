/* libFuzzer target: a frame's metadata section (docs/PROTOCOL.md §2.3). The input is
 * the section. A section the wire check accepts is walked entry by entry, through the
 * codec and through a px_meta view (px_meta_at, px_meta_get), and encoded again: the
 * bytes must be the input's, and a list built with px_meta_add from the same entries
 * (less the reserved px- and grpc- keys the API refuses) must encode the same. A
 * refused section must name a byte inside it (or its end) and say why. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_meta.h"

static void fail(const char *what, size_t i)
{
    fprintf(stderr, "fuzz_meta: %s (entry %zu)\n", what, i);
    abort();
}

static int reserved(const px_meta_entry *e)
{
    return (e->key_len >= 3 && memcmp(e->key, "px-", 3) == 0) ||
           (e->key_len >= 5 && memcmp(e->key, "grpc-", 5) == 0);
}

/* Whether key is the first entry with that key before entry i. */
static int first_of_key(const uint8_t *p, size_t i, const px_meta_entry *e)
{
    size_t off = 0;
    for (size_t j = 0; j < i; j++) {
        px_meta_entry o;
        off = px_meta_wire_next(p, off, &o);
        if (o.key_len == e->key_len && memcmp(o.key, e->key, e->key_len) == 0)
            return 0;
    }
    return 1;
}

static void check_good(const uint8_t *p, size_t len, size_t count)
{
    px_meta view;
    px_meta_view(&view, p, len, count);
    px_meta *built = px_meta_new();
    px_buf again = {0}, filtered = {0};
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        px_meta_entry e;
        size_t next = px_meta_wire_next(p, off, &e);
        if (next <= off || next > len)
            fail("an entry steps outside the section", i);
        off = next;
        const char *k;
        size_t klen, vlen;
        const void *v;
        if (px_meta_at(&view, i, &k, &klen, &v, &vlen) != 0 || k != e.key ||
            klen != e.key_len || v != (const void *)e.value || vlen != e.len)
            fail("px_meta_at disagrees with the codec", i);
        if (px_meta_wire_append(&again, e.key, e.key_len, e.value, e.len) != 0)
            abort();
        char key[256];
        memcpy(key, e.key, e.key_len);
        key[e.key_len] = 0;
        size_t glen = 0;
        const void *g = px_meta_get(&view, key, &glen);
        if (first_of_key(p, i, &e) && (g != (const void *)e.value || glen != e.len))
            fail("px_meta_get does not return the first value of its key", i);
        if (!reserved(&e)) {
            px_err err;
            if (px_meta_add(built, key, e.value, e.len, &err) != PX_OK)
                fail(err.msg, i);
            px_meta_wire_append(&filtered, e.key, e.key_len, e.value, e.len);
        }
    }
    if (off != len)
        fail("the entries do not end where the section does", count);
    if (px_meta_at(&view, count, NULL, NULL, NULL, NULL) != -1)
        fail("px_meta_at reads past the last entry", count);
    /* Backwards: the cursor restarts, the answers do not change. */
    for (size_t i = count; i-- > 0;) {
        const char *k;
        if (px_meta_at(&view, i, &k, NULL, NULL, NULL) != 0 || k < (const char *)p ||
            k >= (const char *)p + len)
            fail("px_meta_at backwards", i);
    }
    if (again.len != len || (len && memcmp(again.data, p, len) != 0))
        fail("encoding the entries again does not give the section back", count);
    if (built->enc.len != filtered.len ||
        (filtered.len && memcmp(built->enc.data, filtered.data, filtered.len) != 0))
        fail("px_meta_add encodes differently from the wire", count);
    px_buf_free(&again);
    px_buf_free(&filtered);
    px_meta_free(built);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t count = 0, at = 0;
    char what[200] = "";
    if (px_meta_wire_check(data, size, &count, &at, what, sizeof what) == 0) {
        check_good(data, size, count);
        return 0;
    }
    if (at > size || what[0] == 0)
        fail("a refusal names no byte of the section or no reason", at);
    /* The same answer again: the check keeps no state. */
    size_t count2 = 0, at2 = 0;
    char what2[200] = "";
    if (px_meta_wire_check(data, size, &count2, &at2, what2, sizeof what2) != -1 || at2 != at ||
        strcmp(what, what2) != 0)
        fail("a second check answers differently", at);
    return 0;
}
