/* The blocking client (the seed's 10 steps) on the caller's thread: pooled connections
 * (px_sync_pool.c), IO bounded by poll(2), frames through the shared client protocol
 * layer (px_native_client.c), and every decision taken by the code the async client
 * uses: px_upstream_pick, px_upstream_attempt_done (retries, the transparent retry,
 * endpoint health), the hedge rules of px_upstream_hedge_us / px_upstream_hedge_lost,
 * the timeout module and deadline propagation. Like an async call, a call holds up to
 * two attempts: the second is the hedge. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_client_int.h"
#include "px_client_filter.h"
#include "px_native_client.h"
#include "px_sync_pool.h"
#include "px_time.h"

/* One attempt: a request on one pooled connection. */
typedef struct px_satt {
    px_bconn *b;      /* while live */
    px_ep *ep;
    uint64_t id;      /* its own: a late answer to one attempt never matches another */
    int64_t start_us;
    unsigned number;  /* 0 for the call's first attempt */
    int live;
    int sent;         /* the request may have reached the server */
    int refused;      /* a server said it did not execute it */
    int healthy;      /* the connection may go back to the pool */
} px_satt;

typedef struct px_scall {
    px_client *c;
    px_upstream *up;
    const char *method;
    uint16_t method_len;
    const px_call_opts *opts;
    const ProtobufCMessageDescriptor *reply_desc;
    px_buf body;      /* the encoded request, sent again by retries and hedges */
    const uint8_t *meta; /* the request metadata's encoding (the caller's), and ... */
    uint32_t meta_len;   /* ... its length: sent by every attempt */
    px_meta *reply_meta; /* the caller's opts->reply_meta: the last answer's metadata */
    px_ep *last_ep;      /* where the last answer came from (filters' on_done) ... */
    uint32_t resp_bytes; /* ... and its body bytes */
    px_buf frame;     /* the REQUEST of the attempt being sent */
    int64_t deadline; /* monotonic µs; 0 = none */
    int64_t hedge_us; /* the hedge delay; 0 = no hedge */
    int64_t hedge_at; /* when the hedge goes; 0 = not armed, or gone */
    px_tried tried;   /* endpoints of its attempts, so a retry or hedge goes elsewhere */
    unsigned attempts;
    int n_live;       /* attempts in flight: 0..2 */
    int transparent;  /* resends of refused, unexecuted attempts (px_upstream.h) */
    int expired;      /* the deadline passed: no more attempts */
    int done;
    px_status st;
    ProtobufCMessage *reply;
    px_err *err;      /* the caller's */
    px_satt att[2];
} px_scall;

static int px__sattempt(px_scall *call);

static void px__sfinish(px_scall *call, px_status st, const char *msg, ProtobufCMessage *reply)
{
    call->done = 1;
    call->st = st;
    call->reply = reply;
    if (st != PX_OK)
        px_err_set(call->err, st, "%s", msg);
}

/* Tells the server the client gave up on a's request, as the async client does. A
 * CANCEL the socket does not take at once may have gone in part: the connection is then
 * not to be trusted. */
static void px__scancel(px_satt *a)
{
    const px_protocol_ops *p = a->b->proto;
    if (!p->client_cancel)
        return;
    uint8_t mem[64];
    px_buf cancel;
    px_buf_borrow(&cancel, mem, sizeof mem);
    if (p->client_cancel(a->b->pstate, &cancel, a->id) != 0 ||
        px_bconn_send_now(a->b, cancel.data, cancel.len) != 0)
        a->healthy = 0;
    px_buf_free(&cancel);
}

/* Ends an attempt without judging it (its call was won by the other one): CANCEL, as
 * the async client sends, then back to the pool. The connection goes back with the
 * answer still to come, as after a deadline: it is drained by whoever reads it next,
 * who matches replies by request id, and ids come from one per-client counter and are
 * never reused, so the late answer can only be dropped and counted (late_responses),
 * never handed to another call. Closing it instead would cost a connect and a HELLO
 * per hedge, and hedges are what a slow tail makes often. */
