/* codec_msgpack decoder: MessagePack to a malloc'd protobuf-c message, bounds-checked throughout. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <msgpack.h>
#include "mp_int.h"

/*
 * Every scalar (ints of each width, floats, nil, bool, str, bin, ext) is decoded by
 * libmsgpack's msgpack_unpack, which checks each length against the input. Array and
 * map headers are read here instead, one level at a time, because msgpack_unpack on a
 * container (a) allocates count x 16 bytes before reading a single element (a 5-byte
 * array 32 header asks for 64 GiB) and (b) stops at 32 nested containers, a limit
 * compiled into the library, where a message of depth 64 needs up to 128. Reading the
 * headers ourselves lets us check each count against the bytes left (an element takes
 * at least one byte) before allocating, and bound the depth by max_depth.
 */

typedef struct px__dec {
    const char *data;
    size_t len, off;
    const px__mp_limits *lim;
    const char *root;  /* the top message's type name, for errors outside any field */
    msgpack_zone *zone; /* what msgpack_unpack gets; scalars never allocate from it */
    px__mp_path path;  /* proto field names, for error messages */
    px_err *err;
} px__dec;

/* One MessagePack item: a scalar as msgpack_unpack decoded it, or a container header. */
typedef struct px__item {
    msgpack_object o; /* ARRAY / MAP: only the type is set; count says how many follow */
    uint32_t count;
    size_t at; /* where the item starts, for error messages */
} px__item;

static px_status px__dec_message(px__dec *c, const ProtobufCMessageDescriptor *d, int depth,
                                 ProtobufCMessage **out);

static px_status px__fail(px__dec *c, size_t at, const char *fmt, ...) PX_PRINTF(3, 4);

static px_status px__fail(px__dec *c, size_t at, const char *fmt, ...)
{
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->path.len > 0)
        return px_err_set(c->err, PX_INVALID_ARGUMENT, "msgpack: field '%s' (byte %zu): %s",
                          c->path.buf, at, what);
    return px_err_set(c->err, PX_INVALID_ARGUMENT, "msgpack: %s (byte %zu): %s", c->root, at, what);
}

static px_status px__oom(px__dec *c)
{
    return px_err_set(c->err, PX_RESOURCE_EXHAUSTED, "msgpack: out of memory decoding %s%s%s",
                      c->root, c->path.len ? " at " : "", c->path.buf);
}

static const char *px__what(const px__item *it)
{
    switch (it->o.type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "a bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return "a positive int";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "a negative int";
    case MSGPACK_OBJECT_FLOAT32: return "a float 32";
    case MSGPACK_OBJECT_FLOAT64: return "a float 64";
    case MSGPACK_OBJECT_STR: return "a str";
    case MSGPACK_OBJECT_BIN: return "a bin";
    case MSGPACK_OBJECT_ARRAY: return "an array";
    case MSGPACK_OBJECT_MAP: return "a map";
    case MSGPACK_OBJECT_EXT: return "an ext";
    }
    return "an unknown item";
}

static px_status px__expected(px__dec *c, const px__item *it, const char *want)
{
    return px__fail(c, it->at, "expected %s, got %s", want, px__what(it));
}

