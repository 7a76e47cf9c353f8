/* The client side of the native protocol, one layer for the async client, the blocking
 * client and the health probe: the frames a client sends, and what a frame from a
 * server means to a client (the only place that decodes an ERROR's status). */
#ifndef PX_NATIVE_CLIENT_H
#define PX_NATIVE_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "plexus/px_protocol.h"
#include "px_frame.h"

/* ---- frames a client sends ------------------------------------------------ */

/** Appends the HELLO that opens a connection, asking for codec. 0, or -1 on OOM. */
int px_nc_hello(px_buf *out, const char *codec);

/**
 * A REQUEST's deadline_ms: the time the call has left (left_us, may be <= 0),
 * rounded up to whole ms (the server must never give up before the client does) and
 * at least 1; 0 when the call has no deadline. Inline: every call of the async
 * client's hot path frames a request.
 */
static inline uint32_t px_nc_deadline_ms(int has_deadline, int64_t left_us)
{
    if (!has_deadline)
        return 0;
    if (left_us <= 1000)
        return 1;
    if (left_us > (int64_t)UINT32_MAX * 1000) /* 49 days: the field's limit */
        return UINT32_MAX;
    return (uint32_t)((left_us + 999) / 1000);
}

/** What a REQUEST says besides its body. */
typedef struct px_nc_request {
    uint64_t id;          /* nonzero, unique among the connection's calls in flight */
    uint32_t deadline_ms; /* px_nc_deadline_ms */
    const char *method;   /* "package.Service/Method", method_len bytes */
    uint16_t method_len;
    const uint8_t *meta;  /* the metadata section; NULL with meta_len 0 for none */
    uint32_t meta_len;
} px_nc_request;

/** Appends a whole REQUEST frame carrying body. 0, or -1 on OOM (out unchanged). */
static inline int px_nc_request_append(px_buf *out, const px_nc_request *r,
                                       const uint8_t *body, size_t body_len)
{
    px_frame f = {.type = PX_FRAME_REQUEST, .id = r->id, .deadline_ms = r->deadline_ms,
                  .method = (const uint8_t *)r->method, .method_len = r->method_len,
                  .meta = r->meta, .meta_len = r->meta_len, .body = body,
                  .body_len = (uint32_t)body_len};
    return px_frame_append(out, &f); /* px_frame_begin, the body, px_frame_end */
}
/** Appends a CANCEL for id: the client gave up on that call. 0, or -1 on OOM. */
int px_nc_cancel(px_buf *out, uint64_t id);
/** Appends a PING with id (a health probe). 0, or -1 on OOM. */
int px_nc_ping(px_buf *out, uint64_t id);

/* ---- frames a client receives ---------------------------------------------- */

/* An ERROR's status as the client reports it: the codes of PROTOCOL.md 6.2; 0 (an
 * ERROR that claims success) and numbers this side does not know are UNKNOWN. The one
 * place a status off the wire is decoded. */
static inline px_status px__nc_status(uint16_t wire)
{
    return wire > 0 && wire < PX_STATUS_COUNT ? (px_status)wire : PX_UNKNOWN;
}

/**
 * What f means to a client: fills *m and returns m->kind. The one classifier of the
 * async client, the blocking client and the probe; inline, so that a RESPONSE on the
 * async client's hot path costs only the fields it reads.
 */
static inline px_cmsg_kind px_nc_classify(const px_frame *f, px_cmsg *m)
{
    m->type = f->type;
    m->id = f->id;
    m->status = PX_OK;
    m->not_executed = 0;
    m->body = f->body;
    m->body_len = f->body_len;
    m->meta = f->meta;
    m->meta_len = f->meta_len;
    m->max_inflight = 0;
    switch (f->type) {
    case PX_FRAME_RESPONSE:
        return m->kind = PX_CMSG_REPLY;
    case PX_FRAME_ERROR:
        m->status = px__nc_status(f->status);
        if (f->id == 0)
            return m->kind = PX_CMSG_CONN_ERROR;
        m->not_executed = (f->flags & PX_FRAME_F_NOT_EXECUTED) != 0;
        return m->kind = PX_CMSG_ERROR;
    case PX_FRAME_GOAWAY:
        if (f->status != 0) { /* a refused connection: nothing sent on it ran */
            m->status = px__nc_status(f->status);
            m->not_executed = 1;
        }
        return m->kind = PX_CMSG_GOAWAY;
    case PX_FRAME_HELLO:
        /* The server's limit (0 from a server that does not announce it, §4). */
        m->max_inflight = f->deadline_ms;
        return m->kind = PX_CMSG_READY;
    case PX_FRAME_PONG:
        return m->kind = PX_CMSG_PONG;
    default:
        return m->kind = PX_CMSG_UNEXPECTED;
    }
}

/**
 * The error a non-REPLY message ends a call or a connection with, worded the same by
 * every client: ERROR "text"; CONN_ERROR "PEER: text"; a refusing GOAWAY "PEER
 * refused the connection: text"; UNEXPECTED "protocol error: unexpected PING frame
 * from PEER" (INTERNAL). Returns the status set (PX_OK for REPLY, HELLO, PONG and a
 * plain GOAWAY, with err untouched).
 */
px_status px_cmsg_err(const px_cmsg *m, const char *peer, px_err *err);

/**
 * The server's HELLO must echo the codec asked for. PX_OK, or INTERNAL
 * ("protocol error: PEER answered HELLO with codec 'x', not 'protobuf'") in err.
 */
px_status px_cmsg_ready_check(const px_cmsg *m, const char *codec, const char *peer,
                            px_err *err);

#endif
