/* codec_xml encoder: a protobuf-c message to one element per field, written by libxml2's xmlTextWriter. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/xmlwriter.h>
#include "xml_int.h"

typedef struct px__xenc {
    xmlTextWriterPtr w;
    px_cu_path path; /* filled while a failure unwinds */
    char what[256];
    px_status status;
} px__xenc;

static px_status px__xenc_message(px__xenc *c, const ProtobufCMessage *m, int depth);

static px_status px__xenc_fail(px__xenc *c, px_status st, const char *fmt, ...) PX_PRINTF(3, 4);

static px_status px__xenc_fail(px__xenc *c, px_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->what, sizeof c->what, fmt, ap);
    va_end(ap);
    c->status = st;
    return st;
}

/* The writer fails only when our sink does, and the sink fails only when out of memory. */
static px_status px__xenc_wrote(px__xenc *c, int rc)
{
    return rc < 0 ? px__xenc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory writing XML") : PX_OK;
}

/* One value of f stored at p (a member or an array element) as one element. */
static px_status px__xenc_value(px__xenc *c, const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        if (s == NULL)
            s = "";
        size_t bad;
        char why[96];
        /* libxml2 escapes markup but would pass through what XML cannot carry at all. */
        if (px__xml_check_text(s, strlen(s), &bad, why, sizeof why) != 0)
            return px__xenc_fail(c, PX_INVALID_ARGUMENT, "%s at byte %zu of the string", why, bad);
        return px__xenc_wrote(c, xmlTextWriterWriteElement(c->w, BAD_CAST f->name, BAD_CAST s));
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        char *text = px__cu_b64_encode(b->data, b->len, NULL);
        if (text == NULL)
            return px__xenc_fail(c, PX_RESOURCE_EXHAUSTED, "out of memory encoding bytes");
        px_status st = px__xenc_wrote(c, xmlTextWriterWriteElement(c->w, BAD_CAST f->name, BAD_CAST text));
        free(text);
        return st;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub == NULL)
            return px__xenc_fail(c, PX_INVALID_ARGUMENT, "message pointer is NULL");
        px_status st = px__xenc_wrote(c, xmlTextWriterStartElement(c->w, BAD_CAST f->name));
        if (st == PX_OK)
            st = px__xenc_message(c, sub, depth + 1);
        if (st == PX_OK)
            st = px__xenc_wrote(c, xmlTextWriterEndElement(c->w));
        return st;
    }
    default: {
        char num[PX__XML_NUM_CAP];
        px__xml_format_scalar(f, p, num);
        return px__xenc_wrote(c, xmlTextWriterWriteElement(c->w, BAD_CAST f->name, BAD_CAST num));
    }
    }
}

static px_status px__xenc_message(px__xenc *c, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == NULL || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return px__xenc_fail(c, PX_INVALID_ARGUMENT, "not a protobuf-c message (bad descriptor magic)");
    if (depth > PX_CU_MAX_DEPTH)
        return px__xenc_fail(c, PX_INVALID_ARGUMENT, "messages nested deeper than %d", PX_CU_MAX_DEPTH);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *member = (const char *)m + f->offset;
        px_status st;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            if (!px_pb_present(m, f))
                continue;
            if ((st = px__xenc_value(c, f, member, depth)) != PX_OK) {
                px__cu_path_prepend(&c->path, f->name, SIZE_MAX);
                return st;
            }
            continue;
        }
        /* Repeated fields (maps too: entries with <key> and <value>) repeat the element. */
        size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
        const char *arr = *(const char *const *)member;
        size_t size = px_pb_value_size(f->type);
        if (n > 0 && arr == NULL) {
            px__cu_path_prepend(&c->path, f->name, SIZE_MAX);
            return px__xenc_fail(c, PX_INVALID_ARGUMENT, "%zu elements but a NULL array", n);
        }
        for (size_t k = 0; k < n; k++) {
            if ((st = px__xenc_value(c, f, arr + k * size, depth)) != PX_OK) {
                px__cu_path_prepend(&c->path, f->name, k);
                return st;
            }
        }
    }
    return PX_OK;
}

/* libxml2 output sink: straight into the caller's buffer. */
static int px__xenc_sink(void *ctx, const char *buf, int len)
{
    return px_buf_append(ctx, buf, (size_t)len) == 0 ? len : -1;
}

static int px__xenc_close(void *ctx)
{
    (void)ctx;
    return 0;
}

px_status px__xml_encode_message(const ProtobufCMessage *msg, px_buf *out, px_err *err)
{
    px__xml_init();
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    size_t start = out->len;
    px__xenc c; /* the message buffers are filled only on failure: no need to zero them */
    c.path.len = 0;
    c.status = PX_OK;
    xmlOutputBufferPtr ob = xmlOutputBufferCreateIO(px__xenc_sink, px__xenc_close, out, NULL);
    if (ob == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "xml: out of memory encoding %s", d->name);
    if ((c.w = xmlNewTextWriter(ob)) == NULL) {
        xmlOutputBufferClose(ob);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "xml: out of memory encoding %s", d->name);
    }
    /* <?xml version="1.0"?> and the root element named after the message type. */
    px_status st = px__xenc_wrote(&c, xmlTextWriterStartDocument(c.w, NULL, NULL, NULL));
    if (st == PX_OK)
        st = px__xenc_wrote(&c, xmlTextWriterStartElement(c.w, BAD_CAST d->short_name));
    if (st == PX_OK)
        st = px__xenc_message(&c, msg, 1);
    if (st == PX_OK) /* closes the root and flushes into out */
        st = px__xenc_wrote(&c, xmlTextWriterEndDocument(c.w));
    xmlFreeTextWriter(c.w); /* also closes ob */
    if (st == PX_OK)
        return PX_OK;
    out->len = start; /* nothing half-written stays in the caller's buffer */
    if (c.path.len > 0)
        return px_err_set(err, st, "xml: cannot encode %s: field '%s': %s", d->name, c.path.buf, c.what);
    return px_err_set(err, st, "xml: cannot encode %s: %s", d->name, c.what);
}
