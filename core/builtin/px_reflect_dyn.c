/* Reflection, client side: FileDescriptorProtos from a server back to protobuf-c
 * descriptors, so that a caller without the service's generated code can encode and decode
 * its messages (plexus call HOST:PORT). libprotobuf-c has no dynamic messages; this builds
 * ProtobufCMessageDescriptor and ProtobufCEnumDescriptor tables with a struct layout of our
 * own (every member at an 8-byte slot), which libprotobuf-c and the codecs read through the
 * offsets like any generated table. It is kept small on purpose: no proto2 defaults, no
 * extensions, no groups. Its messages have no generated message_init: libprotobuf-c and
 * the codecs then set a message up from its descriptor (modules/common/px_codec_util.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "px_descriptor.pb-c.h"
#include "plexus/px_descset.h"
#include "px_reflect.h"

/* Bounds on what a peer may describe: the nesting of message definitions (the only
 * recursion of descriptor.proto this parser follows), and fields per message. */
#define PX_DYN_MAX_DEPTH 32
#define PX_DYN_MAX_FIELDS 65536
#define PX_DYN_SLOT 8 /* every member starts at a multiple of 8 */

typedef Google__Protobuf__FileDescriptorProto px__file;
typedef Google__Protobuf__DescriptorProto px__dp;
typedef Google__Protobuf__EnumDescriptorProto px__ep;
typedef Google__Protobuf__FieldDescriptorProto px__fp;

typedef struct px__dmsg {
    const char *full, *pkg, *file;
    const px__dp *dp;
    int proto3;
    ProtobufCMessageDescriptor *d;
} px__dmsg;

typedef struct px__denum {
    const char *full, *pkg, *file;
    const px__ep *ep;
    ProtobufCEnumDescriptor *d;
} px__denum;

typedef struct px__dmethod {
    const char *service; /* "package.Service" */
    ProtobufCMethodDescriptor md;
} px__dmethod;

struct px_descset {
    void **blocks; /* everything allocated for the descriptors */
    size_t n_blocks, cap_blocks;
    px__file **files;
    size_t n_files;
    px__dmsg *msgs; /* sorted by full name */
    size_t n_msgs, cap_msgs;
    px__denum *enums; /* sorted by full name */
    size_t n_enums, cap_enums;
    px__dmethod *methods;
    size_t n_methods, cap_methods;
};

