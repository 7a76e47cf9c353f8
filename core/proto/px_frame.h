/* The native wire frame: a 32-byte big-endian header, then method, metadata, body. */
#ifndef PX_FRAME_H
#define PX_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "plexus/px_buf.h"
#include "plexus/px_status.h"

/*
 * Header layout (docs/PROTOCOL.md is the normative text):
 *   off len field
 *    0   2  magic        0x50 0x58 ("PX")
 *    2   1  version      1
 *    3   1  type         px_frame_type
 *    4   2  flags        PX_FRAME_F_* bits; 0 unless stated
 *    6   2  status       px_status of an ERROR frame, else 0
 *    8   8  request_id   chosen by the client, echoed by the server
 *   16   4  deadline_ms  REQUEST: remaining budget in ms, 0 = none; server HELLO:
 *                        max_inflight, 0 = not announced
 *   20   2  method_len   REQUEST: bytes of "package.Service/Method", else 0
 *   22   2  reserved     0
 *   24   4  meta_len     bytes of metadata after the method
 *   28   4  body_len     bytes of body after the metadata
 */
#define PX_FRAME_HEADER_SIZE 32
#define PX_FRAME_MAGIC 0x5058u
#define PX_FRAME_VERSION 1
#define PX_FRAME_MAX_METHOD 256

/* ERROR flag: the server did not run the request (it refused it before any handler
 * started: shutting down, over a limit or budget), so the client may send it to
 * another server whatever its idempotency. */
#define PX_FRAME_F_NOT_EXECUTED 0x0001

typedef enum px_frame_type {
    PX_FRAME_HELLO = 1,    /* client: body = codec name; server: body = accepted codec */
    PX_FRAME_REQUEST = 2,  /* method + body = encoded request */
    PX_FRAME_RESPONSE = 3, /* body = encoded reply */
    PX_FRAME_ERROR = 4,    /* status != 0, body = UTF-8 message; id 0 = the connection */
    PX_FRAME_PING = 5,
    PX_FRAME_PONG = 6,     /* echoes the PING's id */
    PX_FRAME_CANCEL = 7,   /* client gives up on request_id; no answer */
    PX_FRAME_GOAWAY = 8,   /* server: no new requests; body = reason */
} px_frame_type;

typedef struct px_frame {
    uint8_t type;
    uint16_t flags;
    uint16_t status;
    uint64_t id;
    uint32_t deadline_ms; /* a server HELLO: its max_inflight (0: not announced) */
    uint16_t method_len;
    uint32_t meta_len;
    uint32_t body_len;
    const uint8_t *method; /* points into the parsed buffer */
    const uint8_t *meta;
    const uint8_t *body;
} px_frame;

/** "HELLO", "REQUEST", ...; "UNKNOWN" otherwise. */
const char *px_frame_type_name(unsigned type);

typedef enum px_parse_result {
    PX_PARSE_OK = 0,       /* *f holds a frame of *used bytes */
    PX_PARSE_NEED_MORE = 1,/* not a whole frame yet */
    PX_PARSE_ERROR = -1,   /* err says what; the stream cannot be resynchronised */
} px_parse_result;

/**
 * Parses one frame from buf[0..len). Lengths are checked against max_meta and
 * max_body as soon as the header is complete, before the caller buffers more.
 */
px_parse_result px_frame_parse(const uint8_t *buf, size_t len, uint64_t max_meta,
                               uint64_t max_body, px_frame *f, size_t *used,
                               px_err *err);

/**
 * The length of the frame buf starts with, once its 32-byte header is in (0 before):
 * for a frame px_frame_parse has already found incomplete, so its lengths are checked.
 */
size_t px_frame_total(const uint8_t *buf, size_t len);

/**
 * The type of the frame buf starts with, once its magic and type bytes are in; 0
 * before, or when buf does not start a frame. A look at what waits on a socket
 * (MSG_PEEK), not a parse: nothing else is checked.
 */
unsigned px_frame_peek_type(const uint8_t *buf, size_t len);

/** Appends a whole frame (header + method + meta + body) to out. 0, or -1 on OOM. */
int px_frame_append(px_buf *out, const px_frame *f);

/**
 * Zero-copy framing: px_frame_begin appends the header and method (body_len 0),
 * the caller appends the body (e.g. a codec encodes into out), px_frame_end
 * patches body_len. Returns the header offset, or (size_t)-1 on OOM.
 */
size_t px_frame_begin(px_buf *out, const px_frame *f);
uint32_t px_frame_end(px_buf *out, size_t header_off); /* returns body_len */

/** Appends an ERROR frame for id with status and a message. 0, or -1 on OOM. */
int px_frame_append_error(px_buf *out, uint64_t id, px_status st, const char *msg);

#endif
