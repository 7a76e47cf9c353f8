/* proto_grpc's request side: nghttp2's callbacks build each stream's call (method,
 * codec, deadline, metadata, one message) and hand it to the core at END_STREAM; an
 * RST_STREAM from the client cancels it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_int.h"

/* Keeps the stream's charge equal to the buffers it holds. */
static void gr_stream_account(gr_stream *s)
{
    int64_t held = (int64_t)(s->meta.cap + (s->body.borrowed ? 0 : s->body.cap));
    px_pconn_charge(s->c->pc, held - s->held);
    s->held = held;
}

void gr_stream_partial(gr_stream *s, int partial)
{
    if ((int)s->partial == partial)
        return;
    s->partial = partial ? 1 : 0;
    gr_conn *c = s->c;
    if (partial ? c->n_partial++ == 0 : --c->n_partial == 0)
        px_pconn_partial(c->pc, partial);
}

/* The request buffers are not needed once the core has the call (or it was refused). */
static void gr_stream_drop_request(gr_stream *s)
{
    px_buf_free(&s->meta);
    px_buf_free(&s->body);
    gr_stream_account(s);
}

void gr_stream_free(gr_stream *s)
{
    gr_conn *c = s->c;
    gr_stream_partial(s, 0);
    gr_stream_drop_request(s);
    gr_free(c, s->reply);
    if (s->prev)
        s->prev->next = s->next;
    else
        c->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (c->hs == s)
        c->hs = NULL;
    gr_free(c, s);
}

/* Records the first thing wrong with the request; it is answered at the end of its
 * headers (or at once, for its message). */
