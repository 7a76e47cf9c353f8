/* FILTER modules: interceptors that see every call on its way in and on its way out. */
#ifndef PLEXUS_PX_FILTER_H
#define PLEXUS_PX_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "px_export.h"
#include "px_meta.h"
#include "px_module.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A call as filters see it. A chain is configured per server (`server.filters`),
 * per service (`filters:` in a service's block: after the server's) and per client
 * upstream (`client.upstreams.NAME.filters`). The core owns the call; a filter reads
 * it through the functions below, only while one of its hooks runs, or, after
 * on_request returned PX_FILTER_PENDING, until it calls px_fcall_resume.
 */
typedef struct px_fcall px_fcall;

/** The most filters one call passes through (a server's and a service's together). */
#define PX_FILTER_MAX_CHAIN 16

/** Where a chain runs. */
typedef enum px_filter_side {
    PX_FILTER_SERVER = 1, /**< a server's calls: the request came from peer */
    PX_FILTER_CLIENT = 2, /**< a client's calls: the request goes to the upstream */
} px_filter_side;

/** What on_request decided. */
typedef enum px_filter_verdict {
    PX_FILTER_CONTINUE = 0, /**< the next filter (then the handler, or the send) runs */
    PX_FILTER_REJECT = 1,   /**< the call ends with the status px_fcall_reject set */
    PX_FILTER_PENDING = 2,  /**< the filter decides later with px_fcall_resume */
} px_filter_verdict;

typedef struct px_filter_ops {
    /** PX_FILTER_SERVER and/or PX_FILTER_CLIENT: where the filter may be configured. */
    unsigned sides;
    /**
     * The call on its way in, filters in chain order: on a server after the request
     * is admitted and decoded, before the handler runs, on the call's IO thread; in a
     * client as the call is made, on the caller's thread, before anything is sent.
     * To reject, call px_fcall_reject and return PX_FILTER_REJECT: later filters and
     * the handler never see the call (a client sends nothing). A server filter may
     * return PX_FILTER_PENDING; a client filter must decide at once (PENDING ends the
     * call INTERNAL, naming the filter). May be NULL.
     */
    px_filter_verdict (*on_request)(void *state, px_fcall *call);
    /**
     * The outcome, filters in reverse order, for every filter whose on_request ran
     * (the one that rejected included): status, timings and bytes are final. On a
     * server it runs on the call's IO thread once the answer is queued; in a client
     * before the caller hears of the outcome: on the IO thread before an async call's
     * completion, on the caller's thread before px_call returns. Must not block. May be
     * NULL.
     */
    void (*on_done)(void *state, px_fcall *call);
    void *spare[6];
} px_filter_ops;

/* ---- reading the call ---------------------------------------------------------- */

PX_API px_filter_side px_fcall_side(const px_fcall *call);
/** "package.Service/Method". */
PX_API const char *px_fcall_method(const px_fcall *call);
/** The other side's address: a server's client ("127.0.0.1:50412"), or in a client
 *  the endpoint of the last attempt ("" before the first is sent). */
PX_API const char *px_fcall_peer(const px_fcall *call);
/** The decoded request (a client: the caller's message). */
PX_API const ProtobufCMessage *px_fcall_request(const px_fcall *call);
/** The request metadata (PROTOCOL.md §2.3), read-only; empty when the call has none. */
PX_API const px_meta *px_fcall_meta(const px_fcall *call);
/** on_done: the response metadata the answer carried (empty: none). */
PX_API const px_meta *px_fcall_reply_meta(const px_fcall *call);
/** Bytes of the encoded request body; on_done: and of the reply body (0: none). */
PX_API size_t px_fcall_request_bytes(const px_fcall *call);
PX_API size_t px_fcall_response_bytes(const px_fcall *call);
/** CLOCK_REALTIME microseconds when the call started (for logs). */
PX_API int64_t px_fcall_start_unix_us(const px_fcall *call);
/** Microseconds from the start to now (on_done: to the end). */
PX_API int64_t px_fcall_elapsed_us(const px_fcall *call);
/** Microseconds left of the call's deadline; INT64_MAX when it has none. */
PX_API int64_t px_fcall_remaining_us(const px_fcall *call);
/** on_done: the status the call ended with, and its message ("" for PX_OK). */
PX_API px_status px_fcall_status(const px_fcall *call, const char **msg);
/** A per-call pointer for the filter that calls it, NULL at first: what on_request
 *  stored there, on_done reads. The filter frees what it points to. */
PX_API void **px_fcall_data(px_fcall *call);

/* ---- acting on it -------------------------------------------------------------- */