static void px__sabandon(px_scall *call, px_satt *a)
{
    px__scancel(a);
    px_sync_put(call->c, a->b, a->healthy);
    a->b = NULL;
    px_ep_inflight_add(a->ep, -1);
    a->live = 0;
    call->n_live--;
}

/* An attempt ended: the core records it (balancer, endpoint health, timeout module) and
 * failover decides; then finish the call, wait for the hedge twin, or retry. As in the
 * async client's px__att_done, rule for rule. */
static void px__satt_done(px_scall *call, px_satt *a, px_status st, const char *msg,
                          ProtobufCMessage *reply)
{
    px_upstream *up = call->up;
    if (a->b)
        px_sync_put(call->c, a->b, a->healthy);
    a->b = NULL;
    px_ep_inflight_add(a->ep, -1);
    a->live = 0;
    call->n_live--;
    int64_t now = px_mono_us();
    int64_t remaining = call->expired ? 0 : call->deadline ? call->deadline - now : INT64_MAX;
    /* With its hedge twin still out the call does not retry now: no transparent retry
     * is spent on it. */
    px_failover_action act = px_upstream_attempt_done(
        up, a->ep, call->method, st, a->number, a->sent, call->opts->idempotent, a->refused,
        call->n_live == 0 ? &call->transparent : NULL, 0, now - a->start_us, remaining);
    if (st == PX_OK) {
        for (int i = 0; i < 2; i++) {
            px_satt *loser = &call->att[i];
            if (!loser->live)
                continue;
            px_upstream_hedge_lost(up, loser->ep, call->hedge_us, now - loser->start_us);
            px__sabandon(call, loser);
        }
        px__sfinish(call, PX_OK, "", reply);
        return;
    }
    if (call->n_live > 0)
        return; /* the other (hedged) attempt may still answer */
    if (act == PX_FAILOVER_RETRY) {
        __atomic_add_fetch(&call->c->stats.retries, 1, __ATOMIC_RELAXED);
        px_mcount(call->c->up->m_retries, 1);
        px__sattempt(call);
        return;
    }
    px__sfinish(call, st, msg, NULL);
}

/* After a failed write: the frames already in the socket, read without waiting, for a
 * refusal (GOAWAY with a status) or a connection ERROR that explains the failure
 * better than the reset; err is replaced when one is there. */
static void px__slast_words(px_scall *call, px_satt *a, px_err *err)
{
    const px_upstream_conf *uc = call->up->conf;
    px_err rerr;
    for (int i = 0; i < 16 && px_bconn_read(a->b, &rerr) > 0; i++)
        ;
    (void)uc;
    px_buf *in = &a->b->in, acks = {0};
    size_t off = 0, used = 0;
    px_cmsg m;
    int empty = 0;
    while (a->b->proto->client_next(a->b->pstate, in->data + off, in->len - off, &call->up->plim,
                                    &acks, &m, &used, &rerr) == PX_CNEXT_MSG) {
        if (!used && ++empty > 1)
            break; /* only a synthesized READY takes no bytes */
        off += used;
        int refusal = m.kind == PX_CMSG_GOAWAY && m.status != PX_OK;
        if (refusal || m.kind == PX_CMSG_CONN_ERROR) {
            a->refused = refusal;
            px_cmsg_err(&m, a->ep->pub.address, err);
            break;
        }
    }
    px_buf_free(&acks); /* the connection is going: nothing more is owed */
}

/* An answer's metadata, checked, becomes the call's reply_meta (only the last answer's
 * counts): PX_OK, or the error that ends the attempt (the connection stays good). */
static px_status px__sreply_meta(px_scall *call, const px_cmsg *m, const char *peer, px_err *e)
{
    px_meta_clear(call->reply_meta);
    size_t n = 0;
    if (!m->meta_len)
        return PX_OK;
    return px__reply_meta_check(m->meta, m->meta_len, peer, &n, call->reply_meta, e);
}

