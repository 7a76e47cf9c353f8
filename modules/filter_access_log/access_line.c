/* Formatting an access log line (see access_line.h). */
#include "access_line.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Appends msg escaped, leaving room for the closing quote, newline and NUL. */
static size_t escape(char *buf, size_t len, size_t cap, const char *msg)
{
    for (const unsigned char *p = (const unsigned char *)msg; *p && len + 7 < cap; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            buf[len++] = (char)*p;
        else
            len += (size_t)snprintf(buf + len, cap - len, "\\x%02x", *p);
    }
    return len;
}

size_t access_line(char *buf, size_t cap, int64_t start_unix_us, const char *side,
                   const char *peer, const char *method, px_status st, int64_t duration_us,
                   size_t req_bytes, size_t resp_bytes, const access_ids *ids, const char *msg)
{
    time_t secs = (time_t)(start_unix_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[40];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(buf, cap, "%s.%06dZ %s %s %s %s %lld %zu %zu trace=%s span=%s parent=%s \"",
                     when, (int)(start_unix_us % 1000000), side, peer[0] ? peer : "-", method,
                     px_status_name(st), (long long)duration_us, req_bytes, resp_bytes,
                     ids->trace ? ids->trace : "-", ids->span ? ids->span : "-",
                     ids->parent ? ids->parent : "-");
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len + 4 > cap)
        len = cap - 4; /* a method or peer this long is cut; the line still ends */
    len = escape(buf, len, cap, msg ? msg : "");
    buf[len++] = '"';
    buf[len++] = '\n';
    buf[len] = '\0';
    return len;
}
