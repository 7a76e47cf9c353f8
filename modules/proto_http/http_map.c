/* proto_http's tables: Plexus status -> HTTP code, media types <-> codecs, and the
 * escaping of text into JSON strings and header values. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"

/* google.rpc.Code's canonical HTTP mapping (google/rpc/code.proto), which gRPC
 * gateways use too, so an HTTP client sees the code it would see elsewhere. */
int http_code_of(px_status st)
{
    static const int codes[PX_STATUS_COUNT] = {
        [PX_OK] = 200,
        [PX_CANCELLED] = 499,
        [PX_UNKNOWN] = 500,
        [PX_INVALID_ARGUMENT] = 400,
        [PX_DEADLINE_EXCEEDED] = 504,
        [PX_NOT_FOUND] = 404,
        [PX_ALREADY_EXISTS] = 409,
        [PX_PERMISSION_DENIED] = 403,
        [PX_RESOURCE_EXHAUSTED] = 429,
        [PX_FAILED_PRECONDITION] = 400,
        [PX_ABORTED] = 409,
        [PX_OUT_OF_RANGE] = 400,
        [PX_UNIMPLEMENTED] = 501,
        [PX_INTERNAL] = 500,
        [PX_UNAVAILABLE] = 503,
        [PX_DATA_LOSS] = 500,
        [PX_UNAUTHENTICATED] = 401,
    };
    return (unsigned)st < PX_STATUS_COUNT ? codes[st] : 500;
}

const char *http_reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Internal Server Error";
    }
}

/* Media types and the codec modules that read them; the first of a codec names its
 * replies. */
static const struct {
    const char *mtype, *codec;
} http_types[] = {
    {"application/json", "json"},
    {"application/x-protobuf", "protobuf"},
    {"application/protobuf", "protobuf"},
    {"application/xml", "xml"},
};

const char *http_codec_of(const char *mtype, const char **canon)
{
    for (size_t i = 0; i < sizeof http_types / sizeof http_types[0]; i++)
        if (strcmp(http_types[i].mtype, mtype) == 0) {
            *canon = http_types[i].mtype;
            return http_types[i].codec;
        }
    return NULL;
}

const char *http_ctype_of(const char *codec)
{
    for (size_t i = 0; i < sizeof http_types / sizeof http_types[0]; i++)
        if (strcmp(http_types[i].codec, codec) == 0)
            return http_types[i].mtype;
    return "application/octet-stream";
}

/* One media range of Accept (p[0..n), spaces trimmed, parameters cut) against mtype. */
static int http_range_admits(const char *p, size_t n, const char *mtype)
{
    const char *semi = memchr(p, ';', n);
    if (semi)
        n = (size_t)(semi - p);
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 3 && memcmp(p, "*/*", 3) == 0)
        return 1;
    const char *slash = strchr(mtype, '/');
    size_t tlen = (size_t)(slash - mtype);
    if (n == tlen + 2 && memcmp(p, mtype, tlen + 1) == 0 && p[tlen + 1] == '*')
        return 1;
    return n == strlen(mtype) && memcmp(p, mtype, n) == 0;
}

int http_accepts(const char *accept, const char *mtype)
{
    if (!*accept)
        return 1;
    for (const char *p = accept; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (http_range_admits(p, n, mtype))
            return 1;
        p += n + (comma ? 1 : 0);
    }
    return 0;
}

int http_json_escape(px_buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            if (px_buf_append(out, esc, 2) != 0)
                return -1;
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            if (px_buf_append(out, esc, 6) != 0)
                return -1;
        } else if (px_buf_append(out, s, 1) != 0) {
            return -1;
        }
    }
    return 0;
}

int http_header_text(px_buf *out, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        /* No CR/LF: no header injection; ASCII only (the JSON body keeps the UTF-8). */
        char b = c < 0x20 || c == 0x7f ? ' ' : c > 0x7f ? '?' : (char)c;
        if (px_buf_append(out, &b, 1) != 0)
            return -1;
    }
    return 0;
}

int http_appendf(px_buf *out, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || px_buf_reserve(out, (size_t)n + 1) != 0) {
        va_end(ap2);
        return -1;
    }
    vsnprintf((char *)out->data + out->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    out->len += (size_t)n;
    return 0;
}