static void *px__dalloc(px_descset *d, size_t size)
{
    if (d->n_blocks == d->cap_blocks) {
        size_t cap = d->cap_blocks ? d->cap_blocks * 2 : 64;
        void **grown = realloc(d->blocks, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        d->blocks = grown;
        d->cap_blocks = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (p != NULL)
        d->blocks[d->n_blocks++] = p;
    return p;
}

static void *px__grow(void *arrp, size_t *n, size_t *cap, size_t size)
{
    void **arr = arrp;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        void *grown = realloc(*arr, ncap * size);
        if (grown == NULL)
            return NULL;
        *arr = grown;
        *cap = ncap;
    }
    char *at = (char *)*arr + (*n)++ * size;
    memset(at, 0, size);
    return at;
}

static px_status px__oom(px_err *err)
{
    return px_err_set(err, PX_RESOURCE_EXHAUSTED, "reflection: out of memory");
}

/* ---- the depth of message definitions, before libprotobuf-c's recursive unpack ---- */

static int px__varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* 0, or -1 when message definitions nest deeper than PX_DYN_MAX_DEPTH. Malformed bytes
 * pass: the unpack that follows refuses them with its own words. field: the number that
 * holds a DescriptorProto here (FileDescriptorProto.message_type 4, .nested_type 3). */
static int px__depth_ok(const uint8_t *p, size_t len, unsigned field, int depth)
{
    if (depth > PX_DYN_MAX_DEPTH)
        return -1;
    if (len == 0) /* p may be NULL */
        return 0;
    const uint8_t *end = p + len;
    while (p < end) {
        uint64_t key, v;
        if (px__varint(&p, end, &key) != 0)
            return 0;
        switch (key & 7) {
        case 0:
            if (px__varint(&p, end, &v) != 0)
                return 0;
            break;
        case 1:
            if ((size_t)(end - p) < 8)
                return 0;
            p += 8;
            break;
        case 5:
            if ((size_t)(end - p) < 4)
                return 0;
            p += 4;
            break;
        case 2:
            if (px__varint(&p, end, &v) != 0 || v > (uint64_t)(end - p))
                return 0;
            if ((key >> 3) == field && px__depth_ok(p, (size_t)v, 3, depth + 1) != 0)
                return -1;
            p += v;
            break;
        default:
            return 0;
        }
    }
    return 0;
}

/* ---- collecting every message and enum by full name ---- */

static char *px__join(px_descset *d, const char *prefix, const char *name)
{
    size_t a = strlen(prefix), b = strlen(name);
    char *s = px__dalloc(d, a + b + 2);
    if (s == NULL)
        return NULL;
    memcpy(s, prefix, a);
    if (a)
        s[a++] = '.';
    memcpy(s + a, name, b + 1);
    return s;
}

static px_status px__name_ok(const char *file, const char *what, const char *name, px_err *err)
{
    if (name == NULL || name[0] == '\0' || strchr(name, '.') != NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT, "reflection: %s: a %s has no name or a "
                          "dotted one ('%s')", file, what, name ? name : "");
    return PX_OK;
}

static px_status px__collect_enums(px_descset *d, const char *file, const char *pkg,
                                   const char *prefix, px__ep *const *eps, size_t n, px_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (px__name_ok(file, "enum", eps[i]->name, err) != PX_OK)
            return err->status;
        px__denum *e = px__grow(&d->enums, &d->n_enums, &d->cap_enums, sizeof *e);
        if (e == NULL || (e->full = px__join(d, prefix, eps[i]->name)) == NULL ||
            (e->d = px__dalloc(d, sizeof *e->d)) == NULL)
            return px__oom(err);
        e->pkg = pkg;
        e->file = file;
        e->ep = eps[i];
    }
    return PX_OK;
}

static px_status px__collect_msgs(px_descset *d, const char *file, const char *pkg, int proto3,
                                  const char *prefix, px__dp *const *dps, size_t n, px_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const px__dp *dp = dps[i];
        if (px__name_ok(file, "message", dp->name, err) != PX_OK)
            return err->status;
        px__dmsg *m = px__grow(&d->msgs, &d->n_msgs, &d->cap_msgs, sizeof *m);
        if (m == NULL || (m->full = px__join(d, prefix, dp->name)) == NULL ||
            (m->d = px__dalloc(d, sizeof *m->d)) == NULL)
            return px__oom(err);
        m->pkg = pkg;
        m->file = file;
        m->dp = dp;
        m->proto3 = proto3;
        const char *full = m->full; /* d->msgs may move below */
        if (px__collect_enums(d, file, pkg, full, dp->enum_type, dp->n_enum_type, err) != PX_OK ||
            px__collect_msgs(d, file, pkg, proto3, full, dp->nested_type, dp->n_nested_type,
                             err) != PX_OK)
            return err->status;
    }
    return PX_OK;
}

static int px__cmp_msg(const void *a, const void *b)
{
    return strcmp(((const px__dmsg *)a)->full, ((const px__dmsg *)b)->full);
}

static int px__cmp_enum(const void *a, const void *b)
{
    return strcmp(((const px__denum *)a)->full, ((const px__denum *)b)->full);
}

static px__dmsg *px__find_msg(const px_descset *d, const char *full)
{
    px__dmsg key = {.full = full};
    return d->n_msgs ? bsearch(&key, d->msgs, d->n_msgs, sizeof key, px__cmp_msg) : NULL;
}

static px__denum *px__find_enum(const px_descset *d, const char *full)
{
    px__denum key = {.full = full};
    return d->n_enums ? bsearch(&key, d->enums, d->n_enums, sizeof key, px__cmp_enum) : NULL;
}

/* ---- ranges: protobuf-c's lookup tables over sorted numbers ---- */

