/* One access log line: time, peer, method, status, duration, bytes, trace, message. */
#ifndef ACCESS_LINE_H
#define ACCESS_LINE_H

#include <stddef.h>
#include <stdint.h>
#include <plexus/plexus.h>

/**
 * Formats a call's line into buf (cap >= 4 bytes; the line ends in '\n', then a NUL);
 * returns its length without the NUL.
 * Fields, space separated: RFC 3339 UTC start time with microseconds, side
 * ("server"/"client"), peer, method, status name, duration in microseconds, request
 * bytes, response bytes, trace=ID span=ID parent=ID (W3C Trace Context ids; "-" for
 * one the call has not: a call sending no trace context, a trace that began here), and
 * the status message in double quotes ("" when OK).
 * Bytes outside printable ASCII and '"' and '\' in the message are escaped (\xNN),
 * so one call is always one line whatever its message holds.
 */
typedef struct access_ids {
    const char *trace, *span, *parent; /* NULL: "-" */
} access_ids;

size_t access_line(char *buf, size_t cap, int64_t start_unix_us, const char *side,
                   const char *peer, const char *method, px_status st, int64_t duration_us,
                   size_t req_bytes, size_t resp_bytes, const access_ids *ids, const char *msg);

#endif
