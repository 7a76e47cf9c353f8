/* Calling remote services: the async client, the blocking client and generated stubs. */
#ifndef PLEXUS_PX_CLIENT_H
#define PLEXUS_PX_CLIENT_H

#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "px_config.h"
#include "px_export.h"
#include "px_meta.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A client of one upstream (client.upstreams.NAME in the config). It owns IO
 * thread(s) for asynchronous calls and a blocking connection pool for
 * synchronous ones; both go through the upstream's balancer, failover and
 * timeout modules. Every entry point is thread-safe.
 */
typedef struct px_client px_client;

/**
 * Per-call options; a zeroed struct (or NULL) means "as configured".
 *
 * ABI: the struct grew in ABI 1.3 (meta, reply_meta, spare). The library reads the
 * caller's struct, so px_call_async, px_call and px_call_wait bind to new symbols
 * (px_call_async_v2, ...) while the old ones stay for binaries built against the
 * older, 32-byte struct. Later fields go into spare, keeping the size.
 */
typedef struct px_call_opts {
    int64_t timeout_us; /**< overrides the timeout module's budget when > 0 */
    int idempotent;     /**< the call may be repeated: failover may retry it after sending */
    uint64_t hash_key;  /**< for hashing balancers, when has_hash_key */
    int has_hash_key;
    /** Request metadata to send (NULL: none). Copied when the call starts; retries and
     *  hedges send the same. Its encoding may not pass the upstream's limits.max_meta. */
    const px_meta *meta;
    /** px_call and px_call_wait: cleared, then filled with the response metadata (also
     *  of an error reply). px_call_async ignores it: see px_call_reply_meta. */
    px_meta *reply_meta;
    void *spare[4]; /**< zero */
} px_call_opts;

/**
 * Completion of an asynchronous call: runs exactly once, on a client IO thread,
 * with the reply (status PX_OK) or an error status and message (reply NULL).
 * It never runs inside the px_call_async that started the call, not even for a call
 * that fails at once on the IO thread it was made on: it may take a lock the caller
 * holds. The reply is freed when the callback returns. Must not block.
 */
typedef void (*px_done_fn)(void *user, px_status st, const char *msg,
                           const ProtobufCMessage *reply);

/** Client counters (monotonic). */
typedef struct px_client_stats {
    uint64_t calls_started;   /**< calls accepted by px_call_async / px_call */
    uint64_t calls_completed; /**< calls whose completion has run */
    uint64_t late_responses;  /**< replies that arrived after their call had ended: dropped */
    uint64_t retries;         /**< extra attempts made by failover */
    uint64_t hedges;          /**< backup requests sent because a reply was slow */
} px_client_stats;

/** Creates a client for upstream (NULL: the config's only upstream). */
PX_API px_status px_client_new(const px_config *cfg, const char *upstream,
                               px_client **out, px_err *err);
/** Ends every outstanding call with CANCELLED, stops the IO threads, frees. */
PX_API void px_client_free(px_client *c);

/**
 * Starts a call of method ("package.Service/Method") and returns at once.
 * Returns PX_OK when `done` will run, always after this returned; any other status
 * (the request did not encode, an unknown upstream, a client being freed) means
 * `done` never runs.
 *
 * A connection carries at most as many calls as its server said it takes at once
 * (native: max_inflight_per_conn, announced in the HELLO answer); more wait on the
 * connection, first come first served, their deadline running, up to the upstream's
 * limits.max_queued_per_conn (beyond: RESOURCE_EXHAUSTED). Made on one of the client's
 * IO threads (from a callback), a call starts right there and leaves with that
 * iteration's writes.
 */
PX_API px_status px_call_async(px_client *c, const char *method,
                               const ProtobufCMessage *req,
                               const ProtobufCMessageDescriptor *reply_desc,
                               const px_call_opts *opts, px_done_fn done,
                               void *user, px_err *err) PX_SYMBOL("px_call_async_v2");

/**
 * Inside a px_done_fn callback or a stub closure: the response metadata of the call
 * (also of an error reply; empty when the server sent none or no reply came). NULL
 * anywhere else. Valid until the callback returns.
 */
PX_API const px_meta *px_call_reply_meta(void);

/**
 * A blocking call over the blocking connection pool (the seed's synchronous
 * client). On PX_OK *reply holds a message to free with px_msg_free().
 */
PX_API px_status px_call(px_client *c, const char *method,
                         const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *reply_desc,
                         const px_call_opts *opts, ProtobufCMessage **reply,
                         px_err *err) PX_SYMBOL("px_call_v2");

/** Like px_call, but made through the asynchronous client and waited for. */
PX_API px_status px_call_wait(px_client *c, const char *method,
                              const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_desc,
                              const px_call_opts *opts, ProtobufCMessage **reply,
                              px_err *err) PX_SYMBOL("px_call_wait_v2");

/** Frees a reply returned by px_call / px_call_wait. */
PX_API void px_msg_free(ProtobufCMessage *msg);

/**
 * A ProtobufCService backed by the async client, so protoc-c generated stubs
 * (calc__calculator__add(service, &req, closure, data)) make remote calls. The
 * closure runs exactly once on an IO thread, after the stub call returned, with the
 * reply, or with NULL on failure, also when the call could not start (its request
 * did not encode, it was too large): inside it px_stub_status() tells why. Owned by
 * the client.
 */
PX_API ProtobufCService *px_client_service(px_client *c,
                                           const ProtobufCServiceDescriptor *desc);
/** Inside a stub closure (or a px_done_fn): the call's status and message (PX_OK with
 *  "" when it succeeded). */
PX_API px_status px_stub_status(const char **msg);
/**
 * Options for the stub calls this thread makes from now on (generated stubs take
 * none): metadata, timeout, idempotency, hash key. Copied; opts->meta must stay valid
 * while set (each call copies its encoding when it starts). NULL goes back to none.
 * reply_meta is not used: in the closure, px_call_reply_meta() gives the reply's.
 */
PX_API void px_stub_call_opts(const px_call_opts *opts);

PX_API void px_client_stats_get(px_client *c, px_client_stats *out);

#ifdef __cplusplus
}
#endif
#endif
