/* Server calls through their filter chain: on_request after admission and decoding,
 * before the handler (a filter may reject, or finish later: the call then waits like a
 * call queued for a worker, with its deadline armed), and on_done once the answer is
 * queued. A method without filters never comes here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_server_int.h"
#include "px_tls.h"
#include "px_time.h"

void px__scall_filter_free(px_scall *call)
{
    free(call->fc);
    call->fc = NULL;
}

void px__scall_outcome(px_scall *call, px_status st, const char *msg, size_t body_bytes)
{
    px_fcall *fc = call->fc;
    fc->status = st;
    fc->response_bytes = body_bytes;
    if (st == PX_OK)
        fc->msg[0] = '\0';
    else if (msg != fc->msg)
        snprintf(fc->msg, sizeof fc->msg, "%s", msg ? msg : "");
}

/* Loop thread: the call's deadline passed while a filter held it. */
static void px__pending_deadline_cb(px_tnode *t)
{
    px_scall *call = (px_scall *)((char *)t - offsetof(px_scall, queue_t));
    __atomic_store_n(&call->state, PX_SCALL_ANSWERED, __ATOMIC_RELEASE);
    px__call_answer_early(call, PX_DEADLINE_EXCEEDED, 0,
                          "%s: the deadline expired while a filter held the call", call->m->name);
}

/* A filter will decide later: the call waits, counted in flight, answered at its
 * deadline or at the end of the shutdown grace if the filter is slower. */
static void px__hold(px_scall *call)
{
    call->queued = 1;
    if (call->deadline_us == INT64_MAX)
        return;
    int64_t left = call->deadline_us - px_loop_mono_us(&call->sc->sl->loop);
    px_tq_arm(&call->sc->sl->tq, &call->queue_t, left > 0 ? (double)left / 1e6 : 0,
              px__pending_deadline_cb);
}

/* The filter's status goes to the client; the handler never runs. Not flagged as not
 * executed: the server decided on the call, and another server would decide the same. */
static void px__reject(px_scall *call)
{
    px__call_answer_early(call, call->fc->status, 0, "%s", call->fc->msg);
    px__call_finish(call);
}

static void px__verdict(px_scall *call, px_filter_verdict v)
{
    if (v == PX_FILTER_PENDING)
        px__hold(call);
    else if (v == PX_FILTER_REJECT)
        px__reject(call);
    else
        px__scall_dispatch(call);
}

/* Loop thread: a pending filter resumed. */
static void px__resumed_task(px_loop *loop, void *arg)
{
    (void)loop;
    px_scall *call = arg;
    if (px_tq_armed(&call->queue_t))
        px_tq_cancel(&call->queue_t);
    call->queued = 0;
    if (call->answered) {
        /* Its deadline or the end of the grace answered it first. */
        call->fc->pending = 0;
        px__call_finish(call);
        return;
    }
    px__verdict(call, px_fchain_resumed(call->fc, (px_filter_verdict)call->fc->verdict));
}

/* px_fcall_resume, from any thread. */
static void px__resume(px_fcall *fc)
{
    px_scall *call = fc->owner;
    /* The grace ran out and the server gave up on calls still held: its loop may be
     * gone (as for a handler that answers too late). */
    if (__atomic_load_n(&call->sc->sl->srv->abandoned, __ATOMIC_ACQUIRE))
        return;
    px_loop_post(&call->sc->sl->loop, &call->task, px__resumed_task, call);
}

/* The peer certificate of the call's connection, while it is open. */
static const char *px__peer_cert(const px_fcall *fc, size_t i)
{
    const px_scall *call = fc->owner;
    struct px_tls_conn *t = call->sc->conn.tls;
    if (!t)
        return NULL;
    return i == 0 ? px_tls_peer_subject(t) : px_tls_peer_san(t, i - 1);
}

int px__scall_filter_in(px_scall *call, const px_preq *f)
{
    /* Made once per call record, for the longest chain, with the room for who the call
     * comes from after it: kept as records are recycled. */
    if (!call->fc && (call->fc = malloc(px_fcall_size(PX_FCHAIN_MAX) + sizeof(px_fident))) == NULL) {
        px__call_answer_early(call, PX_RESOURCE_EXHAUSTED, PX_NOT_EXECUTED,
                              "server out of memory");
        px__call_finish(call);
        return 0;
    }
    px_fcall *fc = call->fc;
    px_fcall_begin(fc, call->m->chain, PX_FILTER_SERVER);
    fc->method = call->m->name;
    fc->peer = call->sc->conn.peer;
    fc->request = call->input;
    fc->meta = call->meta_len ? &call->req_meta : NULL;
    fc->add_meta = &call->resp_meta;
    fc->request_bytes = (uint32_t)f->body_len;
    fc->deadline_us = &call->deadline_us;
    fc->resume = px__resume;
    fc->owner = call;
    if (call->sc->conn.tls)
        fc->peer_cert = px__peer_cert;
    fc->trace = &call->trace;
    fc->ident = (px_fident *)((char *)fc + px_fcall_size(PX_FCHAIN_MAX));
    fc->ident->principal[0] = fc->ident->groups[0] = '\0';
    call->filtered = 1;
    px_filter_verdict v = px_fchain_request(fc);
    if (v == PX_FILTER_CONTINUE)
        return 1;
    px__verdict(call, v);
    return 0;
}

void px__scall_filter_done(px_scall *call)
{
    px_fcall *fc = call->fc;
    fc->add_meta = NULL;
    /* An answer the loop gave early (a rejection, a deadline) carried none. */
    fc->reply_meta = call->answered ? NULL : call->resp_meta;
    px_fchain_done(fc, fc->status, fc->msg);
}
