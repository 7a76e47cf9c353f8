/* The asynchronous client (the seed's 17 steps): the caller encodes and posts; an IO
 * loop registers the context under a request id, arms the deadline, picks an endpoint,
 * writes the frame on a multiplexed connection and matches the reply by id. */
#include "px_client_int.h"
#include "px_client_read.h"
#include "px_client_filter.h"
#include "px_cfilt_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_ctx.h"
#include "px_grow.h"
#include "px_log.h"
#include "px_native_client.h"
#include "px_naming_int.h"
#include "px_net.h"
#include "px_probe.h"
#include "px_time.h"

/* Requests up to this size are encoded inside the call's own allocation. */
#define PX_CALL_INLINE_REQ 192



static int px__attempt(px_ccall *call);
static void px__cconn_pump(px_cconn *cc);
static void px__att_done(px_catt *a, px_status st, const char *msg, ProtobufCMessage *reply,
                         const px_meta *rmeta);

static __thread px_status px__stub_st;
static __thread const char *px__stub_msg;
/* The response metadata of the call whose callback runs on this thread (NULL: none). */
static __thread const px_meta *px__reply_meta;
static px_meta px__no_meta; /* empty: a call that ended without reply metadata */

/* ---- attempts and completion --------------------------------------------- */

/* Out of its connection's queue (it was never sent). */
static __attribute__((noinline)) void px__att_unqueue(px_cconn *cc, px_catt *a)
{
    if (a->prev)
        a->prev->next = a->next;
    else
        cc->qhead = a->next;
    if (a->next)
        a->next->prev = a->prev;
    else
        cc->qtail = a->prev;
    a->prev = a->next = NULL;
    a->conn = NULL;
    a->queued = 0;
    cc->n_queued--;
}

/* Inline: on every call's path (px__att_done, px__complete). */
static inline __attribute__((always_inline)) void px__att_unlink(px_catt *a)
{
    px_cconn *cc = a->conn;
    if (!cc)
        return;
    if (__builtin_expect(a->queued, 0)) {
        px__att_unqueue(cc, a);
        if (cc->n_atts == 0 && cc->goaway && !cc->qhead)
            px_conn_close_after_flush(&cc->conn);
        return;
    }
    if (a->prev)
        a->prev->next = a->next;
    else
        cc->atts = a->next;
    if (a->next)
        a->next->prev = a->prev;
    a->prev = a->next = NULL;
    a->conn = NULL;
    /* After a GOAWAY the connection's last attempt closes it (the client, not the
     * server, ends a drained connection: no request can be on the way then; nothing
     * waits there either: a GOAWAY sends what waited elsewhere). */
    if (--cc->n_atts == 0 && cc->goaway)
        px_conn_close_after_flush(&cc->conn);
    else if (__builtin_expect(cc->qhead != NULL, 0))
        px__cconn_pump(cc); /* the place it held goes to the first one waiting */
}

static void px__att_cancel_frame(px_catt *a)
{
    /* Tell the server we gave up; its late reply will find no context anyway. */
    px_cconn *cc = a->conn;
    if (!cc || a->queued || cc->conn.closed)
        return; /* a queued attempt sent nothing */
    const px_protocol_ops *p = a->call->cl->up->proto;
    int told = !cc->conn.connecting && p->client_cancel &&
               p->client_cancel(cc->pstate, px_conn_out(&cc->conn), a->call->id) == 0;
    /* Unless the protocol's cancel frees it, the request keeps its place on the server
     * until its (late) answer comes: native answers every request. */
    if (!told || !(p->flags & PX_PROTO_CANCEL_FREES))
        cc->n_gone++;
}

/* Ends an attempt without judging it: the call ended by other means. */
static void px__att_abandon(px_catt *a)
{
    if (!a->live)
        return;
    px__att_cancel_frame(a);
    px__att_unlink(a);
    px_ep_inflight_add(a->ep, -1);
    a->live = 0;
    a->call->n_live--;
}

/* The call was won while this attempt was still out: judged by the shared rule
 * (px_upstream_hedge_lost; its call is over, so failover has nothing to decide). */
static void px__att_judge_loser(px_catt *a, int64_t now)
{
    if (a->live)
        px_upstream_hedge_lost(a->call->cl->up, a->ep, a->call->hedge_us, now - a->start_us);
}

/* Runs the call's callback and frees the call: what px__complete ends with. */
static void px__deliver(px_ccall *call, px_status st, const char *msg, ProtobufCMessage *reply,
                        const px_meta *rmeta)
{
    /* Only replies handed to a callback are decoded into the call's block. */
    int reply_in_arena = reply && !call->keep && call->cl->up->codec_decode_with;
    const ProtobufCMessage *shown = st == PX_OK ? reply : NULL;
    if (call->keep) {
        *call->keep = reply; /* px_call_wait takes the reply over */
        reply = NULL;
    }
    /* Counted before the callback: a caller that saw its last callback sees the count. */
    __atomic_add_fetch(&call->cl->stats.calls_completed, 1, __ATOMIC_RELAXED);
    px__stub_st = st;
    px__stub_msg = msg;
    px__reply_meta = rmeta;
    call->done(call->user, st, st == PX_OK ? "" : msg, shown);
    px__stub_st = PX_OK;
    px__stub_msg = NULL;
    px__reply_meta = NULL;
    if (reply && reply_in_arena)
        px_arena_free_message(&call->reply_arena, reply);
    else if (reply)
        protobuf_c_message_free_unpacked(reply, NULL);
    px_buf_free(&call->req);
    px_cfilt *flt = call->flt;
    if (__builtin_expect(flt != NULL, 0)) {
        px_buf_free(&flt->fmeta);
        px_cfilt_put(flt);
    }
    free(call);
}

static void px__deliver_task(px_loop *l, void *arg)
{
    px_ccall *call = arg;
    const char *msg = call->req.len ? (const char *)call->req.data
                                    : "out of memory (the error's message was lost)";
    px__deliver(call, call->late_st, msg, NULL, NULL);
}

/* The call ended while px_call_async was still starting it on this IO thread: the
 * callback runs from a task, once px_call_async has returned (libuv's rule: a callback
 * never runs inside the call that registered it). The message is kept in the call's
 * request buffer, which no attempt needs any more. No reply can have come yet. */