static uint32_t px__be(const unsigned char *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Reads the next item at c->off and moves past it (past only the header of a container). */
static px_status px__next(px__dec *c, px__item *it)
{
    it->at = c->off;
    if (c->off >= c->len)
        return px__fail(c, c->off, "truncated: the input ends where a value should start");
    const unsigned char *p = (const unsigned char *)c->data + c->off;
    unsigned char b = p[0];
    size_t hdr = 1;
    int is_map;
    uint32_t n;
    if (b >= 0x80 && b <= 0x9f) { /* fixmap, fixarray */
        is_map = b < 0x90;
        n = b & 0x0f;
    } else if (b >= 0xdc && b <= 0xdf) { /* array 16, array 32, map 16, map 32 */
        is_map = b >= 0xde;
        hdr = (b & 1) ? 5 : 3;
        if (hdr > c->len - c->off)
            return px__fail(c, c->off, "truncated: %s header runs past the end of the input",
                            is_map ? "a map" : "an array");
        n = px__be(p + 1, hdr - 1);
    } else {
        size_t off = c->off;
        msgpack_unpack_return r = msgpack_unpack(c->data, c->len, &off, c->zone, &it->o);
        if (r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES) {
            c->off = off;
            return PX_OK;
        }
        if (r == MSGPACK_UNPACK_CONTINUE)
            return px__fail(c, c->off, "truncated: the value (type byte 0x%02x) runs past the "
                            "end of the input (%zu bytes)", b, c->len);
        return px__fail(c, c->off, "byte 0x%02x is not a MessagePack type", b);
    }
    c->off += hdr;
    /* Every element takes at least one byte, every map entry two: a count the rest of
     * the input cannot hold is refused before anything is allocated for it. */
    size_t left = c->len - c->off;
    if (n > (is_map ? left / 2 : left))
        return px__fail(c, it->at, "%s of %u %s cannot fit in the %zu bytes left",
                        is_map ? "a map" : "an array", n, is_map ? "entries" : "elements", left);
    it->o.type = is_map ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_ARRAY;
    it->count = n;
    return PX_OK;
}

/* Skips one value of a field this schema does not know, nested at most max_depth deep. */
static px_status px__skip(px__dec *c, int nest)
{
    px__item it;
    px_status st = px__next(c, &it);
    if (st != PX_OK)
        return st;
    if (it.o.type != MSGPACK_OBJECT_ARRAY && it.o.type != MSGPACK_OBJECT_MAP)
        return PX_OK;
    if (nest >= c->lim->max_depth)
        return px__fail(c, it.at, "unknown field's value nested deeper than %d", c->lim->max_depth);
    uint64_t items = it.o.type == MSGPACK_OBJECT_MAP ? 2 * (uint64_t)it.count : it.count;
    for (uint64_t i = 0; i < items; i++)
        if ((st = px__skip(c, nest + 1)) != PX_OK)
            return st;
    return PX_OK;
}

static px_status px__signed(px__dec *c, const px__item *it, int64_t lo, int64_t hi,
                            const char *type, int64_t *out)
{
    if (it->o.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (it->o.via.u64 > (uint64_t)hi)
            return px__fail(c, it->at, "value %llu is out of range for %s",
                            (unsigned long long)it->o.via.u64, type);
        *out = (int64_t)it->o.via.u64;
        return PX_OK;
    }
    if (it->o.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        if (it->o.via.i64 < lo)
            return px__fail(c, it->at, "value %lld is out of range for %s",
                            (long long)it->o.via.i64, type);
        *out = it->o.via.i64;
        return PX_OK;
    }
    return px__expected(c, it, "an int");
}

static px_status px__unsigned(px__dec *c, const px__item *it, uint64_t hi, const char *type,
                              uint64_t *out)
{
    if (it->o.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return px__fail(c, it->at, "value %lld is out of range for %s", (long long)it->o.via.i64,
                        type);
    if (it->o.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return px__expected(c, it, "an int");
    if (it->o.via.u64 > hi)
        return px__fail(c, it->at, "value %llu is out of range for %s",
                        (unsigned long long)it->o.via.u64, type);
    *out = it->o.via.u64;
    return PX_OK;
}

/* A float 32 or 64; an int is taken too (some encoders write 1.0 as 1). */
static px_status px__real(px__dec *c, const px__item *it, double *out)
{
    switch (it->o.type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = it->o.via.f64;
        return PX_OK;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)it->o.via.u64;
        return PX_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)it->o.via.i64;
        return PX_OK;
    default:
        return px__expected(c, it, "a float");
    }
}

static px_status px__string(px__dec *c, const px__item *it, char **out)
{
    if (it->o.type != MSGPACK_OBJECT_STR)
        return px__expected(c, it, "a str");
    size_t n = it->o.via.str.size, bad;
    if (!px__mp_text_ok(it->o.via.str.ptr, n, &bad))
        return px__fail(c, it->at, "%s at offset %zu of the str",
                        it->o.via.str.ptr[bad] == '\0' ? "NUL (protobuf-c strings end at NUL)"
                                                       : "invalid UTF-8",
                        bad);
    char *s = malloc(n + 1);
    if (s == NULL)
        return px__oom(c);
    if (n > 0) /* an empty str may come with a NULL pointer */
        memcpy(s, it->o.via.str.ptr, n);
    s[n] = '\0';
    *out = s;
    return PX_OK;
}

static px_status px__bytes(px__dec *c, const px__item *it, ProtobufCBinaryData *out)
{
    if (it->o.type != MSGPACK_OBJECT_BIN)
        return px__expected(c, it, "a bin");
    size_t n = it->o.via.bin.size;
    if (n == 0)
        return PX_OK; /* data stays NULL, len 0 */
    if ((out->data = malloc(n)) == NULL)
        return px__oom(c);
    memcpy(out->data, it->o.via.bin.ptr, n);
    out->len = n;
    return PX_OK;
}

/* One value of field f (a member, a repeated element or a map entry part) into p. */
static px_status px__dec_value(px__dec *c, const ProtobufCFieldDescriptor *f, int depth, void *p)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return px__dec_message(c, f->descriptor, depth + 1, p);
    px__item it;
    px_status st = px__next(c, &it);
    if (st != PX_OK)
        return st;
    int64_t i;
    uint64_t u;
    double r;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((st = px__signed(c, &it, INT32_MIN, INT32_MAX, "int32", &i)) == PX_OK)
            *(int32_t *)p = (int32_t)i;
        return st;
    case PROTOBUF_C_TYPE_ENUM: /* proto3 enums are open: any int32 is kept */
        if ((st = px__signed(c, &it, INT32_MIN, INT32_MAX,
                             ((const ProtobufCEnumDescriptor *)f->descriptor)->name, &i)) == PX_OK)
            *(int *)p = (int)i;
        return st;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((st = px__signed(c, &it, INT64_MIN, INT64_MAX, "int64", &i)) == PX_OK)
            *(int64_t *)p = i;
        return st;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((st = px__unsigned(c, &it, UINT32_MAX, "uint32", &u)) == PX_OK)
            *(uint32_t *)p = (uint32_t)u;
        return st;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((st = px__unsigned(c, &it, UINT64_MAX, "uint64", &u)) == PX_OK)
            *(uint64_t *)p = u;
        return st;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((st = px__real(c, &it, &r)) != PX_OK)
            return st;
        if (isfinite(r) && isinf((float)r))
            return px__fail(c, it.at, "value %g is out of range for float", r);
        *(float *)p = (float)r;
        return PX_OK;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((st = px__real(c, &it, &r)) == PX_OK)
            *(double *)p = r;
        return st;
    case PROTOBUF_C_TYPE_BOOL:
        if (it.o.type != MSGPACK_OBJECT_BOOLEAN)
            return px__expected(c, &it, "a bool");
        *(protobuf_c_boolean *)p = it.o.via.boolean;
        return PX_OK;
    case PROTOBUF_C_TYPE_STRING:
        return px__string(c, &it, p);
    case PROTOBUF_C_TYPE_BYTES:
        return px__bytes(c, &it, p);
    default:
        return px__fail(c, it.at, "unsupported field type %d", (int)f->type);
    }
}