static void gr_bad(gr_stream *s, px_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void gr_bad(gr_stream *s, px_status st, const char *fmt, ...)
{
    if (s->bad_st != PX_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->bad_msg, sizeof s->bad_msg, fmt, ap);
    va_end(ap);
    s->bad_st = st;
}

/* Answers a refused request now: its further DATA is dropped. */
static void gr_refuse(gr_stream *s)
{
    gr_stream_partial(s, 0);
    gr_stream_drop_request(s);
    if (gr_answer_error(s, s->bad_st, 1, s->bad_msg, NULL, 0) != 0)
        gr_fail(s->c, PX_RESOURCE_EXHAUSTED, NGHTTP2_INTERNAL_ERROR, "out of memory");
}

/* A refused request is answered when the client has sent all of it (END_STREAM): an
 * answer that ends the stream while the client still uploads leaves some clients
 * waiting (curl). What it still sends is dropped meanwhile; the read_timeout bounds
 * the wait. A message over max_frame is answered at once instead (gr_on_data). */
static void gr_doom(gr_stream *s)
{
    s->doomed = 1;
    gr_stream_drop_request(s);
}

/* content-type "application/grpc[+subtype][;params]": the codec (proto: protobuf). */
static void gr_content_type(gr_stream *s, const uint8_t *v, size_t len)
{
    static const char base[] = "application/grpc";
    const size_t bl = sizeof base - 1;
    size_t end = 0;
    while (end < len && v[end] != ';')
        end++;
    while (end > 0 && v[end - 1] == ' ')
        end--;
    size_t keep = end < sizeof s->ctype ? end : 0; /* not snprintf: ~670 instructions */
    memcpy(s->ctype, v, keep);
    s->ctype[keep] = 0;
    if (end < bl || memcmp(v, base, bl) != 0 || (end > bl && v[bl] != '+')) {
        s->ctype[0] = 0;
        gr_bad(s, PX_INVALID_ARGUMENT, "content-type '%.*s' is not gRPC's (application/grpc, "
               "application/grpc+proto or application/grpc+json)", (int)(len > 80 ? 80 : len), v);
        return;
    }
    const char *name = "protobuf";
    size_t nl = 8;
    if (end > bl + 1 && !(end - bl - 1 == 5 && memcmp(v + bl + 1, "proto", 5) == 0)) {
        name = (const char *)v + bl + 1;
        nl = end - bl - 1;
    }
    gr_conn *c = s->c;
    if (c->codec && c->codec_name_len == nl && memcmp(c->codec_name, name, nl) == 0) {
        s->codec = c->codec; /* most connections name one codec all along */
        return;
    }
    px_err err;
    px_err_clear(&err);
    s->codec = px_pconn_codec(c->pc, name, nl, &err);
    if (!s->codec) {
        gr_bad(s, err.status != PX_OK ? err.status : PX_UNIMPLEMENTED, "content-type %s: %s",
               s->ctype, err.msg);
        return;
    }
    if (nl < sizeof c->codec_name) {
        memcpy(c->codec_name, name, nl);
        c->codec_name_len = nl;
        c->codec = s->codec;
    }
}

static int gr_on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    gr_conn *c = ud;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    gr_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    c->hs = s;
    if (s) {
        s->trailers = 1; /* a second header block: the client's trailers, unused */
        return 0;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    s = c->hs = gr_calloc(c, sizeof *s);
    if (!s)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    s->c = c;
    s->id = frame->hd.stream_id;
    px_buf_borrow(&s->body, s->body0, sizeof s->body0);
    s->next = c->streams;
    if (c->streams)
        c->streams->prev = s;
    c->streams = s;
    nghttp2_session_set_stream_user_data(session, s->id, s);
    gr_stream_partial(s, 1);
    return 0;
}

static int gr_on_header(nghttp2_session *session, const nghttp2_frame *frame,
                        const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
                        uint8_t flags, void *ud)
{
    gr_conn *c = ud;
    gr_stream *s = c->hs && c->hs->id == frame->hd.stream_id
                       ? c->hs : nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!s)
        return 0;
    /* RFC 9113's measure; a client that passes what we announced is hostile (HPACK bomb) */
    s->hdr_bytes += (uint32_t)(nlen + vlen + 32);
    if (s->hdr_bytes > c->hdr_limit) {
        gr_fail(c, PX_RESOURCE_EXHAUSTED, NGHTTP2_ENHANCE_YOUR_CALM,
                "stream %d from %s: its header list passes %u bytes "
                "(SETTINGS_MAX_HEADER_LIST_SIZE, from limits.max_meta)", s->id,
                px_pconn_peer(c->pc), c->hdr_limit);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (s->trailers || s->bad_st != PX_OK)
        return 0;
    if (nlen == 7 && memcmp(name, ":method", 7) == 0) {
        s->seen_post = vlen == 4 && memcmp(value, "POST", 4) == 0;
        if (!s->seen_post)
            gr_bad(s, PX_UNIMPLEMENTED, "method %.*s: gRPC calls are POST",
                   (int)(vlen > 16 ? 16 : vlen), value);
    } else if (nlen == 5 && memcmp(name, ":path", 5) == 0) {
        if (vlen < 4 || value[0] != '/' || vlen - 1 >= sizeof s->method ||
            !memchr(value + 1, '/', vlen - 1)) {
            gr_bad(s, PX_UNIMPLEMENTED, "path '%.*s' names no method (/package.Service/Method)",
                   (int)(vlen > 80 ? 80 : vlen), value);
            return 0;
        }
        memcpy(s->method, value + 1, vlen - 1);
        s->method_len = vlen - 1;
        s->seen_path = 1;
    } else if (nlen == 12 && memcmp(name, "content-type", 12) == 0) {
        s->seen_ctype = 1;
        gr_content_type(s, value, vlen);
    } else if (nlen == 12 && memcmp(name, "grpc-timeout", 12) == 0) {
        s->timeout_us = gr_timeout_parse(value, vlen);
        if (s->timeout_us < 0)
            gr_bad(s, PX_INVALID_ARGUMENT, "grpc-timeout '%.*s' is not 1 to 8 digits and a "
                   "unit (H M S m u n)", (int)(vlen > 20 ? 20 : vlen), value);
    } else if (!gr_header_reserved(name, nlen)) {
        char why[200];
        px_status st = gr_meta_from_header(&s->meta, name, nlen, value, vlen, why, sizeof why);
        gr_stream_account(s);
        const px_plimits *lim = px_pconn_limits(c->pc);
        if (st != PX_OK)
            gr_bad(s, st, "%s", why);
        else if (s->meta.len > lim->max_meta)
            gr_bad(s, PX_RESOURCE_EXHAUSTED, "request metadata of more than %zu bytes exceeds "
                   "max_meta %llu", s->meta.len, (unsigned long long)lim->max_meta);
    }
    return 0;
}

/* The end of the request's headers: what is wrong with them is answered now. */
static void gr_headers_done(gr_stream *s)
{
    if (s->bad_st == PX_OK && !s->seen_ctype)
        gr_bad(s, PX_INVALID_ARGUMENT, "no content-type: a gRPC request says application/grpc");
    if (s->bad_st == PX_OK && !s->seen_path)
        gr_bad(s, PX_UNIMPLEMENTED, "no :path naming the method");
    if (s->bad_st != PX_OK)
        gr_doom(s);
}

/* The message's size from its 5-byte prefix (the body holds it). */
static uint32_t gr_msg_len(const gr_stream *s)
{
    const uint8_t *p = s->body.data;
    return (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
}

static int gr_on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                      const uint8_t *data, size_t len, void *ud)
{
    gr_conn *c = ud;
    gr_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!s || s->doomed || s->answered || s->dispatched)
        return 0;
    const px_plimits *lim = px_pconn_limits(c->pc);
    while (len > 0 && s->bad_st == PX_OK) {
        size_t want;
        if (s->body.len < GR_MSG_PREFIX) {
            want = GR_MSG_PREFIX - s->body.len;
        } else {
            want = GR_MSG_PREFIX + (size_t)gr_msg_len(s) - s->body.len;
            if (want == 0) {
                gr_bad(s, PX_UNIMPLEMENTED, "%.*s: a second request message on stream %d: "
                       "streaming methods are not supported", (int)s->method_len, s->method, s->id);
                break;
            }
        }
        size_t n = len < want ? len : want;
        if (px_buf_append(&s->body, data, n) != 0) {
            gr_bad(s, PX_RESOURCE_EXHAUSTED, "server out of memory for the request message");
            break;
        }
        data += n;
        len -= n;
        if (s->body.len == GR_MSG_PREFIX) { /* the prefix is complete: check it */
            uint32_t ml = gr_msg_len(s);
            if (s->body.data[0] != 0)
                gr_bad(s, PX_UNIMPLEMENTED, "%.*s: the request message is compressed (flag %u):"
                       " this server supports no grpc-encoding but identity", (int)s->method_len,
                       s->method, s->body.data[0]);
            else if (ml > lim->max_body)
                gr_bad(s, PX_RESOURCE_EXHAUSTED, "%.*s: request message of %u bytes exceeds "
                       "max_frame %llu", (int)s->method_len, s->method, ml,
                       (unsigned long long)lim->max_body);
        }
    }
    gr_stream_account(s);
    if (s->bad_st == PX_RESOURCE_EXHAUSTED)
        gr_refuse(s); /* at once: no use uploading the rest */
    else if (s->bad_st != PX_OK)
        gr_doom(s);
    return px_pconn_more(c->pc) ? 0 : NGHTTP2_ERR_PAUSE;
}