static __attribute__((noinline)) void px__deliver_later(px_ccall *call, px_status st,
                                                        const char *msg)
{
    call->late_st = st;
    call->req.len = 0;
    if (px_buf_append(&call->req, msg, strlen(msg) + 1) != 0)
        call->req.len = 0;
    px_loop_post(&call->lp->loop, &call->task, px__deliver_task, call);
}

static void px__complete(px_ccall *call, px_status st, const char *msg, ProtobufCMessage *reply,
                         const px_meta *rmeta)
{
    px_tq_cancel(&call->deadline_t);
    px_tq_cancel(&call->hedge_t);
    px__att_abandon(&call->att[0]);
    px__att_abandon(&call->att[1]);
    if (__builtin_expect(call->id != 0, 1)) /* 0: it never got one (out of memory) */
        px_ctx_del(&call->lp->ctx, call->id);
    px_cfilt *flt = call->flt;
    if (__builtin_expect(flt != NULL, 0))
        px__cfilter_done(&flt->fc, st, msg, flt->last_ep ? flt->last_ep->pub.address : "",
                         flt->resp_bytes, rmeta);
    if (__builtin_expect(call->starting, 0)) {
        px__deliver_later(call, st, msg);
        return;
    }
    px__deliver(call, st, msg, reply, rmeta);
}

/* An attempt ended: the core records it (balancer, endpoint health, timeout module) and
 * failover decides; then finish the call, wait for a hedge twin, or retry. */
static void px__att_done(px_catt *a, px_status st, const char *msg, ProtobufCMessage *reply,
                         const px_meta *rmeta)
{
    px_ccall *call = a->call;
    px_loop *l = &call->lp->loop;
    /* Waiting for a place its server's announced limit keeps says nothing of that
     * server; waiting for the answer to the opening (it never came) does. */
    int queued = a->queued && a->conn->ready;
    px__att_unlink(a);
    px_ep_inflight_add(a->ep, -1);
    a->live = 0;
    call->n_live--;
    int64_t now = px_loop_now_us(l);
    int64_t remaining = call->expired ? 0 : call->deadline_us ? call->deadline_us - now : INT64_MAX;
    /* With its hedge twin still out the call does not retry now: no transparent retry
     * is spent on it. */
    px_failover_action act = px_upstream_attempt_done(
        call->cl->up, a->ep, call->method, st, a->number, a->sent, call->opts.idempotent,
        a->refused, call->n_live == 0 ? &call->transparent : NULL, queued, now - a->start_us,
        remaining);
    if (st == PX_OK) {
        if (call->n_live > 0) { /* hedged, and the other copy is still out */
            px__att_judge_loser(&call->att[0], now);
            px__att_judge_loser(&call->att[1], now);
        }
        px__complete(call, PX_OK, "", reply, rmeta);
        return;
    }
    if (call->n_live > 0)
        return; /* the other (hedged) attempt may still answer */
    if (act == PX_FAILOVER_RETRY && !call->lp->stopping) {
        __atomic_add_fetch(&call->cl->stats.retries, 1, __ATOMIC_RELAXED);
        px_mcount(call->cl->up->m_retries, 1);
        px__attempt(call);
        return;
    }
    px__complete(call, st, msg, reply, rmeta);
}

static void px__deadline_cb(px_tnode *t)
{
    px_ccall *call = (px_ccall *)((char *)t - offsetof(px_ccall, deadline_t));
    char msg[400];
    px_catt *live[2];
    int n = 0;
    for (int i = 0; i < 2; i++)
        if (call->att[i].live)
            live[n++] = &call->att[i];
    if (n && live[0]->queued && live[0]->conn->ready)
        snprintf(msg, sizeof msg,
                 "%s: deadline exceeded before it was sent: the connection to %s had %u calls "
                 "in flight, the most its server takes at once (max_inflight_per_conn)",
                 call->method, live[0]->ep->pub.address, live[0]->conn->cap);
    else if (n && live[0]->queued)
        snprintf(msg, sizeof msg,
                 "%s: deadline exceeded before it was sent: the server at %s had not answered "
                 "the opening of the connection", call->method, live[0]->ep->pub.address);
    else if (n)
        snprintf(msg, sizeof msg, "%s: deadline exceeded waiting for %s", call->method,
                 live[0]->ep->pub.address);
    else
        snprintf(msg, sizeof msg, "%s: deadline exceeded", call->method);
    call->expired = 1;
    if (n == 0) {
        px__complete(call, PX_DEADLINE_EXCEEDED, msg, NULL, NULL);
        return;
    }
    /* Each attempt is judged as timed out; the last one completes (and frees) the call. */
    for (int k = 0; k < n; k++) {
        px__att_cancel_frame(live[k]);
        px__att_done(live[k], PX_DEADLINE_EXCEEDED, msg, NULL, NULL);
    }
}

static void px__hedge_cb(px_tnode *t)
{
    px_ccall *call = (px_ccall *)((char *)t - offsetof(px_ccall, hedge_t));
    if (call->n_live != 1 || call->expired || call->lp->stopping)
        return;
    px_client *cl = call->cl; /* with its first attempt out, the call outlives this */
    if (px__attempt(call)) {
        __atomic_add_fetch(&cl->stats.hedges, 1, __ATOMIC_RELAXED);
        px_mcount(cl->up->m_hedges, 1);
    }
}

/* ---- connections ---------------------------------------------------------- */

static void px__cconn_fail_calls(px_cconn *cc, px_status st, const char *msg)
{
    int refused = cc->refusal.status != PX_OK;
    int reached = !cc->conn.connecting && !refused;
    while (cc->atts) {
        px_catt *a = cc->atts;
        a->sent = a->sent && reached;
        a->refused = refused;
        px__att_done(a, st, msg, NULL, NULL);
    }
    while (cc->qhead) { /* never sent: failover may send them elsewhere */
        px_catt *a = cc->qhead;
        a->refused = refused;
        px__att_done(a, st, msg, NULL, NULL);
    }
}

