/* Upstream runtime: module instances, picking with health, attempt bookkeeping. */
#include "px_upstream.h"

#include <stdlib.h>
#include <string.h>

#include "px_deadline.h"
#include "px_health.h"
#include "px_naming_int.h"
#include "px_time.h"

px_status px_upstream_new(const px_config *cfg, const px_upstream_conf *uc, px_upstream **out,
                          px_err *err)
{
    px_upstream *up = calloc(1, sizeof *up);
    if (!up)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    *out = up;
    up->conf = uc;
    up->config_file = cfg->file;
    px_grace_init(&up->grace);
    /* The first list is empty: a pick finds nothing until the naming module delivers. */
    up->live = calloc(1, sizeof *up->live);
    if (!up->live || px_eptable_init(&up->table, uc->max_endpoints) != 0)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    px_module_env env = {.config_file = cfg->file, .server_id = "", .scope = uc->name};
    px_status st = px_insts_new(uc->mods, &env, &up->insts, err);
    if (st != PX_OK)
        return st;
    /* Typed shortcuts for the call path: one of each of these kinds, by the registry's
     * defaults. */
    up->codec = px_insts_one(&up->insts, PX_MOD_CODEC, &up->codec_state);
    up->codec_decode_with = px_codec_decode_with(px_modlist_one(uc->mods, PX_MOD_CODEC)->mod);
    up->codec_name = px_modlist_one(uc->mods, PX_MOD_CODEC)->mod->name;
    up->balancer = px_insts_one(&up->insts, PX_MOD_BALANCER, &up->balancer_state);
    up->failover = px_insts_one(&up->insts, PX_MOD_FAILOVER, &up->failover_state);
    up->timeout = px_insts_one(&up->insts, PX_MOD_TIMEOUT, &up->timeout_state);
    up->naming = px_insts_one(&up->insts, PX_MOD_NAMING, &up->naming_state);
    up->proto = px_insts_one(&up->insts, PX_MOD_PROTOCOL, &up->proto_state);
    /* An older module never wrote px_cmsg.max_inflight (its READY announces nothing). */
    const px_modref *pm = px_modlist_one(uc->mods, PX_MOD_PROTOCOL);
    up->proto_max_inflight = pm && pm->mod->abi_minor >= 5;
    up->plim = (px_plimits){.max_body = uc->limits.max_frame, .max_meta = uc->limits.max_meta};
    px__upstream_metrics_new(up);
    if (px_fchain_add_insts(&up->chain, &up->insts) != 0)
        return px_err_set(err, PX_INTERNAL, "more than %d filters", PX_FCHAIN_MAX);
    return px_naming_sink_new(up, err);
}

void px_upstream_free(px_upstream *up)
{
    if (!up)
        return;
    px_naming_sink_free(up); /* stops the naming module if nobody did */
    px_insts_free(&up->insts);
    /* No pick is left: everything retired can go, then the last list. */
    px_grace_destroy(&up->grace);
    free(up->live);
    px__upstream_metrics_free(up);
    px_eptable_free(&up->table);
    free(up);
}

/* Asks the balancer with avoid set for round: 0 untried and healthy, 1 untried even if
 * ejected, 2 anything. */
static px_ep *px__pick_round(px_upstream *up, const px_epset *set, px_pick_ctx *ctx,
                             uint8_t *avoid, const px_tried *tried, int64_t now, int round)
{
    size_t n = set->n;
    for (size_t i = 0; i < n; i++) {
        px_ep *ep = (px_ep *)set->eps[i];
        avoid[i] = (round < 2 && px_tried_has(tried, ep->pub.index)) ||
                   (round == 0 && px_health_is_out(ep, now));
    }
    int k = up->balancer->pick(up->balancer_state, set->eps, n, ctx);
    return k >= 0 && (size_t)k < n && !avoid[k] ? (px_ep *)set->eps[k] : NULL;
}

/* A retry, or nothing healthy was left: the later rounds, off the common path. */
static __attribute__((noinline)) px_ep *px__pick_more(px_upstream *up, const px_epset *set,
                                                      px_pick_ctx *ctx, uint8_t *avoid,
                                                      const px_tried *tried, int64_t now,
                                                      int from)
{
    px_ep *got = NULL;
    for (int round = from; !got && round < 3; round++)
        got = px__pick_round(up, set, ctx, avoid, tried, now, round);
    return got;
}

px_ep *px_upstream_pick(px_upstream *up, const char *method, const px_call_opts *opts,
                        const px_tried *tried, int64_t now)
{
    unsigned stripe = px_grace_enter(&up->grace);
    const px_epset *set = __atomic_load_n(&up->live, __ATOMIC_SEQ_CST);
    size_t n = set->n;
    px_ep *got = NULL;
    uint8_t avoid[n ? n : 1];
    px_pick_ctx ctx = {.method = method, .avoid = avoid};
    if (opts && opts->has_hash_key) {
        ctx.hash_key = opts->hash_key;
        ctx.has_hash_key = 1;
    }
    if (n > 0 && tried->n == 0) {
        /* A first attempt: every healthy endpoint may take it. */
        for (size_t i = 0; i < n; i++)
            avoid[i] = px_health_is_out((px_ep *)set->eps[i], now);
        int k = up->balancer->pick(up->balancer_state, set->eps, n, &ctx);
        if (k >= 0 && (size_t)k < n && !avoid[k])
            got = (px_ep *)set->eps[k];
        else
            got = px__pick_more(up, set, &ctx, avoid, tried, now, 1);
    } else if (n > 0) {
        got = px__pick_more(up, set, &ctx, avoid, tried, now, 0);
    }
    px_grace_exit(&up->grace, stripe);
    return got;
}