static ProtobufCIntRange *px__ranges(px_descset *d, const int *v, size_t n, unsigned *n_ranges)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || v[i] != v[i - 1] + 1)
            k++;
    ProtobufCIntRange *r = px__dalloc(d, (k + 1) * sizeof *r);
    if (r == NULL)
        return NULL;
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || v[i] != v[i - 1] + 1)
            r[k++] = (ProtobufCIntRange){v[i], (int)i};
    r[k] = (ProtobufCIntRange){0, (int)n}; /* the end: orig_index is the count */
    *n_ranges = (unsigned)k;
    return r;
}

/* ---- enums ---- */

static int px__cmp_value(const void *a, const void *b)
{
    const ProtobufCEnumValue *x = a, *y = b;
    return x->value < y->value ? -1 : x->value > y->value;
}

static int px__cmp_vname(const void *a, const void *b)
{
    return strcmp(((const ProtobufCEnumValueIndex *)a)->name,
                  ((const ProtobufCEnumValueIndex *)b)->name);
}

static px_status px__build_enum(px_descset *d, px__denum *e, px_err *err)
{
    const px__ep *ep = e->ep;
    if (ep->n_value == 0)
        return px_err_set(err, PX_INVALID_ARGUMENT, "reflection: %s: enum %s has no values",
                          e->file, e->full);
    ProtobufCEnumValue *vals = px__dalloc(d, ep->n_value * sizeof *vals);
    ProtobufCEnumValueIndex *names = px__dalloc(d, ep->n_value * sizeof *names);
    int *nums = px__dalloc(d, ep->n_value * sizeof *nums);
    if (vals == NULL || names == NULL || nums == NULL)
        return px__oom(err);
    for (size_t i = 0; i < ep->n_value; i++) {
        const Google__Protobuf__EnumValueDescriptorProto *v = ep->value[i];
        if (px__name_ok(e->file, "enum value", v->name, err) != PX_OK)
            return err->status;
        vals[i] = (ProtobufCEnumValue){v->name, v->name, v->number};
    }
    /* By number, an alias (a number listed twice) keeping one name. */
    qsort(vals, ep->n_value, sizeof *vals, px__cmp_value);
    size_t n = 0;
    for (size_t i = 0; i < ep->n_value; i++)
        if (n == 0 || vals[i].value != vals[n - 1].value)
            vals[n++] = vals[i];
    for (size_t i = 0; i < n; i++) {
        names[i] = (ProtobufCEnumValueIndex){vals[i].name, (unsigned)i};
        nums[i] = vals[i].value;
    }
    qsort(names, n, sizeof *names, px__cmp_vname);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i].name, names[i - 1].name) == 0)
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "reflection: %s: enum %s: value %s is listed twice", e->file,
                              e->full, names[i].name);
    ProtobufCEnumDescriptor *ed = e->d;
    ed->magic = PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC;
    ed->name = e->full;
    ed->short_name = ep->name;
    ed->c_name = e->full;
    ed->package_name = e->pkg;
    ed->n_values = (unsigned)n;
    ed->values = vals;
    ed->n_value_names = (unsigned)n;
    ed->values_by_name = names;
    if ((ed->value_ranges = px__ranges(d, nums, n, &ed->n_value_ranges)) == NULL)
        return px__oom(err);
    return PX_OK;
}

/* ---- messages ---- */

static const ProtobufCType px__ctypes[] = {
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_DOUBLE] = PROTOBUF_C_TYPE_DOUBLE,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FLOAT] = PROTOBUF_C_TYPE_FLOAT,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64] = PROTOBUF_C_TYPE_INT64,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64] = PROTOBUF_C_TYPE_UINT64,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32] = PROTOBUF_C_TYPE_INT32,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64] = PROTOBUF_C_TYPE_FIXED64,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32] = PROTOBUF_C_TYPE_FIXED32,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BOOL] = PROTOBUF_C_TYPE_BOOL,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING] = PROTOBUF_C_TYPE_STRING,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE] = PROTOBUF_C_TYPE_MESSAGE,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES] = PROTOBUF_C_TYPE_BYTES,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32] = PROTOBUF_C_TYPE_UINT32,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM] = PROTOBUF_C_TYPE_ENUM,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32] = PROTOBUF_C_TYPE_SFIXED32,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64] = PROTOBUF_C_TYPE_SFIXED64,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32] = PROTOBUF_C_TYPE_SINT32,
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64] = PROTOBUF_C_TYPE_SINT64,
};

