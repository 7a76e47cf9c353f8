/* Reflection, server side: a service's protobuf-c descriptors rebuilt into
 * google.protobuf.FileDescriptorProto, one file per package (why rebuild: px_reflect.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_descriptor.pb-c.h"
#include "px_reflect.h"

typedef Google__Protobuf__FileDescriptorProto px__file;
typedef Google__Protobuf__DescriptorProto px__msg;

/* A type the service reaches: a message or an enum descriptor. */
typedef struct px__type {
    const char *name, *pkg;
    const ProtobufCMessageDescriptor *md; /* NULL: an enum */
    const ProtobufCEnumDescriptor *ed;
} px__type;

typedef struct px__pkg {
    const char *name;
    px__file *file;
    int emitted, visiting;
} px__pkg;

typedef struct px__ctx {
    px__type *types;
    size_t n_types, cap_types;
    px__pkg *pkgs;
    size_t n_pkgs, cap_pkgs;
    int oom;
} px__ctx;

/* Appends one element of size to a malloc'd array (*n of them), or sets c->oom. */
static void *px__push(px__ctx *c, void *arrp, size_t *n, size_t *cap, size_t size)
{
    void **arr = arrp;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        void *grown = realloc(*arr, ncap * size);
        if (grown == NULL) {
            c->oom = 1;
            return NULL;
        }
        *arr = grown;
        *cap = ncap;
    }
    char *at = (char *)*arr + (*n)++ * size;
    memset(at, 0, size);
    return at;
}

/* Appends p to a protobuf-c repeated field (n, arr), so free_unpacked frees it. */
static int px__append(px__ctx *c, size_t *n, void *arrp, void *p)
{
    void ***arr = arrp;
    void **grown = realloc(*arr, (*n + 1) * sizeof *grown);
    if (grown == NULL) {
        c->oom = 1;
        return -1;
    }
    grown[(*n)++] = p;
    *arr = grown;
    return 0;
}

static char *px__dup(px__ctx *c, const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d == NULL) {
        c->oom = 1;
        return NULL;
    }
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

static void px__add_type(px__ctx *c, const char *name, const char *pkg,
                         const ProtobufCMessageDescriptor *md, const ProtobufCEnumDescriptor *ed)
{
    for (size_t i = 0; i < c->n_types; i++)
        if (strcmp(c->types[i].name, name) == 0)
            return;
    px__type *t = px__push(c, &c->types, &c->n_types, &c->cap_types, sizeof *t);
    if (t == NULL)
        return;
    *t = (px__type){name, pkg ? pkg : "", md, ed};
}

/* Every type reachable from the methods, breadth first over the list itself. */
static void px__collect(px__ctx *c, const ProtobufCServiceDescriptor *sd)
{
    for (unsigned i = 0; i < sd->n_methods; i++) {
        px__add_type(c, sd->methods[i].input->name, sd->methods[i].input->package_name,
                     sd->methods[i].input, NULL);
        px__add_type(c, sd->methods[i].output->name, sd->methods[i].output->package_name,
                     sd->methods[i].output, NULL);
    }
    for (size_t i = 0; i < c->n_types && !c->oom; i++) {
        const ProtobufCMessageDescriptor *md = c->types[i].md;
        for (unsigned f = 0; md != NULL && f < md->n_fields; f++) {
            const ProtobufCFieldDescriptor *fd = &md->fields[f];
            if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                const ProtobufCMessageDescriptor *sub = fd->descriptor;
                px__add_type(c, sub->name, sub->package_name, sub, NULL);
            } else if (fd->type == PROTOBUF_C_TYPE_ENUM) {
                const ProtobufCEnumDescriptor *sub = fd->descriptor;
                px__add_type(c, sub->name, sub->package_name, NULL, sub);
            }
        }
    }
}