/* Out of the loop's table: no new attempt goes to this connection (new calls open a
 * fresh one); the attempts on it finish and the last one closes it (px__att_unlink). */
static void px__cconn_unlist(px_cconn *cc)
{
    if (cc->goaway)
        return;
    cc->goaway = 1;
    if (cc->lp->conns[cc->slot] == cc)
        cc->lp->conns[cc->slot] = NULL;
    px_conn_unref(&cc->conn); /* the table's reference; the open connection keeps its own */
}

/* A GOAWAY, or naming removed the endpoint: the attempts on the connection finish (reply,
 * error or their own deadline), and it closes after the last. With a GOAWAY's status, the
 * server refused the connection outright (e.g. too many connections): nothing sent on it
 * ran, and the status and reason are what every attempt on it ends with, rather than the
 * reset that follows. */
static void px__cconn_retire(px_cconn *cc, const px_cmsg *goaway)
{
    if (goaway && goaway->status != PX_OK && cc->refusal.status == PX_OK)
        px_cmsg_err(goaway, cc->conn.peer, &cc->refusal);
    px__cconn_unlist(cc);
    if (cc->refusal.status != PX_OK)
        px__cconn_fail_calls(cc, cc->refusal.status, cc->refusal.msg);
    /* What still waits to be sent here was not: like a refused request it may go to
     * another connection (failover, or a transparent retry), a new one to the same
     * endpoint included. */
    while (cc->qhead) {
        px_catt *a = cc->qhead;
        char msg[400];
        snprintf(msg, sizeof msg, "%s: %s took no new calls on the connection it waited for",
                 a->call->method, cc->ep->pub.address);
        a->refused = 1;
        px__att_done(a, PX_UNAVAILABLE, msg, NULL, NULL);
    }
    if (cc->n_atts == 0)
        px_conn_close_after_flush(&cc->conn);
}

/* The reply arena: the room of the call's inline request buffer past the request
 * (all of it when the request outgrew it and moved to the heap). The request stays
 * intact, since a reply that fails to decode may be followed by a retry. */
static void px__reply_arena_init(px_ccall *call)
{
    uint8_t *room = (uint8_t *)call->method + call->method_len + 1 + call->meta_len;
    uint8_t *end = room + PX_CALL_INLINE_REQ;
    if (call->req.data == room)
        room += call->req.len;
    uintptr_t aligned = ((uintptr_t)room + 15) & ~(uintptr_t)15;
    size_t cap = aligned < (uintptr_t)end ? (size_t)((uintptr_t)end - aligned) : 0;
    px_arena_init(&call->reply_arena, (void *)aligned, cap);
}

/* An ERROR for one call: it ends that attempt (with the metadata it carried). */
static void px__cconn_error(px_catt *a, const px_cmsg *m, const px_meta *rmeta)
{
    px_err e;
    px_cmsg_err(m, a->conn->conn.peer, &e);
    if (m->not_executed) {
        a->sent = 0; /* the server says it never ran it: safe to send elsewhere */
        a->refused = 1;
    }
    px__att_done(a, e.status, e.msg, NULL, rmeta);
}

/* A reply's metadata as a view of the frame, or NULL when it is malformed: the attempt
 * has then failed with INTERNAL. Out of line: most replies carry none. */
static __attribute__((noinline)) const px_meta *px__reply_meta_view(px_catt *a, const px_cmsg *m,
                                                                     px_meta *view)
{
    px_err err;
    size_t n = 0;
    if (px__reply_meta_check(m->meta, m->meta_len, a->conn->conn.peer, &n, NULL, &err) != PX_OK) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: %s", a->call->method, err.msg);
        px__att_done(a, PX_INTERNAL, msg, NULL, NULL);
        return NULL;
    }
    px_meta_view(view, m->meta, m->meta_len, n);
    return view;
}

/* ---- a connection's place limit and its queue ------------------------------ */

/* Frames attempt a on cc and puts it in flight there. 0, or -1 when out of memory
 * (nothing was appended). */
static inline int px__att_send(px_catt *a, px_cconn *cc, int64_t now)
{
    px_ccall *call = a->call;
    int64_t left = call->deadline_us ? call->deadline_us - now : 0;
    px_creq r = {.id = call->id,
                 .timeout_us = call->deadline_us == 0 ? 0 : left > 0 ? left : 1,
                 .method = call->method, .method_len = call->method_len,
                 .meta = (const uint8_t *)call->method + call->method_len + 1,
                 .meta_len = call->meta_len};
    if (__builtin_expect(call->flt != NULL, 0) && call->flt->fmeta.len) {
        r.meta = call->flt->fmeta.data;
        r.meta_len = call->flt->fmeta.len;
    }
    const px_protocol_ops *p = call->cl->up->proto;
    if (p->client_request(cc->pstate, px_conn_out(&cc->conn), &r, call->req.data,
                          call->req.len) != 0)
        return -1;
    a->sent = 1;
    a->conn = cc;
    a->next = cc->atts;
    if (cc->atts)
        cc->atts->prev = a;
    cc->atts = a;
    cc->n_atts++;
    return 0;
}

/* Whether cc may carry one more request: its requests unanswered (those given up on
 * included, while their answer is still due) stay within what its server takes. */
static inline int px__cconn_has_room(const px_cconn *cc)
{
    return cc->n_atts + cc->n_gone < cc->cap;
}

/* Sends what waits on cc, first come first served, while it has room. */
static __attribute__((noinline)) void px__cconn_pump(px_cconn *cc)
{
    int64_t now = px_loop_now_us(&cc->lp->loop);
    while (cc->qhead && px__cconn_has_room(cc) && !cc->goaway && !cc->conn.closed) {
        px_catt *a = cc->qhead;
        px__att_unqueue(cc, a);
        a->start_us = now; /* its latency is the server's from here, not the wait */
        if (px__att_send(a, cc, now) != 0)
            px__att_done(a, PX_RESOURCE_EXHAUSTED, "out of memory", NULL, NULL);
    }
}

/* The server answered the opening: from now on cc carries as many requests as it said
 * it takes (none said: no limit), and what waited for the answer goes out. */
