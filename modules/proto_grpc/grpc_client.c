/* proto_grpc's client half: calls go out as HTTP/2 streams of an nghttp2 client session
 * in memory mode. What the server sends is handed to nghttp2 one whole frame at a time,
 * so that client_next stops after the frame that completes a message (the server's
 * first SETTINGS: READY; a call's trailers or RST_STREAM: REPLY or ERROR; GOAWAY; a
 * PING's ACK: PONG) and the core gets one message per call, as px_protocol.h asks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_client.h"
#include "grpc_int.h"

/* Frames are at most SETTINGS_MAX_FRAME_SIZE, which a client leaves at its default. */
#define GC_FRAME_MAX 16384

typedef struct gc_stream {
    struct gc_stream *prev, *next;
    uint64_t id;           /* the core's name for the call */
    int32_t sid;           /* nghttp2's */
    uint8_t *req;          /* the length-prefixed request, nghttp2's DATA source */
    size_t req_len, req_off;
    px_buf body;           /* the reply message as it arrives (prefix included) */
    px_buf meta;           /* response metadata, §2.3 encoding */
    px_status st;          /* grpc-status (PX_STATUS_COUNT: none yet) */
    int http_status, not_executed, cancelled, done, meta_bad;
    char msg[512];
} gc_stream;

typedef struct gc_conn {
    nghttp2_session *s;
    gc_stream *streams;
    char ctype[80];        /* content-type of every call: the codec the upstream names */
    char codec[64];
    const px_plimits *lim; /* the upstream's, during client_next */
    int ready_said;
    /* the message client_next found, valid until the next call */
    int have;
    px_cmsg m;
    px_buf m_body, m_meta;
    char text[600];
} gc_conn;

static gc_stream *gc_find_id(gc_conn *c, uint64_t id)
{
    for (gc_stream *s = c->streams; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static void gc_stream_free(gc_conn *c, gc_stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s->req);
    px_buf_free(&s->body);
    px_buf_free(&s->meta);
    free(s);
}

static int gc_flush(gc_conn *c, px_buf *out)
{
    for (;;) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(c->s, &p);
        if (n <= 0)
            return n < 0 ? -1 : 0;
        if (px_buf_append(out, p, (size_t)n) != 0)
            return -1;
    }
}

/* ---- what the server sends ------------------------------------------------------------ */

/* The message of a finished call (s->done). */
static void gc_emit_call(gc_conn *c, gc_stream *s)
{
    px_cmsg *m = &c->m;
    *m = (px_cmsg){.id = s->id};
    px_buf_free(&c->m_body);
    px_buf_free(&c->m_meta);
    c->m_meta = s->meta, s->meta = (px_buf){0};
    m->meta = c->m_meta.data;
    m->meta_len = (uint32_t)c->m_meta.len;
    if (s->st == PX_OK && !s->meta_bad) {
        size_t n = s->body.len;
        uint32_t ml = n >= GR_MSG_PREFIX ? (uint32_t)s->body.data[1] << 24 |
                                               (uint32_t)s->body.data[2] << 16 |
                                               (uint32_t)s->body.data[3] << 8 | s->body.data[4]
                                         : 0;
        if (n >= GR_MSG_PREFIX && s->body.data[0] == 0 && n == GR_MSG_PREFIX + (size_t)ml) {
            c->m_body = s->body, s->body = (px_buf){0};
            m->kind = PX_CMSG_REPLY;
            m->body = c->m_body.data + GR_MSG_PREFIX;
            m->body_len = ml;
            c->have = 1;
            return;
        }
        s->st = PX_INTERNAL;
        snprintf(s->msg, sizeof s->msg, "grpc: the server's reply is %s",
                 n < GR_MSG_PREFIX                 ? "missing"
                 : s->body.data[0] != 0            ? "compressed (not supported)"
                 : n > GR_MSG_PREFIX + (size_t)ml ? "more than one message (streaming)"
                                                   : "cut short");
    }
    if (s->st == PX_STATUS_COUNT) { /* no grpc-status: HTTP's word only (gRPC's mapping) */
        int h = s->http_status;
        s->st = h == 400 ? PX_INTERNAL : h == 401 ? PX_UNAUTHENTICATED
              : h == 403 ? PX_PERMISSION_DENIED : h == 404 ? PX_UNIMPLEMENTED
              : h == 429 || h == 502 || h == 503 || h == 504 ? PX_UNAVAILABLE : PX_UNKNOWN;
        if (!s->msg[0])
            snprintf(s->msg, sizeof s->msg, "grpc: the server answered HTTP %d without "
                     "grpc-status", h);
    }
    m->kind = PX_CMSG_ERROR;
    m->status = s->st == PX_OK ? PX_INTERNAL : s->st;
    m->not_executed = s->not_executed;
    snprintf(c->text, sizeof c->text, "%s", s->msg[0] ? s->msg : px_status_message(m->status));
    m->body = (const uint8_t *)c->text;
    m->body_len = (uint32_t)strlen(c->text);
    c->have = 1;
}