/* The frames read on a's connection, in order, until a's answer; answers to other ids
 * are late (an earlier call on this connection gave up on them). Returns 1 when a has
 * ended (its connection is no longer a's), 0 when more must be read. */
static int px__sframes(px_scall *call, px_satt *a)
{
    px_bconn *b = a->b;
    px_upstream *up = call->up;
    const char *peer = a->ep->pub.address;
    px_err e, e2;
    int empty = 0;
    for (;;) {
        px_cmsg m;
        size_t used = 0;
        uint8_t mem[64];
        px_buf acks;
        px_buf_borrow(&acks, mem, sizeof mem);
        int r = b->proto->client_next(b->pstate, b->in.data, b->in.len, &up->plim, &acks, &m,
                                      &used, &e2);
        if (acks.len && px_bconn_send_now(b, acks.data, acks.len) != 0)
            a->healthy = 0; /* what the protocol owed the server went in part */
        px_buf_free(&acks);
        if (r == PX_CNEXT_MORE) {
            px_bconn_consume(b, used);
            return 0;
        }
        if (r == PX_CNEXT_MSG && used == 0 && ++empty > 1) {
            /* Only a synthesized READY may take no bytes: a loop otherwise. */
            r = PX_CNEXT_ERROR;
            px_err_set(&e2, PX_INTERNAL, "messages that consumed no bytes");
        }
        if (r == PX_CNEXT_ERROR) {
            a->healthy = 0;
            px_err_set(&e, PX_INTERNAL, "protocol error from %s: %s", peer, e2.msg);
            px__satt_done(call, a, e.status, e.msg, NULL);
            return 1;
        }
        ProtobufCMessage *reply = NULL;
        px_status st = PX_OK;
        int ended = 1;
        switch (m.kind) {
        case PX_CMSG_REPLY:
        case PX_CMSG_ERROR:
            if (m.id != a->id) {
                __atomic_add_fetch(&call->c->stats.late_responses, 1, __ATOMIC_RELAXED);
                px_mcount(a->ep->m_late, 1);
                ended = 0;
                break;
            }
            call->last_ep = a->ep; /* for the filters' on_done */
            call->resp_bytes = m.kind == PX_CMSG_REPLY ? m.body_len : 0;
            if (px__sreply_meta(call, &m, peer, &e) != PX_OK) {
                st = e.status;
            } else if (m.kind == PX_CMSG_ERROR) {
                st = px_cmsg_err(&m, peer, &e);
                if (m.not_executed) {
                    a->sent = 0; /* the server says it never ran it: safe to send elsewhere */
                    a->refused = 1;
                }
            } else if (up->codec->decode(up->codec_state, call->reply_desc, m.body, m.body_len,
                                         &reply, &e2) != PX_OK) {
                st = px_err_set(&e, PX_INTERNAL, "%s: cannot decode the reply from %s: %s",
                                call->method, peer, e2.msg);
            }
            break;
        case PX_CMSG_GOAWAY:
            a->healthy = 0; /* finish this call, then do not reuse the connection */
            if (m.status == PX_OK) {
                ended = 0;
            } else { /* the server refused the connection: nothing sent on it ran */
                st = px_cmsg_err(&m, peer, &e);
                a->sent = 0;
                a->refused = 1;
            }
            break;
        case PX_CMSG_READY:
            st = px_cmsg_ready_check(&m, up->codec_name, peer, &e);
            ended = st != PX_OK;
            if (ended)
                a->healthy = 0;
            break;
        case PX_CMSG_PONG:
            ended = 0;
            break;
        case PX_CMSG_CONN_ERROR: /* codec refused, protocol error: the connection is over */
        case PX_CMSG_UNEXPECTED:
            a->healthy = 0;
            st = px_cmsg_err(&m, peer, &e);
            break;
        }
        px_bconn_consume(b, used);
        if (ended) {
            px__satt_done(call, a, st, st == PX_OK ? "" : e.msg, reply);
            return 1;
        }
    }
}

