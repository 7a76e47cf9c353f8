/* codec_json encoder: a protobuf-c message to a jansson tree, following the proto3 JSON mapping. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_int.h"

typedef struct px__enc {
    px__json_path path; /* proto field names, for error messages */
    int precision;      /* significant digits the dump needs so every double round-trips */
    px_err *err;
} px__enc;

static json_t *px__enc_message(px__enc *c, const ProtobufCMessage *m, int depth);

static json_t *px__enc_fail(px__enc *c, px_status st, const char *what)
{
    if (c->path.len > 0)
        px_err_set(c->err, st, "json: field '%s': %s", c->path.buf, what);
    else
        px_err_set(c->err, st, "json: %s", what);
    return NULL;
}

static int px__roundtrips(double v, int digits)
{
    char b[40];
    snprintf(b, sizeof b, "%.*g", digits, v);
    return strtod(b, NULL) == v;
}

/*
 * jansson prints every real of one dump with the same "%.<precision>g", and 17
 * digits turn 0.1 into 0.10000000000000001. So each double asks for the fewest
 * digits that still read back exactly, and the dump uses the largest request.
 */
static void px__need_digits(px__enc *c, double v)
{
    int p = 1;
    while (p < 17 && !px__roundtrips(v, p))
        p++;
    /* At a power of two the rounding interval is narrower below than above, so a
     * longer rendering may fail where a shorter one worked: require them all. */
    int e;
    double mant = frexp(v, &e);
    if (mant == 0.5 || mant == -0.5) {
        for (int q = 16; q > p; q--) {
            if (!px__roundtrips(v, q)) {
                p = q + 1;
                break;
            }
        }
    }
    if (p > c->precision)
        c->precision = p;
}

static json_t *px__enc_double(px__enc *c, double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    px__need_digits(c, v);
    return json_real(v);
}

/* A float is printed as the shortest decimal that reads back as the same float. */
static json_t *px__enc_float(px__enc *c, float f)
{
    double d = f;
    if (isfinite(f)) {
        char b[32];
        for (int p = 1; p <= 9; p++) {
            snprintf(b, sizeof b, "%.*g", p, (double)f);
            if (strtof(b, NULL) == f) {
                double shortest = strtod(b, NULL);
                if ((float)shortest == f) /* guard against double rounding */
                    d = shortest;
                break;
            }
        }
    }
    return px__enc_double(c, d);
}

