/* proto_http: reading requests.
 *
 * The parser is libhttp-parser (Debian's libhttp-parser-dev, used by many servers for
 * years): HTTP/1.x framing is where request smuggling lives, so it is not hand-written
 * here. Its successor llhttp would do as well but is not packaged in Debian 12.
 *
 * The library is built without HTTP_PARSER_STRICT, so it accepts a bare LF as a line end
 * and folded header lines (obs-fold), both smuggling material (RFC 9112 §2.2, §5.2). A
 * small scan of each request's head before the parser sees it refuses those and bounds
 * the head's size; everything else is the parser's. The parser is paused at the end of
 * every request, so that each one goes to the core before the next is read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static http_conn *http_of(http_parser *p) { return p->data; }

static int http_append_cb(http_conn *s, px_buf *b, const char *at, size_t len)
{
    if (px_buf_append(b, at, len) != 0)
        return http_cb_fail(s, 503, PX_RESOURCE_EXHAUSTED, "server out of memory reading a "
                            "request");
    return 0;
}

static int http_on_begin(http_parser *p)
{
    http_conn *s = http_of(p);
    http_head *h = &s->head;
    h->url.len = h->field.len = h->value.len = h->meta.len = 0;
    h->in_value = h->has_ctype = h->has_accept = h->n_clen = h->n_te = h->te_other = 0;
    h->expect_continue = 0;
    h->timeout_us = 0;
    h->ctype[0] = h->accept[0] = 0;
    s->body.len = 0;
    return 0;
}

static int http_on_url(http_parser *p, const char *at, size_t len)
{
    return http_append_cb(http_of(p), &http_of(p)->head.url, at, len);
}

static int http_on_field(http_parser *p, const char *at, size_t len)
{
    http_conn *s = http_of(p);
    if (s->head.in_value && http_head_field_done(s) != 0)
        return -1;
    return http_append_cb(s, &s->head.field, at, len);
}

static int http_on_value(http_parser *p, const char *at, size_t len)
{
    http_conn *s = http_of(p);
    s->head.in_value = 1;
    return http_append_cb(s, &s->head.value, at, len);
}

static int http_on_headers(http_parser *p)
{
    http_conn *s = http_of(p);
    if (s->head.field.len && http_head_field_done(s) != 0)
        return -1;
    if (http_head_check(s) != 0)
        return -1;
    /* The client waits for this before the body; later than the answers ahead of it
     * it would be read as theirs, so only when none is pending (else the client sends
     * the body after its own short wait). */
    if (s->head.expect_continue && p->http_minor >= 1 && s->count == 0 &&
        px_buf_append(px_pconn_out(s->pc), "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
        return http_cb_fail(s, 503, PX_RESOURCE_EXHAUSTED, "server out of memory");
    return 0;
}

static int http_on_body(http_parser *p, const char *at, size_t len)
{
    http_conn *s = http_of(p);
    uint64_t max = px_pconn_limits(s->pc)->max_body;
    if (s->body.len + len > max)
        return http_cb_fail(s, 413, PX_RESOURCE_EXHAUSTED, "the chunked body passes max_frame "
                            "%llu bytes", (unsigned long long)max);
    return http_append_cb(s, &s->body, at, len);
}

static int http_on_complete(http_parser *p)
{
    http_conn *s = http_of(p);
    s->in_head = 1;
    s->scan = (http_scan){0};
    http_parser_pause(p, 1); /* http_recv routes it before reading the next */
    return 0;
}

static const http_parser_settings http_settings = {
    .on_message_begin = http_on_begin,
    .on_url = http_on_url,
    .on_header_field = http_on_field,
    .on_header_value = http_on_value,
    .on_headers_complete = http_on_headers,
    .on_body = http_on_body,
    .on_message_complete = http_on_complete,
};

/* Refuses the request (its answer: conn_fail's), and the connection ends. */
static void http_refuse(http_conn *s, int code, px_status st, uint64_t pos, const char *why)
{
    s->fail_code = code;
    s->failed = 1;
    px_pconn_fail(s->pc, st, "http: bad request at byte %llu of the connection from %s: %s",
                  (unsigned long long)pos, px_pconn_peer(s->pc), why);
}

/* The raw scan of a head in buf[0..len) (at: its position in the connection): the
 * bytes up to and including the head's end (*end set), or all of them; a refusal
 * fails the connection. */
static size_t http_scan_head(http_conn *s, const uint8_t *buf, size_t len, uint64_t at, int *end)
{
    http_scan *sc = &s->scan;
    uint64_t max = http_head_max(s);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = buf[i];
        s->started = 1;
        if (++sc->bytes > max) {
            char why[160];
            snprintf(why, sizeof why, "the request line and headers pass %llu bytes (max_meta "
                     "+ 8 KiB)", (unsigned long long)max);
            http_refuse(s, 431, PX_RESOURCE_EXHAUSTED, at + i, why);
            return 0;
        }
        if (c == '\n') {
            if (!sc->cr) {
                http_refuse(s, 400, PX_INVALID_ARGUMENT, at + i, "a bare LF ends a line of the "
                            "head (lines end with CR LF)");
                return 0;
            }
            sc->cr = 0;
            if (sc->col == 0 && sc->line > 0) {
                *end = 1;
                return i + 1;
            }
            if (sc->col > 0) /* empty lines before the request line are skipped */
                sc->line++;
            sc->col = 0;
            continue;
        }
        if (sc->cr) {
            http_refuse(s, 400, PX_INVALID_ARGUMENT, at + i, "a CR not followed by LF in the head");
            return 0;
        }
        if (c == '\r') {
            sc->cr = 1;
            continue;
        }
        if (sc->col == 0 && sc->line > 0 && (c == ' ' || c == '\t')) {
            http_refuse(s, 400, PX_INVALID_ARGUMENT, at + i, "a header line starts with "
                        "whitespace (obs-fold: folded headers are refused, RFC 9112 section 5.2)");
            return 0;
        }
        sc->col++;
    }
    return len;
}

