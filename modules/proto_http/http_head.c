/* proto_http: what a request's headers say, and the framing checks on a complete head
 * (request smuggling shapes, sizes) before any of the body is read. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"

int http_cb_fail(http_conn *s, int code, px_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->cb_why, sizeof s->cb_why, fmt, ap);
    va_end(ap);
    s->cb_code = code;
    s->cb_status = st;
    return -1;
}

uint64_t http_head_max(const http_conn *s)
{
    return px_pconn_limits(s->pc)->max_meta + HTTP_HEAD_EXTRA;
}

static void http_lower(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] = (uint8_t)(p[i] - 'A' + 'a');
}

static int http_is(const px_buf *f, const char *name)
{
    return f->len == strlen(name) && memcmp(f->data, name, f->len) == 0;
}

/* A kept header value: lowercased, spaces around trimmed, cut at dst's size. */
static void http_keep(char *dst, const px_buf *v, int media_only)
{
    size_t n = v->len, i = 0;
    const char *p = n ? (const char *)v->data : ""; /* an empty value has no storage */
    if (media_only && memchr(p, ';', n))
        n = (size_t)((const char *)memchr(p, ';', n) - p);
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    while (n > i && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    n -= i;
    if (n >= HTTP_SHORT_MAX)
        n = HTTP_SHORT_MAX - 1;
    memcpy(dst, p + i, n);
    dst[n] = 0;
    http_lower((uint8_t *)dst, n);
}

/* px-timeout-ms: a decimal number of milliseconds, 1 .. 10^9 (11.5 days). */
static int http_timeout(http_conn *s, const px_buf *v)
{
    uint64_t ms = 0;
    size_t n = v->len;
    const char *text = n ? (const char *)v->data : "";
    while (n && (v->data[n - 1] == ' ' || v->data[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < n; i++) {
        if (v->data[i] < '0' || v->data[i] > '9' || ms > 1000000000)
            return http_cb_fail(s, 400, PX_INVALID_ARGUMENT, "header px-timeout-ms: '%.*s' is "
                                "not a number of milliseconds (1 to 1000000000)",
                                (int)(n > 32 ? 32 : n), text);
        ms = ms * 10 + (uint64_t)(v->data[i] - '0');
    }
    if (n == 0 || ms == 0 || ms > 1000000000)
        return http_cb_fail(s, 400, PX_INVALID_ARGUMENT, "header px-timeout-ms: '%.*s' is not "
                            "a number of milliseconds (1 to 1000000000)",
                            (int)(n > 32 ? 32 : n), text);
    s->head.timeout_us = (int64_t)ms * 1000;
    return 0;
}

int http_head_field_done(http_conn *s)
{
    http_head *h = &s->head;
    px_buf *f = &h->field, *v = &h->value;
    http_lower(f->data, f->len);
    h->in_value = 0;
    size_t plen = strlen(HTTP_META_PREFIX);
    int rc = 0;
    if (http_is(f, "content-length")) {
        h->n_clen++;
    } else if (http_is(f, "transfer-encoding")) {
        char te[HTTP_SHORT_MAX];
        http_keep(te, v, 0);
        h->n_te++;
        h->te_other |= strcmp(te, "chunked") != 0; /* "gzip, chunked" too: not read here */
    } else if (http_is(f, "content-type")) {
        h->has_ctype = 1;
        http_keep(h->ctype, v, 1);
    } else if (http_is(f, "accept")) {
        h->has_accept = 1;
        http_keep(h->accept, v, 0);
    } else if (http_is(f, "expect")) {
        char e[HTTP_SHORT_MAX];
        http_keep(e, v, 0);
        h->expect_continue = strcmp(e, "100-continue") == 0;
    } else if (http_is(f, "px-timeout-ms")) {
        rc = http_timeout(s, v);
    } else if ((f->len > plen && memcmp(f->data, HTTP_META_PREFIX, plen) == 0) ||
               http_is(f, "traceparent")) {
        /* `traceparent` (W3C Trace Context) is the metadata entry of that name. */
        size_t n = v->len, skip = http_is(f, "traceparent") ? 0 : plen;
        while (n && (v->data[n - 1] == ' ' || v->data[n - 1] == '\t'))
            n--; /* http-parser drops the spaces before a value, not those after */
        const char *why = http_meta_add(&h->meta, (const char *)f->data + skip, f->len - skip,
                                        n ? (const char *)v->data : "", n);
        uint64_t max = px_pconn_limits(s->pc)->max_meta;
        if (why)
            rc = http_cb_fail(s, 400, PX_INVALID_ARGUMENT, "header %.*s: %s", (int)f->len,
                              (const char *)f->data, why);
        else if (h->meta.len > max)
            rc = http_cb_fail(s, 431, PX_RESOURCE_EXHAUSTED, "the px-meta-* headers make %zu "
                              "bytes of metadata, more than max_meta %llu", h->meta.len,
                              (unsigned long long)max);
    }
    f->len = v->len = 0;
    return rc;
}

int http_head_check(http_conn *s)
{
    const http_head *h = &s->head;
    const http_parser *p = &s->parser;
    /* Two ways to find where a body ends is how requests are smuggled past a proxy that
     * picks the other one (RFC 9112 §6.3): refused, and the connection closed. */
    if (h->n_clen > 1)
        return http_cb_fail(s, 400, PX_INVALID_ARGUMENT, "request smuggling shape: %d "
                            "Content-Length headers (one at most)", h->n_clen);
    if (h->n_te && h->n_clen)
        return http_cb_fail(s, 400, PX_INVALID_ARGUMENT, "request smuggling shape: both "
                            "Content-Length and Transfer-Encoding");
    if (h->n_te > 1)
        return http_cb_fail(s, 400, PX_INVALID_ARGUMENT, "request smuggling shape: %d "
                            "Transfer-Encoding headers (one at most)", h->n_te);
    if (h->te_other || (h->n_te && !(p->flags & F_CHUNKED)))
        return http_cb_fail(s, 400, PX_INVALID_ARGUMENT, "Transfer-Encoding other than "
                            "'chunked' (the only one this server reads)");
    if (h->n_te && p->http_minor == 0)
        return http_cb_fail(s, 400, PX_INVALID_ARGUMENT, "Transfer-Encoding in an HTTP/1.0 "
                            "request (RFC 9112 section 6.1)");
    uint64_t max = px_pconn_limits(s->pc)->max_body;
    if (h->n_clen && p->content_length > max)
        return http_cb_fail(s, 413, PX_RESOURCE_EXHAUSTED, "a body of %llu bytes (Content-Length) "
                            "is more than max_frame %llu", (unsigned long long)p->content_length,
                            (unsigned long long)max);
    return 0;
}