/* Bytes a value of type takes in a message (a pointer for strings and messages). */
static size_t px__value_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    default: return 4;
    }
}

static size_t px__slot(size_t n)
{
    return (n + PX_DYN_SLOT - 1) / PX_DYN_SLOT * PX_DYN_SLOT;
}

static int px__cmp_field(const void *a, const void *b)
{
    const ProtobufCFieldDescriptor *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

typedef struct px__fname {
    const char *name;
    unsigned index;
} px__fname;

static int px__cmp_fname(const void *a, const void *b)
{
    return strcmp(((const px__fname *)a)->name, ((const px__fname *)b)->name);
}

/* A field's protobuf-c description without its place in the struct. The oneof index is
 * kept in reserved2 until the layout is made (-1: none). */
static px_status px__field(px_descset *d, const px__dmsg *m, const px__fp *f,
                           ProtobufCFieldDescriptor *out, px_err *err)
{
    const char *fn = f->name ? f->name : "";
    if (px__name_ok(m->file, "field", f->name, err) != PX_OK)
        return err->status;
    if (!f->has_number || f->number < 1 || f->number > 536870911)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "reflection: %s: %s.%s: field number %d is not in 1..536870911",
                          m->file, m->full, fn, f->number);
    unsigned t = f->has_type ? (unsigned)f->type : 0;
    if (t >= sizeof px__ctypes / sizeof px__ctypes[0] ||
        t == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP || t == 0)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "reflection: %s: %s.%s: field type %u is not supported (groups "
                          "and unset types are not)", m->file, m->full, fn, t);
    out->name = f->name;
    out->id = (uint32_t)f->number;
    out->type = px__ctypes[t];
    int repeated = f->has_label && f->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
    int required = f->has_label && f->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED;
    int oneof = f->has_oneof_index && !f->proto3_optional;
    out->reserved2 = (void *)(intptr_t)-1;
    if (oneof) {
        if (f->oneof_index < 0 || (size_t)f->oneof_index >= m->dp->n_oneof_decl || repeated)
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "reflection: %s: %s.%s: bad oneof_index %d (%zu oneofs%s)",
                              m->file, m->full, fn, f->oneof_index, m->dp->n_oneof_decl,
                              repeated ? ", and the field is repeated" : "");
        out->flags |= PROTOBUF_C_FIELD_FLAG_ONEOF;
        out->reserved2 = (void *)(intptr_t)f->oneof_index;
    }
    out->label = repeated ? PROTOBUF_C_LABEL_REPEATED
                 : required ? PROTOBUF_C_LABEL_REQUIRED
                 /* proto3: implicit presence, unless `optional` (a has_ member) */
                 : m->proto3 && !f->proto3_optional ? PROTOBUF_C_LABEL_NONE
                                                    : PROTOBUF_C_LABEL_OPTIONAL;
    int scalar = out->type != PROTOBUF_C_TYPE_STRING && out->type != PROTOBUF_C_TYPE_BYTES &&
                 out->type != PROTOBUF_C_TYPE_MESSAGE;
    int packed = f->options && f->options->has_packed ? f->options->packed : m->proto3;
    if (repeated && scalar && packed)
        out->flags |= PROTOBUF_C_FIELD_FLAG_PACKED;
    if (out->type == PROTOBUF_C_TYPE_STRING && out->label == PROTOBUF_C_LABEL_NONE && !oneof)
        out->default_value = protobuf_c_empty_string; /* as protoc-c's proto3 strings */
    if (out->type == PROTOBUF_C_TYPE_MESSAGE || out->type == PROTOBUF_C_TYPE_ENUM) {
        const char *tn = f->type_name;
        if (tn == NULL || tn[0] != '.')
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "reflection: %s: %s.%s: type_name '%s' is not fully qualified "
                              "(.package.Type)", m->file, m->full, fn, tn ? tn : "");
        if (out->type == PROTOBUF_C_TYPE_MESSAGE) {
            px__dmsg *sub = px__find_msg(d, tn + 1);
            out->descriptor = sub ? sub->d : NULL;
        } else {
            px__denum *sub = px__find_enum(d, tn + 1);
            out->descriptor = sub ? sub->d : NULL;
        }
        if (out->descriptor == NULL)
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "reflection: %s: %s.%s: unknown %s type %s", m->file, m->full, fn,
                              out->type == PROTOBUF_C_TYPE_MESSAGE ? "message" : "enum", tn);
    }
    return PX_OK;
}

