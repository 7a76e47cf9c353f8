/* codec_json decoder: a jansson tree to a protobuf-c message from the caller's allocator, following the proto3 JSON mapping. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_int.h"

typedef struct px__dec {
    px__json_path path;        /* JSON keys as the input spelled them */
    ProtobufCAllocator *alloc; /* every byte of the message comes from it (NULL: malloc) */
    px_err *err;
} px__dec;

static px_status px__dec_message(px__dec *c, const ProtobufCMessageDescriptor *d, const json_t *v,
                                 int depth, ProtobufCMessage **out);

static px_status px__dec_what(px__dec *c, px_status st, const char *what)
{
    if (c->path.len > 0)
        return px_err_set(c->err, st, "json: field '%s': %s", c->path.buf, what);
    return px_err_set(c->err, st, "json: %s", what);
}

static px_status px__dec_fail(px__dec *c, const char *fmt, ...) PX_PRINTF(2, 3);

static px_status px__dec_fail(px__dec *c, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return px__dec_what(c, PX_INVALID_ARGUMENT, what);
}

/* An allocation failed: out of memory, or out of the budget of the caller's allocator. */
static px_status px__dec_oom(px__dec *c)
{
    return px__dec_what(c, PX_RESOURCE_EXHAUSTED, "out of memory");
}

static px_status px__expected(px__dec *c, const char *what, const json_t *v)
{
    char got[96];
    px__json_describe(v, got, sizeof got);
    return px__dec_fail(c, "expected %s, got %s", what, got);
}

/* A decimal integer string, whole (no spaces, no trailing text), as proto3 JSON allows. */
static int px__parse_int_text(const char *s, int is_signed, int64_t *i, uint64_t *u)
{
    if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9')) || (!is_signed && *s == '-'))
        return -1;
    char *end;
    errno = 0;
    if (is_signed)
        *i = strtoll(s, &end, 10);
    else
        *u = strtoull(s, &end, 10);
    return errno != 0 || *end != '\0' || end == s ? -1 : 0;
}

/* A signed integer in [lo, hi] from a JSON integer, an integral real, or a string. */
static px_status px__dec_signed(px__dec *c, const json_t *v, int64_t lo, int64_t hi,
                                const char *type, int64_t *out)
{
    int64_t x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v)) {
        double r = json_real_value(v);
        if (r != floor(r) || r < -9223372036854775808.0 || r >= 9223372036854775808.0)
            return px__expected(c, "an integer", v);
        x = (int64_t)r;
    } else if (json_is_string(v)) {
        uint64_t unused;
        if (px__parse_int_text(json_string_value(v), 1, &x, &unused) != 0)
            return px__expected(c, "an integer", v);
    } else {
        return px__expected(c, "an integer", v);
    }
    if (x < lo || x > hi)
        return px__dec_fail(c, "value %lld is out of range for %s", (long long)x, type);
    *out = x;
    return PX_OK;
}

static px_status px__dec_unsigned(px__dec *c, const json_t *v, uint64_t hi, const char *type,
                                  uint64_t *out)
{
    uint64_t x;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return px__dec_fail(c, "value %lld is out of range for %s",
                                (long long)json_integer_value(v), type);
        x = (uint64_t)json_integer_value(v);
    } else if (json_is_real(v)) {
        double r = json_real_value(v);
        if (r != floor(r) || r < 0 || r >= 18446744073709551616.0)
            return px__expected(c, "a non-negative integer", v);
        x = (uint64_t)r;
    } else if (json_is_string(v)) {
        int64_t unused;
        const char *s = json_string_value(v);
        if (*s == '-')
            return px__dec_fail(c, "value %s is out of range for %s", s, type);
        if (px__parse_int_text(s, 0, &unused, &x) != 0)
            return px__expected(c, "a non-negative integer", v);
    } else {
        return px__expected(c, "a non-negative integer", v);
    }
    if (x > hi)
        return px__dec_fail(c, "value %llu is out of range for %s", (unsigned long long)x, type);
    *out = x;
    return PX_OK;
}

