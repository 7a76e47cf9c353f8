/* codec_xml decoder: libxml2's xmlTextReader streams the elements; no DTD, no entities, no network. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/xmlreader.h>
#include "xml_int.h"

typedef struct px__xdec {
    xmlTextReaderPtr r;        /* libxml2's state: working memory on its own malloc */
    ProtobufCAllocator *alloc; /* every byte of the message comes from it (NULL: malloc) */
    px_buf text;               /* the current scalar's text, NUL-terminated: working memory too */
    px_cu_path path; /* filled while a failure unwinds */
    char what[400];
    px_status status;
    int syntax;          /* the failure is malformed XML: libxml2 reads ahead, so no field is to blame */
    char parse_err[300]; /* libxml2's complaint, when it had one */
    int parse_err_level; /* its xmlErrorLevel */
} px__xdec;

static px_status px__xdec_message(px__xdec *c, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                                  int depth, int empty);

static px_status px__xdec_fail(px__xdec *c, const char *fmt, ...) PX_PRINTF(2, 3);

/* Records what went wrong, prefixed with the line the parser is on. */
static px_status px__xdec_fail(px__xdec *c, const char *fmt, ...)
{
    int n = snprintf(c->what, sizeof c->what, "line %d: ", xmlTextReaderGetParserLineNumber(c->r));
    if (n < 0 || (size_t)n >= sizeof c->what)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->what + n, sizeof c->what - (size_t)n, fmt, ap);
    va_end(ap);
    c->status = PX_INVALID_ARGUMENT;
    return PX_INVALID_ARGUMENT;
}

/* An allocation failed: out of memory, or out of the budget of the caller's allocator. */
static px_status px__xdec_oom(px__xdec *c)
{
    snprintf(c->what, sizeof c->what, "out of memory");
    c->status = PX_RESOURCE_EXHAUSTED;
    return PX_RESOURCE_EXHAUSTED;
}

/* libxml2 reports errors here instead of stderr. The first fatal one is the cause of a
 * failed read; a recoverable one (a namespace slip) is kept only until a fatal one comes. */
static void px__xdec_error(void *ctx, xmlErrorPtr e)
{
    px__xdec *c = ctx;
    if (e == NULL || e->level < XML_ERR_ERROR || c->parse_err_level == XML_ERR_FATAL ||
        (c->parse_err[0] != '\0' && e->level != XML_ERR_FATAL))
        return;
    c->parse_err_level = e->level;
    snprintf(c->parse_err, sizeof c->parse_err, "line %d column %d: %s", e->line, e->int2,
             e->message != NULL ? e->message : "malformed XML");
    size_t n = strlen(c->parse_err);
    while (n > 0 && (c->parse_err[n - 1] == '\n' || c->parse_err[n - 1] == ' '))
        c->parse_err[--n] = '\0';
}

/* The reader failed: say why, in libxml2's words when it gave any. */
static px_status px__xdec_broken(px__xdec *c)
{
    c->syntax = 1;
    if (c->parse_err[0] == '\0')
        return px__xdec_fail(c, "malformed XML");
    snprintf(c->what, sizeof c->what, "malformed XML: %s", c->parse_err);
    c->status = PX_INVALID_ARGUMENT;
    return PX_INVALID_ARGUMENT;
}

/* The next node; the end of input is an error here, since `where` is still open. */
static px_status px__xdec_next(px__xdec *c, const char *where)
{
    int rc = xmlTextReaderRead(c->r);
    if (rc == 1)
        return PX_OK;
    if (rc == 0)
        return px__xdec_fail(c, "the document ends inside %s", where);
    return px__xdec_broken(c);
}

static const char *px__node_kind(int type)
{
    switch (type) {
    case XML_READER_TYPE_DOCUMENT_TYPE:
        return "a DOCTYPE (DTDs are not accepted)";
    case XML_READER_TYPE_ENTITY_REFERENCE:
    case XML_READER_TYPE_ENTITY:
        return "an entity reference (entities are not accepted)";
    default:
        return "an unexpected node";
    }
}

