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
 *
 * The endpoint list changes while calls run (the upstream's naming module, px_naming.h).
 * The contract:
 * - update runs on every change of the live list (membership, order or a weight),
 *   first before any pick with the first list. The core serializes updates: never two
 *   at once, never concurrent with create or destroy. It may run on any thread.
 * - pick may run concurrently with update, on other threads, and with either list: the
 *   one it was given is the one it must index and bound-check (n may differ from the
 *   n update last saw). The list an update is given stays valid, unchanged and at the
 *   same address until every pick that was given it has returned, and no two lists
 *   alive at once share an address: a module may tell which list its state was built
 *   for by comparing `eps` with the pointer update was given.
 * - State built in update must be published so that a concurrent pick sees either the
 *   old or the new state, whole (build it aside, then one atomic store with release;
 *   pick loads it with acquire), and the state it replaces freed with
 *   px_balancer_retire, not free: a pick that began before may still read it.
 * - Endpoints (px_endpoint) live as long as the upstream, so per-endpoint state may
 *   hang off lb_data or an array indexed by px_endpoint.index and be kept across
 *   updates; feedback may name an endpoint no longer listed (a call that was in flight
 *   when it was removed).
 */
typedef struct px_balancer_ops {
    /** The live list changed (see above); the first call comes before any pick. */
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

/**
 * From inside update: frees p with fn(p) once every pick that may still read it has
 * returned (the picks that began before this call). Elsewhere (create, destroy, where
 * no pick runs) it frees at once. For state a module replaces in update.
 */
PX_API void px_balancer_retire(void *p, void (*fn)(void *));

#ifdef __cplusplus
}
#endif
#endif