static px__pkg *px__pkg_of(px__ctx *c, const char *pkg)
{
    for (size_t i = 0; i < c->n_pkgs; i++)
        if (strcmp(c->pkgs[i].name, pkg) == 0)
            return &c->pkgs[i];
    px__pkg *p = px__push(c, &c->pkgs, &c->n_pkgs, &c->cap_pkgs, sizeof *p);
    if (p == NULL)
        return NULL;
    p->name = pkg;
    if ((p->file = malloc(sizeof *p->file)) == NULL) {
        c->n_pkgs--;
        c->oom = 1;
        return NULL;
    }
    google__protobuf__file_descriptor_proto__init(p->file);
    size_t len = strlen(pkg);
    const char *stem = len ? pkg : "default"; /* the file of the package-less types */
    char *fname = malloc(strlen(stem) + sizeof ".proto");
    if (fname == NULL) {
        c->oom = 1;
        return p;
    }
    strcpy(fname, stem);
    strcat(fname, ".proto");
    p->file->name = fname;
    if (len)
        p->file->package = px__dup(c, pkg, len);
    return p;
}

/* The message called seg[0..len) among (n, arr), made empty if not there yet (a
 * parent of a nested type that the service does not use itself). */
static px__msg *px__msg_in(px__ctx *c, size_t *n, px__msg ***arr, const char *seg, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*arr)[i]->name) == len && memcmp((*arr)[i]->name, seg, len) == 0)
            return (*arr)[i];
    px__msg *m = malloc(sizeof *m);
    if (m == NULL) {
        c->oom = 1;
        return NULL;
    }
    google__protobuf__descriptor_proto__init(m);
    if ((m->name = px__dup(c, seg, len)) == NULL || px__append(c, n, arr, m) != 0) {
        protobuf_c_message_free_unpacked(&m->base, NULL);
        return NULL;
    }
    return m;
}

/* Walks "A.B.C" (relative to the package) to the message holding C; *last = "C".
 * NULL: the file level. *err set on out of memory. */
static px__msg *px__parent(px__ctx *c, px__file *file, const char *rel, const char **last,
                           int *err)
{
    px__msg *parent = NULL;
    const char *dot;
    while ((dot = strchr(rel, '.')) != NULL) {
        parent = parent ? px__msg_in(c, &parent->n_nested_type, &parent->nested_type, rel,
                                     (size_t)(dot - rel))
                        : px__msg_in(c, &file->n_message_type, &file->message_type, rel,
                                     (size_t)(dot - rel));
        if (parent == NULL) {
            *err = 1;
            return NULL;
        }
        rel = dot + 1;
    }
    *last = rel;
    return parent;
}

static const char *px__rel(const px__type *t)
{
    size_t plen = strlen(t->pkg);
    return plen && strncmp(t->name, t->pkg, plen) == 0 && t->name[plen] == '.' ? t->name + plen + 1
                                                                              : t->name;
}

static const Google__Protobuf__FieldDescriptorProto__Type px__types[] = {
    [PROTOBUF_C_TYPE_INT32] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32,
    [PROTOBUF_C_TYPE_SINT32] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32,
    [PROTOBUF_C_TYPE_SFIXED32] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32,
    [PROTOBUF_C_TYPE_INT64] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64,
    [PROTOBUF_C_TYPE_SINT64] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64,
    [PROTOBUF_C_TYPE_SFIXED64] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64,
    [PROTOBUF_C_TYPE_UINT32] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32,
    [PROTOBUF_C_TYPE_FIXED32] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32,
    [PROTOBUF_C_TYPE_UINT64] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64,
    [PROTOBUF_C_TYPE_FIXED64] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64,
    [PROTOBUF_C_TYPE_FLOAT] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FLOAT,
    [PROTOBUF_C_TYPE_DOUBLE] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_DOUBLE,
    [PROTOBUF_C_TYPE_BOOL] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BOOL,
    [PROTOBUF_C_TYPE_ENUM] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM,
    [PROTOBUF_C_TYPE_STRING] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING,
    [PROTOBUF_C_TYPE_BYTES] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES,
    [PROTOBUF_C_TYPE_MESSAGE] = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE,
};