static json_t *px__enc_bytes(px__enc *c, const ProtobufCBinaryData *b)
{
    char *s = px__cu_b64_encode(b->data, b->len, NULL);
    if (s == NULL)
        return px__enc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory encoding bytes");
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* One value of field f stored at p (a struct member or a repeated array element). */
static json_t *px__enc_value(px__enc *c, const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    char num[24];
    json_t *j = NULL;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        j = json_integer(*(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        j = json_integer(*(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64: /* 64-bit integers are strings: JSON numbers lose them past 2^53 */
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(num, sizeof num, "%" PRId64, *(const int64_t *)p);
        j = json_string(num);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(num, sizeof num, "%" PRIu64, *(const uint64_t *)p);
        j = json_string(num);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        j = px__enc_float(c, *(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        j = px__enc_double(c, *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        j = json_boolean(*(const protobuf_c_boolean *)p);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        j = ev != NULL ? json_string(ev->name) : json_integer(v); /* unknown values stay numbers */
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        j = json_string(s != NULL ? s : "");
        if (j == NULL)
            return px__enc_fail(c, PX_INVALID_ARGUMENT, "string is not valid UTF-8");
        break;
    }
    case PROTOBUF_C_TYPE_BYTES:
        j = px__enc_bytes(c, p);
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub == NULL)
            return px__enc_fail(c, PX_INVALID_ARGUMENT, "message pointer is NULL");
        return px__enc_message(c, sub, depth + 1);
    }
    }
    if (j == NULL && c->err->status == PX_OK)
        px__enc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory");
    return j;
}

/* Map keys are strings in JSON whatever their proto type. */
static int px__map_key(const ProtobufCFieldDescriptor *kf, const void *p, char *buf, size_t cap,
                       const char **key)
{
    switch (kf->type) {
    case PROTOBUF_C_TYPE_STRING:
        *key = *(char *const *)p != NULL ? *(char *const *)p : "";
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        *key = *(const protobuf_c_boolean *)p ? "true" : "false";
        return 0;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, cap, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, cap, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, cap, "%" PRId64, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, cap, "%" PRIu64, *(const uint64_t *)p);
        break;
    default:
        return -1; /* protoc allows only integral, bool and string keys */
    }
    *key = buf;
    return 0;
}

static json_t *px__enc_map(px__enc *c, const ProtobufCFieldDescriptor *f, const void *member,
                           size_t n, int depth)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    ProtobufCMessage *const *entries = *(ProtobufCMessage *const *const *)member;
    json_t *obj = json_object();
    if (obj == NULL)
        return px__enc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *e = (const char *)entries[i];
        char num[24];
        const char *key;
        if (entries[i] == NULL || px__map_key(kf, e + kf->offset, num, sizeof num, &key) != 0) {
            json_decref(obj);
            return px__enc_fail(c, PX_INVALID_ARGUMENT, "map entry is NULL or has a bad key type");
        }
        size_t mark = px__json_path_mapkey(&c->path, key);
        json_t *v = px__enc_value(c, vf, e + vf->offset, depth);
        /* The last entry of a repeated key wins, as when protobuf parses a map. */
        if (v == NULL || json_object_set_new(obj, key, v) != 0) {
            if (v != NULL)
                px__enc_fail(c, PX_INVALID_ARGUMENT, "map key is not valid UTF-8");
            json_decref(obj);
            return NULL;
        }
        px__json_path_pop(&c->path, mark);
    }
    return obj;
}

static json_t *px__enc_repeated(px__enc *c, const ProtobufCFieldDescriptor *f, const void *member,
                                size_t n, int depth)
{
    const char *arr = *(const char *const *)member;
    size_t size = px_pb_value_size(f->type);
    json_t *a = json_array();
    if (a == NULL)
        return px__enc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t mark = px__json_path_index(&c->path, i);
        json_t *v = px__enc_value(c, f, arr + i * size, depth);
        if (v == NULL || json_array_append_new(a, v) != 0) {
            if (v != NULL)
                px__enc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory");
            json_decref(a);
            return NULL;
        }
        px__json_path_pop(&c->path, mark);
    }
    return a;
}

static json_t *px__enc_message(px__enc *c, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == NULL || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return px__enc_fail(c, PX_INVALID_ARGUMENT, "not a protobuf-c message (bad descriptor magic)");
    if (depth > PX__JSON_MAX_DEPTH) {
        char what[64];
        snprintf(what, sizeof what, "messages nested deeper than %d", PX__JSON_MAX_DEPTH);
        return px__enc_fail(c, PX_INVALID_ARGUMENT, what);
    }
    json_t *obj = json_object();
    if (obj == NULL)
        return px__enc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *member = (const char *)m + f->offset;
        size_t n = px_pb_count(m, f);
        if (n == 0)
            continue;
        char nbuf[64];
        char *jname = px__json_name(f->name, nbuf, sizeof nbuf);
        if (jname == NULL) {
            json_decref(obj);
            return px__enc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory");
        }
        size_t mark = px__json_path_key(&c->path, f->name);
        json_t *v;
        if (f->label != PROTOBUF_C_LABEL_REPEATED)
            v = px__enc_value(c, f, member, depth);
        else if (px_pb_is_map(d, f))
            v = px__enc_map(c, f, member, n, depth);
        else
            v = px__enc_repeated(c, f, member, n, depth);
        int bad = v == NULL || json_object_set_new(obj, jname, v) != 0;
        if (jname != nbuf)
            free(jname);
        if (bad) {
            if (v != NULL)
                px__enc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory");
            json_decref(obj);
            return NULL;
        }
        px__json_path_pop(&c->path, mark);
    }
    return obj;
}

json_t *px__json_encode_message(const ProtobufCMessage *msg, int *precision, px_err *err)
{
    px__enc c = { .precision = 1, .err = err };
    px_err_clear(err);
    json_t *j = px__enc_message(&c, msg, 1);
    *precision = c.precision;
    return j;
}
