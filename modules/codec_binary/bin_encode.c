/* codec_binary encoder: a protobuf-c message to the self-describing binary format, in one pass. */
#include <stdarg.h>
#include <stdio.h>
#include "bin_int.h"

typedef struct px__benc {
    px_buf *out;
    px_cu_path path; /* filled while a failure unwinds */
    char what[256];
    px_status status;
} px__benc;

static px_status px__benc_message(px__benc *c, const ProtobufCMessage *m, int depth);

static px_status px__benc_fail(px__benc *c, px_status st, const char *fmt, ...) PX_PRINTF(3, 4);

static px_status px__benc_fail(px__benc *c, px_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->what, sizeof c->what, fmt, ap);
    va_end(ap);
    c->status = st;
    return st;
}

static px_status px__benc_oom(px__benc *c)
{
    return px__benc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory");
}

/* Room for n more bytes; returns where they start, or NULL (out of memory). */
static inline uint8_t *px__benc_room(px__benc *c, size_t n)
{
    px_buf *b = c->out;
    if (b->cap - b->len < n && px_buf_reserve(b, n) != 0)
        return NULL;
    return b->data + b->len;
}

/*
 * Writes an entry's serial number (the field number), key length, key (the field
 * name) and value length, with room for `extra` value bytes after them. Returns the
 * position of the value, or NULL (out of memory).
 */
static uint8_t *px__benc_head(px__benc *c, const ProtobufCFieldDescriptor *f, size_t vlen, size_t extra)
{
    size_t klen = strlen(f->name);
    uint8_t *p = px__benc_room(c, 12 + klen + extra);
    if (p == NULL)
        return NULL;
    p = px__bin_wr32(p, f->id);
    p = px__bin_wr32(p, (uint32_t)klen);
    memcpy(p, f->name, klen);
    p = px__bin_wr32(p + klen, (uint32_t)vlen);
    c->out->len += 12 + klen;
    return p;
}

/* One fixed-width scalar value of type t from its protobuf-c storage at v, to p. */
static uint8_t *px__benc_scalar(uint8_t *p, ProtobufCType t, const void *v)
{
    switch (px__bin_width(t)) {
    case 1:
        *p = *(const protobuf_c_boolean *)v != 0;
        return p + 1;
    case 8:
        return px__bin_wr64(p, *(const uint64_t *)v);
    default:
        return px__bin_wr32(p, *(const uint32_t *)v);
    }
}

/* A whole entry for one value of f stored at v (a member or an array element). */
static px_status px__benc_value(px__benc *c, const ProtobufCFieldDescriptor *f, const void *v, int depth)
{
    size_t w = px__bin_width(f->type);
    if (w != 0) {
        uint8_t *p = px__benc_head(c, f, w, w);
        if (p == NULL)
            return px__benc_oom(c);
        px__benc_scalar(p, f->type, v);
        c->out->len += w;
        return PX_OK;
    }
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)v;
        if (sub == NULL)
            return px__benc_fail(c, PX_INVALID_ARGUMENT, "message pointer is NULL");
        if (px__benc_head(c, f, 0, 0) == NULL)
            return px__benc_oom(c);
        size_t start = c->out->len; /* the value length is patched once the entries are out */
        px_status st = px__benc_message(c, sub, depth + 1);
        if (st != PX_OK)
            return st;
        size_t n = c->out->len - start;
        if (n > UINT32_MAX)
            return px__benc_fail(c, PX_INVALID_ARGUMENT, "message of %zu bytes exceeds the 4 GiB value limit", n);
        px__bin_wr32(c->out->data + start - 4, (uint32_t)n);
        return PX_OK;
    }
    const uint8_t *data;
    size_t len;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(char *const *)v;
        data = (const uint8_t *)(s != NULL ? s : "");
        len = strlen((const char *)data);
    } else {
        const ProtobufCBinaryData *b = v;
        data = b->data;
        len = b->len;
    }
    if (len > UINT32_MAX)
        return px__benc_fail(c, PX_INVALID_ARGUMENT, "value of %zu bytes exceeds the 4 GiB value limit", len);
    uint8_t *p = px__benc_head(c, f, len, len);
    if (p == NULL)
        return px__benc_oom(c);
    if (len > 0)
        memcpy(p, data, len);
    c->out->len += len;
    return PX_OK;
}

