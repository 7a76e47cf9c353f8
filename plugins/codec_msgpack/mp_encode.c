/* codec_msgpack encoder: a protobuf-c message to MessagePack with libmsgpack's packer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <msgpack.h>
#include "mp_int.h"

typedef struct px__enc {
    msgpack_packer pk;   /* writes through px__enc_write into out */
    px_buf *out;
    size_t start;        /* out->len before this message: the size limit counts from here */
    const px__mp_limits *lim;
    int too_big;         /* the last write failed because of max_size, not memory */
    px__mp_path path;    /* proto field names, for error messages */
    px_err *err;
} px__enc;

static int px__enc_message(px__enc *c, const ProtobufCMessage *m, int depth);

/* The packer's sink: appends straight to the caller's buffer, within max_size. */
static int px__enc_write(void *data, const char *buf, size_t len)
{
    px__enc *c = data;
    if (len > c->lim->max_size - (c->out->len - c->start)) {
        c->too_big = 1;
        return -1;
    }
    return px_buf_append(c->out, buf, len);
}

static int px__enc_fail(px__enc *c, px_status st, const char *fmt, ...) PX_PRINTF(3, 4);

static int px__enc_fail(px__enc *c, px_status st, const char *fmt, ...)
{
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->path.len > 0)
        px_err_set(c->err, st, "msgpack: field '%s': %s", c->path.buf, what);
    else
        px_err_set(c->err, st, "msgpack: %s", what);
    return -1;
}

/* A packer call failed: say whether the limit or memory stopped it. */
static int px__enc_packfail(px__enc *c)
{
    if (c->too_big)
        return px__enc_fail(c, PX_INVALID_ARGUMENT, "the encoding exceeds max_size (%zu bytes)",
                            c->lim->max_size);
    return px__enc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory");
}

/* Strings must be UTF-8 without NUL, as the decoder (and MessagePack's str) requires. */
static int px__enc_text(px__enc *c, const char *s, size_t len)
{
    size_t bad;
    if (!px__mp_text_ok(s, len, &bad))
        return px__enc_fail(c, PX_INVALID_ARGUMENT, "string is not valid UTF-8 (byte %zu)", bad);
    if (msgpack_pack_str(&c->pk, len) != 0 || msgpack_pack_str_body(&c->pk, s, len) != 0)
        return px__enc_packfail(c);
    return 0;
}

/* One value of field f stored at p (a struct member, a repeated element or a map entry part). */
static int px__enc_value(px__enc *c, const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    int rc = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        rc = msgpack_pack_int32(&c->pk, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_ENUM: /* the number: unknown values of an open enum survive */
        rc = msgpack_pack_int32(&c->pk, *(const int *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        rc = msgpack_pack_uint32(&c->pk, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        rc = msgpack_pack_int64(&c->pk, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        rc = msgpack_pack_uint64(&c->pk, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT: /* float 32: NaN and infinities travel as they are */
        rc = msgpack_pack_float(&c->pk, *(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        rc = msgpack_pack_double(&c->pk, *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        rc = *(const protobuf_c_boolean *)p ? msgpack_pack_true(&c->pk) : msgpack_pack_false(&c->pk);
        break;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return px__enc_text(c, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        if (b->len > c->lim->max_size) /* also keeps the length within bin 32 */
            return px__enc_fail(c, PX_INVALID_ARGUMENT, "%zu bytes exceed max_size (%zu bytes)",
                                b->len, c->lim->max_size);
        rc = msgpack_pack_bin(&c->pk, b->len);
        if (rc == 0 && b->len > 0)
            rc = msgpack_pack_bin_body(&c->pk, b->data, b->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub == NULL)
            return px__enc_fail(c, PX_INVALID_ARGUMENT, "message pointer is NULL");
        return px__enc_message(c, sub, depth + 1);
    }
    default:
        return px__enc_fail(c, PX_INVALID_ARGUMENT, "unsupported field type %d", (int)f->type);
    }
    return rc != 0 ? px__enc_packfail(c) : 0;
}

/* map<K, V>: a MessagePack map whose keys are native ints, bools or strs. */
static int px__enc_map(px__enc *c, const ProtobufCFieldDescriptor *f, const void *member,
                       size_t n, int depth)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    ProtobufCMessage *const *entries = *(ProtobufCMessage *const *const *)member;
    if (msgpack_pack_map(&c->pk, n) != 0)
        return px__enc_packfail(c);
    for (size_t i = 0; i < n; i++) {
        size_t mark = px__mp_path_index(&c->path, i);
        const char *e = (const char *)entries[i];
        if (e == NULL)
            return px__enc_fail(c, PX_INVALID_ARGUMENT, "map entry is NULL");
        if (px__enc_value(c, kf, e + kf->offset, depth) != 0 ||
            px__enc_value(c, vf, e + vf->offset, depth) != 0)
            return -1;
        px__mp_path_pop(&c->path, mark);
    }
    return 0;
}

static int px__enc_repeated(px__enc *c, const ProtobufCFieldDescriptor *f, const void *member,
                            size_t n, int depth)
{
    const char *arr = *(const char *const *)member;
    size_t size = px_pb_value_size(f->type);
    if (msgpack_pack_array(&c->pk, n) != 0)
        return px__enc_packfail(c);
    for (size_t i = 0; i < n; i++) {
        size_t mark = px__mp_path_index(&c->path, i);
        if (px__enc_value(c, f, arr + i * size, depth) != 0)
            return -1;
        px__mp_path_pop(&c->path, mark);
    }
    return 0;
}

/* A message is a map keyed by field NUMBER, in field-number order, present fields only. */
static int px__enc_message(px__enc *c, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == NULL || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return px__enc_fail(c, PX_INVALID_ARGUMENT, "not a protobuf-c message (bad descriptor magic)");
    if (depth > c->lim->max_depth)
        return px__enc_fail(c, PX_INVALID_ARGUMENT, "messages nested deeper than %d",
                            c->lim->max_depth);
    /* Which fields are written (proto3 omits defaults, proto2 uses has_ / NULL): the
     * SDK's rules, the same as codec_json's. */
    size_t n_present = 0;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (px_pb_count(m, &d->fields[i]) > 0)
            n_present++;
    if (msgpack_pack_map(&c->pk, n_present) != 0)
        return px__enc_packfail(c);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *member = (const char *)m + f->offset;
        size_t n = px_pb_count(m, f);
        if (n == 0)
            continue;
        size_t mark = px__mp_path_name(&c->path, f->name);
        if (msgpack_pack_uint32(&c->pk, f->id) != 0)
            return px__enc_packfail(c);
        int rc;
        if (f->label != PROTOBUF_C_LABEL_REPEATED)
            rc = px__enc_value(c, f, member, depth);
        else if (px_pb_is_map(d, f))
            rc = px__enc_map(c, f, member, n, depth);
        else
            rc = px__enc_repeated(c, f, member, n, depth);
        if (rc != 0)
            return rc;
        px__mp_path_pop(&c->path, mark);
    }
    return 0;
}

px_status px__mp_encode(const px__mp_limits *lim, const ProtobufCMessage *msg, px_buf *out,
                        px_err *err)
{
    px__enc c = { .out = out, .start = out->len, .lim = lim, .err = err };
    px_err_clear(err);
    msgpack_packer_init(&c.pk, &c, px__enc_write);
    if (px__enc_message(&c, msg, 1) != 0) {
        out->len = c.start; /* nothing of a failed message stays in the buffer */
        return err->status;
    }
    return PX_OK;
}
