/* BALANCER modules: choose the endpoint for a call. */
#ifndef PLEXUS_PX_BALANCER_H
#define PLEXUS_PX_BALANCER_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "px_endpoint.h"
#include "px_module.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a pick knows of the call. */
typedef struct px_pick_ctx {
    const char *method;     /**< "calc.Calculator/Add" */
    uint64_t hash_key;      /**< the call's hash key, when has_hash_key */
    int has_hash_key;
    const uint8_t *avoid;   /**< n flags: nonzero = ejected or already tried; never NULL */
    void *spare[2];
} px_pick_ctx;

/**
 * Any hook may be NULL except pick. pick and feedback may run concurrently on
 * several threads: keep per-call state in atomics or thread-locals.
 */
typedef struct px_balancer_ops {
    /** The endpoint set is (re)established; called once after create, before any pick. */
    void (*update)(void *state, px_endpoint *const *eps, size_t n);
    /** Index in [0,n) of an endpoint whose avoid flag is 0, or -1 when every one is avoided.
     * The core, not the balancer, decides what to do when nothing is left. */
    int (*pick)(void *state, px_endpoint *const *eps, size_t n, const px_pick_ctx *ctx);
    /** One attempt on ep ended after latency_us with st. */
    void (*feedback)(void *state, px_endpoint *ep, int64_t latency_us, px_status st);
    /**
     * The call's hash key, computed once per call in the caller's thread while the
     * request message is alive (e.g. a hash of a named request field). Return 0 and
     * leave *key alone when the request has none. Not called when the caller set
     * px_call_opts.has_hash_key. May be NULL.
     */
    int (*hash_key)(void *state, const char *method, const ProtobufCMessage *req, uint64_t *key);
} px_balancer_ops;

#ifdef __cplusplus
}
#endif
#endif
