/* An upstream at run time: its endpoints with health, and the instances of its codec,
 * balancer, failover and timeout modules. Shared by the async and the sync client. */
#ifndef PX_UPSTREAM_H
#define PX_UPSTREAM_H

#include <pthread.h>
#include <stdint.h>
#include "plexus/px_balancer.h"
#include "plexus/px_client.h"
#include "plexus/px_codec.h"
#include "px_codec_abi.h"
#include "plexus/px_failover.h"
#include "plexus/px_timeout.h"
#include "px_config_int.h"
#include "px_fchain.h"
#include "px_insts.h"
#include "px_net.h"

struct px_upstream;

typedef struct px_ep {
    px_endpoint pub;          /* first member: modules get &pub, the core converts back */
    px_addr sa;               /* resolved at config load (uc->addrs) */
    struct px_upstream *up;
    pthread_mutex_t lock;     /* health bookkeeping, taken on the failure path only */
    int fails;                /* failures within the current window */
    int64_t window_start_us;
    int64_t ejected_until_us; /* while ejected: when it may take traffic again */
    int64_t ejection_us;      /* the next ejection's length: doubles, capped */
    int probing;              /* a probe is in flight (under lock) */
} px_ep;

typedef struct px_upstream {
    const px_upstream_conf *conf;
    const char *config_file;
    px_ep *eps;
    px_endpoint **ep_ptrs;
    size_t n;
    uint32_t n_ejected;       /* atomic */
    px_insts insts;           /* every module instance of the upstream, by kind */
    px_fchain chain;          /* its filters (n 0: none, the call path skips them) */
    const char *codec_name;   /* offered in HELLO */
    const px_codec_ops *codec;
    void *codec_state;
    px_decode_with_fn codec_decode_with; /* NULL: the codec predates ABI 1.1 or has none */
    const px_balancer_ops *balancer;
    void *balancer_state;
    const px_failover_ops *failover;
    void *failover_state;
    const px_timeout_ops *timeout;
    void *timeout_state;
} px_upstream;

px_status px_upstream_new(const px_config *cfg, const px_upstream_conf *uc, px_upstream **out,
                          px_err *err);
void px_upstream_free(px_upstream *up);

/**
 * Picks an endpoint not in tried (n flags) and not ejected; when every untried one
 * is ejected, an ejected one; when all were tried, any. NULL only if the balancer
 * finds none at all. Re-admits endpoints whose ejection has run out by now
 * (monotonic µs: an IO loop passes its once-per-iteration px_loop_mono_us).
 */
px_ep *px_upstream_pick(px_upstream *up, const char *method, const px_call_opts *opts,
                        const uint8_t *tried, int64_t now);
/**
 * The call's options as the pick will see them, in *o: a copy of opts (or zeroes) with
 * the balancer's hash key filled in from req when the caller gave none. Written in
 * place: px_call_opts is 80 bytes, and a call record keeps its own copy.
 */
void px_upstream_call_opts_into(px_upstream *up, const char *method, const ProtobufCMessage *req,
                                const px_call_opts *opts, px_call_opts *o);
/** px_upstream_call_opts_into, returned. */
static inline px_call_opts px_upstream_call_opts(px_upstream *up, const char *method,
                                                 const ProtobufCMessage *req,
                                                 const px_call_opts *opts)
{
    px_call_opts o;
    px_upstream_call_opts_into(up, method, req, opts, &o);
    return o;
}
/** The budget of a call: opts->timeout_us if set, else the timeout module's. 0 = none. */
int64_t px_upstream_call_timeout(px_upstream *up, const char *method, const px_call_opts *opts);
int64_t px_upstream_connect_timeout(px_upstream *up, int64_t call_left_us);
/**
 * An attempt ended: feeds the balancer, endpoint health (every attempt: the failover
 * module only decides) and the timeout module, asks failover.
 * Returns PX_FAILOVER_RETRY only when a retry is allowed and time is left. An
 * attempt a server refused unexecuted (refused) is retried once per call whatever
 * failover says, as gRPC's transparent retry: *transparent records that the call used
 * it (NULL: the call cannot retry now, e.g. its hedge twin is still out).
 */
px_failover_action px_upstream_attempt_done(px_upstream *up, px_ep *ep, const char *method,
                                            px_status st, unsigned attempt, int sent,
                                            int idempotent, int refused, int *transparent,
                                            int64_t latency_us, int64_t remaining_us);

/**
 * An attempt still out when another attempt of its call won, after at least the
 * call's hedge delay: judged as timed out. Endpoint health counts a failure and the
 * balancer gets latency_us with DEADLINE_EXCEEDED (not CANCELLED, which balancers
 * ignore). The timeout module and failover do not hear of it.
 */
void px_upstream_attempt_lost(px_upstream *up, px_ep *ep, int64_t latency_us);

/**
 * The hedge delay of a call with budget_us (0 = none): the failover module's
 * hedge_after_us when it has one, the upstream has another endpoint and the delay is
 * shorter than the budget; else 0 (no hedge). Both clients ask it once per call.
 */
static inline int64_t px_upstream_hedge_us(px_upstream *up, const char *method,
                                           int64_t budget_us)
{
    if (!up->failover->hedge_after_us || up->n < 2)
        return 0;
    int64_t h = up->failover->hedge_after_us(up->failover_state, method);
    return h > 0 && (budget_us <= 0 || h < budget_us) ? h : 0;
}
/**
 * An attempt still out, age_us old, when its hedged call (hedge delay hedge_us) was
 * won by the other copy: px_upstream_attempt_lost when it outlived the delay, else
 * nothing (a backup beaten by the original says nothing of its server).
 */
void px_upstream_hedge_lost(px_upstream *up, px_ep *ep, int64_t hedge_us, int64_t age_us);

static inline void px_ep_inflight_add(px_ep *ep, int d)
{
    __atomic_add_fetch(&ep->pub.inflight, (uint32_t)d, __ATOMIC_RELAXED);
}

#endif