/* Repeated scalars are one entry whose value is every element back to back. */
static px_status px__benc_packed(px__benc *c, const ProtobufCFieldDescriptor *f, const void *arr, size_t n)
{
    size_t w = px__bin_width(f->type), size = px_pb_value_size(f->type);
    if (n > UINT32_MAX / w)
        return px__benc_fail(c, PX_INVALID_ARGUMENT, "%zu elements exceed the 4 GiB value limit", n);
    uint8_t *p = px__benc_head(c, f, n * w, n * w);
    if (p == NULL)
        return px__benc_oom(c);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (w == size) { /* the array already is the wire form */
        memcpy(p, arr, n * w);
        c->out->len += n * w;
        return PX_OK;
    }
#endif
    for (size_t i = 0; i < n; i++)
        p = px__benc_scalar(p, f->type, (const char *)arr + i * size);
    c->out->len += n * w;
    return PX_OK;
}

static px_status px__benc_field(px__benc *c, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                int depth)
{
    const char *member = (const char *)m + f->offset;
    px_status st;
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        if (!px_pb_present(m, f))
            return PX_OK;
        if ((st = px__benc_value(c, f, member, depth)) != PX_OK)
            px__cu_path_prepend(&c->path, f->name, SIZE_MAX);
        return st;
    }
    size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
    const char *arr = *(const char *const *)member;
    if (n == 0)
        return PX_OK;
    if (arr == NULL) {
        px__cu_path_prepend(&c->path, f->name, SIZE_MAX);
        return px__benc_fail(c, PX_INVALID_ARGUMENT, "%zu elements but a NULL array", n);
    }
    if (px__bin_width(f->type) != 0) {
        if ((st = px__benc_packed(c, f, arr, n)) != PX_OK)
            px__cu_path_prepend(&c->path, f->name, SIZE_MAX);
        return st;
    }
    size_t size = px_pb_value_size(f->type);
    for (size_t i = 0; i < n; i++) {
        if ((st = px__benc_value(c, f, arr + i * size, depth)) != PX_OK) {
            px__cu_path_prepend(&c->path, f->name, i);
            return st;
        }
    }
    return PX_OK;
}

static px_status px__benc_message(px__benc *c, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == NULL || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return px__benc_fail(c, PX_INVALID_ARGUMENT, "not a protobuf-c message (bad descriptor magic)");
    if (depth > PX_CU_MAX_DEPTH)
        return px__benc_fail(c, PX_INVALID_ARGUMENT, "messages nested deeper than %d", PX_CU_MAX_DEPTH);
    for (unsigned i = 0; i < d->n_fields; i++) {
        px_status st = px__benc_field(c, m, &d->fields[i], depth);
        if (st != PX_OK)
            return st;
    }
    return PX_OK;
}

px_status px__bin_encode_message(const ProtobufCMessage *msg, px_buf *out, px_err *err)
{
    px__benc c; /* the message buffers are filled only on failure: no need to zero them */
    c.out = out;
    c.path.len = 0;
    c.status = PX_OK;
    size_t start = out->len;
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    /* The root entry: the format version as serial number, the message's short name as key. */
    size_t nlen = strlen(d->short_name);
    uint8_t *p = px__benc_room(&c, 8 + nlen);
    px_status st;
    if (p == NULL) {
        st = px__benc_oom(&c);
    } else {
        p = px__bin_wr32(p, PX__BIN_VERSION);
        p = px__bin_wr32(p, (uint32_t)nlen);
        memcpy(p, d->short_name, nlen);
        out->len += 8 + nlen;
        st = px__benc_message(&c, msg, 1);
    }
    if (st == PX_OK)
        return PX_OK;
    out->len = start; /* nothing half-written stays in the caller's buffer */
    if (c.path.len > 0)
        return px_err_set(err, st, "binary: cannot encode %s: field '%s': %s", d->name, c.path.buf, c.what);
    return px_err_set(err, st, "binary: cannot encode %s: %s", d->name, c.what);
}