static void px__cconn_ready(px_cconn *cc, const px_cmsg *m)
{
    cc->ready = 1;
    cc->cap = cc->lp->cl->up->proto_max_inflight && m->max_inflight ? m->max_inflight
                                                                    : UINT32_MAX;
    if (cc->qhead)
        px__cconn_pump(cc);
}

/* cc has no room for attempt a (its server's limit is reached, or its opening is not
 * answered yet): a waits at the end of its queue, its deadline still running. Past
 * limits.max_queued_per_conn the attempt is not made: a hedge just does not happen,
 * any other attempt ends the call with RESOURCE_EXHAUSTED. 1 when a waits. */
static __attribute__((noinline)) int px__att_enqueue(px_catt *a, px_cconn *cc)
{
    px_ccall *call = a->call;
    const px_upstream_conf *uc = call->cl->up->conf;
    if (cc->n_queued >= uc->limits.max_queued_per_conn) {
        char msg[600], took[120];
        if (cc->ready)
            snprintf(took, sizeof took, "its server takes %u calls at once", cc->cap);
        else
            snprintf(took, sizeof took, "its server has not answered the opening yet");
        snprintf(msg, sizeof msg,
                 "%s: not sent: %u calls already wait for a place on the connection to %s "
                 "(%s), the most limits.max_queued_per_conn of upstream %s allows",
                 call->method, cc->n_queued, cc->ep->pub.address, took, uc->name);
        a->live = 0; /* never started: nothing to judge */
        call->n_live--;
        px_ep_inflight_add(a->ep, -1);
        if (call->n_live == 0)
            px__complete(call, PX_RESOURCE_EXHAUSTED, msg, NULL, NULL);
        return 0;
    }
    a->queued = 1;
    a->conn = cc;
    a->next = NULL;
    a->prev = cc->qtail;
    if (cc->qtail)
        cc->qtail->next = a;
    else
        cc->qhead = a;
    cc->qtail = a;
    cc->n_queued++;
    return 1;
}

/* One message from the server. */
static void px__cconn_on_msg(px_cconn *cc, const px_cmsg *m)
{
    px_conn *c = &cc->conn;
    px_cloop *lp = cc->lp;
    px_client *cl = lp->cl;
    px_err e;
    switch (m->kind) {
    case PX_CMSG_REPLY:
    case PX_CMSG_ERROR:
        break;
    case PX_CMSG_PONG:
        return;
    case PX_CMSG_READY:
        if (px_cmsg_ready_check(m, cl->up->codec_name, c->peer, &e) != PX_OK)
            px_conn_close(c, &e);
        else
            px__cconn_ready(cc, m);
        return;
    case PX_CMSG_GOAWAY:
        px__cconn_retire(cc, m);
        return;
    case PX_CMSG_CONN_ERROR:  /* codec refused, protocol error: every call on it ends */
    case PX_CMSG_UNEXPECTED:
        px_cmsg_err(m, c->peer, &e);
        px_conn_close(c, &e);
        return;
    }
    px_ccall *call = px_ctx_find(&lp->ctx, m->id);
    px_catt *a = NULL;
    for (int i = 0; call && i < 2; i++)
        if (call->att[i].live && call->att[i].conn == cc)
            a = &call->att[i];
    if (!a) {
        __atomic_add_fetch(&cl->stats.late_responses, 1, __ATOMIC_RELAXED);
        px_mcount(cc->ep->m_late, 1);
        if (cc->n_gone) { /* a request given up on: its place on the server is free now */
            cc->n_gone--;
            if (cc->qhead)
                px__cconn_pump(cc);
        }
        return;
    }
    /* The reply's metadata is read in place: the callback runs before this returns. */
    px_meta view;
    const px_meta *rmeta = NULL;
    if (__builtin_expect(m->meta_len != 0, 0) && !(rmeta = px__reply_meta_view(a, m, &view)))
        return;
    if (__builtin_expect(call->flt != NULL, 0)) {
        call->flt->last_ep = a->ep;
        call->flt->resp_bytes = m->kind == PX_CMSG_REPLY ? m->body_len : 0;
    }
    if (m->kind == PX_CMSG_ERROR) {
        px__cconn_error(a, m, rmeta);
        return;
    }
    ProtobufCMessage *reply = NULL;
    px_err err; /* not = {0}: that zero-fills 516 bytes per call */
    px_err_clear(&err);
    px_upstream *up = cl->up;
    px_status st;
    if (up->codec_decode_with && !call->keep) {
        /* px_call_wait's callers free their reply themselves: those stay on malloc. */
        px__reply_arena_init(call);
        st = up->codec_decode_with(up->codec_state, call->reply_desc, m->body, m->body_len,
                                   &call->reply_arena.alloc, &reply, &err);
    } else {
        st = up->codec->decode(up->codec_state, call->reply_desc, m->body, m->body_len, &reply,
                               &err);
    }
    if (st != PX_OK) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: cannot decode the reply from %s: %s", call->method, c->peer,
                 err.msg);
        px__att_done(a, PX_INTERNAL, msg, NULL, NULL);
        return;
    }
    px__att_done(a, PX_OK, "", reply, rmeta);
}

/* What the server sent, one message at a time through the upstream's protocol. */
static void px__cconn_msg(px_conn *c, const px_cmsg *m)
{
    px__cconn_on_msg((px_cconn *)c, m);
}

static size_t px__cconn_on_bytes(px_conn *c, const uint8_t *buf, size_t len)
{
    px_cconn *cc = (px_cconn *)c;
    px_upstream *up = cc->lp->cl->up;
    return px_client_read(c, up->proto, cc->pstate, &up->plim, buf, len, px__cconn_msg);
}

static size_t px__cconn_msg_size(px_conn *c, const uint8_t *buf, size_t len)
{
    const px_protocol_ops *p = ((px_cconn *)c)->lp->cl->up->proto;
    return p->client_msg_size ? p->client_msg_size(buf, len) : 0;
}