/* A number, or one of the strings "NaN", "Infinity", "-Infinity", or a number in a string. */
static px_status px__dec_real(px__dec *c, const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return PX_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return PX_OK;
        }
        if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
            *out = s[0] == '-' ? -INFINITY : INFINITY;
            return PX_OK;
        }
        /* strtod alone would also take "inf", "nan" and hex: only plain decimals here. */
        if (strspn(s, "0123456789+-.eE") == strlen(s) && *s != '\0') {
            char *end;
            errno = 0;
            double d = strtod(s, &end);
            if (*end == '\0') {
                /* ERANGE on underflow still gives the nearest value; only overflow is refused. */
                if (errno == ERANGE && isinf(d))
                    return px__dec_fail(c, "value %s is out of range for a double", s);
                *out = d;
                return PX_OK;
            }
        }
    }
    return px__expected(c, "a number", v);
}

static px_status px__dec_enum(px__dec *c, const ProtobufCEnumDescriptor *ed, const json_t *v, int *out)
{
    if (json_is_string(v)) {
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
        if (ev == NULL) {
            char got[96];
            px__json_describe(v, got, sizeof got);
            return px__dec_fail(c, "unknown value %s for enum %s", got + strlen("string "), ed->name);
        }
        *out = ev->value;
        return PX_OK;
    }
    if (json_is_integer(v)) { /* proto3 enums are open: any int32 is kept */
        int64_t x;
        px_status st = px__dec_signed(c, v, INT32_MIN, INT32_MAX, ed->name, &x);
        *out = (int)x;
        return st;
    }
    return px__expected(c, "an enum name or number", v);
}

static px_status px__dec_bytes(px__dec *c, const json_t *v, ProtobufCBinaryData *out)
{
    if (!json_is_string(v))
        return px__expected(c, "a base64 string", v);
    size_t bad;
    int rc = px__cu_b64_decode(json_string_value(v), json_string_length(v), c->alloc, &out->data, &out->len,
                               &bad);
    if (rc == -1)
        return px__dec_oom(c);
    if (rc == -2)
        return px__dec_fail(c, "invalid base64 at offset %zu", bad);
    return PX_OK;
}

/* One value of field f (a member or an array element) into the storage at p. */
static px_status px__dec_value(px__dec *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                               int depth, void *p)
{
    px_status st = PX_OK;
    int64_t i;
    uint64_t u;
    double r;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((st = px__dec_signed(c, v, INT32_MIN, INT32_MAX, "int32", &i)) == PX_OK)
            *(int32_t *)p = (int32_t)i;
        return st;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((st = px__dec_signed(c, v, INT64_MIN, INT64_MAX, "int64", &i)) == PX_OK)
            *(int64_t *)p = i;
        return st;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((st = px__dec_unsigned(c, v, UINT32_MAX, "uint32", &u)) == PX_OK)
            *(uint32_t *)p = (uint32_t)u;
        return st;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((st = px__dec_unsigned(c, v, UINT64_MAX, "uint64", &u)) == PX_OK)
            *(uint64_t *)p = u;
        return st;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((st = px__dec_real(c, v, &r)) != PX_OK)
            return st;
        if (isfinite(r) && isinf((float)r))
            return px__dec_fail(c, "value %g is out of range for float", r);
        *(float *)p = (float)r;
        return PX_OK;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((st = px__dec_real(c, v, &r)) == PX_OK)
            *(double *)p = r;
        return st;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return px__expected(c, "true or false", v);
        *(protobuf_c_boolean *)p = json_is_true(v);
        return PX_OK;
    case PROTOBUF_C_TYPE_ENUM:
        return px__dec_enum(c, f->descriptor, v, p);
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            return px__expected(c, "a string", v);
        /* jansson refused \u0000, so the copy is whole */
        char *s = px__cu_strdup(c->alloc, json_string_value(v), json_string_length(v));
        if (s == NULL)
            return px__dec_oom(c);
        *(char **)p = s;
        return PX_OK;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return px__dec_bytes(c, v, p);
    case PROTOBUF_C_TYPE_MESSAGE:
        return px__dec_message(c, f->descriptor, v, depth + 1, p);
    }
    return px__dec_fail(c, "unsupported field type %d", (int)f->type);
}