/* Consumes a nil if one is next: nil stands for the default, as an absent key does. */
static int px__take_nil(px__dec *c)
{
    if (c->off < c->len && (unsigned char)c->data[c->off] == 0xc0) {
        c->off++;
        return 1;
    }
    return 0;
}

static px_status px__dec_repeated(px__dec *c, const ProtobufCFieldDescriptor *f, int depth, char *m)
{
    px__item it;
    px_status st = px__next(c, &it);
    if (st != PX_OK)
        return st;
    if (it.o.type != MSGPACK_OBJECT_ARRAY)
        return px__expected(c, &it, "an array");
    size_t *n = (size_t *)(m + f->quantifier_offset);
    char **arr = (char **)(m + f->offset);
    size_t size = px_pb_value_size(f->type);
    if (it.count == 0)
        return PX_OK;
    if ((*arr = calloc(it.count, size)) == NULL)
        return px__oom(c);
    for (uint32_t i = 0; i < it.count; i++) {
        size_t mark = px__mp_path_index(&c->path, i);
        if (px__take_nil(c))
            return px__fail(c, c->off - 1, "a repeated element must not be nil");
        if ((st = px__dec_value(c, f, depth, *arr + i * size)) != PX_OK)
            return st;
        (*n)++; /* counted once stored, so an error frees exactly what exists */
        px__mp_path_pop(&c->path, mark);
    }
    return PX_OK;
}

