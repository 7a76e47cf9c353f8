/* FAILOVER modules: decide what happens after an attempt fails (health is the core's). */
#ifndef PLEXUS_PX_FAILOVER_H
#define PLEXUS_PX_FAILOVER_H

#include <stdint.h>
#include "px_endpoint.h"
#include "px_module.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum px_failover_action {
    PX_FAILOVER_DONE = 0,  /**< the call ends with this attempt's status */
    PX_FAILOVER_RETRY = 1, /**< try again on another endpoint */
} px_failover_action;

/** One finished attempt of a call. */
typedef struct px_attempt {
    const char *method;   /**< "calc.Calculator/Add" */
    px_endpoint *endpoint; /**< where it went; NULL when no endpoint could be picked */
    px_status status;     /**< PX_OK on success */
    unsigned attempt;     /**< 0 for the first try */
    int sent;             /**< nonzero: the request may have reached the server */
    int idempotent;       /**< nonzero: the caller marked the call safe to repeat */
    int64_t remaining_us; /**< time left before the call's deadline (<=0: none left) */
    void *spare[2];
} px_attempt;

/**
 * on_result is called for every attempt, successful or not, and only decides whether
 * the call is retried: the core has already recorded the outcome to endpoint health
 * (since ABI 1.2; px_endpoint_report is a no-op kept for older modules).
 * It may run concurrently on several threads.
 */
typedef struct px_failover_ops {
    px_failover_action (*on_result)(void *state, const px_attempt *a);
    /**
     * Hedging (backup requests): microseconds after which, with no reply yet, the
     * client (async or blocking) sends a second copy of the call to another endpoint;
     * the first reply wins and the other attempt is cancelled (a CANCEL frame). Return
     * 0 for no hedge. Asked once per call. May be NULL (never hedge). on_result does
     * not see the cancelled attempt: if it had been out this long the core judges it
     * as DEADLINE_EXCEEDED (endpoint health and the balancer).
     */
    int64_t (*hedge_after_us)(void *state, const char *method);
} px_failover_ops;

#ifdef __cplusplus
}
#endif
#endif
