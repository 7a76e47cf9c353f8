/* One access log line: time, peer, method, status, duration, bytes, message. */
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
 * bytes, response bytes, and the status message in double quotes ("" when OK).
 * Bytes outside printable ASCII and '"' and '\' in the message are escaped (\xNN),
 * so one call is always one line whatever its message holds.
 */
size_t access_line(char *buf, size_t cap, int64_t start_unix_us, const char *side,
                   const char *peer, const char *method, px_status st, int64_t duration_us,
                   size_t req_bytes, size_t resp_bytes, const char *msg);

#endif