static px_status px__dec_map(px__dec *c, const ProtobufCFieldDescriptor *f, int depth, char *m)
{
    px__item it;
    px_status st = px__next(c, &it);
    if (st != PX_OK)
        return st;
    if (it.o.type != MSGPACK_OBJECT_MAP)
        return px__expected(c, &it, "a map");
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    size_t *n = (size_t *)(m + f->quantifier_offset);
    ProtobufCMessage ***arr = (ProtobufCMessage ***)(m + f->offset);
    if (it.count == 0)
        return PX_OK;
    if ((*arr = calloc(it.count, sizeof **arr)) == NULL)
        return px__oom(c);
    for (uint32_t i = 0; i < it.count; i++) {
        size_t mark = px__mp_path_index(&c->path, i);
        ProtobufCMessage *e = malloc(ed->sizeof_message);
        if (e == NULL)
            return px__oom(c);
        px_pb_message_init(ed, e);
        (*arr)[(*n)++] = e; /* stored first: free_unpacked frees it whatever happens next */
        for (int k = 0; k < 2; k++) {
            if (px__take_nil(c))
                return px__fail(c, c->off - 1, "a map %s must not be nil", k ? "value" : "key");
            st = px__dec_value(c, &ed->fields[k], depth, (char *)e + ed->fields[k].offset);
            if (st != PX_OK)
                return st;
        }
        px__mp_path_pop(&c->path, mark);
    }
    return PX_OK;
}

/* The value of known field f of message d into m. */
static px_status px__dec_field(px__dec *c, const ProtobufCMessageDescriptor *d,
                               const ProtobufCFieldDescriptor *f, int depth, char *m)
{
    if (px__take_nil(c))
        return PX_OK;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return px_pb_is_map(d, f) ? px__dec_map(c, f, depth, m) : px__dec_repeated(c, f, depth, m);
    uint32_t set = px_pb_oneof_case((const ProtobufCMessage *)m, f); /* 0: f is in no oneof */
    if (set != 0) {
        const ProtobufCFieldDescriptor *other = protobuf_c_message_descriptor_get_field(d, set);
        return px__fail(c, c->off, "oneof already set by field '%s'",
                        other != NULL ? other->name : "?");
    }
    px_status st = px__dec_value(c, f, depth, m + f->offset);
    if (st == PX_OK) /* only once stored: free_unpacked trusts the case and has_ flags */
        px_pb_mark_set((ProtobufCMessage *)m, f);
    return st;
}

