/* proto_grpc's answers: HEADERS (response metadata), one DATA message, trailers
 * grpc-status 0; or one trailers-only HEADERS with grpc-status and grpc-message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_int.h"

/* What reply_begin puts before the body (the core's out, rewritten by reply_end): the
 * call's id and its response metadata, so that reply_begin changes no state. */
typedef struct gr_mark {
    uint64_t id;
    uint32_t meta_len;
} gr_mark;

#define GR_NV(n, v, vl) \
    ((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NONE})

static gr_stream *gr_find(gr_conn *c, uint64_t id)
{
    if (id == 0 || id > INT32_MAX)
        return NULL;
    return nghttp2_session_get_stream_user_data(c->s, (int32_t)id);
}

static const char *gr_ctype(const gr_stream *s)
{
    return s->ctype[0] ? s->ctype : "application/grpc";
}

/* Submits a response on s: the fixed headers then the metadata in meta (§2.3 encoding,
 * as the core checked it; -bin values base64, transport names skipped), with prd (NULL:
 * the headers end the stream). 0, or -1 (out of memory). */
static int gr_submit(gr_stream *s, const nghttp2_nv *fixed, size_t nfixed, const uint8_t *meta,
                     size_t meta_len, const nghttp2_data_provider *prd)
{
    size_t n = gr_meta_count(meta, meta_len);
    gr_conn *c = s->c;
    /* Most answers carry no metadata: their headers fit on the stack, no allocation. */
    nghttp2_nv local[8];
    int heap = nfixed + n > sizeof local / sizeof local[0];
    nghttp2_nv *nva = heap ? gr_malloc(c, (nfixed + n) * sizeof *nva) : local;
    char **b64 = n ? gr_calloc(c, n * sizeof *b64) : NULL;
    if (!nva || (n && !b64)) {
        if (heap)
            gr_free(c, nva);
        gr_free(c, b64);
        return -1;
    }
    memcpy(nva, fixed, nfixed * sizeof *nva);
    size_t k = nfixed, nb = 0;
    int rc = gr_meta_to_nv(meta, meta_len, nva, &k, b64, &nb);
    if (rc == 0) /* nghttp2 copies the headers */
        rc = nghttp2_submit_response(c->s, s->id, nva, k, prd) == 0 ? 0 : -1;
    for (size_t i = 0; i < nb; i++)
        free(b64[i]);
    gr_free(c, b64);
    if (heap)
        gr_free(c, nva);
    if (rc == 0)
        s->answered = 1;
    return rc;
}

int gr_answer_error(gr_stream *s, px_status st, int not_executed, const char *msg,
                    const uint8_t *meta, size_t meta_len)
{
    char status[12], pct[600];
    int sl = snprintf(status, sizeof status, "%d", (int)st);
    size_t pl = gr_percent_encode(msg ? msg : "", pct, sizeof pct);
    const char *ct = gr_ctype(s);
    nghttp2_nv fixed[5] = {
        GR_NV(":status", "200", 3),
        GR_NV("content-type", ct, strlen(ct)),
        GR_NV("grpc-status", status, (size_t)sl),
        GR_NV("grpc-message", pct, pl),
        GR_NV("px-not-executed", "1", 1), /* it never ran: safe to send elsewhere */
    };
    s->refused = 1; /* whatever DATA still comes is dropped */
    gr_stream_partial(s, 0);
    return gr_submit(s, fixed, not_executed ? 5 : 4, meta, meta_len, NULL);
}

size_t gr_reply_begin(void *cs, px_buf *out, uint64_t id, const uint8_t *meta, size_t meta_len)
{
    (void)cs;
    size_t mark = out->len;
    gr_mark m = {id, (uint32_t)meta_len};
    if (px_buf_reserve(out, sizeof m + meta_len) != 0)
        return SIZE_MAX;
    px_buf_append(out, &m, sizeof m);
    if (meta_len)
        px_buf_append(out, meta, meta_len);
    return mark;
}