static void px__cconn_on_close(px_conn *c, const px_err *why)
{
    px_cconn *cc = (px_cconn *)c;
    ev_timer_stop(c->loop->ev, &cc->connect_w);
    px__cconn_unlist(cc);
    if (cc->refusal.status != PX_OK) {
        px__cconn_fail_calls(cc, cc->refusal.status, cc->refusal.msg);
        return;
    }
    px_status st = why->status == PX_OK ? PX_UNAVAILABLE : why->status;
    char msg[600];
    snprintf(msg, sizeof msg, "%s", why->status == PX_OK ? "connection closed" : why->msg);
    px__cconn_fail_calls(cc, st, msg);
}

static void px__cconn_on_free(px_conn *c)
{
    px_cconn *cc = (px_cconn *)c;
    const px_protocol_ops *p = cc->lp->cl->up->proto;
    if (cc->pstate && p->client_close)
        p->client_close(cc->pstate);
    free(c);
}

static void px__cconn_on_connected(px_conn *c)
{
    px_cconn *cc = (px_cconn *)c;
    ev_timer_stop(c->loop->ev, &cc->connect_w);
}

static const px_conn_ops px__cconn_ops = {
    .on_bytes = px__cconn_on_bytes,
    .msg_size = px__cconn_msg_size,
    .on_close = px__cconn_on_close,
    .on_free = px__cconn_on_free,
    .on_connected = px__cconn_on_connected,
    .read_on_reset = 1, /* a refused connection's GOAWAY says why better than the reset */
};

static void px__connect_timeout_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_cconn *cc = w->data;
    px_err e;
    if (cc->conn.tls_hs_started)
        px_err_set(&e, PX_UNAVAILABLE, "TLS handshake with %s timed out", cc->ep->pub.address);
    else
        px_err_set(&e, PX_UNAVAILABLE, "connect to %s timed out", cc->ep->pub.address);
    px_conn_close(&cc->conn, &e);
}

/* Of an endpoint's connections on this loop, the slot for the next call: one not open
 * yet, else the one with the fewest attempts in flight (ties rotate). A completion's
 * follow-up call thus returns to the connection that freed a place, and the calls one
 * loop iteration makes leave in a few full writes rather than one small write per
 * connection (a closed loop of 8 connections made 1.7x the writes per call with plain
 * rotation). */
size_t px__cconn_slot(px_cloop *lp, px_ep *ep, uint32_t per)
{
    size_t base = ep->pub.index * (size_t)per;
    if (per == 1)
        return base;
    uint32_t start = lp->rr++ % per;
    size_t best = base + start;
    for (uint32_t k = 0; k < per; k++) {
        size_t s = base + (start + k) % per;
        px_cconn *cc = lp->conns[s];
        if (!cc)
            return s;
        if (cc->n_atts + cc->n_queued < lp->conns[best]->n_atts + lp->conns[best]->n_queued)
            best = s;
    }
    return best;
}

/* Room in lp->conns for the endpoint of record index i: the table grows on its loop as
 * naming lists new endpoints, so nothing is sized by an endpoint count fixed at start. */
static int px__cconns_reserve(px_cloop *lp, uint32_t index, uint32_t per)
{
    size_t need = ((size_t)index + 1) * per;
    if (need <= lp->conns_cap) /* the common case, inline */
        return 0;
    void *conns = lp->conns;
    if (px_grow_zeroed(&conns, &lp->conns_cap, need, sizeof *lp->conns, 8 * (size_t)per) != 0)
        return -1;
    lp->conns = conns;
    return 0;
}

static px_cconn *px__cconn_get(px_cloop *lp, px_ep *ep, int64_t call_left_us, px_err *err)
{
    px_client *cl = lp->cl;
    int per = cl->up->conf->connections_per_endpoint;
    if (px__cconns_reserve(lp, ep->pub.index, (uint32_t)per) != 0) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    size_t slot = px__cconn_slot(lp, ep, (uint32_t)per);
    px_cconn *cc = lp->conns[slot];
    if (cc)
        return cc;
    int fd = px_net_connect(&ep->sa, err);
    if (fd < 0)
        return NULL;
    cc = calloc(1, sizeof *cc);
    if (!cc) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    const px_upstream_conf *uc = cl->up->conf;
    px_conn_init(&cc->conn, &lp->loop, fd, &px__cconn_ops, uc->limits.max_meta,
                 uc->limits.max_frame, 1, ep->pub.address);
    if (uc->tls_ctx && px_conn_tls(&cc->conn, uc->tls_ctx, 0, err) != 0) {
        ev_io_stop(lp->loop.ev, &cc->conn.wio); /* never used: no close to tell anyone of */
        close(fd);
        free(cc);
        return NULL;
    }
    px_conn_ref(&cc->conn); /* the table's reference */
    cc->lp = lp;
    cc->ep = ep;
    cc->slot = slot;
    lp->conns[slot] = cc;
    int64_t ct = px_upstream_connect_timeout(cl->up, call_left_us);
    ev_timer_init(&cc->connect_w, px__connect_timeout_cb, ct > 0 ? ct / 1e6 : 10.0, 0);
    cc->connect_w.data = cc;
    ev_timer_start(lp->loop.ev, &cc->connect_w);
    /* The opening (native: HELLO) goes first; the first request follows without
     * waiting for the answer, which says how many calls the server takes at once: until
     * it comes, the others wait (cap 1). */
    cc->cap = 1;
    px_upstream *up = cl->up;
    if (up->proto->client_open(up->proto_state, up->codec_name, &cc->conn.out, &cc->pstate) != 0) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        px_conn_close(&cc->conn, err);
        return NULL;
    }
    /* A protocol without an opening handshake is ready at once: its READY (made up,
     * taking no bytes) comes from asking before anything arrived. */
    static const uint8_t none[1];
    px_cmsg m;
    size_t used = 0;
    px_err perr;
    if (up->proto->client_next(cc->pstate, none, 0, &up->plim, &cc->conn.out, &m, &used,
                               &perr) == PX_CNEXT_MSG &&
        m.kind == PX_CMSG_READY) {
        if (px_cmsg_ready_check(&m, up->codec_name, cc->conn.peer, err) != PX_OK) {
            px_conn_close(&cc->conn, err);
            return NULL;
        }
        px__cconn_ready(cc, &m);
    }
    return cc;
}

/* ---- attempts ------------------------------------------------------------ */