/* Starts an attempt on an endpoint picked for it; returns 0 when none was started (a
 * hedge with nowhere else to go, or no free connection for it). */
static int px__sattempt(px_scall *call)
{
    px_upstream *up = call->up;
    int hedge = call->n_live > 0;
    int64_t now = px_mono_us();
    px_meta_clear(call->reply_meta); /* what came back is the last answer's */
    px_ep *ep = px_upstream_pick(up, call->method, call->opts, &call->tried, now);
    /* A hedge never joins its twin's endpoint, as in the async client. */
    px_satt *twin = call->att[0].live ? &call->att[0] : &call->att[1];
    if (!ep || (hedge && twin->ep == ep)) {
        if (hedge)
            return 0; /* a hedge with nowhere else to go: keep waiting for the first */
        px_err e;
        px_err_set(&e, PX_UNAVAILABLE, "%s: no endpoint available in upstream %s", call->method,
                   up->conf->name);
        px__sfinish(call, e.status, e.msg, NULL);
        return 0;
    }
    px_satt *a = call->att[0].live ? &call->att[1] : &call->att[0];
    *a = (px_satt){.ep = ep, .start_us = now, .number = call->attempts, .live = 1, .healthy = 1};
    px_tried_add(&call->tried, ep->pub.index); /* a retry or hedge goes elsewhere if it can */
    px_ep_inflight_add(ep, 1);
    call->n_live++;
    px_err e;
    /* A hedge never waits for another caller's connection: it would sit there instead of
     * reading the first attempt's answer. */
    px_status st = px_sync_get(call->c, ep, call->deadline, !hedge, &a->b, &e);
    if (st == PX_OK && !a->b) {
        px_tried_drop_last(&call->tried);
        px_ep_inflight_add(ep, -1);
        a->live = 0;
        call->n_live--;
        return 0;
    }
    call->attempts++;
    if (st != PX_OK) {
        px__satt_done(call, a, st, e.msg, NULL);
        return 1;
    }
    a->id = px_sync_next_id(call->c);
    int64_t left = call->deadline != 0 ? call->deadline - px_mono_us() : 0;
    px_creq r = {.id = a->id, .timeout_us = call->deadline == 0 ? 0 : left > 0 ? left : 1,
                 .method = call->method, .method_len = call->method_len,
                 .meta = call->meta, .meta_len = call->meta_len};
    call->frame.len = 0;
    if (a->b->proto->client_request(a->b->pstate, &call->frame, &r, call->body.data,
                                    call->body.len) != 0) {
        px__satt_done(call, a, PX_RESOURCE_EXHAUSTED, "out of memory", NULL);
        return 1;
    }
    st = px_bconn_send(a->b, call->frame.data, call->frame.len, call->deadline, &e);
    a->sent = 1;
    if (st != PX_OK) {
        a->healthy = 0;
        /* A reset while writing: what the server said before it (a refusal GOAWAY) is
         * the better reason, and says whether anything ran. */
        px__slast_words(call, a, &e);
        if (a->refused)
            a->sent = 0; /* never executed: safe to send elsewhere */
        px__satt_done(call, a, e.status, e.msg, NULL);
    }
    return 1;
}

/* The deadline passed: each attempt is judged as timed out and told CANCEL, as in the
 * async client; the last one ends the call. Their connections stay pooled. */
static void px__sexpire(px_scall *call)
{
    char msg[400];
    px_satt *live[2];
    int n = 0;
    for (int i = 0; i < 2; i++)
        if (call->att[i].live)
            live[n++] = &call->att[i];
    call->expired = 1;
    snprintf(msg, sizeof msg, "%s: deadline exceeded waiting for %s", call->method,
             n ? live[0]->ep->pub.address : "an endpoint");
    for (int k = 0; k < n; k++) {
        px__scancel(live[k]);
        px__satt_done(call, live[k], PX_DEADLINE_EXCEEDED, msg, NULL);
    }
}