/* "." + name: a FieldDescriptorProto's fully qualified type_name. */
static char *px__type_name(px__ctx *c, const char *name)
{
    size_t len = strlen(name);
    char *s = malloc(len + 2);
    if (s == NULL) {
        c->oom = 1;
        return NULL;
    }
    s[0] = '.';
    memcpy(s + 1, name, len + 1);
    return s;
}

/* The file of pkg depends on the file of dep_pkg (by name: px__pkg_of may move the array). */
static void px__depend(px__ctx *c, const char *pkg, const char *dep_pkg)
{
    if (strcmp(pkg, dep_pkg) == 0)
        return;
    px__pkg *dep = px__pkg_of(c, dep_pkg);
    if (dep == NULL || dep->file->name == NULL)
        return;
    const char *dep_file = dep->file->name;
    px__pkg *p = px__pkg_of(c, pkg);
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->file->n_dependency; i++)
        if (strcmp(p->file->dependency[i], dep_file) == 0)
            return;
    char *d = px__dup(c, dep_file, strlen(dep_file));
    if (d != NULL && px__append(c, &p->file->n_dependency, &p->file->dependency, d) != 0)
        free(d);
}

/* protoc's map entries: a nested "<Field>Entry" of key = 1 and value = 2. */
static int px__is_map_entry(const ProtobufCMessageDescriptor *md, const char *rel)
{
    size_t len = strlen(md->short_name);
    return strchr(rel, '.') != NULL && len > 5 && strcmp(md->short_name + len - 5, "Entry") == 0 &&
           md->n_fields == 2 && md->fields[0].id == 1 && strcmp(md->fields[0].name, "key") == 0 &&
           md->fields[1].id == 2 && strcmp(md->fields[1].name, "value") == 0;
}

static int px__any_none_label(const ProtobufCMessageDescriptor *md)
{
    for (unsigned i = 0; i < md->n_fields; i++)
        if (md->fields[i].label == PROTOBUF_C_LABEL_NONE)
            return 1;
    return 0;
}

static void px__fill_field(px__ctx *c, const px__type *t, px__msg *m,
                           const ProtobufCFieldDescriptor *fd, const unsigned *oneof_of)
{
    Google__Protobuf__FieldDescriptorProto *f = malloc(sizeof *f);
    if (f == NULL) {
        c->oom = 1;
        return;
    }
    google__protobuf__field_descriptor_proto__init(f);
    if (px__append(c, &m->n_field, &m->field, f) != 0) {
        free(f);
        return;
    }
    f->name = px__dup(c, fd->name, strlen(fd->name));
    f->has_number = 1;
    f->number = (int32_t)fd->id;
    f->has_label = 1;
    f->label = fd->label == PROTOBUF_C_LABEL_REQUIRED
                   ? GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED
               : fd->label == PROTOBUF_C_LABEL_REPEATED
                   ? GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED
                   : GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
    if ((unsigned)fd->type < sizeof px__types / sizeof px__types[0]) {
        f->has_type = 1;
        f->type = px__types[fd->type];
    }
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE || fd->type == PROTOBUF_C_TYPE_ENUM) {
        const char *name = fd->type == PROTOBUF_C_TYPE_MESSAGE
                               ? ((const ProtobufCMessageDescriptor *)fd->descriptor)->name
                               : ((const ProtobufCEnumDescriptor *)fd->descriptor)->name;
        const char *pkg = fd->type == PROTOBUF_C_TYPE_MESSAGE
                              ? ((const ProtobufCMessageDescriptor *)fd->descriptor)->package_name
                              : ((const ProtobufCEnumDescriptor *)fd->descriptor)->package_name;
        f->type_name = px__type_name(c, name);
        px__depend(c, t->pkg, pkg ? pkg : "");
    }
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_PACKED) {
        if ((f->options = malloc(sizeof *f->options)) == NULL) {
            c->oom = 1;
            return;
        }
        google__protobuf__field_options__init(f->options);
        f->options->has_packed = f->options->packed = 1;
    }
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        f->has_oneof_index = 1;
        f->oneof_index = (int32_t)oneof_of[fd - t->md->fields];
    } else if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && px__any_none_label(t->md)) {
        f->has_proto3_optional = f->proto3_optional = 1; /* proto3 `optional`: has_ field */
    }
}

