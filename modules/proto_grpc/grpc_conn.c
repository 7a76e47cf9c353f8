/* proto_grpc's server connections: the nghttp2 session (settings, limits, options
 * against hostile peers), reading, flushing what it has to send, GOAWAY, memory. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc_int.h"

/* ---- memory: everything nghttp2 and the module hold is charged to the connection ---- */

/* Each block carries its size in front, so that free gives back what malloc charged. */
typedef union gr_blk {
    size_t size;
    max_align_t align;
} gr_blk;

void *gr_malloc(gr_conn *c, size_t n)
{
    if (n > SIZE_MAX - sizeof(gr_blk))
        return NULL;
    gr_blk *b = malloc(sizeof *b + n);
    if (!b)
        return NULL;
    b->size = n;
    px_pconn_charge(c->pc, (int64_t)(sizeof *b + n));
    return b + 1;
}

void *gr_calloc(gr_conn *c, size_t n)
{
    void *p = gr_malloc(c, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void gr_free(gr_conn *c, void *p)
{
    if (!p)
        return;
    gr_blk *b = (gr_blk *)p - 1;
    px_pconn_charge(c->pc, -(int64_t)(sizeof *b + b->size));
    free(b);
}

static void *gr_mem_malloc(size_t n, void *ud) { return gr_malloc(ud, n); }
static void gr_mem_free(void *p, void *ud) { gr_free(ud, p); }

static void *gr_mem_calloc(size_t nmemb, size_t size, void *ud)
{
    if (size && nmemb > SIZE_MAX / size)
        return NULL;
    return gr_calloc(ud, nmemb * size);
}

static void *gr_mem_realloc(void *p, size_t n, void *ud)
{
    gr_conn *c = ud;
    if (!p)
        return gr_malloc(c, n);
    if (n == 0) {
        gr_free(c, p);
        return NULL;
    }
    void *q = gr_malloc(c, n);
    if (!q)
        return NULL;
    size_t old = ((gr_blk *)p - 1)->size;
    memcpy(q, p, old < n ? old : n);
    gr_free(c, p);
    return q;
}

/* ---- floods --------------------------------------------------------------------- */

static double gr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void gr_bucket_init(gr_bucket *b, double burst, double rate)
{
    b->tokens = b->burst = burst;
    b->rate = rate;
    b->at = gr_now();
}

int gr_bucket_take(gr_bucket *b)
{
    double now = gr_now();
    b->tokens += (now - b->at) * b->rate;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->at = now;
    if (b->tokens < 1.0)
        return -1;
    b->tokens -= 1.0;
    return 0;
}

/* ---- errors ---------------------------------------------------------------------- */

/* The HTTP/2 error code a GOAWAY gives for a connection ending with st. */
static uint32_t gr_h2_error(px_status st)
{
    switch (st) {
    case PX_OK:
    case PX_DEADLINE_EXCEEDED: /* the core's timeouts: nothing the peer did wrong */
    case PX_UNAVAILABLE:
        return NGHTTP2_NO_ERROR;
    case PX_INVALID_ARGUMENT:
        return NGHTTP2_PROTOCOL_ERROR;
    case PX_RESOURCE_EXHAUSTED:
        return NGHTTP2_ENHANCE_YOUR_CALM;
    default:
        return NGHTTP2_INTERNAL_ERROR;
    }
}

void gr_fail(gr_conn *c, px_status st, uint32_t h2err, const char *fmt, ...)
{
    if (c->failed)
        return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->failed = 1;
    c->h2err = h2err;
    px_pconn_fail(c->pc, st, "grpc: %s", msg);
}

void gr_flush(gr_conn *c, px_buf *out)
{
    if (c->in_recv)
        return; /* nghttp2 may not send from its callbacks: conn_recv flushes at its end */
    for (;;) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(c->s, &p);
        if (n == 0)
            return;
        if (n < 0) {
            gr_fail(c, PX_INTERNAL, NGHTTP2_INTERNAL_ERROR, "nghttp2 cannot send: %s",
                    nghttp2_strerror((int)n));
            return;
        }
        if (px_buf_append(out, p, (size_t)n) != 0) {
            gr_fail(c, PX_RESOURCE_EXHAUSTED, NGHTTP2_INTERNAL_ERROR, "out of memory");
            return;
        }
    }
}

/* ---- the server ops -------------------------------------------------------------- */

/* The window a stream starts with: one whole request when max_frame is small, else
 * 1 MiB (a bigger body flows as the window is reopened). */
static uint32_t gr_stream_window(const px_plimits *lim)
{
    uint64_t w = lim->max_body + GR_MSG_PREFIX;
    if (w < 65535)
        w = 65535;
    return w > (1u << 20) ? (1u << 20) : (uint32_t)w;
}

static int gr_session_new(gr_conn *c)
{
    const px_plimits *lim = px_pconn_limits(c->pc);
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return -1;
    }
    gr_stream_callbacks(cb);
    /* HPACK without a dynamic table: a reply the core cuts out of out (over the memory
     * budget, after reply_end) then leaves the peer's decoder in step with ours. */
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 0);
    /* CVE-2023-44487 (rapid reset): our own bucket (gr_conn.resets) ends the connection
     * first, with a message; nghttp2's, twice as wide, is the backstop. */
    nghttp2_option_set_stream_reset_rate_limit(opt, 2000, 66);
    nghttp2_option_set_max_settings(opt, 32);       /* entries in one SETTINGS frame */
    nghttp2_option_set_max_outbound_ack(opt, 1000); /* acks the peer does not read */
    nghttp2_option_set_max_continuations(opt, 8);   /* CONTINUATION floods */
    nghttp2_mem mem = {c, gr_mem_malloc, gr_mem_free, gr_mem_calloc, gr_mem_realloc};
    int rc = nghttp2_session_server_new3(&c->s, cb, c, opt, &mem);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return -1;
    uint32_t win = gr_stream_window(lim);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->max_inflight ? lim->max_inflight : 100},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, c->hdr_limit},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, win},
    };
    if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0)
        return -1;
    /* The connection's window: room for a few streams' windows at once. */
    return nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0, (int32_t)win * 4);
}

