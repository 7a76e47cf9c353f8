/* codec_binary decoder: every length checked against the bytes left before it is used. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "bin_int.h"

typedef struct px__bdec {
    const uint8_t *base;      /* start of the document: error messages give offsets from it */
    ProtobufCAllocator *alloc; /* every byte of the message comes from it (NULL: malloc) */
    px_cu_path path;     /* filled while a failure unwinds */
    char what[320];
    px_status status;
} px__bdec;

static px_status px__bdec_fields(px__bdec *c, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                                 size_t len, ProtobufCMessage *m, int depth);

static px_status px__bdec_fail(px__bdec *c, const uint8_t *at, const char *fmt, ...) PX_PRINTF(3, 4);

/* Records what went wrong and at which byte of the document. */
static px_status px__bdec_fail(px__bdec *c, const uint8_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->what, sizeof c->what, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof c->what)
        snprintf(c->what + n, sizeof c->what - (size_t)n, " at byte %zu", (size_t)(at - c->base));
    c->status = PX_INVALID_ARGUMENT;
    return PX_INVALID_ARGUMENT;
}

/* The allocator said no: out of memory, or out of the budget the caller gave it. */
static px_status px__bdec_oom(px__bdec *c)
{
    snprintf(c->what, sizeof c->what, "out of memory");
    c->status = PX_RESOURCE_EXHAUSTED;
    return PX_RESOURCE_EXHAUSTED;
}

