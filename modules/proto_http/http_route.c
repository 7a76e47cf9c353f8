/* proto_http: a complete request becomes a call (POST /package.Service/Method, GET / as
 * a call of the built-in reflection service), or the module answers it itself (no such
 * path 404, wrong method 405, unknown Content-Type 415, Accept it cannot meet 406). */
#include <stdio.h>
#include <string.h>

#include "http_int.h"

/* The path of the request target (up to '?'). */
static size_t http_path_len(const px_buf *url)
{
    const uint8_t *q = memchr(url->data, '?', url->len);
    return q ? (size_t)(q - url->data) : url->len;
}

/* "/package.Service/Method": one '/' inside, nothing empty. */
static int http_is_method_path(const char *p, size_t n)
{
    if (n < 4 || p[0] != '/')
        return 0;
    const char *slash = memchr(p + 1, '/', n - 1);
    return slash && slash > p + 1 && slash < p + n - 1 &&
           !memchr(slash + 1, '/', (size_t)(p + n - slash - 1));
}

/* The module's own answer in a new slot; 0, or -1 (the connection is ended). */
static int http_own(http_conn *s, int close, int code, px_status st, const char *allow,
                    const char *msg)
{
    http_slot *slot = http_slot_new(s, close, s->parser.http_minor, "application/json");
    if (slot)
        slot->head_only = s->parser.method == HTTP_HEAD;
    if (slot && http_answer_own(s, slot, code, st, msg, allow) == 0)
        return 0;
    px_pconn_fail(s->pc, PX_RESOURCE_EXHAUSTED, "http: out of memory answering a request");
    s->failed = 1;
    return -1;
}

/* The call to the core, answered in slot order. */
static int http_call(http_conn *s, int close, const char *method, size_t method_len,
                     const px_pcodec *codec, const char *ctype, const uint8_t *body, size_t len)
{
    http_slot *slot = http_slot_new(s, close, s->parser.http_minor, ctype);
    if (!slot) {
        px_pconn_fail(s->pc, PX_RESOURCE_EXHAUSTED, "http: out of memory taking a request");
        s->failed = 1;
        return -1;
    }
    px_preq q = {
        .id = slot->id,
        .method = method,
        .method_len = method_len,
        .meta = s->head.meta.len ? s->head.meta.data : NULL,
        .meta_len = s->head.meta.len,
        .body = body,
        .body_len = len,
        .timeout_us = s->head.timeout_us,
        .codec = codec,
    };
    px_pconn_request(s->pc, &q);
    return 0;
}

/* GET /: the services, through the reflection service, in the first type of Accept the
 * server has a codec for (JSON when Accept says nothing). */
static int http_list(http_conn *s, int close)
{
    static const char *types[] = {"application/json", "application/x-protobuf"};
    static const char *codecs[] = {"json", "protobuf"};
    static const char *empty[] = {"{}", ""}; /* ListServicesRequest has no fields */
    px_err err;
    px_err_clear(&err);
    for (size_t i = 0; i < 2; i++) {
        const px_pcodec *c;
        if (!http_accepts(s->head.accept, types[i]) ||
            !(c = px_pconn_codec(s->pc, codecs[i], strlen(codecs[i]), &err)))
            continue;
        return http_call(s, close, HTTP_LIST_METHOD, strlen(HTTP_LIST_METHOD), c, types[i],
                         (const uint8_t *)empty[i], strlen(empty[i]));
    }
    char msg[400];
    snprintf(msg, sizeof msg, "GET / answers in application/json or application/x-protobuf, "
             "when the server has that codec; Accept '%s' admits none it has", s->head.accept);
    return http_own(s, close, 406, PX_UNIMPLEMENTED, NULL, msg);
}

static int http_post(http_conn *s, int close, const char *path, size_t n)
{
    const http_head *h = &s->head;
    const char *mtype = h->has_ctype ? h->ctype : "application/json", *canon = NULL;
    const char *codec = http_codec_of(mtype, &canon);
    char msg[700];
    if (!codec) {
        snprintf(msg, sizeof msg, "Content-Type '%s' is not one this server reads "
                 "(application/json, application/x-protobuf, application/protobuf, "
                 "application/xml)", mtype);
        return http_own(s, close, 415, PX_UNIMPLEMENTED, NULL, msg);
    }
    px_err err;
    px_err_clear(&err);
    const px_pcodec *c = px_pconn_codec(s->pc, codec, strlen(codec), &err);
    if (!c) {
        snprintf(msg, sizeof msg, "Content-Type %s: %s", canon, err.msg);
        return http_own(s, close, 415, PX_UNIMPLEMENTED, NULL, msg);
    }
    /* The core encodes the reply with the request's codec: that is what Accept gets. */
    if (!http_accepts(h->accept, canon)) {
        snprintf(msg, sizeof msg, "the reply comes in the request's Content-Type %s, which "
                 "Accept '%s' does not admit", canon, h->accept);
        return http_own(s, close, 406, PX_UNIMPLEMENTED, NULL, msg);
    }
    const uint8_t *body = s->body.len ? s->body.data : (const uint8_t *)""; /* never NULL */
    return http_call(s, close, path + 1, n - 1, c, canon, body, s->body.len);
}

int http_route(http_conn *s)
{
    const http_parser *p = &s->parser;
    int close = !http_should_keep_alive(p) || s->closing;
    const char *path = s->head.url.len ? (const char *)s->head.url.data : "";
    size_t n = http_path_len(&s->head.url);
    int rc;
    char msg[400];
    if (n == 1 && path[0] == '/') {
        rc = p->method == HTTP_GET
                 ? http_list(s, close)
                 : http_own(s, close, 405, PX_UNIMPLEMENTED, "GET",
                            "/ takes GET (the list of services); calls are POST "
                            "/package.Service/Method");
    } else if (http_is_method_path(path, n)) {
        rc = p->method == HTTP_POST
                 ? http_post(s, close, path, n)
                 : http_own(s, close, 405, PX_UNIMPLEMENTED, "POST",
                            "a method is called with POST /package.Service/Method");
    } else {
        snprintf(msg, sizeof msg, "no such path '%.*s': calls are POST /package.Service/Method, "
                 "and GET / lists the services", (int)(n > 200 ? 200 : n), path);
        rc = http_own(s, close, 404, PX_NOT_FOUND, NULL, msg);
    }
    if (rc == 0 && close && !s->failed) {
        /* The client asked to close (or HTTP/1.0 without keep-alive): read nothing more,
         * answer what is in flight, then close quietly. */
        s->closing = 1;
        s->quiet_close = 1;
        s->failed = 1;
        px_pconn_fail(s->pc, PX_UNAVAILABLE, "http: the client asked to close the connection");
    }
    return rc;
}