/* The client ended its side: the call goes to the core. */
static void gr_dispatch(gr_stream *s)
{
    gr_stream_partial(s, 0);
    if (s->body.len < GR_MSG_PREFIX || s->body.len < GR_MSG_PREFIX + (size_t)gr_msg_len(s)) {
        if (s->body.len < GR_MSG_PREFIX)
            gr_bad(s, PX_INVALID_ARGUMENT, "%.*s: stream %d ended without a request message",
                   (int)s->method_len, s->method, s->id);
        else
            gr_bad(s, PX_INVALID_ARGUMENT, "%.*s: stream %d ended within its request message "
                   "(%zu of %u bytes)", (int)s->method_len, s->method, s->id,
                   s->body.len - GR_MSG_PREFIX, gr_msg_len(s));
        gr_refuse(s);
        return;
    }
    px_preq q = {
        .id = (uint64_t)s->id,
        .method = s->method,
        .method_len = s->method_len,
        .meta = s->meta.len ? s->meta.data : NULL,
        .meta_len = s->meta.len,
        .body = s->body.data + GR_MSG_PREFIX,
        .body_len = s->body.len - GR_MSG_PREFIX,
        .timeout_us = s->timeout_us,
        .codec = s->codec,
    };
    s->dispatched = 1;
    px_pconn_request(s->c->pc, &q); /* may answer before it returns */
    gr_stream_drop_request(s);
}

static int gr_on_frame(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    gr_conn *c = ud;
    const nghttp2_frame_hd *hd = &frame->hd;
    if (hd->type == NGHTTP2_SETTINGS && !(hd->flags & NGHTTP2_FLAG_ACK)) {
        if (!c->ready) {
            c->ready = 1;
            px_pconn_ready(c->pc); /* the client's preface and SETTINGS: the handshake */
        }
        if (gr_bucket_take(&c->settings) != 0) {
            gr_fail(c, PX_RESOURCE_EXHAUSTED, NGHTTP2_ENHANCE_YOUR_CALM, "SETTINGS flood from "
                    "%s: more than 100 SETTINGS frames, then 10 a second", px_pconn_peer(c->pc));
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        return 0;
    }
    if (hd->type == NGHTTP2_PING && !(hd->flags & NGHTTP2_FLAG_ACK)) {
        if (gr_bucket_take(&c->pings) != 0) {
            gr_fail(c, PX_RESOURCE_EXHAUSTED, NGHTTP2_ENHANCE_YOUR_CALM, "PING flood from %s: "
                    "more than 500 PING frames, then 50 a second", px_pconn_peer(c->pc));
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        return 0;
    }
    if (hd->type == NGHTTP2_RST_STREAM && gr_bucket_take(&c->resets) != 0) {
        gr_fail(c, PX_RESOURCE_EXHAUSTED, NGHTTP2_ENHANCE_YOUR_CALM, "rapid reset from %s "
                "(CVE-2023-44487): more than 1000 RST_STREAM frames, then 33 a second",
                px_pconn_peer(c->pc));
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (hd->type != NGHTTP2_HEADERS && hd->type != NGHTTP2_DATA)
        return 0;
    gr_stream *s = nghttp2_session_get_stream_user_data(session, hd->stream_id);
    if (!s || s->answered || s->dispatched)
        return 0;
    if (hd->type == NGHTTP2_HEADERS && !s->trailers && !s->doomed)
        gr_headers_done(s);
    if (!(hd->flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    if (s->doomed)
        gr_refuse(s);
    else
        gr_dispatch(s);
    return 0;
}

static int gr_on_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *ud)
{
    gr_conn *c = ud;
    gr_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!s)
        return 0;
    if (s->dispatched && !s->answered)
        px_pconn_cancel(c->pc, (uint64_t)stream_id); /* RST_STREAM: the client gave up */
    gr_stream_free(s);
    return 0;
}

void gr_stream_callbacks(nghttp2_session_callbacks *cb)
{
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, gr_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, gr_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, gr_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, gr_on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, gr_on_close);
}
