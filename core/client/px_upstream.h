/* An upstream at run time: its endpoints with health, the list its naming module keeps
 * current, and the instances of its codec, balancer, failover, timeout and naming
 * modules. Shared by the async and the sync client. */
#ifndef PX_UPSTREAM_H
#define PX_UPSTREAM_H

#include <pthread.h>
#include <stdint.h>
#include "plexus/px_balancer.h"
#include "plexus/px_client.h"
#include "plexus/px_codec.h"
#include "px_codec_abi.h"
#include "plexus/px_failover.h"
#include "plexus/px_naming.h"
#include "plexus/px_timeout.h"
#include "px_config_int.h"
#include "px_fchain.h"
#include "px_eptable.h"
#include "px_grace.h"
#include "plexus/px_protocol.h"
#include "px_insts.h"
#include "px_mcore.h"
#include "px_net.h"

struct px_upstream;

/* One endpoint record (px_eptable.h): lives, at the same address and index, as long as
 * its upstream, whether or not the naming module lists it at the moment. */
typedef struct px_ep {
    px_endpoint pub;          /* first member: modules get &pub, the core converts back */
    px_addr sa;               /* where it connects: parsed, or resolved at config load */
    struct px_upstream *up;
    pthread_mutex_t lock;     /* health bookkeeping, taken on the failure path only */
    int fails;                /* failures within the current window */
    int64_t window_start_us;
    int64_t ejected_until_us; /* while ejected: when it may take traffic again */
    int64_t ejection_us;      /* the next ejection's length: doubles, capped */
    int probing;              /* a probe is in flight (under lock) */
    uint32_t member;          /* atomic: listed by the naming module now */
    uint32_t stamp;           /* naming updates only: the update that last listed it */
    /* {upstream,endpoint} (px_upstream_metrics.c): up while a member; the counters from
     * its first listing until the upstream is freed. */
    struct px_metric *m_up, *m_ejections, *m_readmissions, *m_timeouts, *m_late;
} px_ep;

/* A published list of live endpoints: never changed once published; freed after a
 * grace period (px_grace.h), so a pick may use the one it loaded without a lock. */
typedef struct px_epset {
    size_t n;
    px_endpoint *eps[];       /* &px_ep.pub, in the naming module's order */
} px_epset;

/* The endpoints a call has tried, by record index: its last PX_TRIED_MAX attempts (a
 * call's attempts are few: failover modules allow at most 10 retries). */
#define PX_TRIED_MAX 8
typedef struct px_tried {
    uint32_t n;
    uint32_t idx[PX_TRIED_MAX];
} px_tried;

static inline void px_tried_add(px_tried *t, uint32_t index)
{
    t->idx[t->n++ % PX_TRIED_MAX] = index;
}

/* Forgets the last px_tried_add (an attempt that did not start after all). */
static inline void px_tried_drop_last(px_tried *t)
{
    if (t->n > 0)
        t->n--;
}

static inline int px_tried_has(const px_tried *t, uint32_t index)
{
    uint32_t k = t->n < PX_TRIED_MAX ? t->n : PX_TRIED_MAX;
    for (uint32_t i = 0; i < k; i++)
        if (t->idx[i] == index)
            return 1;
    return 0;
}

struct px_naming_sink;

typedef struct px_upstream {
    const px_upstream_conf *conf;
    const char *config_file;
    px_eptable table;         /* every endpoint record, by index */
    px_epset *live;           /* atomic: the current list; read between px_grace_enter/exit */
    uint32_t n_live;          /* atomic: live->n, for max_ejected_percent */
    uint32_t n_ejected;       /* atomic: live endpoints ejected now */
    px_grace grace;           /* old lists and balancer state wait here for their readers */
    struct px_naming_sink *sink; /* the naming module's side of the upstream (px_naming.c) */
    /* Called, under the naming lock, after an update that removed endpoints: the
     * clients close what they keep open to them. */
    void (*on_removed)(void *arg);
    void *on_removed_arg;
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
    const px_naming_ops *naming;
    void *naming_state;
    const px_protocol_ops *proto; /* the upstream's protocol: its client half */
    void *proto_state;
    int proto_max_inflight;   /* its module fills px_cmsg.max_inflight (abi_minor >= 5) */
    px_plimits plim;          /* the upstream's limits, as its protocol reads them */
    struct px_metric *m_retries, *m_hedges; /* {upstream} */
} px_upstream;

/** Whether ep is listed by the naming module now. */
static inline int px_ep_is_member(const px_ep *ep)
{
    return __atomic_load_n(&ep->member, __ATOMIC_ACQUIRE) != 0;
}

/** Live endpoints now (a moment's count: the list may change at any time). */
static inline uint32_t px_upstream_live_count(const px_upstream *up)
{
    return __atomic_load_n(&up->n_live, __ATOMIC_RELAXED);
}

/** The record of index i (i < px_eptable_count(&up->table)), member or not. */
static inline px_ep *px_upstream_ep(const px_upstream *up, uint32_t i)
{
    return px_eptable_at(&up->table, i);
}

/** Makes the upstream with its module instances and an empty list: the naming module,
 *  started by px_upstream_naming_start (px_naming_int.h), fills it. */
px_status px_upstream_new(const px_config *cfg, const px_upstream_conf *uc, px_upstream **out,
                          px_err *err);
void px_upstream_free(px_upstream *up);

/**
 * Picks a live endpoint not in tried and not ejected; when every untried one is
 * ejected, an ejected one; when all were tried, any. NULL when the list is empty or the
 * balancer finds none at all. Re-admits endpoints whose ejection has run out by now
 * (monotonic µs: an IO loop passes its once-per-iteration px_loop_mono_us).
 */
px_ep *px_upstream_pick(px_upstream *up, const char *method, const px_call_opts *opts,
                        const px_tried *tried, int64_t now);
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
/* Transparent resends of a request refused unexecuted, per call. */
#define PX_TRANSPARENT_MAX 2

/**
 * An attempt ended: feeds the balancer, endpoint health (every attempt: the failover
 * module only decides) and the timeout module, asks failover.
 * Returns PX_FAILOVER_RETRY only when a retry is allowed and time is left. An
 * attempt a server refused unexecuted (refused) is retried up to PX_TRANSPARENT_MAX
 * times per call whatever failover says, as gRPC's transparent retry: *transparent
 * counts those the call used (NULL: the call cannot retry now, e.g. its hedge twin is
 * still out). An attempt that ended while it waited in the async client's queue for a
 * place the server's announced limit keeps (queued) says nothing of the endpoint: only
 * failover hears.
 */
px_failover_action px_upstream_attempt_done(px_upstream *up, px_ep *ep, const char *method,
                                            px_status st, unsigned attempt, int sent,
                                            int idempotent, int refused, int *transparent,
                                            int queued, int64_t latency_us,
                                            int64_t remaining_us);

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
    if (!up->failover->hedge_after_us || px_upstream_live_count(up) < 2)
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

/* px_upstream_metrics.c: the upstream's core metrics (docs/OPERATIONS.md) */
void px__upstream_metrics_new(px_upstream *up);
void px__upstream_metrics_free(px_upstream *up);
/** ep joined / left the live list (under the naming lock): its up gauge shows / goes. */
void px__ep_metrics_join(px_ep *ep);
void px__ep_metrics_leave(px_ep *ep);

static inline void px_ep_inflight_add(px_ep *ep, int d)
{
    __atomic_add_fetch(&ep->pub.inflight, (uint32_t)d, __ATOMIC_RELAXED);
}

#endif