/* A map key arrives as a JSON object key (text) whatever its proto type. */
static px_status px__dec_map_key(px__dec *c, const ProtobufCFieldDescriptor *kf, const char *key, void *p)
{
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
            return px__dec_fail(c, "map key must be true or false");
        *(protobuf_c_boolean *)p = key[0] == 't';
        return PX_OK;
    }
    /* The text goes through the same checks as a string value. A jansson value: working
     * memory, on malloc like the tree, not part of the message. */
    json_t *k = json_string(key);
    if (k == NULL)
        return px__dec_oom(c);
    px_status st = px__dec_value(c, kf, k, 0, p);
    json_decref(k);
    return st;
}

static px_status px__dec_map(px__dec *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                             int depth, char *m)
{
    if (!json_is_object(v))
        return px__expected(c, "an object (map)", v);
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    size_t *n = (size_t *)(m + f->quantifier_offset);
    ProtobufCMessage ***arr = (ProtobufCMessage ***)(m + f->offset);
    size_t count = json_object_size(v);
    if (count == 0)
        return PX_OK;
    if (count > SIZE_MAX / sizeof **arr || (*arr = px__cu_alloc(c->alloc, count * sizeof **arr)) == NULL)
        return px__dec_oom(c);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        size_t mark = px__json_path_mapkey(&c->path, key);
        if (json_is_null(val))
            return px__dec_fail(c, "map value must not be null");
        ProtobufCMessage *e = px__cu_msg_new(ed, c->alloc);
        if (e == NULL)
            return px__dec_oom(c);
        px_status st = px__dec_map_key(c, &ed->fields[0], key, (char *)e + ed->fields[0].offset);
        if (st == PX_OK)
            st = px__dec_value(c, &ed->fields[1], val, depth, (char *)e + ed->fields[1].offset);
        if (st != PX_OK) {
            protobuf_c_message_free_unpacked(e, c->alloc);
            return st;
        }
        (*arr)[(*n)++] = e; /* counted as soon as stored, so an error frees exactly what exists */
        px__json_path_pop(&c->path, mark);
    }
    return PX_OK;
}

static px_status px__dec_repeated(px__dec *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                                  int depth, char *m)
{
    if (!json_is_array(v))
        return px__expected(c, "an array", v);
    size_t *n = (size_t *)(m + f->quantifier_offset);
    char **arr = (char **)(m + f->offset);
    size_t count = json_array_size(v), size = px_pb_value_size(f->type);
    if (count == 0)
        return PX_OK;
    /* Sized once from the array: elements are counted as they are stored, so the slots
     * past n need no zeroing. */
    if (count > SIZE_MAX / size || (*arr = px__cu_alloc(c->alloc, count * size)) == NULL)
        return px__dec_oom(c);
    for (size_t i = 0; i < count; i++) {
        size_t mark = px__json_path_index(&c->path, i);
        const json_t *e = json_array_get(v, i);
        if (json_is_null(e))
            return px__dec_fail(c, "repeated element must not be null");
        px_status st = px__dec_value(c, f, e, depth, *arr + i * size);
        if (st != PX_OK)
            return st;
        (*n)++;
        px__json_path_pop(&c->path, mark);
    }
    return PX_OK;
}

/*
 * The value of field f in obj, under its JSON name or its proto name (either is
 * accepted, both is an error). When found, the key as spelled is pushed on the
 * path and *mark receives the length to pop back to.
 */