int gr_conn_open(void *state, px_pconn *pc, void **cs)
{
    (void)state;
    gr_conn *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->pc = pc;
    px_pconn_charge(pc, (int64_t)sizeof *c);
    /* Metadata of max_meta, base64 growing -bin values by a third, and room for the
     * pseudo-headers, content-type, te, grpc-timeout and user-agent. */
    uint64_t hl = px_pconn_limits(pc)->max_meta / 3 * 4 + 8192;
    c->hdr_limit = hl > (1u << 24) ? (1u << 24) : (uint32_t)hl;
    gr_bucket_init(&c->settings, 100, 10); /* a peer changes its settings a few times */
    gr_bucket_init(&c->pings, 500, 50);   /* keepalive and BDP probes */
    gr_bucket_init(&c->resets, 1000, 33);  /* cancelled calls: CVE-2023-44487's measure */
    if (gr_session_new(c) != 0) {
        if (c->s)
            nghttp2_session_del(c->s);
        px_pconn_charge(pc, -(int64_t)sizeof *c);
        free(c);
        return -1;
    }
    gr_flush(c, px_pconn_out(pc)); /* our SETTINGS: the server's preface */
    *cs = c;
    return 0;
}

size_t gr_conn_recv(void *cs, const uint8_t *buf, size_t len)
{
    gr_conn *c = cs;
    if (c->failed)
        return len;
    c->in_recv = 1;
    ssize_t n = nghttp2_session_mem_recv(c->s, buf, len);
    c->in_recv = 0;
    if (n < 0 && !c->failed) {
        /* nghttp2's own verdicts: a bad preface, a flood, a frame out of place, HPACK */
        px_status st = n == NGHTTP2_ERR_FLOODED || n == NGHTTP2_ERR_NOMEM
                           ? PX_RESOURCE_EXHAUSTED : PX_INVALID_ARGUMENT;
        gr_fail(c, st, st == PX_RESOURCE_EXHAUSTED ? NGHTTP2_ENHANCE_YOUR_CALM
                                                   : NGHTTP2_PROTOCOL_ERROR,
                "HTTP/2 error from %s: %s", px_pconn_peer(c->pc), nghttp2_strerror((int)n));
    }
    gr_flush(c, px_pconn_out(c->pc));
    if (!c->failed && !nghttp2_session_want_read(c->s) && !nghttp2_session_want_write(c->s))
        /* nghttp2 ended the session itself (its GOAWAY is out, or the client's came
         * and no stream is left): the core must close the connection too */
        gr_fail(c, PX_UNAVAILABLE, NGHTTP2_NO_ERROR, "the HTTP/2 session with %s is over",
                px_pconn_peer(c->pc));
    return c->failed || n < 0 ? len : (size_t)n;
}

void gr_goaway(void *cs, px_buf *out, px_status st, const char *why)
{
    gr_conn *c = cs;
    size_t wl = strlen(why);
    if (wl > 200)
        wl = 200;
    if (!c) {
        /* Refused before it was opened: our (empty) SETTINGS, as a server's preface
         * must be, then GOAWAY, by hand: there is no session. */
        uint8_t f[9 + 9 + 8];
        memset(f, 0, sizeof f);
        f[3] = NGHTTP2_SETTINGS;
        uint32_t plen = 8 + (uint32_t)wl, code = gr_h2_error(st == PX_OK ? PX_UNAVAILABLE : st);
        f[9] = (uint8_t)(plen >> 16), f[10] = (uint8_t)(plen >> 8), f[11] = (uint8_t)plen;
        f[12] = NGHTTP2_GOAWAY;
        f[22] = (uint8_t)(code >> 24), f[23] = (uint8_t)(code >> 16);
        f[24] = (uint8_t)(code >> 8), f[25] = (uint8_t)code;
        if (px_buf_append(out, f, sizeof f) == 0)
            px_buf_append(out, why, wl);
        return;
    }
    nghttp2_submit_goaway(c->s, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->s),
                          gr_h2_error(st), (const uint8_t *)why, wl);
    gr_flush(c, out);
}

void gr_conn_fail(void *cs, px_buf *out, px_status st, const char *msg)
{
    gr_conn *c = cs;
    size_t ml = strlen(msg);
    uint32_t code = c->failed ? c->h2err : gr_h2_error(st);
    c->failed = 1;
    /* nghttp2 refuses a second GOAWAY after its own fatal one: that one says it. */
    nghttp2_submit_goaway(c->s, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->s),
                          code, (const uint8_t *)msg, ml > 200 ? 200 : ml);
    gr_flush(c, out);
}

void gr_conn_close(void *cs)
{
    gr_conn *c = cs;
    while (c->streams)
        gr_stream_free(c->streams);
    nghttp2_session_del(c->s);
    px_pconn_charge(c->pc, -(int64_t)sizeof *c);
    free(c);
}