/* Places every field in the struct: members in number order, a oneof's case and its
 * shared value where its first member comes. Returns the struct's size. */
static size_t px__layout(ProtobufCFieldDescriptor *fields, size_t n, size_t *oneof_at,
                         size_t n_oneofs)
{
    size_t off = px__slot(sizeof(ProtobufCMessage));
    for (size_t k = 0; k < n_oneofs; k++)
        oneof_at[k] = 0;
    for (size_t i = 0; i < n; i++) {
        ProtobufCFieldDescriptor *f = &fields[i];
        intptr_t oneof = (intptr_t)f->reserved2;
        f->reserved2 = NULL;
        if (oneof >= 0) {
            if (oneof_at[oneof] == 0) {
                oneof_at[oneof] = off; /* uint32 case, then the members' shared value */
                off += PX_DYN_SLOT + px__slot(sizeof(ProtobufCBinaryData));
            }
            f->quantifier_offset = (unsigned)oneof_at[oneof];
            f->offset = (unsigned)(oneof_at[oneof] + PX_DYN_SLOT);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            f->quantifier_offset = (unsigned)off; /* size_t n_, then the array */
            f->offset = (unsigned)(off + PX_DYN_SLOT);
            off += 2 * PX_DYN_SLOT;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   f->type != PROTOBUF_C_TYPE_STRING) {
            f->quantifier_offset = (unsigned)off; /* protobuf_c_boolean has_, then the value */
            f->offset = (unsigned)(off + PX_DYN_SLOT);
            off += PX_DYN_SLOT + px__slot(px__value_size(f->type));
        } else {
            f->offset = (unsigned)off;
            off += px__slot(px__value_size(f->type));
        }
    }
    return off;
}