void px_upstream_call_opts_into(px_upstream *up, const char *method, const ProtobufCMessage *req,
                                const px_call_opts *opts, px_call_opts *o)
{
    *o = opts ? *opts : (px_call_opts){0};
    /* Called from a handler: never wait longer than its own caller will. */
    int64_t inherited = px_deadline_inherited();
    if (inherited != INT64_MAX) {
        int64_t left = inherited - px_mono_us();
        if (left < 1)
            left = 1; /* already expired: the call fails with DEADLINE_EXCEEDED at once */
        int64_t own = px_upstream_call_timeout(up, method, o);
        if (own <= 0 || left < own)
            o->timeout_us = left;
    }
    uint64_t key = 0;
    if (!o->has_hash_key && up->balancer->hash_key &&
        up->balancer->hash_key(up->balancer_state, method, req, &key)) {
        o->hash_key = key;
        o->has_hash_key = 1;
    }
}

int64_t px_upstream_call_timeout(px_upstream *up, const char *method, const px_call_opts *opts)
{
    if (opts && opts->timeout_us > 0)
        return opts->timeout_us;
    return up->timeout->call_timeout_us ? up->timeout->call_timeout_us(up->timeout_state, method) : 0;
}

int64_t px_upstream_connect_timeout(px_upstream *up, int64_t call_left_us)
{
    int64_t t = up->timeout->connect_timeout_us ? up->timeout->connect_timeout_us(up->timeout_state) : 0;
    if (t <= 0 || (call_left_us > 0 && call_left_us < t))
        t = call_left_us;
    return t;
}

px_failover_action px_upstream_attempt_done(px_upstream *up, px_ep *ep, const char *method,
                                            px_status st, unsigned attempt, int sent,
                                            int idempotent, int refused, int *transparent,
                                            int queued, int64_t latency_us,
                                            int64_t remaining_us)
{
    /* A wait in the client's own queue says nothing of the endpoint nor of its latency:
     * a server at its in-flight limit is busy, not failing. */
    if (__builtin_expect(!queued, 1)) {
        if (ep && __builtin_expect(st == PX_DEADLINE_EXCEEDED, 0))
            px_mcount(ep->m_timeouts, 1);
        if (ep && up->balancer->feedback)
            up->balancer->feedback(up->balancer_state, &ep->pub, latency_us, st);
        /* Health is the core's: a failover module only decides (one that reports
         * nothing still gets ejection), and reported first, so a retry's pick sees an
         * ejection. */
        if (ep)
            px_health_report(ep, st);
        if (up->timeout->observe)
            up->timeout->observe(up->timeout_state, method, latency_us, st);
    }
    px_attempt a = {.method = method, .endpoint = ep ? &ep->pub : NULL, .status = st,
                    .attempt = attempt, .sent = sent, .idempotent = idempotent,
                    .remaining_us = remaining_us};
    px_failover_action act = up->failover->on_result(up->failover_state, &a);
    if (st == PX_OK || remaining_us <= 0)
        return PX_FAILOVER_DONE;
    if (act != PX_FAILOVER_RETRY && refused && transparent && *transparent < PX_TRANSPARENT_MAX) {
        /* A server that refused the request unexecuted (draining, over a limit) makes it
         * safe to send elsewhere, whatever the failover module: twice per call, because
         * a server that drains refuses on each of its connections until the client reads
         * its GOAWAY on that one, and a resend may take a second such connection. */
        (*transparent)++;
        act = PX_FAILOVER_RETRY;
    }
    return act == PX_FAILOVER_RETRY ? PX_FAILOVER_RETRY : PX_FAILOVER_DONE;
}

/* Judged by the core, as every attempt is: ejecting a server that swallows requests
 * must not depend on a module. A healthy server whose slow tail gets hedged is not
 * ejected by this: each of its other answers reports OK, which resets its fail count,
 * so only an endpoint that answers nothing while max_fails of its attempts each outlive
 * the hedge delay is ejected. Not observed by the timeout module: the age is cut short
 * by the winner, so it measures the winner, not how long this endpoint takes. */
void px_upstream_attempt_lost(px_upstream *up, px_ep *ep, int64_t latency_us)
{
    if (up->balancer->feedback)
        up->balancer->feedback(up->balancer_state, &ep->pub, latency_us, PX_DEADLINE_EXCEEDED);
    px_health_report(ep, PX_DEADLINE_EXCEEDED);
}

/* Silence for the whole hedge delay is what the hedge was for, so a loser that old is
 * judged as timed out: a frozen or cut-off server no longer hides behind its hedges. A
 * younger loser, a backup the original beat, says nothing of its server. */
void px_upstream_hedge_lost(px_upstream *up, px_ep *ep, int64_t hedge_us, int64_t age_us)
{
    if (hedge_us > 0 && age_us >= hedge_us)
        px_upstream_attempt_lost(up, ep, age_us);
}