/* nghttp2 reads the reply as the DATA source; at its end come the trailers. */
static ssize_t gr_read_reply(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                             size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                             void *ud)
{
    gr_stream *s = source->ptr;
    size_t n = gr_take(buf, length, s->reply, s->reply_len, &s->reply_off);
    if (s->reply_off == s->reply_len) {
        static const nghttp2_nv ok[] = {GR_NV("grpc-status", "0", 1)};
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(session, stream_id, ok, 1) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        gr_free(s->c, s->reply);
        s->reply = NULL;
    }
    return (ssize_t)n;
}

size_t gr_reply_end(void *cs, px_buf *out, size_t mark)
{
    gr_conn *c = cs;
    gr_mark m;
    memcpy(&m, out->data + mark, sizeof m);
    const uint8_t *meta = out->data + mark + sizeof m, *body = meta + m.meta_len;
    size_t blen = out->len - mark - sizeof m - m.meta_len;
    gr_stream *s = gr_find(c, m.id);
    if (!s || s->answered || s->refused) {
        out->len = mark; /* cancelled (RST_STREAM) or closed: nobody to answer */
        return blen;
    }
    s->reply = gr_malloc(c, GR_MSG_PREFIX + blen);
    if (s->reply) {
        s->reply[0] = 0; /* not compressed */
        s->reply[1] = (uint8_t)(blen >> 24), s->reply[2] = (uint8_t)(blen >> 16);
        s->reply[3] = (uint8_t)(blen >> 8), s->reply[4] = (uint8_t)blen;
        memcpy(s->reply + GR_MSG_PREFIX, body, blen);
        s->reply_len = GR_MSG_PREFIX + blen;
        s->reply_off = 0;
    }
    const char *ct = gr_ctype(s);
    nghttp2_nv fixed[] = {GR_NV(":status", "200", 3), GR_NV("content-type", ct, strlen(ct))};
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = gr_read_reply};
    int rc = s->reply ? gr_submit(s, fixed, 2, meta, m.meta_len, &prd) : -1;
    /* the metadata is copied by nghttp2 before out is cut */
    out->len = mark;
    if (rc != 0) {
        gr_free(c, s->reply);
        s->reply = NULL;
        if (gr_answer_error(s, PX_RESOURCE_EXHAUSTED, 0, "server out of memory for the reply",
                            NULL, 0) != 0)
            gr_fail(c, PX_RESOURCE_EXHAUSTED, NGHTTP2_INTERNAL_ERROR, "out of memory");
    }
    c->last_end_id = m.id;
    gr_flush(c, out);
    return blen;
}

/* The core cut out what reply_end appended for id (over the memory budget) and fails
 * the call: nghttp2 believes it sent frames the peer never gets. HPACK has no dynamic
 * table (grpc_conn.c), so only the stream is lost: it is reset ENHANCE_YOUR_CALM
 * (RESOURCE_EXHAUSTED to gRPC clients). */
static int gr_reset_cut(gr_conn *c, px_buf *out, uint64_t id, gr_stream *s)
{
    if (s) { /* still open: nghttp2 must send nothing more on it */
        nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_ENHANCE_YOUR_CALM);
        gr_flush(c, out);
        return 0;
    }
    /* nghttp2 closed it already: the RST_STREAM by hand */
    uint8_t f[13] = {0, 0, 4, NGHTTP2_RST_STREAM, 0,
                     (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id,
                     0, 0, 0, NGHTTP2_ENHANCE_YOUR_CALM};
    return px_buf_append(out, f, sizeof f);
}

int gr_reply_error(void *cs, px_buf *out, uint64_t id, px_status st, int not_executed,
                   const char *msg, const uint8_t *meta, size_t meta_len)
{
    gr_conn *c = cs;
    gr_stream *s = gr_find(c, id);
    if (id == c->last_end_id && (!s || s->answered)) {
        c->last_end_id = 0;
        return gr_reset_cut(c, out, id, s);
    }
    if (!s || s->answered)
        return 0; /* reset by the client, or answered already: nothing to send */
    if (gr_answer_error(s, st, not_executed, msg, meta, meta_len) != 0)
        return -1;
    gr_flush(c, out);
    return 0;
}