static px_status px__build_msg(px_descset *d, const px__dmsg *m, px_err *err)
{
    const px__dp *dp = m->dp;
    size_t n = dp->n_field;
    if (n > PX_DYN_MAX_FIELDS)
        return px_err_set(err, PX_INVALID_ARGUMENT, "reflection: %s: %s has %zu fields "
                          "(at most %d)", m->file, m->full, n, PX_DYN_MAX_FIELDS);
    /* No fields: NULL, as protoc-c writes it; libprotobuf-c's unpack then reads no field 0
     * (it starts from fields + 0 unless that is NULL). */
    ProtobufCFieldDescriptor *fields = n ? px__dalloc(d, n * sizeof *fields) : NULL;
    unsigned *by_name = n ? px__dalloc(d, n * sizeof *by_name) : NULL;
    px__fname *names = malloc((n ? n : 1) * sizeof *names);
    int *nums = malloc((n ? n : 1) * sizeof *nums);
    size_t *oneof_at = malloc((dp->n_oneof_decl ? dp->n_oneof_decl : 1) * sizeof *oneof_at);
    px_status st = PX_OK;
    if ((n && (fields == NULL || by_name == NULL)) || names == NULL || nums == NULL ||
        oneof_at == NULL)
        st = px__oom(err);
    for (size_t i = 0; i < n && st == PX_OK; i++)
        st = px__field(d, m, dp->field[i], &fields[i], err);
    if (st == PX_OK) {
        if (n)
            qsort(fields, n, sizeof *fields, px__cmp_field);
        for (size_t i = 0; i < n; i++) {
            nums[i] = (int)fields[i].id;
            names[i] = (px__fname){fields[i].name, (unsigned)i};
            if (i > 0 && fields[i].id == fields[i - 1].id && st == PX_OK)
                st = px_err_set(err, PX_INVALID_ARGUMENT,
                                "reflection: %s: %s: field number %u is used twice", m->file,
                                m->full, fields[i].id);
        }
    }
    if (st == PX_OK) {
        if (n)
            qsort(names, n, sizeof *names, px__cmp_fname);
        for (size_t i = 0; i < n; i++) {
            by_name[i] = names[i].index;
            if (i > 0 && strcmp(names[i].name, names[i - 1].name) == 0 && st == PX_OK)
                st = px_err_set(err, PX_INVALID_ARGUMENT,
                                "reflection: %s: %s: field name %s is used twice", m->file,
                                m->full, names[i].name);
        }
    }
    ProtobufCMessageDescriptor *md = m->d;
    if (st == PX_OK) {
        md->magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
        md->name = m->full;
        md->short_name = dp->name;
        md->c_name = m->full;
        md->package_name = m->pkg;
        md->sizeof_message = px__layout(fields, n, oneof_at, dp->n_oneof_decl);
        md->n_fields = (unsigned)n;
        md->fields = fields;
        md->fields_sorted_by_name = by_name;
        if ((md->field_ranges = px__ranges(d, nums, n, &md->n_field_ranges)) == NULL)
            st = px__oom(err);
        /* message_init stays NULL: no function can be made at run time for one descriptor;
         * libprotobuf-c's unpack and the codecs set a message up from the descriptor. */
    }
    free(names);
    free(nums);
    free(oneof_at);
    return st;
}

/* ---- services ---- */

static px_status px__methods(px_descset *d, const px__file *f, const char *file, px_err *err)
{
    const char *pkg = f->package ? f->package : "";
    for (size_t s = 0; s < f->n_service; s++) {
        const Google__Protobuf__ServiceDescriptorProto *sp = f->service[s];
        if (px__name_ok(file, "service", sp->name, err) != PX_OK)
            return err->status;
        char *svc = px__join(d, pkg, sp->name);
        if (svc == NULL)
            return px__oom(err);
        for (size_t i = 0; i < sp->n_method; i++) {
            const Google__Protobuf__MethodDescriptorProto *mp = sp->method[i];
            if (px__name_ok(file, "method", mp->name, err) != PX_OK)
                return err->status;
            const char *in = mp->input_type, *out = mp->output_type;
            px__dmsg *im = in && in[0] == '.' ? px__find_msg(d, in + 1) : NULL;
            px__dmsg *om = out && out[0] == '.' ? px__find_msg(d, out + 1) : NULL;
            if (im == NULL || om == NULL)
                return px_err_set(err, PX_INVALID_ARGUMENT,
                                  "reflection: %s: %s/%s: unknown %s type '%s'", file, svc,
                                  mp->name, im ? "output" : "input",
                                  (im ? out : in) ? (im ? out : in) : "");
            px__dmethod *dm = px__grow(&d->methods, &d->n_methods, &d->cap_methods, sizeof *dm);
            if (dm == NULL)
                return px__oom(err);
            dm->service = svc;
            dm->md = (ProtobufCMethodDescriptor){mp->name, im->d, om->d};
        }
    }
    return PX_OK;
}

/* ---- the whole ---- */