/* The endpoint of the call's attempt in flight (there is one when a hedge is picked). */
static px_ep *px__twin_ep(const px_ccall *call)
{
    return call->att[0].live ? call->att[0].ep : call->att[1].ep;
}

/* Starts an attempt; returns 0 when none was started (a hedge with nowhere to go). */
static int px__attempt(px_ccall *call)
{
    px_cloop *lp = call->lp;
    px_upstream *up = call->cl->up;
    int64_t now = px_loop_now_us(&lp->loop);
    px_ep *ep = px_upstream_pick(up, call->method, &call->opts, &call->tried,
                                 px_loop_mono_us(&lp->loop));
    /* A hedge never joins its twin: on the same connection, under the same id, the
     * server would refuse the duplicate id and end the connection. */
    if (!ep || (call->n_live > 0 && px__twin_ep(call) == ep)) {
        if (call->n_live > 0)
            return 0; /* a hedge with nowhere else to go: keep waiting for the first */
        char msg[300];
        snprintf(msg, sizeof msg, "%s: no endpoint available in upstream %s", call->method,
                 up->conf->name);
        px__complete(call, PX_UNAVAILABLE, msg, NULL, NULL);
        return 0;
    }
    px_catt *a = call->att[0].live ? &call->att[1] : &call->att[0];
    *a = (px_catt){.call = call, .ep = ep, .start_us = now, .number = call->attempts++, .live = 1};
    call->n_live++;
    px_tried_add(&call->tried, ep->pub.index); /* a retry or hedge goes elsewhere if it can */
    px_ep_inflight_add(ep, 1);
    int64_t left = call->deadline_us ? call->deadline_us - now : 0;
    px_err err; /* not = {0}: that zero-fills 516 bytes per call */
    px_err_clear(&err);
    px_cconn *cc = px__cconn_get(lp, ep, left, &err);
    if (!cc) {
        px__att_done(a, err.status, err.msg, NULL, NULL);
        return 1;
    }
    if (__builtin_expect(call->flt != NULL, 0))
        call->flt->last_ep = ep;
    /* First come, first served: behind others waiting, or at the server's limit. */
    if (__builtin_expect(cc->qhead != NULL || !px__cconn_has_room(cc), 0))
        return px__att_enqueue(a, cc);
    if (px__att_send(a, cc, now) != 0)
        px__att_done(a, PX_RESOURCE_EXHAUSTED, "out of memory", NULL, NULL);
    return 1;
}

/* The caller's thread, as the call is made: its upstream's filters (on_request) see it
 * with the caller's request message. A rejection is delivered like any outcome, by the
 * completion on the IO thread (px__call_start); a shorter deadline becomes the call's
 * timeout; metadata they add goes with every attempt. 0: out of memory. */
static int px__call_filters(px_ccall *call, const ProtobufCMessage *req)
{
    px_upstream *up = call->cl->up;
    /* Its own block, not room in the call's: the call's stays small enough for malloc's
     * per-thread cache; the filter blocks have a cache of their own (px_cfilt_cache.c). */
    px_cfilt *flt = px_cfilt_get();
    if (!flt) {
        call->flt = NULL;
        return 0;
    }
    flt->fmeta = (px_buf){0};
    flt->last_ep = NULL;
    flt->resp_bytes = 0;
    call->flt = flt;
    int64_t budget = px_upstream_call_timeout(up, call->method, &call->opts), left = budget;
    /* A refusal is sent by px__call_start (fc.status); a shorter deadline becomes the
     * call's timeout. */
    const uint8_t *meta = (const uint8_t *)call->method + call->method_len + 1;
    const px_meta *caller = call->opts.meta;
    if (caller) {
        px_meta_view(&flt->sent, meta, call->meta_len, caller->count);
        call->opts.meta = &flt->sent;
    }
    if (px__cfilter_run(up, &flt->fc, call->method, req, call->req.len, call->opts.meta, meta,
                        call->meta_len, &left, &flt->fmeta) == PX_OK && left != budget)
        call->opts.timeout_us = left;
    return 1;
}

static void px__call_start(px_loop *l, void *arg)
{
    px_ccall *call = arg;
    px_cloop *lp = call->lp;
    call->id = px_ctx_put(&lp->ctx, call);
    if (call->id == 0) {
        px__complete(call, PX_RESOURCE_EXHAUSTED, "out of memory for the call's request id",
                     NULL, NULL);
        return;
    }
    if (lp->stopping) {
        px__complete(call, PX_CANCELLED, "client is shutting down", NULL, NULL);
        return;
    }
    if (__builtin_expect(call->flt != NULL, 0) && call->flt->fc.status != PX_OK) {
        px__complete(call, call->flt->fc.status, call->flt->fc.msg, NULL, NULL); /* refused */
        return;
    }
    int64_t budget = px_upstream_call_timeout(call->cl->up, call->method, &call->opts);
    /* ev_now is cached per iteration, and this call may have been posted after this
     * iteration began: a deadline armed on the cached time could fire before the
     * caller's budget ran out. One clock read (vDSO) per call keeps it never early. */
    if (budget > 0)
        ev_now_update(l->ev);
    if (budget > 0) {
        call->deadline_us = px_loop_now_us(l) + budget;
        px_tq_arm(&lp->tq, &call->deadline_t, budget / 1e6, px__deadline_cb);
    }
    int64_t hedge = px_upstream_hedge_us(call->cl->up, call->method, budget);
    if (hedge > 0) {
        call->hedge_us = hedge;
        px_tq_arm(&lp->tq, &call->hedge_t, hedge / 1e6, px__hedge_cb);
    }
    px__attempt(call);
}

/* A call made from a handler: its metadata with the traceparent of the handler's trace,
 * then the call as any other (which finds a traceparent and adds none). Out of line: a
 * call made outside handlers pays one thread-local load for this. */
static __attribute__((noinline)) px_status
px__call_async_traced(px_client *c, const char *method, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *reply_desc, const px_call_opts *opts,
                      px_done_fn done, void *user, ProtobufCMessage **keep, const px_trace *trace,
                      px_err *err)
{
    px_call_opts o;
    px_meta m;
    uint8_t room[PX_TRACE_META_ROOM];
    px_status st = px__call_traced_opts(c->up, method, opts, trace, &o, &m, room, sizeof room, err);
    if (st == PX_OK)
        st = px__call_async_keep(c, method, req, reply_desc, &o, done, user, keep, err);
    px_buf_free(&m.enc); /* copied into the call */
    return st;
}

