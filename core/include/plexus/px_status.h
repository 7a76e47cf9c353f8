/* One error vocabulary: gRPC-style canonical status codes, names and messages. */
#ifndef PLEXUS_PX_STATUS_H
#define PLEXUS_PX_STATUS_H

#include <stddef.h>
#include "px_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, code, default message). Codes match gRPC's so logs and tools line up. */
#define PX_STATUS_MAP(X)                                                        \
    X(OK, 0, "ok")                                                              \
    X(CANCELLED, 1, "the call was cancelled")                                   \
    X(UNKNOWN, 2, "unknown error")                                              \
    X(INVALID_ARGUMENT, 3, "invalid argument")                                  \
    X(DEADLINE_EXCEEDED, 4, "deadline exceeded before the call completed")      \
    X(NOT_FOUND, 5, "not found")                                                \
    X(ALREADY_EXISTS, 6, "already exists")                                      \
    X(PERMISSION_DENIED, 7, "permission denied")                                \
    X(RESOURCE_EXHAUSTED, 8, "resource exhausted")                              \
    X(FAILED_PRECONDITION, 9, "failed precondition")                            \
    X(ABORTED, 10, "aborted")                                                   \
    X(OUT_OF_RANGE, 11, "out of range")                                         \
    X(UNIMPLEMENTED, 12, "not implemented by the server")                       \
    X(INTERNAL, 13, "internal error")                                           \
    X(UNAVAILABLE, 14, "the service is unavailable")                            \
    X(DATA_LOSS, 15, "data loss")                                               \
    X(UNAUTHENTICATED, 16, "unauthenticated")

typedef enum px_status {
#define PX__STATUS_ENUM(name, code, msg) PX_##name = code,
    PX_STATUS_MAP(PX__STATUS_ENUM)
#undef PX__STATUS_ENUM
    PX_STATUS_COUNT
} px_status;

/** "DEADLINE_EXCEEDED"; "UNKNOWN_STATUS" for a value outside the map. */
PX_API const char *px_status_name(px_status st);
/** The default human message of a status. */
PX_API const char *px_status_message(px_status st);
/** Parses a status name; returns 0 and sets *out, or -1 if unknown. */
PX_API int px_status_from_name(const char *name, px_status *out);

/** An error: a status and a message that says what and where. */
typedef struct px_err {
    px_status status; /**< PX_OK when nothing went wrong */
    char msg[512];    /**< NUL-terminated, human-readable */
} px_err;

/** Fills err (if not NULL) and returns st, so `return px_err_set(err, ...)` reads well. */
PX_API px_status px_err_set(px_err *err, px_status st, const char *fmt, ...) PX_PRINTF(3, 4);
/** Resets err to PX_OK with an empty message. */
PX_API void px_err_clear(px_err *err);

#ifdef __cplusplus
}
#endif
#endif
