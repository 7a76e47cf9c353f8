/* Calling remote services: the async client, the blocking client and generated stubs. */
#ifndef PLEXUS_PX_CLIENT_H
#define PLEXUS_PX_CLIENT_H

#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "px_config.h"
#include "px_export.h"
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

/** Per-call options; a zeroed struct (or NULL) means "as configured". */
typedef struct px_call_opts {
    int64_t timeout_us; /**< overrides the timeout module's budget when > 0 */
    int idempotent;     /**< the call may be repeated: failover may retry it after sending */
    uint64_t hash_key;  /**< for hashing balancers, when has_hash_key */
    int has_hash_key;
} px_call_opts;

/**
 * Completion of an asynchronous call: runs exactly once, on a client IO thread,
 * with the reply (status PX_OK) or an error status and message (reply NULL).
 * The reply is freed when the callback returns. Must not block.
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
 * Returns PX_OK when `done` will run; any other status (the request did not
 * encode, an unknown upstream, a client being freed) means `done` never runs.
 */
PX_API px_status px_call_async(px_client *c, const char *method,
                               const ProtobufCMessage *req,
                               const ProtobufCMessageDescriptor *reply_desc,
                               const px_call_opts *opts, px_done_fn done,
                               void *user, px_err *err);

/**
 * A blocking call over the blocking connection pool (the seed's synchronous
 * client). On PX_OK *reply holds a message to free with px_msg_free().
 */
PX_API px_status px_call(px_client *c, const char *method,
                         const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *reply_desc,
                         const px_call_opts *opts, ProtobufCMessage **reply,
                         px_err *err);

/** Like px_call, but made through the asynchronous client and waited for. */
PX_API px_status px_call_wait(px_client *c, const char *method,
                              const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_desc,
                              const px_call_opts *opts, ProtobufCMessage **reply,
                              px_err *err);

/** Frees a reply returned by px_call / px_call_wait. */
PX_API void px_msg_free(ProtobufCMessage *msg);

/**
 * A ProtobufCService backed by the async client, so protoc-c generated stubs
 * (calc__calculator__add(service, &req, closure, data)) make remote calls. The
 * closure runs on an IO thread with the reply, or with NULL on failure; inside
 * it px_stub_status() tells why. Owned by the client.
 */
PX_API ProtobufCService *px_client_service(px_client *c,
                                           const ProtobufCServiceDescriptor *desc);
/** Inside a stub closure: the call's status and message. */
PX_API px_status px_stub_status(const char **msg);

PX_API void px_client_stats_get(px_client *c, px_client_stats *out);

#ifdef __cplusplus
}
#endif
#endif