static px_status px__find(px__dec *c, const json_t *obj, const ProtobufCFieldDescriptor *f,
                          const json_t **v, size_t *mark)
{
    char nbuf[64]; /* a longer name is malloc'd: working memory, not part of the message */
    char *jname = px__json_name(f->name, nbuf, sizeof nbuf);
    if (jname == NULL)
        return px__dec_oom(c);
    const json_t *by_json = json_object_get(obj, jname);
    const json_t *by_name = strcmp(jname, f->name) != 0 ? json_object_get(obj, f->name) : NULL;
    px_status st = PX_OK;
    *v = by_json != NULL ? by_json : by_name;
    if (*v != NULL)
        *mark = px__json_path_key(&c->path, by_json != NULL ? jname : f->name);
    if (by_json != NULL && by_name != NULL)
        st = px__dec_fail(c, "given twice, as '%s' and '%s'", jname, f->name);
    if (jname != nbuf)
        free(jname);
    return st;
}

/* Oneof members share the case word: a second member of the same oneof is refused. */
static px_status px__dec_oneof_free(px__dec *c, const ProtobufCMessageDescriptor *d,
                                    const ProtobufCFieldDescriptor *f, const char *m)
{
    uint32_t set = px_pb_oneof_case((const ProtobufCMessage *)m, f);
    if (set == 0)
        return PX_OK;
    const ProtobufCFieldDescriptor *other = protobuf_c_message_descriptor_get_field(d, set);
    return px__dec_fail(c, "oneof already set by field '%s'", other != NULL ? other->name : "?");
}

static px_status px__dec_fields(px__dec *c, const ProtobufCMessageDescriptor *d, const json_t *obj,
                                int depth, char *m)
{
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const json_t *v = NULL;
        size_t mark = 0;
        px_status st = px__find(c, obj, f, &v, &mark);
        if (st != PX_OK)
            return st;
        if (v == NULL || json_is_null(v)) { /* null means the default, like a missing key */
            if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
                size_t at = px__json_path_key(&c->path, f->name);
                st = px__dec_fail(c, "missing required field");
                px__json_path_pop(&c->path, at);
                return st;
            }
            if (v != NULL)
                px__json_path_pop(&c->path, mark);
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            st = px_pb_is_map(d, f) ? px__dec_map(c, f, v, depth, m)
                                       : px__dec_repeated(c, f, v, depth, m);
        } else if ((st = px__dec_oneof_free(c, d, f, m)) == PX_OK &&
                   (st = px__dec_value(c, f, v, depth, m + f->offset)) == PX_OK) {
            px_pb_mark_set((ProtobufCMessage *)m, f); /* set last: free_unpacked trusts it */
        }
        if (st != PX_OK)
            return st;
        px__json_path_pop(&c->path, mark);
    }
    return PX_OK;
}

static px_status px__dec_message(px__dec *c, const ProtobufCMessageDescriptor *d, const json_t *v,
                                 int depth, ProtobufCMessage **out)
{
    if (depth > PX__JSON_MAX_DEPTH)
        return px__dec_fail(c, "messages nested deeper than %d", PX__JSON_MAX_DEPTH);
    if (!json_is_object(v)) {
        char what[160];
        snprintf(what, sizeof what, "an object for %s", d->name);
        return px__expected(c, what, v);
    }
    /* alloc + init from the descriptor: the layout and allocator protobuf_c_message_free_unpacked expects. */
    ProtobufCMessage *m = px__cu_msg_new(d, c->alloc);
    if (m == NULL)
        return px__dec_oom(c);
    px_status st = px__dec_fields(c, d, v, depth, (char *)m);
    if (st != PX_OK) {
        protobuf_c_message_free_unpacked(m, c->alloc);
        return st;
    }
    *out = m;
    return PX_OK;
}

px_status px__json_decode_message(const ProtobufCMessageDescriptor *desc, const json_t *root,
                                  ProtobufCAllocator *alloc, ProtobufCMessage **out, px_err *err)
{
    px__dec c = { .alloc = alloc, .err = err };
    *out = NULL;
    return px__dec_message(&c, desc, root, 1, out);
}