static int gc_hex(uint8_t ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
         : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* grpc-message is percent-encoded: %XX back to bytes. */
static void gc_percent_decode(const uint8_t *v, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        int hi = i + 2 < len && v[i] == '%' ? gc_hex(v[i + 1]) : -1;
        int lo = hi >= 0 ? gc_hex(v[i + 2]) : -1;
        if (lo >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = (char)v[i];
        }
    }
    out[o] = 0;
}

static int gc_on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                        size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    gc_conn *c = ud;
    gc_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!s || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
        s->http_status = vlen == 3 ? atoi((const char *)value) : 0; /* nghttp2 checked it */
    } else if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0 && !s->meta_bad) {
        int st = 0;
        for (size_t i = 0; i < vlen && i < 4; i++)
            st = value[i] >= '0' && value[i] <= '9' ? st * 10 + value[i] - '0' : 1000;
        s->st = vlen && st < PX_STATUS_COUNT ? (px_status)st : PX_UNKNOWN;
    } else if (nlen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        gc_percent_decode(value, vlen, s->msg, sizeof s->msg);
    } else if (nlen == 15 && memcmp(name, "px-not-executed", 15) == 0) {
        s->not_executed = vlen == 1 && value[0] == '1';
    } else if (!gr_header_reserved(name, nlen) && !s->meta_bad) {
        char why[200];
        if (gr_meta_from_header(&s->meta, name, nlen, value, vlen, why, sizeof why) != PX_OK) {
            s->meta_bad = 1;
            px_buf_free(&s->meta); /* the call fails without it */
            s->st = PX_INTERNAL;
            snprintf(s->msg, sizeof s->msg, "grpc: malformed response metadata: %s", why);
        } else if (s->meta.len > c->lim->max_meta) {
            s->meta_bad = 1;
            s->st = PX_RESOURCE_EXHAUSTED;
            snprintf(s->msg, sizeof s->msg, "grpc: response metadata of more than %zu bytes "
                     "exceeds max_meta %llu", s->meta.len, (unsigned long long)c->lim->max_meta);
            px_buf_free(&s->meta);
        }
    }
    return 0;
}