/* The request buffers' capacity, charged to the connection. */
static void http_charge_bufs(http_conn *s)
{
    const http_head *h = &s->head;
    int64_t now = (int64_t)(h->url.cap + h->field.cap + h->value.cap + h->meta.cap + s->body.cap);
    if (now != s->bufs_charged) {
        http_charge(s, now - s->bufs_charged);
        s->bufs_charged = now;
    }
}

/* The parser's refusal, as the HTTP answer it deserves. */
static void http_parse_error(http_conn *s, uint64_t pos)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
    char why[400];
    if (e == HPE_CB_url || e == HPE_CB_header_field || e == HPE_CB_header_value ||
        e == HPE_CB_headers_complete || e == HPE_CB_body) {
        http_refuse(s, s->cb_code, s->cb_status, pos, s->cb_why);
        return;
    }
    int code = e == HPE_HEADER_OVERFLOW ? 431 : 400;
    const char *what = e == HPE_INVALID_CHUNK_SIZE ? "bad chunked encoding: "
                       : e == HPE_UNEXPECTED_CONTENT_LENGTH
                           ? "request smuggling shape (Content-Length with Transfer-Encoding, "
                             "or Content-Length twice): "
                           : "";
    snprintf(why, sizeof why, "%s%s (%s)", what, http_errno_description(e), http_errno_name(e));
    http_refuse(s, code, code == 431 ? PX_RESOURCE_EXHAUSTED : PX_INVALID_ARGUMENT, pos, why);
}

size_t http_recv(void *cs, const uint8_t *buf, size_t len)
{
    http_conn *s = cs;
    size_t off = 0;
    http_kept_drop(s);
    while (!s->failed && off < len && px_pconn_more(s->pc)) {
        size_t n = len - off;
        int head_end = 0;
        if (s->in_head && (n = http_scan_head(s, buf + off, n, s->at + off, &head_end)) == 0)
            break;
        size_t used = http_parser_execute(&s->parser, &http_settings, (const char *)buf + off, n);
        enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&s->parser, 0);
            off += used;
            s->started = 0;
            if (http_route(s) != 0)
                break;
            if (s->body.cap > 65536) /* a big body's room goes back; small ones stay */
                px_buf_free(&s->body);
            continue;
        }
        if (e != HPE_OK) {
            http_parse_error(s, s->at + off + used);
            break;
        }
        off += used;
        if (head_end)
            s->in_head = 0;
    }
    if (s->failed) {
        http_charge_bufs(s);
        return len; /* nothing more is read: none of it is wanted back */
    }
    http_charge_bufs(s);
    px_pconn_partial(s->pc, s->started);
    s->at += off;
    return off;
}

int http_open(void *state, px_pconn *pc, void **cs)
{
    http_conn *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->pc = pc;
    http_parser_init(&s->parser, HTTP_REQUEST);
    s->parser.data = s;
    s->in_head = 1;
    http_charge(s, (int64_t)sizeof *s);
    px_pconn_ready(pc); /* no handshake: the first request is the first message */
    *cs = s;
    return 0;
}

void http_close(void *cs)
{
    http_conn *s = cs;
    http_slots_free(s);
    px_buf_free(&s->head.url);
    px_buf_free(&s->head.field);
    px_buf_free(&s->head.value);
    px_buf_free(&s->head.meta);
    px_buf_free(&s->body);
    px_pconn_charge(s->pc, -s->charged); /* all of it, buffers included */
    free(s);
}
