/* proto_http's client half: an upstream with `protocol: http` calls a server of this
 * module (or anything that speaks its mapping, docs/PROTOCOLS.md) with one POST per
 * call. HTTP/1.1 answers in request order, so the ids of the calls sent wait in a FIFO
 * and each answer is the front's. One call at a time per connection (READY says
 * max_inflight 1): pipelining is fragile across HTTP servers and proxies, and
 * `connections_per_endpoint` gives the parallelism. HTTP cannot cancel one request:
 * a call given up on keeps its connection until its answer comes (no client_cancel). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <px_cu.h>

#include "http_int.h"

/* What a response's head says. */
typedef struct http_resp {
    int has_status, not_executed;
    px_status status;          /* px-status */
    px_buf message;            /* px-message */
    px_buf meta;               /* px-meta-* headers, §2.3 encoding */
    px_buf field, value;
    int in_value;
    px_buf body;
    int complete;
} http_resp;

typedef struct http_cconn {
    http_parser parser;
    const px_plimits *lim;     /* of the client_next being run */
    http_resp r;
    char why[300];             /* a callback's refusal */
    uint64_t *ids;             /* calls sent, oldest first: ids[head .. head+count) */
    size_t cap, head, count;
    int ready_said;
    const char *ctype;
    char codec[];
} http_cconn;

static int http_cfail(http_cconn *c, const char *why)
{
    snprintf(c->why, sizeof c->why, "%s", why);
    return -1;
}

static int http_c_begin(http_parser *p)
{
    http_cconn *c = p->data;
    http_resp *r = &c->r;
    r->message.len = r->meta.len = r->field.len = r->value.len = r->body.len = 0;
    r->has_status = r->not_executed = r->in_value = r->complete = 0;
    r->status = PX_OK;
    return 0;
}

static int http_c_header_done(http_cconn *c)
{
    http_resp *r = &c->r;
    px_buf *f = &r->field, *v = &r->value;
    for (size_t i = 0; i < f->len; i++)
        if (f->data[i] >= 'A' && f->data[i] <= 'Z')
            f->data[i] = (uint8_t)(f->data[i] - 'A' + 'a');
    r->in_value = 0;
    size_t plen = strlen(HTTP_META_PREFIX);
    const char *val = v->len ? (const char *)v->data : "";
    int rc = 0;
    if (f->len == 9 && memcmp(f->data, "px-status", 9) == 0) {
        char name[32];
        size_t n = v->len < sizeof name - 1 ? v->len : sizeof name - 1;
        memcpy(name, val, n);
        name[n] = 0;
        r->has_status = px_status_from_name(name, &r->status) == 0;
        if (!r->has_status)
            rc = http_cfail(c, "a px-status header names no status");
    } else if (f->len == 10 && memcmp(f->data, "px-message", 10) == 0) {
        rc = px_buf_append(&r->message, val, v->len) == 0 ? 0 : http_cfail(c, "out of memory");
    } else if (f->len == 15 && memcmp(f->data, "px-not-executed", 15) == 0) {
        r->not_executed = v->len == 1 && val[0] == '1';
    } else if (f->len > plen && memcmp(f->data, HTTP_META_PREFIX, plen) == 0) {
        const char *why = http_meta_add(&r->meta, (const char *)f->data + plen, f->len - plen,
                                        val, v->len);
        if (why)
            rc = http_cfail(c, why);
        else if (r->meta.len > c->lim->max_meta)
            rc = http_cfail(c, "the response's px-meta-* headers pass max_meta");
    }
    f->len = v->len = 0;
    return rc;
}

static int http_c_field(http_parser *p, const char *at, size_t len)
{
    http_cconn *c = p->data;
    if (c->r.in_value && http_c_header_done(c) != 0)
        return -1;
    return px_buf_append(&c->r.field, at, len) == 0 ? 0 : http_cfail(c, "out of memory");
}