static int px__all_space(const xmlChar *s)
{
    for (; *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

/* Skips an element this message type does not have, with everything inside it. */
static px_status px__xdec_skip(px__xdec *c, int empty)
{
    if (empty)
        return PX_OK;
    int depth = xmlTextReaderDepth(c->r);
    for (;;) {
        px_status st = px__xdec_next(c, "an unknown element");
        if (st != PX_OK)
            return st;
        int type = xmlTextReaderNodeType(c->r);
        if (type == XML_READER_TYPE_END_ELEMENT && xmlTextReaderDepth(c->r) == depth)
            return PX_OK;
        if (type == XML_READER_TYPE_DOCUMENT_TYPE || type == XML_READER_TYPE_ENTITY_REFERENCE)
            return px__xdec_fail(c, "%s", px__node_kind(type));
    }
}

/* The text of a scalar element up to its end tag, into c->text (text and CDATA pieces joined). */
static px_status px__xdec_text(px__xdec *c, const ProtobufCFieldDescriptor *f, int empty)
{
    c->text.len = 0;
    while (!empty) {
        px_status st = px__xdec_next(c, f->name);
        if (st != PX_OK)
            return st;
        int type = xmlTextReaderNodeType(c->r);
        if (type == XML_READER_TYPE_END_ELEMENT)
            break;
        switch (type) {
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_CDATA:
        case XML_READER_TYPE_WHITESPACE:
        case XML_READER_TYPE_SIGNIFICANT_WHITESPACE: {
            const xmlChar *v = xmlTextReaderConstValue(c->r);
            if (v != NULL && px_buf_append(&c->text, v, strlen((const char *)v)) != 0)
                return px__xdec_oom(c);
            break;
        }
        case XML_READER_TYPE_COMMENT:
        case XML_READER_TYPE_PROCESSING_INSTRUCTION:
            break;
        case XML_READER_TYPE_ELEMENT:
            return px__xdec_fail(c, "element <%.60s> inside a %s value (only text is allowed)",
                                 (const char *)xmlTextReaderConstName(c->r),
                                 f->type == PROTOBUF_C_TYPE_STRING ? "string" : "scalar");
        default:
            return px__xdec_fail(c, "%s", px__node_kind(type));
        }
    }
    if (px_buf_append(&c->text, "", 1) != 0) /* NUL-terminated, the NUL not counted */
        return px__xdec_oom(c);
    c->text.len--;
    return PX_OK;
}

/* One value of f (a singular member or one repeated element) from the element just read, into p. */
static px_status px__xdec_value(px__xdec *c, const ProtobufCFieldDescriptor *f, void *p, int depth, int empty)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (depth >= PX_CU_MAX_DEPTH)
            return px__xdec_fail(c, "messages nested deeper than %d", PX_CU_MAX_DEPTH);
        const ProtobufCMessageDescriptor *sd = f->descriptor;
        ProtobufCMessage *sub = px__cu_msg_new(sd, c->alloc);
        if (sub == NULL)
            return px__xdec_oom(c);
        px_status st = px__xdec_message(c, sd, sub, depth + 1, empty);
        if (st != PX_OK) {
            protobuf_c_message_free_unpacked(sub, c->alloc);
            return st;
        }
        *(ProtobufCMessage **)p = sub;
        return PX_OK;
    }
    px_status st = px__xdec_text(c, f, empty);
    if (st != PX_OK)
        return st;
    char *text = (char *)c->text.data;
    size_t len = c->text.len;
    if (f->type == PROTOBUF_C_TYPE_STRING) { /* XML cannot hold NUL, so the copy is whole */
        char *s = px__cu_strdup(c->alloc, text, len);
        if (s == NULL)
            return px__xdec_oom(c);
        *(char **)p = s;
        return PX_OK;
    }
    if (f->type == PROTOBUF_C_TYPE_BYTES) {
        size_t n = 0; /* base64 may be wrapped over lines: drop the whitespace */
        for (size_t i = 0; i < len; i++)
            if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
                text[n++] = text[i];
        ProtobufCBinaryData *b = p;
        size_t bad;
        int rc = px__cu_b64_decode(text, n, c->alloc, &b->data, &b->len, &bad);
        if (rc == -1)
            return px__xdec_oom(c);
        if (rc == -2)
            return px__xdec_fail(c, "invalid base64 at character %zu", bad);
        return PX_OK;
    }
    char why[200];
    if (px__xml_parse_scalar(f, text, len, p, why, sizeof why) != 0)
        return px__xdec_fail(c, "%s", why);
    return PX_OK;
}

static px_status px__xdec_field(px__xdec *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                int depth, int empty)
{
    px_status st;
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        void *p = px__cu_singular_begin(m, f, c->alloc); /* a field given twice: the last wins */
        if ((st = px__xdec_value(c, f, p, depth, empty)) == PX_OK)
            px_pb_mark_set(m, f);
        else if (!c->syntax)
            px__cu_path_prepend(&c->path, f->name, SIZE_MAX);
        return st;
    }
    void *slot = px__cu_repeated_room(m, f, 1, c->alloc);
    if (slot == NULL)
        return px__xdec_oom(c);
    if ((st = px__xdec_value(c, f, slot, depth, empty)) != PX_OK) {
        if (!c->syntax)
            px__cu_path_prepend(&c->path, f->name, *(size_t *)((char *)m + f->quantifier_offset));
        return st;
    }
    px__cu_repeated_added(m, f, 1);
    return PX_OK;
}

/* Field elements come in field order from our encoder: try the one after the last first. */
static const ProtobufCFieldDescriptor *px__xdec_find(const ProtobufCMessageDescriptor *d, const char *name,
                                                    unsigned *hint)
{
    unsigned h = *hint;
    if (h < d->n_fields && strcmp(d->fields[h].name, name) == 0) {
        *hint = h + 1;
        return &d->fields[h];
    }
    if (h > 0 && strcmp(d->fields[h - 1].name, name) == 0) /* the next element of a repeated field */
        return &d->fields[h - 1];
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
    if (f != NULL)
        *hint = (unsigned)(f - d->fields) + 1;
    return f;
}

