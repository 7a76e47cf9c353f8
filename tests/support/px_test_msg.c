/* Test helper: field-by-field equality of two protobuf-c messages, walking their descriptors. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "px_test_msg.h"

typedef struct eq_ctx {
    char path[256];
    char *why;
    size_t cap;
} eq_ctx;

static int eq_messages(eq_ctx *c, const ProtobufCMessage *a, const ProtobufCMessage *b);

static int differ(eq_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int differ(eq_ctx *c, const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(c->why, c->cap, "%s: %s", c->path[0] ? c->path : "(message)", what);
    return 0;
}

static int eq_value(eq_ctx *c, const ProtobufCFieldDescriptor *f, const void *pa, const void *pb)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t x = *(const int32_t *)pa, y = *(const int32_t *)pb;
        return x == y ? 1 : differ(c, "%" PRId32 " != %" PRId32, x, y);
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint32_t x = *(const uint32_t *)pa, y = *(const uint32_t *)pb;
        return x == y ? 1 : differ(c, "%" PRIu32 " != %" PRIu32, x, y);
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t x = *(const int64_t *)pa, y = *(const int64_t *)pb;
        return x == y ? 1 : differ(c, "%" PRId64 " != %" PRId64, x, y);
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t x = *(const uint64_t *)pa, y = *(const uint64_t *)pb;
        return x == y ? 1 : differ(c, "%" PRIu64 " != %" PRIu64, x, y);
    }
    case PROTOBUF_C_TYPE_FLOAT: {
        float x = *(const float *)pa, y = *(const float *)pb;
        if ((isnan(x) && isnan(y)) || memcmp(&x, &y, sizeof x) == 0)
            return 1;
        return differ(c, "%.9g != %.9g", (double)x, (double)y);
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        double x = *(const double *)pa, y = *(const double *)pb;
        if ((isnan(x) && isnan(y)) || memcmp(&x, &y, sizeof x) == 0)
            return 1;
        return differ(c, "%.17g != %.17g", x, y);
    }
    case PROTOBUF_C_TYPE_BOOL: {
        int x = *(const protobuf_c_boolean *)pa != 0, y = *(const protobuf_c_boolean *)pb != 0;
        return x == y ? 1 : differ(c, "%d != %d", x, y);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *x = *(char *const *)pa, *y = *(char *const *)pb;
        x = x ? x : "";
        y = y ? y : "";
        return strcmp(x, y) == 0 ? 1 : differ(c, "\"%.60s\" != \"%.60s\"", x, y);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *x = pa, *y = pb;
        if (x->len != y->len)
            return differ(c, "%zu bytes != %zu bytes", x->len, y->len);
        for (size_t i = 0; i < x->len; i++)
            if (x->data[i] != y->data[i])
                return differ(c, "byte %zu: 0x%02x != 0x%02x", i, x->data[i], y->data[i]);
        return 1;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *x = *(ProtobufCMessage *const *)pa, *y = *(ProtobufCMessage *const *)pb;
        if (x == NULL || y == NULL)
            return x == y ? 1 : differ(c, "%s != %s", x ? "set" : "NULL", y ? "set" : "NULL");
        return eq_messages(c, x, y);
    }
    }
    return differ(c, "unknown field type %d", (int)f->type);
}

static size_t value_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4; /* 32-bit ints, float, bool (int), enum (int) */
    }
}

static int eq_field(eq_ctx *c, const ProtobufCFieldDescriptor *f, const char *a, const char *b)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t na = *(const size_t *)(a + f->quantifier_offset);
        size_t nb = *(const size_t *)(b + f->quantifier_offset);
        if (na != nb)
            return differ(c, "%zu elements != %zu elements", na, nb);
        const char *xa = *(char *const *)(a + f->offset), *xb = *(char *const *)(b + f->offset);
        size_t sz = value_size(f->type), len = strlen(c->path);
        for (size_t i = 0; i < na; i++) {
            snprintf(c->path + len, sizeof c->path - len, "[%zu]", i);
            if (!eq_value(c, f, xa + i * sz, xb + i * sz))
                return 0;
        }
        c->path[len] = '\0';
        return 1;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t ca = *(const uint32_t *)(a + f->quantifier_offset);
        uint32_t cb = *(const uint32_t *)(b + f->quantifier_offset);
        if ((ca == f->id) != (cb == f->id))
            return differ(c, "oneof case %u != %u", ca, cb);
        return ca != f->id || eq_value(c, f, a + f->offset, b + f->offset);
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
        f->type != PROTOBUF_C_TYPE_STRING) {
        int ha = *(const protobuf_c_boolean *)(a + f->quantifier_offset) != 0;
        int hb = *(const protobuf_c_boolean *)(b + f->quantifier_offset) != 0;
        if (ha != hb)
            return differ(c, "has %d != has %d", ha, hb);
        if (!ha)
            return 1;
    }
    return eq_value(c, f, a + f->offset, b + f->offset);
}

static int eq_messages(eq_ctx *c, const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;
    /* By name: a module linking its own copy of the generated code has its own descriptors. */
    if (d != b->descriptor && (d == NULL || b->descriptor == NULL || strcmp(d->name, b->descriptor->name) != 0))
        return differ(c, "type %s != %s", d ? d->name : "?", b->descriptor ? b->descriptor->name : "?");
    size_t len = strlen(c->path);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        snprintf(c->path + len, sizeof c->path - len, "%s%s", len ? "." : "", f->name);
        if (!eq_field(c, f, (const char *)a, (const char *)b))
            return 0;
    }
    c->path[len] = '\0';
    return 1;
}

int px_test_msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b, char *why, size_t cap)
{
    eq_ctx c = { .path = "", .why = why, .cap = cap };
    if (a == NULL || b == NULL) {
        snprintf(why, cap, "%s message is NULL", a == NULL ? "first" : "second");
        return 0;
    }
    return eq_messages(&c, a, b);
}