/* The count entries of a message map: field number -> value. */
static px_status px__dec_fields(px__dec *c, const ProtobufCMessageDescriptor *d, uint32_t count,
                                int depth, char *m)
{
    uint64_t seen[d->n_fields / 64 + 1]; /* by field index: a key given twice is refused */
    memset(seen, 0, sizeof seen);
    px_status st;
    for (uint32_t i = 0; i < count; i++) {
        px__item key;
        if ((st = px__next(c, &key)) != PX_OK)
            return st;
        if (key.o.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return px__fail(c, key.at, "a message key must be a field number, got %s",
                            px__what(&key));
        const ProtobufCFieldDescriptor *f =
            key.o.via.u64 <= UINT32_MAX
                ? protobuf_c_message_descriptor_get_field(d, (unsigned)key.o.via.u64)
                : NULL;
        if (f == NULL) { /* a newer sender's field: skipped */
            size_t mark = px__mp_path_number(&c->path, key.o.via.u64);
            if ((st = px__skip(c, 0)) != PX_OK)
                return st;
            px__mp_path_pop(&c->path, mark);
            continue;
        }
        size_t idx = (size_t)(f - d->fields);
        size_t mark = px__mp_path_name(&c->path, f->name);
        if (seen[idx / 64] & (1ull << (idx % 64)))
            return px__fail(c, key.at, "field number %u is given twice", f->id);
        seen[idx / 64] |= 1ull << (idx % 64);
        if ((st = px__dec_field(c, d, f, depth, m)) != PX_OK)
            return st;
        px__mp_path_pop(&c->path, mark);
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        if (d->fields[i].label == PROTOBUF_C_LABEL_REQUIRED && !(seen[i / 64] & (1ull << (i % 64)))) {
            size_t mark = px__mp_path_name(&c->path, d->fields[i].name);
            st = px__fail(c, c->off, "missing required field (number %u)", d->fields[i].id);
            px__mp_path_pop(&c->path, mark);
            return st;
        }
    }
    return PX_OK;
}

static px_status px__dec_message(px__dec *c, const ProtobufCMessageDescriptor *d, int depth,
                                 ProtobufCMessage **out)
{
    if (depth > c->lim->max_depth)
        return px__fail(c, c->off, "messages nested deeper than %d", c->lim->max_depth);
    px__item it;
    px_status st = px__next(c, &it);
    if (st != PX_OK)
        return st;
    if (it.o.type != MSGPACK_OBJECT_MAP) {
        char want[160];
        snprintf(want, sizeof want, "a map for %s", d->name);
        return px__expected(c, &it, want);
    }
    /* malloc + px_pb_message_init (the generated init, or a run-time descriptor's set-up):
     * the layout and allocator protobuf_c_message_free_unpacked expects. */
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (m == NULL)
        return px__oom(c);
    px_pb_message_init(d, m);
    if ((st = px__dec_fields(c, d, it.count, depth, (char *)m)) != PX_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
        return st;
    }
    *out = m;
    return PX_OK;
}

px_status px__mp_decode(const px__mp_limits *lim, const ProtobufCMessageDescriptor *desc,
                        const uint8_t *data, size_t len, ProtobufCMessage **out, px_err *err)
{
    px__dec c = { .data = (const char *)data, .len = len, .lim = lim, .root = desc->name, .err = err };
    *out = NULL;
    if (len > lim->max_size)
        return px__fail(&c, 0, "input of %zu bytes exceeds max_size (%zu bytes)", len, lim->max_size);
    /* str, bin and ext point into the input and allocate nothing, but given no zone
     * msgpack_unpack makes one for each of them and drops it: so it gets this one. */
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 64))
        return px__oom(&c);
    c.zone = &zone;
    ProtobufCMessage *m = NULL;
    px_status st = px__dec_message(&c, desc, 1, &m);
    msgpack_zone_destroy(&zone);
    if (st != PX_OK)
        return st;
    if (c.off != len) {
        protobuf_c_message_free_unpacked(m, NULL);
        return px__fail(&c, c.off, "%zu unexpected byte%s after the message", len - c.off,
                        len - c.off == 1 ? "" : "s");
    }
    *out = m;
    return PX_OK;
}