/* One wait: frames already read, or poll(2) on the live attempts' connections until an
 * answer, the hedge time or the deadline. */
static void px__swait(px_scall *call)
{
    for (int i = 0; i < 2; i++)
        if (call->att[i].live && px__sframes(call, &call->att[i]))
            return;
    struct pollfd p[2];
    px_satt *pa[2];
    px_bconn *pb[2];
    int n = 0;
    for (int i = 0; i < 2; i++) {
        if (!call->att[i].live)
            continue;
        pa[n] = &call->att[i];
        pb[n] = call->att[i].b;
        p[n] = (struct pollfd){.fd = pb[n]->fd, .events = POLLIN};
        n++;
    }
    int64_t until = call->deadline;
    if (call->hedge_at && call->n_live == 1 && (!until || call->hedge_at < until))
        until = call->hedge_at;
    int r = poll(p, (nfds_t)n, px_sync_poll_ms(until));
    if (r < 0 && errno == EINTR)
        return;
    px_err e;
    if (r < 0) {
        px_err_set(&e, PX_UNAVAILABLE, "poll: %s", strerror(errno));
        for (int k = 0; k < n; k++) {
            pa[k]->healthy = 0;
            px__satt_done(call, pa[k], e.status, e.msg, NULL);
        }
        return;
    }
    if (r == 0) {
        int64_t now = px_mono_us();
        if (call->deadline && now >= call->deadline) {
            px__sexpire(call);
        } else if (call->hedge_at && now >= call->hedge_at) {
            call->hedge_at = 0;
            if (call->n_live == 1 && px__sattempt(call)) {
                __atomic_add_fetch(&call->c->stats.hedges, 1, __ATOMIC_RELAXED);
                px_mcount(call->c->up->m_hedges, 1);
            }
        }
        return;
    }
    for (int k = 0; k < n && !call->done; k++) {
        /* Still the same attempt on the same connection (the other's answer may have
         * ended it, or started a retry in its place). */
        if (!p[k].revents || !pa[k]->live || pa[k]->b != pb[k])
            continue;
        if (px_bconn_read(pb[k], &e) < 0) {
            pa[k]->healthy = 0;
            px__satt_done(call, pa[k], e.status, e.msg, NULL);
        } else {
            px__sframes(call, pa[k]);
        }
    }
}

/* A call made from a handler: its metadata with the traceparent of the handler's trace,
 * then the call as any other (which finds a traceparent and adds none). */
static __attribute__((noinline)) px_status
px__call_traced(px_client *c, const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *reply_desc, const px_call_opts *opts,
                ProtobufCMessage **reply, const px_trace *trace, px_err *err)
{
    px_call_opts o;
    px_meta m;
    uint8_t room[PX_TRACE_META_ROOM];
    px_status st = px__call_traced_opts(c->up, method, opts, trace, &o, &m, room, sizeof room, err);
    if (st == PX_OK)
        st = px_call(c, method, req, reply_desc, &o, reply, err);
    px_buf_free(&m.enc);
    return st;
}

