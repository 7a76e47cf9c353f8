/* PROTOCOL "http" (proto_http.so): HTTP/1.1 and 1.0 with keep-alive; a call is POST
 * /package.Service/Method with its body in any of the server's codecs, chosen by
 * Content-Type; GET / lists the services. docs/PROTOCOLS.md describes the mapping. */
#include <string.h>

#include "http_int.h"

/* The methods an HTTP/1.x request may start with (405 answers those it may not use).
 * Not "PRI": that is HTTP/2's preface, for a protocol of its own. None starts like
 * native's magic ("PX"). */
static const char *const http_methods[] = {"GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS",
                                           "PATCH"};

px_detect http_detect(const uint8_t *buf, size_t len)
{
    px_detect d = PX_DETECT_NO;
    for (size_t i = 0; i < sizeof http_methods / sizeof http_methods[0]; i++) {
        size_t m = strlen(http_methods[i]);
        size_t n = len < m + 1 ? len : m + 1; /* the method and its space */
        size_t k = n < m ? n : m;
        if (memcmp(buf, http_methods[i], k) != 0 || (n == m + 1 && buf[m] != ' '))
            continue;
        if (n == m + 1)
            return PX_DETECT_YES;
        d = PX_DETECT_MORE;
    }
    return d;
}

static const px_protocol_ops http_ops = {
    /* stateful: answers go through the connection's in-order slots, on its IO thread */
    .flags = 0,
    .detect = http_detect,
    .conn_open = http_open,
    .conn_recv = http_recv,
    .reply_begin = http_reply_begin,
    .reply_end = http_reply_end,
    .reply_error = http_reply_error,
    .goaway = http_goaway,
    .conn_fail = http_conn_fail,
    .conn_close = http_close,
    /* client half: no client_cancel (HTTP/1.1 cannot cancel one request) nor ping */
    .client_open = http_client_open,
    .client_request = http_client_request,
    .client_next = http_client_next,
    .client_close = http_client_close,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_PROTOCOL,
    .name = "http",
    .version = "0.1.0",
    .description = "HTTP/1.1 + JSON (or any codec by Content-Type): POST /package.Service/Method",
    .ops = &http_ops,
};