static const char *px__type_name(ProtobufCType t)
{
    static const char *const names[] = {
        [PROTOBUF_C_TYPE_INT32] = "int32",       [PROTOBUF_C_TYPE_SINT32] = "sint32",
        [PROTOBUF_C_TYPE_SFIXED32] = "sfixed32", [PROTOBUF_C_TYPE_INT64] = "int64",
        [PROTOBUF_C_TYPE_SINT64] = "sint64",     [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
        [PROTOBUF_C_TYPE_UINT32] = "uint32",     [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
        [PROTOBUF_C_TYPE_UINT64] = "uint64",     [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
        [PROTOBUF_C_TYPE_FLOAT] = "float",       [PROTOBUF_C_TYPE_DOUBLE] = "double",
        [PROTOBUF_C_TYPE_BOOL] = "bool",         [PROTOBUF_C_TYPE_ENUM] = "enum",
        [PROTOBUF_C_TYPE_STRING] = "string",     [PROTOBUF_C_TYPE_BYTES] = "bytes",
        [PROTOBUF_C_TYPE_MESSAGE] = "message",
    };
    return (unsigned)t < sizeof names / sizeof names[0] && names[t] ? names[t] : "?";
}

/* Fields arrive in number order from our encoder: try the one after the last first. */
static const ProtobufCFieldDescriptor *px__by_number(const ProtobufCMessageDescriptor *d, uint32_t id,
                                                    unsigned *hint)
{
    unsigned h = *hint;
    if (h < d->n_fields && d->fields[h].id == id) {
        *hint = h + 1;
        return &d->fields[h];
    }
    if (h > 0 && d->fields[h - 1].id == id) /* the next element of a repeated field */
        return &d->fields[h - 1];
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, id);
    if (f != NULL)
        *hint = (unsigned)(f - d->fields) + 1;
    return f;
}

/* An unknown number may be a renumbered field: look its key up among the names. */
static const ProtobufCFieldDescriptor *px__by_name(const ProtobufCMessageDescriptor *d, const uint8_t *key,
                                                  size_t klen)
{
    unsigned lo = 0, hi = d->n_fields;
    while (lo < hi) { /* fields_sorted_by_name is in strcmp order */
        unsigned mid = lo + (hi - lo) / 2;
        const ProtobufCFieldDescriptor *f = &d->fields[d->fields_sorted_by_name[mid]];
        size_t nlen = strlen(f->name);
        int cmp = memcmp(f->name, key, nlen < klen ? nlen : klen);
        if (cmp == 0)
            cmp = nlen < klen ? -1 : nlen > klen;
        if (cmp == 0)
            return f;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* One value of f (a singular member or one repeated element) from val[0..vlen) into p. */
static px_status px__bdec_value(px__bdec *c, const ProtobufCFieldDescriptor *f, const uint8_t *val,
                                uint32_t vlen, void *p, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        /* protobuf-c strings end at NUL: one inside would cut the value silently. */
        const uint8_t *nul = memchr(val, 0, vlen);
        if (nul != NULL)
            return px__bdec_fail(c, nul, "string contains a NUL byte");
        char *s = px__cu_strdup(c->alloc, val, vlen);
        if (s == NULL)
            return px__bdec_oom(c);
        *(char **)p = s;
        return PX_OK;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        b->len = 0;
        b->data = NULL;
        if (vlen > 0) {
            if ((b->data = px__cu_alloc(c->alloc, vlen)) == NULL)
                return px__bdec_oom(c);
            memcpy(b->data, val, vlen);
            b->len = vlen;
        }
        return PX_OK;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        if (depth >= PX_CU_MAX_DEPTH)
            return px__bdec_fail(c, val, "messages nested deeper than %d", PX_CU_MAX_DEPTH);
        const ProtobufCMessageDescriptor *sd = f->descriptor;
        ProtobufCMessage *sub = px__cu_msg_new(sd, c->alloc);
        if (sub == NULL)
            return px__bdec_oom(c);
        px_status st = px__bdec_fields(c, sd, val, vlen, sub, depth + 1);
        if (st != PX_OK) {
            protobuf_c_message_free_unpacked(sub, c->alloc);
            return st;
        }
        *(ProtobufCMessage **)p = sub;
        return PX_OK;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (vlen != 1)
            return px__bdec_fail(c, val, "bool value of %u bytes (expected 1)", vlen);
        if (val[0] > 1)
            return px__bdec_fail(c, val, "bool value 0x%02x (expected 0 or 1)", val[0]);
        *(protobuf_c_boolean *)p = val[0];
        return PX_OK;
    default: {
        size_t w = px__bin_width(f->type);
        if (vlen != w)
            return px__bdec_fail(c, val, "%s value of %u bytes (expected %zu)", px__type_name(f->type), vlen, w);
        if (w == 8)
            *(uint64_t *)p = px__bin_rd64(val);
        else
            *(uint32_t *)p = px__bin_rd32(val);
        return PX_OK;
    }
    }
}

/* A repeated scalar entry: vlen / width elements back to back, appended to the field. */
static px_status px__bdec_packed(px__bdec *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                 const uint8_t *val, uint32_t vlen)
{
    size_t w = px__bin_width(f->type);
    if (vlen % w != 0)
        return px__bdec_fail(c, val, "%u bytes of repeated %s is not a whole number of %zu-byte values",
                             vlen, px__type_name(f->type), w);
    size_t n = vlen / w;
    if (n == 0)
        return PX_OK;
    uint8_t *slot = px__cu_repeated_room(m, f, n, c->alloc);
    if (slot == NULL)
        return px__bdec_oom(c);
    size_t size = px_pb_value_size(f->type);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (w == size) { /* the wire form already is the array */
        memcpy(slot, val, vlen);
        px__cu_repeated_added(m, f, n);
        return PX_OK;
    }
#endif
    for (size_t i = 0; i < n; i++, slot += size) {
        px_status st = px__bdec_value(c, f, val + i * w, (uint32_t)w, slot, 0);
        if (st != PX_OK)
            return st; /* nothing of this entry is counted yet */
    }
    px__cu_repeated_added(m, f, n);
    return PX_OK;
}

static px_status px__bdec_field(px__bdec *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                const uint8_t *val, uint32_t vlen, int depth)
{
    px_status st;
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        void *p = px__cu_singular_begin(m, f, c->alloc); /* a field given twice: the last wins */
        if ((st = px__bdec_value(c, f, val, vlen, p, depth)) == PX_OK)
            px_pb_mark_set(m, f);
        else
            px__cu_path_prepend(&c->path, f->name, SIZE_MAX);
        return st;
    }
    if (px__bin_width(f->type) != 0) {
        if ((st = px__bdec_packed(c, m, f, val, vlen)) != PX_OK)
            px__cu_path_prepend(&c->path, f->name, SIZE_MAX);
        return st;
    }
    void *slot = px__cu_repeated_room(m, f, 1, c->alloc);
    if (slot == NULL)
        return px__bdec_oom(c);
    if ((st = px__bdec_value(c, f, val, vlen, slot, depth)) != PX_OK) {
        px__cu_path_prepend(&c->path, f->name, *(size_t *)((char *)m + f->quantifier_offset));
        return st;
    }
    px__cu_repeated_added(m, f, 1);
    return PX_OK;
}

/* The entries of one message: serial number, key length, key, value length, value. */
static px_status px__bdec_fields(px__bdec *c, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                                 size_t len, ProtobufCMessage *m, int depth)
{
    const uint8_t *end = p + len;
    unsigned hint = 0;
    while (p < end) {
        size_t left = (size_t)(end - p);
        if (left < 8)
            return px__bdec_fail(c, p, "entry header cut short: %zu of 8 bytes (serial number, key length)",
                                 left);
        uint32_t id = px__bin_rd32(p);
        uint32_t klen = px__bin_rd32(p + 4);
        const uint8_t *key = p + 8;
        left -= 8;
        if (klen > left || left - klen < 4)
            return px__bdec_fail(c, p + 4, "key length %u of entry %u runs past the end (%zu bytes left)",
                                 klen, id, left);
        left -= (size_t)klen + 4;
        uint32_t vlen = px__bin_rd32(key + klen);
        const uint8_t *val = key + klen + 4;
        if (vlen > left)
            return px__bdec_fail(c, key + klen, "value length %u of entry %u runs past the end (%zu bytes left)",
                                 vlen, id, left);
        p = val + vlen;
        const ProtobufCFieldDescriptor *f = px__by_number(d, id, &hint);
        if (f == NULL && (f = px__by_name(d, key, klen)) == NULL)
            continue; /* a field this side does not know: skipped by its length */
        px_status st = px__bdec_field(c, m, f, val, vlen, depth);
        if (st != PX_OK)
            return st;
    }
    return PX_OK;
}

px_status px__bin_decode_message(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                                 ProtobufCAllocator *alloc, ProtobufCMessage **out, px_err *err)
{
    px__bdec c; /* the message buffers are filled only on failure: no need to zero them */
    c.base = data;
    c.alloc = alloc;
    c.path.len = 0;
    c.status = PX_OK;
    const char *want = desc->short_name;
    size_t wlen = strlen(want);
    px_status st;
    ProtobufCMessage *m = NULL;
    if (len < 8) {
        st = px__bdec_fail(&c, data, "header cut short: %zu of 8 bytes (version, name length)", len);
    } else if (px__bin_rd32(data) != PX__BIN_VERSION) {
        st = px__bdec_fail(&c, data, "format version %u is not supported (this decoder reads version %u)",
                           px__bin_rd32(data), PX__BIN_VERSION);
    } else if (px__bin_rd32(data + 4) > len - 8) {
        st = px__bdec_fail(&c, data + 4, "message name length %u runs past the end (%zu bytes left)",
                           px__bin_rd32(data + 4), len - 8);
    } else if (px__bin_rd32(data + 4) != wlen || memcmp(data + 8, want, wlen) != 0) {
        /* Show the name printable and short: it is untrusted input. */
        char got[48];
        size_t glen = px__bin_rd32(data + 4), i;
        for (i = 0; i < glen && i < sizeof got - 4; i++)
            got[i] = data[8 + i] >= 0x20 && data[8 + i] < 0x7f ? (char)data[8 + i] : '?';
        strcpy(got + i, i < glen ? "..." : "");
        st = px__bdec_fail(&c, data + 8, "message name '%s' is not '%s'", got, want);
    } else if ((m = px__cu_msg_new(desc, alloc)) == NULL) {
        st = px__bdec_oom(&c);
    } else {
        st = px__bdec_fields(&c, desc, data + 8 + wlen, len - 8 - wlen, m, 1);
    }
    if (st == PX_OK) {
        *out = m;
        return PX_OK;
    }
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, alloc);
    if (c.path.len > 0)
        return px_err_set(err, st, "binary: cannot decode %s: field '%s': %s", desc->name, c.path.buf, c.what);
    return px_err_set(err, st, "binary: cannot decode %s: %s", desc->name, c.what);
}
