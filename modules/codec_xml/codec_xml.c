/* CODEC "xml": one element per field, named after the field, via libxml2 (writer out, reader in). */
#include <pthread.h>
#include <stdlib.h>
#include <libxml/parser.h>
#include "xml_int.h"

/*
 * Each thread keeps its reader between documents: resetting one costs a third of
 * making one. The reader's name dictionary grows with the names it has seen, so it
 * is renewed after PX__XML_READER_USES documents, after a large one and after a
 * failure.
 */
#define PX__XML_READER_USES 64
#define PX__XML_READER_BIG (64 * 1024)

typedef struct px__xml_cached {
    xmlTextReaderPtr reader; /* NULL until the thread's first document */
    unsigned uses;           /* documents it has read */
    int busy;                /* lent out to a decode in progress */
} px__xml_cached;

static pthread_once_t px__xml_once = PTHREAD_ONCE_INIT;
static pthread_key_t px__xml_key;
static int px__xml_have_key;

static void px__xml_drop(void *p)
{
    px__xml_cached *c = p;
    if (c->reader != NULL)
        xmlFreeTextReader(c->reader);
    free(c);
}

static void px__xml_init_once(void)
{
    xmlInitParser(); /* must run before threads use the parser */
    /* The key's destructor lives in this module: it is linked -z nodelete (CMakeLists). */
    px__xml_have_key = pthread_key_create(&px__xml_key, px__xml_drop) == 0;
}

void px__xml_init(void)
{
    pthread_once(&px__xml_once, px__xml_init_once);
}

static px__xml_cached *px__xml_cache(void)
{
    if (!px__xml_have_key)
        return NULL;
    px__xml_cached *c = pthread_getspecific(px__xml_key);
    if (c == NULL && (c = calloc(1, sizeof *c)) != NULL && pthread_setspecific(px__xml_key, c) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

xmlTextReaderPtr px__xml_reader_open(const uint8_t *data, int len, int options)
{
    px__xml_init();
    px__xml_cached *c = px__xml_cache();
    if (c == NULL || c->busy)
        return xmlReaderForMemory((const char *)data, len, NULL, NULL, options);
    if (c->reader != NULL && c->uses < PX__XML_READER_USES &&
        xmlReaderNewMemory(c->reader, (const char *)data, len, NULL, NULL, options) == 0) {
        c->uses++;
        c->busy = 1;
        return c->reader;
    }
    if (c->reader != NULL)
        xmlFreeTextReader(c->reader);
    c->reader = xmlReaderForMemory((const char *)data, len, NULL, NULL, options);
    c->uses = 1;
    c->busy = c->reader != NULL;
    return c->reader;
}

void px__xml_reader_close(xmlTextReaderPtr r, int ok, size_t len)
{
    px__xml_cached *c = px__xml_have_key ? pthread_getspecific(px__xml_key) : NULL;
    if (c == NULL || c->reader != r) {
        xmlFreeTextReader(r);
        return;
    }
    c->busy = 0;
    if (!ok || len >= PX__XML_READER_BIG) {
        xmlFreeTextReader(r);
        c->reader = NULL;
    }
}

static px_status px__xml_encode(void *state, const ProtobufCMessage *msg, px_buf *out, px_err *err)
{
    (void)state;
    px_err local;
    if (err == NULL)
        err = &local;
    if (px__cu_check_encode("xml", msg, err) != PX_OK)
        return err->status;
    return px__xml_encode_message(msg, out, err);
}

static px_status px__xml_decode_with(void *state, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                                     size_t len, ProtobufCAllocator *alloc, ProtobufCMessage **out, px_err *err)
{
    (void)state;
    px_err local;
    if (err == NULL)
        err = &local;
    *out = NULL;
    if (px__cu_check_decode("xml", desc, err) != PX_OK)
        return err->status;
    return px__xml_decode_message(desc, data, len, alloc, out, err);
}

/* NULL allocator: malloc / free, as protobuf_c_message_free_unpacked(msg, NULL) expects. */
static px_status px__xml_decode(void *state, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                                size_t len, ProtobufCMessage **out, px_err *err)
{
    return px__xml_decode_with(state, desc, data, len, NULL, out, err);
}

static const px_codec_ops px__xml_ops = {
    .content_type = "application/xml",
    .encode = px__xml_encode,
    .decode = px__xml_decode,
    .decode_with = px__xml_decode_with,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_CODEC,
    .name = "xml",
    .version = "1.0.0",
    .description = "one XML element per field (libxml2)",
    .ops = &px__xml_ops,
};