px_status px_call(px_client *c, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *reply_desc, const px_call_opts *opts,
                  ProtobufCMessage **reply, px_err *err)
{
    *reply = NULL;
    size_t mlen = method ? strlen(method) : 0;
    if (!c || !req || !reply_desc || !mlen || mlen > PX_FRAME_MAX_METHOD || !strchr(method, '/'))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "px_call: method must be package.Service/Method and arguments non-NULL");
    /* Made from a handler: the call continues its trace. */
    const px_trace *trace = px_trace_outgoing(opts ? opts->meta : NULL);
    if (__builtin_expect(trace != NULL, 0))
        return px__call_traced(c, method, req, reply_desc, opts, reply, trace, err);
    px_upstream *up = c->up;
    px_scall call = {.c = c, .up = up, .method = method, .method_len = (uint16_t)mlen,
                     .reply_desc = reply_desc, .err = err,
                     .reply_meta = opts ? opts->reply_meta : NULL};
    size_t meta_len = 0;
    px_meta_clear(call.reply_meta);
    if (opts && opts->meta &&
        px__call_meta(up, method, opts->meta, &call.meta, &meta_len, err) != PX_OK)
        return err->status;
    call.meta_len = (uint32_t)meta_len;
    __atomic_add_fetch(&c->stats.calls_started, 1, __ATOMIC_RELAXED);
    /* Steps 1-2: serialise the request once; each attempt frames it with its own id and
     * the budget left then. */
    px_err e;
    px_err_clear(&e);
    if (up->codec->encode(up->codec_state, req, &call.body, &e) != PX_OK) {
        px_buf_free(&call.body);
        __atomic_add_fetch(&c->stats.calls_completed, 1, __ATOMIC_RELAXED);
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: cannot encode the request: %s", method,
                          e.msg);
    }
    if (call.body.len > up->conf->limits.max_frame) {
        size_t len = call.body.len;
        px_buf_free(&call.body);
        __atomic_add_fetch(&c->stats.calls_completed, 1, __ATOMIC_RELAXED);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: request of %zu bytes exceeds max_frame %llu",
                          method, len, (unsigned long long)up->conf->limits.max_frame);
    }
    px_call_opts o = px_upstream_call_opts(up, method, req, opts);
    call.opts = &o;
    int64_t budget = px_upstream_call_timeout(up, method, &o);
    /* The filters' call record and its per-filter slots, on this stack. */
    _Alignas(px_fcall) unsigned char fc_room[px_fcall_size(PX_FCHAIN_MAX)];
    px_fcall *fc = (px_fcall *)fc_room;
    px_buf fmeta = {0};
    px_meta *own_reply_meta = NULL;
    if (__builtin_expect(up->chain.n != 0, 0)) {
        /* On_done shows the answer's metadata even when the caller does not ask for it. */
        if (!call.reply_meta && !(call.reply_meta = own_reply_meta = px_meta_new())) {
            px_buf_free(&call.body);
            __atomic_add_fetch(&c->stats.calls_completed, 1, __ATOMIC_RELAXED);
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        }
        px_status fst = px__cfilter_run(up, fc, method, req, call.body.len,
                                        opts ? opts->meta : NULL, call.meta, call.meta_len,
                                        &budget, &fmeta);
        if (fst != PX_OK) {
            px__cfilter_done(fc, fst, fc->msg, "", 0, NULL);
            px_meta_free(own_reply_meta);
            px_buf_free(&call.body);
            px_buf_free(&fmeta);
            __atomic_add_fetch(&c->stats.calls_completed, 1, __ATOMIC_RELAXED);
            return px_err_set(err, fst, "%s", fc->msg);
        }
        if (fmeta.len) { /* what filters added goes with every attempt */
            call.meta = fmeta.data;
            call.meta_len = (uint32_t)fmeta.len;
        }
    }
    int64_t start = px_mono_us();
    call.deadline = budget > 0 ? start + budget : 0;
    call.hedge_us = px_upstream_hedge_us(up, method, budget);
    call.hedge_at = call.hedge_us ? start + call.hedge_us : 0;
    px__sattempt(&call);
    while (!call.done)
        px__swait(&call);
    if (__builtin_expect(up->chain.n != 0, 0)) {
        px__cfilter_done(fc, call.st, call.st == PX_OK ? "" : err->msg,
                         call.last_ep ? call.last_ep->pub.address : "", call.resp_bytes,
                         call.reply_meta);
        px_meta_free(own_reply_meta);
        px_buf_free(&fmeta);
    }
    px_buf_free(&call.body);
    px_buf_free(&call.frame);
    __atomic_add_fetch(&c->stats.calls_completed, 1, __ATOMIC_RELAXED);
    if (call.st == PX_OK) {
        *reply = call.reply;
        px_err_clear(err);
    }
    return call.st;
}