/* The fields of one message; oneofs are told apart by their case member's offset. */
static void px__fill_msg(px__ctx *c, const px__type *t, px__msg *m, const char *rel)
{
    const ProtobufCMessageDescriptor *md = t->md;
    unsigned *oneof_of = calloc(md->n_fields ? md->n_fields : 1, sizeof *oneof_of);
    unsigned *case_off = calloc(md->n_fields ? md->n_fields : 1, sizeof *case_off);
    if (oneof_of == NULL || case_off == NULL) {
        free(oneof_of);
        free(case_off);
        c->oom = 1;
        return;
    }
    unsigned n_oneofs = 0;
    for (unsigned i = 0; i < md->n_fields; i++) {
        if (!(md->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        unsigned k = 0;
        while (k < n_oneofs && case_off[k] != md->fields[i].quantifier_offset)
            k++;
        if (k == n_oneofs) {
            case_off[n_oneofs++] = md->fields[i].quantifier_offset;
            Google__Protobuf__OneofDescriptorProto *o = malloc(sizeof *o);
            char name[32];
            if (o == NULL) {
                c->oom = 1;
                break;
            }
            google__protobuf__oneof_descriptor_proto__init(o);
            snprintf(name, sizeof name, "oneof%u", k); /* protobuf-c keeps no oneof name */
            o->name = px__dup(c, name, strlen(name));
            if (px__append(c, &m->n_oneof_decl, &m->oneof_decl, o) != 0)
                free(o);
        }
        oneof_of[i] = k;
    }
    for (unsigned i = 0; i < md->n_fields && !c->oom; i++)
        px__fill_field(c, t, m, &md->fields[i], oneof_of);
    if (!c->oom && px__is_map_entry(md, rel)) {
        if ((m->options = malloc(sizeof *m->options)) == NULL) {
            c->oom = 1;
        } else {
            google__protobuf__message_options__init(m->options);
            m->options->has_map_entry = m->options->map_entry = 1;
        }
    }
    free(oneof_of);
    free(case_off);
}

static void px__fill_enum(px__ctx *c, const ProtobufCEnumDescriptor *ed,
                          Google__Protobuf__EnumDescriptorProto *e)
{
    for (unsigned i = 0; i < ed->n_values && !c->oom; i++) {
        Google__Protobuf__EnumValueDescriptorProto *v = malloc(sizeof *v);
        if (v == NULL) {
            c->oom = 1;
            return;
        }
        google__protobuf__enum_value_descriptor_proto__init(v);
        if (px__append(c, &e->n_value, &e->value, v) != 0) {
            free(v);
            return;
        }
        v->name = px__dup(c, ed->values[i].name, strlen(ed->values[i].name));
        v->has_number = 1;
        v->number = ed->values[i].value;
    }
}

static void px__place(px__ctx *c, const px__type *t)
{
    px__pkg *p = px__pkg_of(c, t->pkg);
    if (p == NULL)
        return;
    px__file *file = p->file;
    const char *rel = px__rel(t), *last;
    int err = 0;
    px__msg *parent = px__parent(c, file, rel, &last, &err);
    if (err)
        return;
    if (t->md != NULL) {
        px__msg *m = parent ? px__msg_in(c, &parent->n_nested_type, &parent->nested_type, last,
                                         strlen(last))
                            : px__msg_in(c, &file->n_message_type, &file->message_type, last,
                                         strlen(last));
        if (m != NULL)
            px__fill_msg(c, t, m, rel);
        if (!c->oom && px__any_none_label(t->md) && file->syntax == NULL)
            file->syntax = px__dup(c, "proto3", 6);
        return;
    }
    Google__Protobuf__EnumDescriptorProto *e = malloc(sizeof *e);
    if (e == NULL) {
        c->oom = 1;
        return;
    }
    google__protobuf__enum_descriptor_proto__init(e);
    int rc = parent ? px__append(c, &parent->n_enum_type, &parent->enum_type, e)
                    : px__append(c, &file->n_enum_type, &file->enum_type, e);
    if (rc != 0) {
        free(e);
        return;
    }
    e->name = px__dup(c, last, strlen(last));
    px__fill_enum(c, t->ed, e);
}

static void px__add_service(px__ctx *c, const ProtobufCServiceDescriptor *sd)
{
    px__pkg *p = px__pkg_of(c, sd->package ? sd->package : "");
    Google__Protobuf__ServiceDescriptorProto *s = p ? malloc(sizeof *s) : NULL;
    if (s == NULL) {
        c->oom = 1;
        return;
    }
    google__protobuf__service_descriptor_proto__init(s);
    if (px__append(c, &p->file->n_service, &p->file->service, s) != 0) {
        free(s);
        return;
    }
    s->name = px__dup(c, sd->short_name, strlen(sd->short_name));
    for (unsigned i = 0; i < sd->n_methods && !c->oom; i++) {
        Google__Protobuf__MethodDescriptorProto *m = malloc(sizeof *m);
        if (m == NULL) {
            c->oom = 1;
            return;
        }
        google__protobuf__method_descriptor_proto__init(m);
        if (px__append(c, &s->n_method, &s->method, m) != 0) {
            free(m);
            return;
        }
        m->name = px__dup(c, sd->methods[i].name, strlen(sd->methods[i].name));
        m->input_type = px__type_name(c, sd->methods[i].input->name);
        m->output_type = px__type_name(c, sd->methods[i].output->name);
    }
}

/* Dependencies first (depth first; a cycle between packages is cut where it closes). */
static void px__emit(px__ctx *c, px__pkg *p, ProtobufCBinaryData *out, size_t *n)
{
    if (p->emitted || p->visiting || c->oom)
        return;
    p->visiting = 1;
    for (size_t i = 0; i < p->file->n_dependency; i++)
        for (size_t k = 0; k < c->n_pkgs; k++)
            if (strcmp(c->pkgs[k].file->name, p->file->dependency[i]) == 0)
                px__emit(c, &c->pkgs[k], out, n);
    p->visiting = 0;
    p->emitted = 1;
    size_t len = protobuf_c_message_get_packed_size(&p->file->base);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        c->oom = 1;
        return;
    }
    protobuf_c_message_pack(&p->file->base, buf);
    out[(*n)++] = (ProtobufCBinaryData){.len = len, .data = buf};
}

px_status px__reflect_files(const ProtobufCServiceDescriptor *sd, ProtobufCBinaryData **files,
                            size_t *n, px_err *err)
{
    px__ctx c = {0};
    *files = NULL;
    *n = 0;
    px__pkg_of(&c, sd->package ? sd->package : ""); /* the service's file comes first here */
    px__collect(&c, sd);
    for (size_t i = 0; i < c.n_types && !c.oom; i++)
        px__place(&c, &c.types[i]);
    if (!c.oom)
        px__add_service(&c, sd);
    ProtobufCBinaryData *out = c.oom ? NULL : calloc(c.n_pkgs ? c.n_pkgs : 1, sizeof *out);
    if (out == NULL)
        c.oom = 1;
    for (size_t i = 0; i < c.n_pkgs && !c.oom; i++)
        px__emit(&c, &c.pkgs[i], out, n);
    for (size_t i = 0; i < c.n_pkgs; i++)
        protobuf_c_message_free_unpacked(&c.pkgs[i].file->base, NULL);
    free(c.pkgs);
    free(c.types);
    if (c.oom) {
        px__reflect_files_free(out, *n);
        *n = 0;
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory describing %s", sd->name);
    }
    *files = out;
    return PX_OK;
}

void px__reflect_files_free(ProtobufCBinaryData *files, size_t n)
{
    for (size_t i = 0; files != NULL && i < n; i++)
        free(files[i].data);
    free(files);
}
