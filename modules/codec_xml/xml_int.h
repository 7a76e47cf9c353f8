/* Internal to codec_xml: value text <-> protobuf-c values, and the encoder and decoder entry points. */
#ifndef PX_CODEC_XML_INT_H
#define PX_CODEC_XML_INT_H

#include <stddef.h>
#include <stdint.h>
#include <libxml/xmlreader.h>
#include <plexus/plexus.h>
#include "px_cu.h"

/* Room for any number this codec prints: "-9223372036854775808", "-1.7976931348623157e+308". */
#define PX__XML_NUM_CAP 40

/** libxml2's one-time global setup, done once per process whatever thread gets here first. */
void px__xml_init(void);

/** A reader over data[0..len): the calling thread's cached one reset, or a new one. NULL: out of memory. */
xmlTextReaderPtr px__xml_reader_open(const uint8_t *data, int len, int options);

/** Done with r: kept for the thread's next document when ok, else (or when len was large) freed. */
void px__xml_reader_close(xmlTextReaderPtr r, int ok, size_t len);

/**
 * The text of one scalar value of type f->type stored at p (not string, bytes or
 * message): decimal integers, shortest round-trip floats with NaN / INF / -INF,
 * true / false, enum names (numbers for values the enum does not name).
 */
void px__xml_format_scalar(const ProtobufCFieldDescriptor *f, const void *p, char buf[PX__XML_NUM_CAP]);

/**
 * Parses the text of one scalar value of f into p. Surrounding XML whitespace is
 * ignored. Returns 0, or -1 with why (a phrase like "'abc' is not an int32").
 */
int px__xml_parse_scalar(const ProtobufCFieldDescriptor *f, const char *text, size_t len, void *p,
                         char *why, size_t why_cap);

/**
 * Checks that s[0..len) is UTF-8 made only of characters XML 1.0 can carry. Returns
 * 0, or -1 with *bad_at (byte offset) and why ("invalid UTF-8", "character U+0001 ...").
 */
int px__xml_check_text(const char *s, size_t len, size_t *bad_at, char *why, size_t why_cap);

/** Appends the XML document of msg to out; err on failure (out unchanged). */
px_status px__xml_encode_message(const ProtobufCMessage *msg, px_buf *out, px_err *err);

/** Decodes an XML document into a message of type desc built from alloc (NULL: malloc);
 *  err on failure, with what was built given back to alloc. */
px_status px__xml_decode_message(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                                 ProtobufCAllocator *alloc, ProtobufCMessage **out, px_err *err);

#endif