static px_status px__build(px_descset *d, const ProtobufCBinaryData *files, size_t n, px_err *err)
{
    if ((d->files = calloc(n ? n : 1, sizeof *d->files)) == NULL)
        return px__oom(err);
    for (size_t i = 0; i < n; i++) {
        if (px__depth_ok(files[i].data, files[i].len, 4, 0) != 0)
            return px_err_set(err, PX_INVALID_ARGUMENT, "reflection: file %zu: message "
                              "definitions nested deeper than %d", i, PX_DYN_MAX_DEPTH);
        ProtobufCMessage *m = protobuf_c_message_unpack(
            &google__protobuf__file_descriptor_proto__descriptor, NULL, files[i].len,
            files[i].data);
        if (m == NULL)
            return px_err_set(err, PX_INVALID_ARGUMENT, "reflection: file %zu (%zu bytes) is "
                              "not a google.protobuf.FileDescriptorProto", i, files[i].len);
        d->files[d->n_files++] = (px__file *)m;
    }
    for (size_t i = 0; i < d->n_files; i++) {
        const px__file *f = d->files[i];
        const char *file = f->name ? f->name : "(unnamed file)";
        const char *pkg = f->package ? f->package : "";
        int proto3 = f->syntax != NULL && strcmp(f->syntax, "proto3") == 0;
        if (px__collect_enums(d, file, pkg, pkg, f->enum_type, f->n_enum_type, err) != PX_OK ||
            px__collect_msgs(d, file, pkg, proto3, pkg, f->message_type, f->n_message_type,
                             err) != PX_OK)
            return err->status;
    }
    if (d->n_msgs)
        qsort(d->msgs, d->n_msgs, sizeof *d->msgs, px__cmp_msg);
    if (d->n_enums)
        qsort(d->enums, d->n_enums, sizeof *d->enums, px__cmp_enum);
    for (size_t i = 0; i < d->n_msgs; i++)
        if ((i > 0 && strcmp(d->msgs[i].full, d->msgs[i - 1].full) == 0) ||
            px__find_enum(d, d->msgs[i].full) != NULL)
            return px_err_set(err, PX_INVALID_ARGUMENT, "reflection: %s: type %s is defined "
                              "twice", d->msgs[i].file, d->msgs[i].full);
    for (size_t i = 1; i < d->n_enums; i++)
        if (strcmp(d->enums[i].full, d->enums[i - 1].full) == 0)
            return px_err_set(err, PX_INVALID_ARGUMENT, "reflection: %s: type %s is defined "
                              "twice", d->enums[i].file, d->enums[i].full);
    for (size_t i = 0; i < d->n_enums; i++)
        if (px__build_enum(d, &d->enums[i], err) != PX_OK)
            return err->status;
    for (size_t i = 0; i < d->n_msgs; i++)
        if (px__build_msg(d, &d->msgs[i], err) != PX_OK)
            return err->status;
    for (size_t i = 0; i < d->n_files; i++)
        if (px__methods(d, d->files[i], d->files[i]->name ? d->files[i]->name : "(unnamed file)",
                        err) != PX_OK)
            return err->status;
    return PX_OK;
}

px_status px_descset_build(const ProtobufCBinaryData *files, size_t n, px_descset **out, px_err *err)
{
    *out = NULL;
    px_descset *d = calloc(1, sizeof *d);
    if (d == NULL)
        return px__oom(err);
    if (px__build(d, files, n, err) != PX_OK) {
        px_descset_free(d);
        return err->status;
    }
    *out = d;
    return PX_OK;
}

const ProtobufCMethodDescriptor *px_descset_method(const px_descset *d, const char *service,
                                                const char *method)
{
    for (size_t i = 0; i < d->n_methods; i++)
        if (strcmp(d->methods[i].service, service) == 0 &&
            strcmp(d->methods[i].md.name, method) == 0)
            return &d->methods[i].md;
    return NULL;
}

const ProtobufCMessageDescriptor *px_descset_message(const px_descset *d, const char *full_name)
{
    px__dmsg *m = px__find_msg(d, full_name);
    return m ? m->d : NULL;
}

void px_descset_free(px_descset *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n_files; i++)
        protobuf_c_message_free_unpacked(&d->files[i]->base, NULL);
    for (size_t i = 0; i < d->n_blocks; i++)
        free(d->blocks[i]);
    free(d->blocks);
    free(d->files);
    free(d->msgs);
    free(d->enums);
    free(d->methods);
    free(d);
}