/* The children of a message element, up to its end tag. */
static px_status px__xdec_message(px__xdec *c, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                                  int depth, int empty)
{
    unsigned hint = 0;
    while (!empty) {
        px_status st = px__xdec_next(c, d->short_name);
        if (st != PX_OK)
            return st;
        int type = xmlTextReaderNodeType(c->r);
        switch (type) {
        case XML_READER_TYPE_ELEMENT: {
            const char *name = (const char *)xmlTextReaderConstName(c->r);
            int child_empty = xmlTextReaderIsEmptyElement(c->r) == 1;
            const ProtobufCFieldDescriptor *f = px__xdec_find(d, name, &hint);
            st = f != NULL ? px__xdec_field(c, m, f, depth, child_empty) : px__xdec_skip(c, child_empty);
            if (st != PX_OK)
                return st;
            break;
        }
        case XML_READER_TYPE_END_ELEMENT:
            return PX_OK;
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_CDATA: {
            const xmlChar *v = xmlTextReaderConstValue(c->r);
            if (v != NULL && !px__all_space(v))
                return px__xdec_fail(c, "text '%.40s' inside <%s>, which holds only field elements",
                                     (const char *)v, d->short_name);
            break;
        }
        case XML_READER_TYPE_WHITESPACE:
        case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
        case XML_READER_TYPE_COMMENT:
        case XML_READER_TYPE_PROCESSING_INSTRUCTION:
            break; /* indentation and remarks between fields */
        default:
            return px__xdec_fail(c, "%s", px__node_kind(type));
        }
    }
    return PX_OK;
}

/* Prolog, the root element named after the message type, and nothing but remarks after it. */
static px_status px__xdec_document(px__xdec *c, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    px_status st;
    for (;;) {
        if ((st = px__xdec_next(c, "the prolog (no root element)")) != PX_OK)
            return st;
        int type = xmlTextReaderNodeType(c->r);
        if (type == XML_READER_TYPE_ELEMENT)
            break;
        if (type != XML_READER_TYPE_COMMENT && type != XML_READER_TYPE_PROCESSING_INSTRUCTION &&
            type != XML_READER_TYPE_WHITESPACE && type != XML_READER_TYPE_SIGNIFICANT_WHITESPACE)
            return px__xdec_fail(c, "%s", px__node_kind(type));
    }
    const char *root = (const char *)xmlTextReaderConstName(c->r);
    if (strcmp(root, desc->short_name) != 0)
        return px__xdec_fail(c, "root element <%.60s> is not <%s>", root, desc->short_name);
    ProtobufCMessage *m = px__cu_msg_new(desc, c->alloc);
    if (m == NULL)
        return px__xdec_oom(c);
    st = px__xdec_message(c, desc, m, 1, xmlTextReaderIsEmptyElement(c->r) == 1);
    /* Read to the end: libxml2 reports content after the root only when it gets there. */
    while (st == PX_OK) {
        int rc = xmlTextReaderRead(c->r);
        if (rc == 0)
            break;
        if (rc < 0) {
            st = px__xdec_broken(c);
            break;
        }
        int type = xmlTextReaderNodeType(c->r);
        if (type == XML_READER_TYPE_DOCUMENT_TYPE || type == XML_READER_TYPE_ENTITY_REFERENCE)
            st = px__xdec_fail(c, "%s", px__node_kind(type));
    }
    if (st != PX_OK) {
        protobuf_c_message_free_unpacked(m, c->alloc);
        return st;
    }
    *out = m;
    return PX_OK;
}

px_status px__xml_decode_message(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                                 ProtobufCAllocator *alloc, ProtobufCMessage **out, px_err *err)
{
    if (len == 0 || data == NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT, "xml: cannot decode %s: empty document", desc->name);
    if (len > INT_MAX)
        return px_err_set(err, PX_INVALID_ARGUMENT, "xml: cannot decode %s: %zu bytes is more than libxml2 takes",
                          desc->name, len);
    px__xdec c; /* the message buffers are filled only on failure: no need to zero them */
    c.alloc = alloc;
    c.text = (px_buf){ 0 };
    c.path.len = 0;
    c.status = PX_OK;
    c.syntax = 0;
    c.parse_err[0] = '\0';
    c.parse_err_level = XML_ERR_NONE;
    /* NONET: no network fetches. No NOENT and no DTDLOAD: entities stay unexpanded and
     * no external DTD is read (and a DOCTYPE is refused outright). */
    c.r = px__xml_reader_open(data, (int)len, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (c.r == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "xml: out of memory decoding %s", desc->name);
    xmlTextReaderSetStructuredErrorHandler(c.r, px__xdec_error, &c);
    px_status st = px__xdec_document(&c, desc, out);
    px__xml_reader_close(c.r, st == PX_OK, len);
    px_buf_free(&c.text);
    if (st == PX_OK)
        return PX_OK;
    if (c.path.len > 0)
        return px_err_set(err, st, "xml: cannot decode %s: field '%s': %s", desc->name, c.path.buf, c.what);
    return px_err_set(err, st, "xml: cannot decode %s: %s", desc->name, c.what);
}