px_status px__call_async_keep(px_client *c, const char *method, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_desc,
                              const px_call_opts *opts, px_done_fn done, void *user,
                              ProtobufCMessage **keep, px_err *err)
{
    if (!c || !method || !req || !reply_desc || !done)
        return px_err_set(err, PX_INVALID_ARGUMENT, "px_call_async: missing argument");
    size_t mlen = strlen(method);
    if (mlen == 0 || mlen > PX_FRAME_MAX_METHOD || !strchr(method, '/'))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "method '%s' is not package.Service/Method (at most %d bytes)", method,
                          PX_FRAME_MAX_METHOD);
    if (__atomic_load_n(&c->closing, __ATOMIC_ACQUIRE))
        return px_err_set(err, PX_CANCELLED, "client is shutting down");
    px_upstream *up = c->up;
    /* Made from a handler: the call continues its trace. */
    const px_trace *trace = px_trace_outgoing(opts ? opts->meta : NULL);
    if (__builtin_expect(trace != NULL, 0))
        return px__call_async_traced(c, method, req, reply_desc, opts, done, user, keep, trace,
                                     err);
    const uint8_t *meta = NULL;
    size_t meta_len = 0;
    if (opts && opts->meta && px__call_meta(up, method, opts->meta, &meta, &meta_len, err) != PX_OK)
        return err->status;
    /* One allocation per call: the call, its method name, its request metadata (kept
     * for retries and hedges) and room for a small encoded request (larger ones move to
     * the heap as they grow). */
    size_t extra = mlen + 1 + meta_len;
    px_ccall *call = malloc(sizeof(px_ccall) + extra + PX_CALL_INLINE_REQ);
    if (!call)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    /* Zeroed from task (opts is filled whole below) up to the tried list's slots, which
     * its count guards: the method and metadata are copied over what follows, and the
     * request room needs no zeroes. */
    size_t zeroed = offsetof(px_ccall, tried.idx) - offsetof(px_ccall, task);
    /* Opaque to gcc, which would inline a constant ~600 bytes as `rep stos`: glibc's
     * vector stores are quicker at this size (glibc itself takes rep stos from 2 KiB). */
    __asm__("" : "+r"(zeroed));
    memset(&call->task, 0, zeroed);
    memcpy(call->method, method, mlen + 1);
    call->method_len = (uint16_t)mlen;
    if (meta_len)
        memcpy(call->method + mlen + 1, meta, meta_len);
    call->meta_len = (uint32_t)meta_len;
    px_buf_borrow(&call->req, (uint8_t *)call->method + mlen + 1 + meta_len, PX_CALL_INLINE_REQ);
    /* Step 3 of the seed: serialise in the caller's thread, off the IO loop. */
    px_err e; /* not = {0}: that zero-fills 516 bytes per call */
    px_err_clear(&e);
    if (up->codec->encode(up->codec_state, req, &call->req, &e) != PX_OK) {
        px_buf_free(&call->req);
        free(call);
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: cannot encode the request: %s", method,
                          e.msg);
    }
    if (call->req.len > up->conf->limits.max_frame) {
        size_t len = call->req.len;
        px_buf_free(&call->req);
        free(call);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED,
                          "%s: request of %zu bytes exceeds max_frame %llu", method, len,
                          (unsigned long long)up->conf->limits.max_frame);
    }
    call->cl = c;
    call->reply_desc = reply_desc;
    call->done = done;
    call->user = user;
    call->keep = keep;
    px_upstream_call_opts_into(up, call->method, req, opts, &call->opts);
    if (__builtin_expect(up->chain.n != 0, 0) && !px__call_filters(call, req)) {
        px_buf_free(&call->req);
        free(call);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    }
    __atomic_add_fetch(&c->stats.calls_started, 1, __ATOMIC_RELAXED);
    /* Called from one of this client's IO threads (a callback making the next call):
     * start it right here, so it leaves with this iteration's writes, with no queue
     * hop and no extra loop iteration. A call that ends at once (no endpoint, a filter's
     * refusal) has its callback run by a task after this returns (px__deliver_later):
     * done never runs inside px_call_async. */
    for (int i = 0; i < c->n_loops; i++) {
        if (px_loop_is_current(&c->loops[i].loop)) {
            call->lp = &c->loops[i];
            call->starting = 1;
            px__call_start(&call->lp->loop, call);
            call->starting = 0; /* alive: in flight, or its outcome's task is posted */
            return PX_OK;
        }
    }
    uint32_t k = __atomic_fetch_add(&c->next_loop, 1, __ATOMIC_RELAXED) % (uint32_t)c->n_loops;
    call->lp = &c->loops[k];
    px_loop_post(&call->lp->loop, &call->task, px__call_start, call);
    return PX_OK;
}

px_status px_call_async(px_client *c, const char *method, const ProtobufCMessage *req,
                        const ProtobufCMessageDescriptor *reply_desc, const px_call_opts *opts,
                        px_done_fn done, void *user, px_err *err)
{
    return px__call_async_keep(c, method, req, reply_desc, opts, done, user, NULL, err);
}

/* ---- lifetime ------------------------------------------------------------- */

/* Naming removed endpoints: their connections on this loop take no new attempt and close
 * once the attempts on them are done. Runs after the update was published, so no pick on
 * this loop can return a removed endpoint any more. */
static void px__sweep_task(px_loop *l, void *arg)
{
    px_cloop *lp = arg;
    __atomic_store_n(&lp->sweep_posted, 0, __ATOMIC_SEQ_CST); /* later updates post again */
    for (size_t i = 0; i < lp->conns_cap; i++) {
        px_cconn *cc = lp->conns[i];
        if (cc && !px_ep_is_member(cc->ep))
            px__cconn_retire(cc, NULL);
    }
}