static int http_c_value(http_parser *p, const char *at, size_t len)
{
    http_cconn *c = p->data;
    c->r.in_value = 1;
    return px_buf_append(&c->r.value, at, len) == 0 ? 0 : http_cfail(c, "out of memory");
}

static int http_c_headers(http_parser *p)
{
    http_cconn *c = p->data;
    if (c->r.field.len && http_c_header_done(c) != 0)
        return -1;
    /* A body that ends with the connection cannot be told complete here: refused. */
    if (!(p->flags & F_CHUNKED) && p->content_length == ULLONG_MAX && p->status_code != 204 &&
        p->status_code != 304 && p->status_code >= 200)
        return http_cfail(c, "a response without Content-Length or chunked encoding");
    if (p->content_length != ULLONG_MAX && p->content_length > c->lim->max_body)
        return http_cfail(c, "a response body past max_frame");
    return 0;
}

static int http_c_body(http_parser *p, const char *at, size_t len)
{
    http_cconn *c = p->data;
    if (c->r.body.len + len > c->lim->max_body)
        return http_cfail(c, "a response body past max_frame");
    return px_buf_append(&c->r.body, at, len) == 0 ? 0 : http_cfail(c, "out of memory");
}

static int http_c_complete(http_parser *p)
{
    http_cconn *c = p->data;
    if (p->status_code >= 100 && p->status_code < 200)
        return 0; /* an interim answer (100 Continue): the real one follows */
    c->r.complete = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings http_c_settings = {
    .on_message_begin = http_c_begin,
    .on_header_field = http_c_field,
    .on_header_value = http_c_value,
    .on_headers_complete = http_c_headers,
    .on_body = http_c_body,
    .on_message_complete = http_c_complete,
};

int http_client_open(void *state, const char *codec, px_buf *out, void **cs)
{
    if (!codec || !*codec)
        codec = "json";
    size_t n = strlen(codec);
    http_cconn *c = calloc(1, sizeof *c + n + 1);
    if (!c)
        return -1;
    memcpy(c->codec, codec, n + 1);
    c->ctype = http_ctype_of(codec); /* a codec HTTP has no type for: the server's 415 */
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    *cs = c; /* no handshake: nothing to send */
    return 0;
}

void http_client_close(void *cs)
{
    http_cconn *c = cs;
    http_resp *r = &c->r;
    px_buf_free(&r->message);
    px_buf_free(&r->meta);
    px_buf_free(&r->field);
    px_buf_free(&r->value);
    px_buf_free(&r->body);
    free(c->ids);
    free(c);
}

int http_client_request(void *cs, px_buf *out, const px_creq *q, const uint8_t *body,
                               size_t len)
{
    http_cconn *c = cs;
    if (c->count == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4;
        uint64_t *n = malloc(cap * sizeof *n);
        if (!n)
            return -1;
        for (size_t k = 0; k < c->count; k++)
            n[k] = c->ids[(c->head + k) % c->cap];
        free(c->ids);
        c->ids = n;
        c->cap = cap;
        c->head = 0;
    }
    size_t mark = out->len;
    /* Round up: a deadline under 1 ms must not read as none. */
    uint64_t ms = q->timeout_us > 0 ? ((uint64_t)q->timeout_us + 999) / 1000 : 0;
    int rc = http_appendf(out, "POST /%.*s HTTP/1.1\r\nHost: plexus\r\nContent-Type: %s\r\n"
                          "Content-Length: %zu\r\n", (int)q->method_len, q->method, c->ctype, len);
    if (rc == 0 && ms)
        rc = http_appendf(out, "px-timeout-ms: %llu\r\n", (unsigned long long)ms);
    if (rc == 0)
        rc = http_meta_headers(out, q->meta, q->meta_len);
    if (rc == 0)
        rc = px_buf_append(out, "\r\n", 2);
    if (rc == 0 && len)
        rc = px_buf_append(out, body, len);
    if (rc != 0) {
        out->len = mark; /* out unchanged */
        return -1;
    }
    c->ids[(c->head + c->count++) % c->cap] = q->id;
    return 0;
}

/* An HTTP code without px-status (not from a Plexus server): the closest status. */
static px_status http_status_of(int code)
{
    switch (code) {
    case 400: return PX_INVALID_ARGUMENT;
    case 401: return PX_UNAUTHENTICATED;
    case 403: return PX_PERMISSION_DENIED;
    case 404: return PX_NOT_FOUND;
    case 408: case 504: return PX_DEADLINE_EXCEEDED;
    case 409: return PX_ABORTED;
    case 413: case 429: case 431: return PX_RESOURCE_EXHAUSTED;
    case 415: case 405: case 406: case 501: return PX_UNIMPLEMENTED;
    case 503: return PX_UNAVAILABLE;
    default: return code >= 200 && code < 300 ? PX_OK : PX_UNKNOWN;
    }
}

/* The complete response in c->r as a message for the client. */
static void http_c_message(http_cconn *c, px_cmsg *m)
{
    http_resp *r = &c->r;
    int code = c->parser.status_code;
    px_status st = r->has_status ? r->status : http_status_of(code);
    if (st != PX_OK && r->message.len == 0) { /* no px-message: the status line says it */
        char line[64];
        int n = snprintf(line, sizeof line, "HTTP %d %s", code, http_reason(code));
        px_buf_append(&r->message, line, (size_t)n); /* OOM: an empty message */
    }
    *m = (px_cmsg){.type = (uint8_t)(code / 100), .status = st,
                   .not_executed = r->not_executed,
                   .meta = r->meta.len ? r->meta.data : NULL, .meta_len = (uint32_t)r->meta.len};
    if (c->count == 0) {
        /* No call waits: the server's words about the connection (a refusal at
         * max_connections, a request it could not read). */
        m->kind = st != PX_OK && r->not_executed && code == 503 ? PX_CMSG_GOAWAY
                                                                 : PX_CMSG_CONN_ERROR;
        if (m->status == PX_OK)
            m->status = PX_INTERNAL;
    } else {
        m->id = c->ids[c->head];
        c->head = (c->head + 1) % c->cap;
        c->count--;
        m->kind = st == PX_OK ? PX_CMSG_REPLY : PX_CMSG_ERROR;
    }
    const px_buf *b = m->kind == PX_CMSG_REPLY ? &r->body : &r->message;
    m->body = b->len ? b->data : (const uint8_t *)"";
    m->body_len = (uint32_t)b->len;
}

int http_client_next(void *cs, const uint8_t *buf, size_t len, const px_plimits *lim,
                            px_buf *out, px_cmsg *m, size_t *used, px_err *err)
{
    http_cconn *c = cs;
    *used = 0;
    if (!c->ready_said) {
        c->ready_said = 1;
        *m = (px_cmsg){.kind = PX_CMSG_READY, .body = (const uint8_t *)c->codec,
                       .body_len = (uint32_t)strlen(c->codec), .max_inflight = 1};
        return PX_CNEXT_MSG;
    }
    if (len == 0)
        return PX_CNEXT_MORE;
    static const px_plimits none = {UINT64_MAX, UINT64_MAX, 0};
    c->lim = lim ? lim : &none;
    c->why[0] = 0;
    size_t n = http_parser_execute(&c->parser, &http_c_settings, (const char *)buf, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    *used = n;
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        http_c_message(c, m);
        return PX_CNEXT_MSG;
    }
    if (e != HPE_OK) {
        px_err_set(err, PX_INTERNAL, "http: bad response: %s",
                   c->why[0] ? c->why : http_errno_description(e));
        return PX_CNEXT_ERROR;
    }
    return PX_CNEXT_MORE; /* all of it taken into the response being read */
}