static int gc_on_data(nghttp2_session *session, uint8_t flags, int32_t sid, const uint8_t *data,
                      size_t len, void *ud)
{
    gc_conn *c = ud;
    gc_stream *s = nghttp2_session_get_stream_user_data(session, sid);
    if (!s || s->cancelled || s->done)
        return 0;
    if (s->body.len + len > GR_MSG_PREFIX + c->lim->max_body) {
        /* past max_frame: the call fails now and the rest is not wanted */
        s->st = PX_RESOURCE_EXHAUSTED;
        snprintf(s->msg, sizeof s->msg, "grpc: the reply passes max_frame %llu",
                 (unsigned long long)c->lim->max_body);
        s->done = 1;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL);
        gc_emit_call(c, s);
        return 0;
    }
    if (px_buf_append(&s->body, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int gc_on_frame(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    gc_conn *c = ud;
    const nghttp2_frame_hd *hd = &frame->hd;
    if (hd->type == NGHTTP2_SETTINGS && !(hd->flags & NGHTTP2_FLAG_ACK) && !c->ready_said) {
        c->ready_said = 1;
        uint32_t mcs = nghttp2_session_get_remote_settings(session,
                                                           NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
        c->m = (px_cmsg){.kind = PX_CMSG_READY, .body = (const uint8_t *)c->codec,
                         .body_len = (uint32_t)strlen(c->codec),
                         .max_inflight = mcs >= (1u << 31) - 1 ? 0 : mcs};
        c->have = 1;
    } else if (hd->type == NGHTTP2_PING && (hd->flags & NGHTTP2_FLAG_ACK)) {
        uint64_t id = 0;
        for (int i = 0; i < 8; i++)
            id = id << 8 | frame->ping.opaque_data[i];
        c->m = (px_cmsg){.kind = PX_CMSG_PONG, .id = id};
        c->have = 1;
    } else if (hd->type == NGHTTP2_GOAWAY) {
        const nghttp2_goaway *g = &frame->goaway;
        size_t n = g->opaque_data_len < 300 ? g->opaque_data_len : 300;
        snprintf(c->text, sizeof c->text, "%.*s", (int)n, (const char *)g->opaque_data);
        px_cmsg_kind k = PX_CMSG_GOAWAY;
        px_status st = PX_OK;
        if (g->error_code == NGHTTP2_ENHANCE_YOUR_CALM)
            st = PX_RESOURCE_EXHAUSTED; /* refused (too many connections) or calm down */
        else if (g->error_code != NGHTTP2_NO_ERROR)
            k = PX_CMSG_CONN_ERROR, st = PX_UNAVAILABLE;
        if (!c->text[0])
            snprintf(c->text, sizeof c->text, "the server sent GOAWAY (HTTP/2 error %u)",
                     g->error_code);
        c->m = (px_cmsg){.kind = k, .status = st, .body = (const uint8_t *)c->text,
                         .body_len = (uint32_t)strlen(c->text)};
        c->have = 1;
    } else if (hd->type == NGHTTP2_HEADERS && (hd->flags & NGHTTP2_FLAG_END_STREAM)) {
        gc_stream *s = nghttp2_session_get_stream_user_data(session, hd->stream_id);
        if (s && !s->cancelled && !s->done) {
            s->done = 1;
            gc_emit_call(c, s);
        }
    }
    return 0;
}

static int gc_on_close(nghttp2_session *session, int32_t sid, uint32_t code, void *ud)
{
    gc_conn *c = ud;
    gc_stream *s = nghttp2_session_get_stream_user_data(session, sid);
    if (!s)
        return 0;
    if (!s->done && !s->cancelled && !c->have) { /* RST_STREAM from the server */
        s->done = 1;
        s->st = code == NGHTTP2_REFUSED_STREAM      ? PX_UNAVAILABLE
              : code == NGHTTP2_CANCEL              ? PX_CANCELLED
              : code == NGHTTP2_ENHANCE_YOUR_CALM   ? PX_RESOURCE_EXHAUSTED
                                                    : PX_INTERNAL;
        s->not_executed = code == NGHTTP2_REFUSED_STREAM; /* RFC 9113 8.7: never processed */
        snprintf(s->msg, sizeof s->msg, "grpc: the server reset the stream (HTTP/2 error %u)",
                 code);
        gc_emit_call(c, s);
    }
    gc_stream_free(c, s);
    return 0;
}

/* ---- the ops ----------------------------------------------------------------------------- */

int gc_open(void *state, const char *codec, px_buf *out, void **cs)
{
    (void)state;
    gc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    if (!codec || !*codec)
        codec = "protobuf";
    snprintf(c->codec, sizeof c->codec, "%s", codec);
    snprintf(c->ctype, sizeof c->ctype, strcmp(codec, "protobuf") == 0 ? "application/grpc"
                                                                        : "application/grpc+%s",
             codec);
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        free(c);
        return -1;
    }
    nghttp2_session_callbacks_set_on_header_callback(cb, gc_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, gc_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, gc_on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, gc_on_close);
    int rc = nghttp2_session_client_new(&c->s, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20}};
    if (rc != 0 || nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0, 1 << 22) != 0 ||
        gc_flush(c, out) != 0) {
        gc_close(c);
        return -1;
    }
    *cs = c;
    return 0;
}

void gc_close(void *cs)
{
    gc_conn *c = cs;
    while (c->streams)
        gc_stream_free(c, c->streams);
    if (c->s)
        nghttp2_session_del(c->s);
    px_buf_free(&c->m_body);
    px_buf_free(&c->m_meta);
    free(c);
}

static ssize_t gc_read_request(nghttp2_session *session, int32_t sid, uint8_t *buf, size_t length,
                               uint32_t *data_flags, nghttp2_data_source *source, void *ud)
{
    gc_stream *s = source->ptr;
    size_t n = gr_take(buf, length, s->req, s->req_len, &s->req_off);
    if (s->req_off == s->req_len) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        free(s->req);
        s->req = NULL;
    }
    return (ssize_t)n;
}

/* grpc-timeout: at most 8 digits, in the finest unit that holds the time left. */
static int gc_timeout(int64_t us, char *out, size_t cap)
{
    static const struct { char unit; int64_t per; } units[] = {
        {'u', 1}, {'m', 1000}, {'S', 1000000}, {'M', 60000000}, {'H', 3600000000LL}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        int64_t v = (us + units[i].per - 1) / units[i].per; /* up: never early */
        if (v <= 99999999)
            return snprintf(out, cap, "%lld%c", (long long)v, units[i].unit);
    }
    return snprintf(out, cap, "99999999H");
}

#define GC_NV(n, v, vl) \
    ((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NONE})