/* Any thread (the naming module's), under the naming lock. */
static void px__client_on_removed(void *arg)
{
    px_client *c = arg;
    for (int i = 0; i < c->n_loops; i++) {
        px_cloop *lp = &c->loops[i];
        if (!__atomic_exchange_n(&lp->sweep_posted, 1, __ATOMIC_SEQ_CST))
            px_loop_post(&lp->loop, &lp->sweep_task, px__sweep_task, lp);
    }
    px__sync_sweep(c);
}

static void px__loop_stop_task(px_loop *l, void *arg)
{
    px_cloop *lp = arg;
    lp->stopping = 1;
    if (lp == &lp->cl->loops[0])
        px_upstream_naming_stop(lp->cl->up); /* on its thread; no update follows */
    px_probe_stop(lp);
    for (uint32_t i = 0; i < lp->ctx.cap; i++) {
        px_ccall *call = px_ctx_slot(&lp->ctx, i);
        if (call)
            px__complete(call, PX_CANCELLED, "client is shutting down", NULL, NULL);
    }
    for (size_t i = 0; i < lp->conns_cap; i++) {
        px_cconn *cc = lp->conns[i];
        if (cc) {
            px_err ok = {0};
            px_conn_close(&cc->conn, &ok);
        }
    }
}

px_status px_client_new(const px_config *cfg, const char *upstream, px_client **out, px_err *err)
{
    const px_client_conf *cc = &cfg->client;
    const px_upstream_conf *uc = NULL;
    if (!upstream && cc->n_upstreams == 1)
        uc = &cc->upstreams[0];
    for (size_t i = 0; upstream && i < cc->n_upstreams; i++)
        if (strcmp(cc->upstreams[i].name, upstream) == 0)
            uc = &cc->upstreams[i];
    if (!uc) {
        if (!upstream)
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "%s: name an upstream: the config has %zu", cfg->file,
                              cc->n_upstreams);
        return px_err_set(err, PX_NOT_FOUND, "%s: no upstream named '%s' under client.upstreams",
                          cfg->file, upstream);
    }
    px_client *c = calloc(1, sizeof *c);
    if (!c)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    c->cfg = cfg;
    pthread_mutex_init(&c->stub_lock, NULL);
    if (px_upstream_new(cfg, uc, &c->up, err) != PX_OK) {
        px_client_free(c);
        return err->status;
    }
    int n = cc->io_threads > 0 ? cc->io_threads : 1;
    c->loops = calloc((size_t)n, sizeof *c->loops);
    if (!c->loops) {
        px_client_free(c);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        px_cloop *lp = &c->loops[i];
        lp->cl = c;
        if (px_loop_init(&lp->loop, (unsigned)i) != 0) {
            px_client_free(c);
            return px_err_set(err, PX_INTERNAL, "cannot create an event loop");
        }
        c->n_loops++;
        px_loop_lag_start(&lp->loop, "client");
        px_tq_init(&lp->tq, lp->loop.ev);
        if (i == 0)
            px_probe_start(lp); /* armed before the thread runs: no race */
        if (px_loop_start(&lp->loop) != 0) {
            px_client_free(c);
            return px_err_set(err, PX_INTERNAL, "cannot start an IO thread");
        }
    }
    if (px__sync_new(c, err) != PX_OK) {
        px_client_free(c);
        return err->status;
    }
    /* Last: the naming module delivers the list on the first loop's thread, where it
     * also lives, and may remove endpoints from then on. */
    c->up->on_removed = px__client_on_removed;
    c->up->on_removed_arg = c;
    if (px_upstream_naming_start(c->up, &c->loops[0].loop, err) != PX_OK) {
        px_client_free(c);
        return err->status;
    }
    *out = c;
    return PX_OK;
}

void px_client_free(px_client *c)
{
    if (!c)
        return;
    __atomic_store_n(&c->closing, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < c->n_loops; i++) {
        px_cloop *lp = &c->loops[i];
        if (lp->loop.running)
            px_loop_post(&lp->loop, &lp->stop_task, px__loop_stop_task, lp);
        px_loop_stop_join(&lp->loop);
    }
    for (int i = 0; i < c->n_loops; i++) {
        px_cloop *lp = &c->loops[i];
        if (lp->loop.ev)
            px_tq_destroy(&lp->tq);
        px_loop_destroy(&lp->loop);
        px_ctx_free(&lp->ctx);
        free(lp->conns);
    }
    if (c->loops)
        free(c->loops);
    px__sync_free(c);
    for (px_stub *s = c->stubs, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    pthread_mutex_destroy(&c->stub_lock);
    px_upstream_free(c->up);
    free(c);
}

void px_client_stats_get(px_client *c, px_client_stats *out)
{
    out->calls_started = __atomic_load_n(&c->stats.calls_started, __ATOMIC_RELAXED);
    out->calls_completed = __atomic_load_n(&c->stats.calls_completed, __ATOMIC_RELAXED);
    out->late_responses = __atomic_load_n(&c->stats.late_responses, __ATOMIC_RELAXED);
    out->retries = __atomic_load_n(&c->stats.retries, __ATOMIC_RELAXED);
    out->hedges = __atomic_load_n(&c->stats.hedges, __ATOMIC_RELAXED);
}

const px_meta *px_call_reply_meta(void)
{
    /* px__stub_msg is set exactly while a callback runs. */
    if (!px__stub_msg)
        return NULL;
    return px__reply_meta ? px__reply_meta : &px__no_meta;
}

void px__status_enter(px_status st, const char *msg)
{
    px__stub_st = st;
    px__stub_msg = msg ? msg : "";
    px__reply_meta = NULL;
}

void px__status_leave(void)
{
    px__stub_st = PX_OK;
    px__stub_msg = NULL;
}

px_loop *px__client_loop(px_client *c)
{
    for (int i = 0; i < c->n_loops; i++)
        if (px_loop_is_current(&c->loops[i].loop))
            return &c->loops[i].loop;
    return &c->loops[0].loop;
}

px_status px_stub_status(const char **msg)
{
    if (msg)
        *msg = px__stub_msg ? px__stub_msg : "";
    return px__stub_st;
}

void px_msg_free(ProtobufCMessage *msg)
{
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}