/** on_request: the status and message the call ends with when it returns
 *  PX_FILTER_REJECT (or resumes with it). PX_OK becomes PX_UNKNOWN. */
PX_API void px_fcall_reject(px_fcall *call, px_status st, const char *fmt, ...) PX_PRINTF(3, 4);
/**
 * on_request: shortens the call's deadline to at most budget_us from now (never
 * lengthens it). A server's handler and the calls it makes inherit it; a client
 * sends it.
 */
PX_API void px_fcall_limit_deadline(px_fcall *call, int64_t budget_us);
/**
 * on_request: adds key = value[0..len) to the metadata the call sends next: a server's
 * answer (before what its handler adds), a client's request. Keys and values follow
 * px_meta_add's rules and errors. Not sent with the answer of a call a filter rejects.
 */
PX_API px_status px_fcall_add_meta(px_fcall *call, const char *key, const void *value,
                                   size_t len, px_err *err);
/* ---- who is calling (a server's calls) ------------------------------------------- */

/*
 * New functions of ABI 1.5's library (no module field changes): a module that calls
 * them and is loaded into an older libplexus fails at dlopen, naming the symbol.
 * The identity lives in room the server keeps with the call's record: setting and
 * reading it allocates nothing, and a call no filter names costs one byte's store.
 */
/** Longest principal, and longest list of groups ("a,b,c"), in bytes. */
#define PX_PRINCIPAL_MAX 128
#define PX_GROUPS_MAX 256

/**
 * A server's on_request: principal (1..PX_PRINCIPAL_MAX printable ASCII bytes, no space
 * or comma) is who the call comes from, copied into the call: later filters read it
 * (px_fcall_principal), and so does the handler (px_handler_principal, px_service.h).
 * PX_INVALID_ARGUMENT when it is empty, too long or holds another byte (nothing is
 * set); PX_FAILED_PRECONDITION on a client's call (its caller is the program itself).
 */
PX_API px_status px_fcall_set_principal(px_fcall *call, const char *principal, px_err *err);
/**
 * A server's call over TLS: the subject (RFC 2253, "CN=alice,O=Example") of the client
 * certificate its connection presented, verified against the listener's tls.ca; NULL
 * without one (plaintext, no certificate asked or given, a client's call). Read it in a
 * hook on the call's IO thread (on_request). New in ABI 1.5's library.
 */
PX_API const char *px_fcall_peer_subject(const px_fcall *call);
/** Its i-th subjectAltName as "DNS:name", "URI:uri", "email:addr" or "IP:addr"; NULL past
 *  the last (or without a certificate). */
PX_API const char *px_fcall_peer_san(const px_fcall *call, size_t i);
/** The call's principal, NULL when no filter set one (an anonymous call). */
PX_API const char *px_fcall_principal(const px_fcall *call);
/**
 * The principal's groups, "a,b,c" (each like a principal, up to PX_GROUPS_MAX bytes in
 * all; "" clears them), for filters after this one (an access list matching groups).
 * The same errors as px_fcall_set_principal.
 */
PX_API px_status px_fcall_set_groups(px_fcall *call, const char *groups, px_err *err);
/** 1 when group is one of the call's groups, else 0. */
PX_API int px_fcall_in_group(const px_fcall *call, const char *group);

/* ---- which trace the call belongs to (W3C Trace Context) ------------------------- */

/*
 * New functions of ABI 1.5's library (as the principal's above). Ids are lowercase hex,
 * NUL-terminated, valid while the call is (docs/OPERATIONS.md, "Tracing").
 * A server's call: its trace is the one the `traceparent` metadata of its request names
 * (a malformed one is ignored), else one the server begins; its span is its own, made
 * for it; its parent is the caller's span (NULL when the trace began here). Worked out
 * at the first read, in any hook.
 * A client's call: what the `traceparent` it sends says (made from a handler: the
 * handler's trace; or the caller's own): the trace, as span the parent-id it sends (the
 * span the call is made from: a handler's), and no parent (NULL). All NULL when the
 * call sends no trace context.
 */
/** 32 hex digits. */
PX_API const char *px_fcall_trace_id(const px_fcall *call);
/** 16 hex digits. */
PX_API const char *px_fcall_span_id(const px_fcall *call);
/** 16 hex digits, or NULL. */
PX_API const char *px_fcall_parent_span_id(const px_fcall *call);

/**
 * Ends a PX_FILTER_PENDING on_request with its verdict (CONTINUE or REJECT), from
 * any thread, exactly once. The chain goes on on the call's IO thread.
 */
PX_API void px_fcall_resume(px_fcall *call, px_filter_verdict verdict);

#ifdef __cplusplus
}
#endif
#endif