int gc_request(void *cs, px_buf *out, const px_creq *r, const uint8_t *body, size_t len)
{
    gc_conn *c = cs;
    if (len > UINT32_MAX)
        return -1;
    gc_stream *s = calloc(1, sizeof *s);
    size_t nmeta = gr_meta_count(r->meta, r->meta_len);
    char path[300], tmo[16];
    nghttp2_nv *nva = calloc(7 + nmeta, sizeof *nva);
    char **b64 = calloc(nmeta + 1, sizeof *b64);
    if (!s || !nva || !b64 || !(s->req = malloc(GR_MSG_PREFIX + len)))
        goto oom;
    s->st = PX_STATUS_COUNT;
    s->id = r->id;
    s->req[0] = 0;
    s->req[1] = (uint8_t)(len >> 24), s->req[2] = (uint8_t)(len >> 16);
    s->req[3] = (uint8_t)(len >> 8), s->req[4] = (uint8_t)len;
    if (len)
        memcpy(s->req + GR_MSG_PREFIX, body, len);
    s->req_len = GR_MSG_PREFIX + len;
    int pl = snprintf(path, sizeof path, "/%.*s", (int)r->method_len, r->method);
    size_t k = 0, nb = 0;
    nva[k++] = GC_NV(":method", "POST", 4);
    nva[k++] = GC_NV(":scheme", "http", 4);
    nva[k++] = GC_NV(":path", path, (size_t)pl);
    nva[k++] = GC_NV(":authority", "plexus", 6);
    nva[k++] = GC_NV("content-type", c->ctype, strlen(c->ctype));
    nva[k++] = GC_NV("te", "trailers", 8);
    if (r->timeout_us > 0)
        nva[k++] = GC_NV("grpc-timeout", tmo, (size_t)gc_timeout(r->timeout_us, tmo, sizeof tmo));
    if (gr_meta_to_nv(r->meta, r->meta_len, nva, &k, b64, &nb) != 0)
        goto oom;
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = gc_read_request};
    int32_t sid = nghttp2_submit_request(c->s, NULL, nva, k, &prd, s);
    for (size_t i = 0; i < nb; i++)
        free(b64[i]);
    free(b64);
    free(nva);
    if (sid < 0) {
        free(s->req);
        free(s);
        return -1;
    }
    s->sid = sid;
    s->next = c->streams;
    if (c->streams)
        c->streams->prev = s;
    c->streams = s;
    size_t mark = out->len;
    if (gc_flush(c, out) != 0) {
        out->len = mark;
        return -1;
    }
    return 0;
oom:
    if (b64)
        for (size_t i = 0; b64[i]; i++)
            free(b64[i]);
    free(b64);
    free(nva);
    if (s)
        free(s->req);
    free(s);
    return -1;
}

int gc_cancel(void *cs, px_buf *out, uint64_t id)
{
    gc_conn *c = cs;
    gc_stream *s = gc_find_id(c, id);
    if (!s || s->done)
        return 0;
    s->cancelled = 1; /* the server answers nothing more; nor is anything reported */
    if (nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, s->sid, NGHTTP2_CANCEL) != 0)
        return -1;
    return gc_flush(c, out);
}

int gc_ping(void *cs, px_buf *out, uint64_t id)
{
    gc_conn *c = cs;
    uint8_t opaque[8];
    for (int i = 7; i >= 0; i--, id >>= 8)
        opaque[i] = (uint8_t)id;
    if (nghttp2_submit_ping(c->s, NGHTTP2_FLAG_NONE, opaque) != 0)
        return -1;
    return gc_flush(c, out);
}

int gc_next(void *cs, const uint8_t *buf, size_t len, const px_plimits *lim, px_buf *out,
            px_cmsg *m, size_t *used, px_err *err)
{
    gc_conn *c = cs;
    *used = 0;
    c->have = 0;
    c->lim = lim;
    while (!c->have && len - *used >= 9) {
        const uint8_t *f = buf + *used;
        size_t flen = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
        if (flen > GC_FRAME_MAX) {
            px_err_set(err, PX_INTERNAL, "grpc: a frame of %zu bytes exceeds "
                       "SETTINGS_MAX_FRAME_SIZE %d", flen, GC_FRAME_MAX);
            return PX_CNEXT_ERROR;
        }
        if (len - *used < 9 + flen)
            break;
        ssize_t n = nghttp2_session_mem_recv(c->s, f, 9 + flen);
        if (n < 0) {
            px_err_set(err, PX_INTERNAL, "grpc: HTTP/2 error: %s", nghttp2_strerror((int)n));
            return PX_CNEXT_ERROR;
        }
        *used += 9 + flen;
    }
    if (gc_flush(c, out) != 0) { /* SETTINGS and PING acks, WINDOW_UPDATE, request DATA */
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "grpc: out of memory");
        return PX_CNEXT_ERROR;
    }
    if (!c->have)
        return PX_CNEXT_MORE;
    *m = c->m;
    return PX_CNEXT_MSG;
}
