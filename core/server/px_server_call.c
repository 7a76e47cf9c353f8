/* Server calls: a REQUEST is admitted through the checks of docs/PROTOCOL.md §6.1 in
 * order, decoded within the memory budget, run on the IO thread or a worker, and
 * answered exactly once on the connection's own loop. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexus/px_service.h"
#include "px_deadline.h"
#include "px_handler_int.h"
#include "px_msgsize.h"
#include "px_server_int.h"
#include "px_time.h"

/* ---- call records --------------------------------------------------------- */

static void px__scall_free_input(px_scall *call)
{
    if (!call->input)
        return;
    if (call->in_arena)
        px_arena_free_message(&call->arena, call->input);
    else
        protobuf_c_message_free_unpacked(call->input, NULL);
    call->input = NULL;
}

/* Loop thread: a call record from the loop's free list (no malloc), or a new one. */
static px_scall *px__scall_get(px_sloop *sl)
{
    px_scall *call = sl->free_calls;
    if (call) {
        sl->free_calls = call->next_free;
        sl->n_free_calls--;
        memset(call, 0, offsetof(px_scall, msg));
        call->msg[0] = 0;
        call->reply = (px_buf){0};
        call->next_free = NULL;
    } else if ((call = calloc(1, sizeof *call)) == NULL) {
        return NULL;
    }
    px_arena_init(&call->arena, call->arena_mem, sizeof call->arena_mem);
    call->in_arena = 0;
    px_trace_reset(&call->trace, NULL);
    return call;
}

/* Loop thread: the record goes back with nothing attached (its metadata freed). */
static void px__scall_put(px_sloop *sl, px_scall *call)
{
    if (call->meta_heap)
        free(call->req_meta.enc.data);
    if (call->resp_meta)
        px_meta_free(call->resp_meta);
    if (sl->n_free_calls < PX_SLOOP_MAX_FREE_CALLS) {
        call->next_free = sl->free_calls;
        sl->free_calls = call;
        sl->n_free_calls++;
    } else {
        px__scall_filter_free(call);
        free(call);
    }
}

void px__sloop_free_calls(px_sloop *sl)
{
    while (sl->free_calls) {
        px_scall *next = sl->free_calls->next_free;
        px__scall_filter_free(sl->free_calls);
        free(sl->free_calls);
        sl->free_calls = next;
    }
    sl->n_free_calls = 0;
}

/* Loop thread: every way a call ends (answered by its handler, or released by a worker
 * after the loop answered it) comes here once. */
/* Inline on the hot path (the closure, the completion task); px__call_finish is the
 * same for px_server_filter.c. */
static inline __attribute__((always_inline)) void px__finish(px_scall *call)
{
    px_sconn *sc = call->sc;
    if (call->queued)
        px_tq_cancel(&call->queue_t);
    if (call->filtered)
        px__scall_filter_done(call);
    px__scall_free_input(call);
    px_buf_free(&call->reply);
    if (call->id_live)
        px_idset_del(&sc->ids, call->id);
    if (call->prev)
        call->prev->next = call->next;
    else
        sc->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    px_conn_charge(&sc->conn, -call->held);
    if (call->answered)
        sc->answered_early--;
    px__scall_put(sc->sl, call);
    sc->inflight--;
    if (sc->conn.finishing || sc->goaway || sc->conn.paused)
        px__sconn_call_ended(sc);
    px_conn_unref(&sc->conn);
}

void px__call_finish(px_scall *call) { px__finish(call); }

/* ---- answers ------------------------------------------------------------- */

/* Loop thread: an ERROR goes out for the call now, and whatever its handler answers
 * later is dropped. Its id is free again for the client from here on. */
void px__call_answer_early(px_scall *call, px_status st, uint16_t flags, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!call->answered)
        call->sc->answered_early++;
    call->answered = 1;
    if (call->filtered)
        px__scall_outcome(call, st, msg, 0);
    if (call->id_live) {
        px_idset_del(&call->sc->ids, call->id);
        call->id_live = 0;
    }
    if (!call->sc->conn.closed)
        px__sconn_error(call->sc, call->id, st, flags, "%s", msg);
}

/* The handler's response metadata goes with the answer; past the server's max_meta the
 * call fails instead, without it. 0, or -1 when it failed the call. */
static int px__reply_meta(px_scall *call, const uint8_t **meta, size_t *meta_len)
{
    const px_meta *rm = call->resp_meta;
    uint64_t max = call->sc->sl->srv->sc->limits.max_meta;
    if (rm->enc.len > max) {
        px_handler_fail(call, PX_INTERNAL, "%s: response metadata of %zu bytes exceeds max_meta %llu",
                        call->m->name, rm->enc.len, (unsigned long long)max);
        px_meta_free(call->resp_meta); /* not sent: what a filter's on_done sees */
        call->resp_meta = NULL;
        return -1;
    }
    *meta = rm->enc.data;
    *meta_len = rm->enc.len;
    return 0;
}

/* The handler's answer is an error: it goes out with its metadata. 0, or -1 when
 * nothing could be appended (out of memory). */
static int px__append_failure(px_scall *call, px_buf *out, const uint8_t *meta, size_t meta_len)
{
    px_sconn *sc = call->sc;
    if (call->status == PX_OK) {
        call->status = PX_INTERNAL;
        snprintf(call->msg, sizeof call->msg, "handler of %s ended the call without a reply",
                 call->m->name);
    }
    call->out_status = call->status;
    return sc->proto->reply_error(sc->pstate, out, call->id, call->status, 0, call->msg, meta,
                                  meta_len);
}

/* Encodes reply with the call's codec at the end of out. 0, or -1 with the call failed. */
static inline __attribute__((always_inline)) int px__encode_body(px_scall *call, px_buf *out,
                                                                const ProtobufCMessage *reply)
{
    const px_codec_inst *codec = call->codec;
    px_err err; /* not = {0}: that zero-fills 516 bytes per call */
    px_err_clear(&err);
    if (codec->ops->encode(codec->state, reply, out, &err) == PX_OK)
        return 0;
    call->status = PX_INTERNAL;
    snprintf(call->msg, sizeof call->msg, "cannot encode the reply of %s: %.200s", call->m->name,
             err.msg);
    return -1;
}

/*
 * Appends the answer to out through the connection's protocol: the handler's reply
 * (body = NULL: encoded here, straight into out; else body holds it encoded already),
 * or its failure, with its response metadata. 0, or -1 when nothing could be appended
 * (out of memory): the caller ends the connection rather than leave the call unanswered.
 */
static int px__append_answer(px_scall *call, px_buf *out, const ProtobufCMessage *reply,
                              const px_buf *body)
{
    px_sconn *sc = call->sc;
    const px_protocol_ops *p = sc->proto;
    const uint8_t *meta = NULL;
    size_t meta_len = 0;
    if (call->resp_meta && px__reply_meta(call, &meta, &meta_len) != 0)
        reply = NULL, body = NULL;
    if (reply || body) {
        size_t mark = p->reply_begin(sc->pstate, out, call->id, meta, meta_len);
        int rc = mark == SIZE_MAX ? -1
                 : body            ? px_buf_append(out, body->data, body->len)
                                   : px__encode_body(call, out, reply);
        if (rc == 0) {
            call->out_bytes = (uint32_t)p->reply_end(sc->pstate, out, mark);
            return 0;
        }
        if (call->status == PX_OK) { /* not the codec's failure: out of memory */
            call->status = PX_RESOURCE_EXHAUSTED;
            snprintf(call->msg, sizeof call->msg, "%s: server out of memory", call->m->name);
        }
        if (mark != SIZE_MAX)
            out->len = mark; /* what reply_begin appended goes too */
    }
    return px__append_failure(call, out, meta, meta_len);
}

/* Loop thread: the answer frame of n bytes just appended at out[from..) stays only
 * within the memory budget; past it the call gets RESOURCE_EXHAUSTED instead. */
static void px__check_reply_budget(px_scall *call, px_buf *out, size_t from)
{
    size_t n = out->len - from;
    const char *why = px__reply_check(call->sc, n);
    if (!why)
        return;
    out->len = from;
    px__sconn_error(call->sc, call->id, PX_RESOURCE_EXHAUSTED, 0,
                    "%s: the reply of %zu bytes was dropped: %s", call->m->name, n, why);
    if (call->filtered)
        px__scall_outcome(call, PX_RESOURCE_EXHAUSTED, "the reply was dropped: over the "
                          "memory budget", 0);
}

/* Loop thread: a reply built on a worker arrives. */
static void px__call_complete_task(px_loop *loop, void *arg)
{
    px_scall *call = arg;
    px_sconn *sc = call->sc;
    if (!call->answered && !sc->conn.closed) {
        px_buf *out = px_conn_out(&sc->conn);
        size_t from = out->len;
        if (call->body_only) { /* encoded on the worker; framed here, on the loop */
            if (px__append_answer(call, out, NULL, call->body_failed ? NULL : &call->reply) != 0)
                px__sconn_unanswerable(sc);
            if (call->filtered)
                px__scall_outcome(call, call->out_status, call->msg, call->out_bytes);
            px__check_reply_budget(call, out, from);
        } else {
            if (call->filtered)
                px__scall_outcome(call, call->out_status, call->msg, call->out_bytes);
            if (call->reply.len == 0 || px_buf_append(out, call->reply.data, call->reply.len) != 0)
                px__sconn_unanswerable(sc); /* the worker or the loop ran out of memory */
            else
                px__check_reply_budget(call, out, from);
        }
    }
    px__finish(call);
}

/* Loop thread: a worker found the call answered already and hands it back. */
static void px__call_release_task(px_loop *loop, void *arg) { px__finish(arg); }

/* The ProtobufCClosure handed to handlers: any thread, exactly once. */
static void px__closure(const ProtobufCMessage *reply, void *data)
{
    px_scall *call = data;
    px_sconn *sc = call->sc;
    px_trace_answered(&call->trace); /* the record may be reused once answered */
    if (px_loop_is_current(&sc->sl->loop)) {
        if (!call->answered && !sc->conn.closed) {
            px_buf *out = px_conn_out(&sc->conn);
            size_t from = out->len;
            if (px__append_answer(call, out, reply, NULL) != 0)
                px__sconn_unanswerable(sc);
            if (call->filtered)
                px__scall_outcome(call, call->out_status, call->msg, call->out_bytes);
            px__check_reply_budget(call, out, from);
        }
        px__finish(call);
        return;
    }
    /* The grace ran out and the server gave up on this handler: its loop may be gone. */
    if (__atomic_load_n(&sc->sl->srv->abandoned, __ATOMIC_ACQUIRE))
        return;
    /* Encode here, off the IO thread: the loop only copies the finished answer, or,
     * for a protocol whose framing has connection state, frames the encoded body. */
    if (call->sc->proto->flags & PX_PROTO_STATELESS_REPLY) {
        if (px__append_answer(call, &call->reply, reply, NULL) != 0)
            call->reply.len = 0; /* the loop ends the connection */
    } else {
        call->body_only = 1;
        call->body_failed = !reply || px__encode_body(call, &call->reply, reply) != 0;
    }
    px_loop_post(&sc->sl->loop, &call->task, px__call_complete_task, call);
}

void px_handler_fail(void *closure_data, px_status st, const char *fmt, ...)
{
    px_scall *call = closure_data;
    call->status = st == PX_OK ? PX_UNKNOWN : st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->msg, sizeof call->msg, fmt, ap);
    va_end(ap);
}

int64_t px_handler_remaining_us(void *closure_data)
{
    px_scall *call = closure_data;
    if (call->deadline_us == INT64_MAX)
        return INT64_MAX;
    return call->deadline_us - px_mono_us();
}

const char *px_handler_method(void *closure_data)
{
    return ((px_scall *)closure_data)->m->name;
}

size_t px__handler_services(void *closure_data, const ProtobufCServiceDescriptor **out,
                            size_t cap)
{
    const px_server *srv = ((px_scall *)closure_data)->sc->sl->srv;
    for (size_t i = 0; i < srv->n_services && i < cap; i++)
        out[i] = srv->services[i]->desc;
    return srv->n_services;
}

int px__handler_draining(void *closure_data)
{
    px_server *srv = ((px_scall *)closure_data)->sc->sl->srv;
    return __atomic_load_n(&srv->draining, __ATOMIC_ACQUIRE);
}

const px_meta *px_handler_meta(void *closure_data)
{
    static px_meta none; /* empty: px_meta_at never writes its cursor */
    px_scall *call = closure_data;
    return call->meta_len ? &call->req_meta : &none;
}

const char *px_handler_trace_id(void *closure_data)
{
    return px_trace_get(&((px_scall *)closure_data)->trace)->trace_id;
}

const char *px_handler_span_id(void *closure_data)
{
    return px_trace_get(&((px_scall *)closure_data)->trace)->span_id;
}

const char *px_handler_parent_span_id(void *closure_data)
{
    const px_trace *t = px_trace_get(&((px_scall *)closure_data)->trace);
    return t->parent_id[0] ? t->parent_id : NULL;
}

const char *px_handler_principal(void *closure_data)
{
    const px_scall *call = closure_data;
    return call->filtered ? px_fcall_principal(call->fc) : NULL;
}

px_status px_handler_set_meta(void *closure_data, const char *key, const void *value, size_t len,
                              px_err *err)
{
    px_scall *call = closure_data;
    /* Allocated on first use: a call without response metadata costs nothing. */
    if (!call->resp_meta && !(call->resp_meta = px_meta_new()))
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    return px_meta_add(call->resp_meta, key, value, len, err);
}

/* ---- running handlers ----------------------------------------------------- */

/* Runs the handler with the caller's deadline and the call's trace context inherited
 * by calls it makes. */
static void px__invoke(px_scall *call)
{
    int64_t prev = px_deadline_inherit(call->deadline_us);
    px_trace *prev_trace = px_trace_enter(&call->trace);
    call->m->service->invoke(call->m->service, call->m->index, call->input, px__closure, call);
    px_trace_enter(prev_trace);
    px_deadline_inherit(prev);
}

static void px__run_on_worker(px_loop *unused, void *arg)
{
    px_scall *call = arg;
    int expect = PX_SCALL_QUEUED;
    if (!__atomic_compare_exchange_n(&call->state, &expect, PX_SCALL_RUNNING, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        /* Answered while it waited (its deadline, or the end of the grace): the record
         * goes back to its loop without running the handler. */
        if (!__atomic_load_n(&call->sc->sl->srv->abandoned, __ATOMIC_ACQUIRE))
            px_loop_post(&call->sc->sl->loop, &call->task, px__call_release_task, call);
        return;
    }
    /* Its deadline passed a moment ago and the loop's timer has not fired yet. */
    if (call->deadline_us != INT64_MAX && px_mono_us() >= call->deadline_us) {
        px_handler_fail(call, PX_DEADLINE_EXCEEDED,
                        "%s: the deadline expired while the call waited for a worker", call->m->name);
        px__closure(NULL, call);
        return;
    }
    px__invoke(call);
}

/* Loop thread: the caller's deadline passed while the call still waits for a worker:
 * it is answered now, not when a worker frees up. */
static void px__queued_deadline_cb(px_tnode *t)
{
    px_scall *call = (px_scall *)((char *)t - offsetof(px_scall, queue_t));
    int expect = PX_SCALL_QUEUED;
    if (!__atomic_compare_exchange_n(&call->state, &expect, PX_SCALL_ANSWERED, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return; /* a worker has started it: its answer will come */
    px__call_answer_early(call, PX_DEADLINE_EXCEEDED, 0,
                          "%s: the deadline expired while the call waited for a worker",
                          call->m->name);
}

void px__sconn_answer_all(px_sconn *sc, const char *why)
{
    for (px_scall *call = sc->calls; call; call = call->next) {
        if (call->answered)
            continue;
        int expect = PX_SCALL_QUEUED;
        if (call->queued && __atomic_compare_exchange_n(&call->state, &expect, PX_SCALL_ANSWERED,
                                                        0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            px__call_answer_early(call, PX_UNAVAILABLE, PX_NOT_EXECUTED,
                                  "%s: %s; the call was still waiting for a worker and was not "
                                  "executed", call->m->name, why);
        else
            px__call_answer_early(call, PX_UNAVAILABLE, 0,
                                  "%s: %s before its handler finished; whether it took effect "
                                  "is unknown", call->m->name, why);
    }
}

void px__sconn_cancel(px_sconn *sc, uint64_t id)
{
    for (px_scall *call = sc->calls; call; call = call->next) {
        if (call->id != id || !call->id_live || call->answered)
            continue;
        /* Still waiting for a worker: it never runs (the worker hands the record back). */
        int expect = PX_SCALL_QUEUED;
        if (call->queued)
            __atomic_compare_exchange_n(&call->state, &expect, PX_SCALL_ANSWERED, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        call->answered = 1; /* whatever its handler answers is dropped */
        sc->answered_early++;
        if (call->filtered)
            px__scall_outcome(call, PX_CANCELLED, "the client cancelled the call", 0);
        px_idset_del(&sc->ids, id);
        call->id_live = 0;
        return;
    }
}

/* ---- admission ------------------------------------------------------------ */

/* A refusal before anything ran: the id is free again, and the client may send the
 * request elsewhere when flags say it was not executed. */
static void px__refuse(px_sconn *sc, uint64_t id, px_status st, uint16_t flags, const char *fmt,
                       ...) PX_PRINTF(5, 6);
static void px__refuse(px_sconn *sc, uint64_t id, px_status st, uint16_t flags, const char *fmt,
                       ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    px_idset_del(&sc->ids, id);
    px__sconn_error(sc, id, st, flags, "%s", msg);
}

static void px__refuse_unknown(px_sconn *sc, const px_preq *f)
{
    const px_methods *methods = &sc->sl->srv->methods;
    const char *slash = memchr(f->method, '/', f->method_len);
    int mlen = (int)f->method_len;
    if (!slash)
        px__refuse(sc, f->id, PX_UNIMPLEMENTED, 0,
                   "malformed method name '%.*s': expected package.Service/Method", mlen,
                   (const char *)f->method);
    else if (!px_methods_has_service(methods, f->method, (size_t)(slash - f->method)))
        px__refuse(sc, f->id, PX_UNIMPLEMENTED, 0, "unknown service '%.*s'",
                   (int)(slash - f->method), (const char *)f->method);
    else
        px__refuse(sc, f->id, PX_UNIMPLEMENTED, 0, "unknown method '%.*s' in service '%.*s'",
                   (int)(f->method + f->method_len - slash - 1), (const char *)slash + 1,
                   (int)(slash - f->method), (const char *)f->method);
}

/* The request's metadata (row 9b of PROTOCOL.md §6.1): a malformed section is refused
 * before anything runs, and the connection goes on. A good one stays with the call until
 * it ends (a handler may answer later, or on a worker, when the frame's bytes are gone):
 * in the record's own room when it fits there, else on the heap, counted in what the
 * call holds. 0, or -1 when refused (the record is put back). */
static int px__admit_meta(px_sconn *sc, px_scall *call, const px_preq *f, const px_method *m)
{
    size_t count = 0, at = 0;
    char what[200];
    if (px_meta_wire_check(f->meta, f->meta_len, &count, &at, what, sizeof what) != 0) {
        px__scall_put(sc->sl, call);
        px__refuse(sc, f->id, PX_INVALID_ARGUMENT, PX_NOT_EXECUTED,
                   "%s: malformed metadata at byte %zu: %s", m->name, at, what);
        return -1;
    }
    uint8_t *p = px_arena_take(&call->arena, f->meta_len);
    if (!p) {
        if (!(p = malloc(f->meta_len))) {
            px__scall_put(sc->sl, call);
            px__refuse(sc, f->id, PX_RESOURCE_EXHAUSTED, PX_NOT_EXECUTED,
                       "server out of memory");
            return -1;
        }
        call->meta_heap = 1;
        call->held += (int64_t)f->meta_len;
    }
    memcpy(p, f->meta, f->meta_len);
    /* Made here, before any handler runs: handler threads only read it. */
    px_meta_view(&call->req_meta, p, f->meta_len, count);
    call->meta_len = f->meta_len;
    call->trace.meta = &call->req_meta; /* its traceparent, if any, at the first use */
    return 0;
}

/* Decodes the body into call->input within budget bytes of heap beyond the call record.
 * Returns PX_OK or the codec's error; *over is set when it was the budget that ran out. */
static px_status px__decode(px_sconn *sc, px_scall *call, const px_preq *f, size_t budget,
                            int *over, px_err *err)
{
    const px_codec_inst *codec = call->codec;
    (void)sc;
    const ProtobufCMessageDescriptor *desc = call->m->input;
    if (codec->decode_with) {
        call->in_arena = 1;
        call->arena.limit = budget;
        px_status st = codec->decode_with(codec->state, desc, f->body, f->body_len,
                                          &call->arena.alloc, &call->input, err);
        if (call->arena.over) {
            if (st == PX_OK)
                px__scall_free_input(call);
            *over = 1;
            return PX_RESOURCE_EXHAUSTED;
        }
        call->held += (int64_t)call->arena.spill_bytes;
        return st;
    }
    /* A codec without an allocator hook is measured after the fact: the budget bounds
     * what the call holds, not the decoder's own peak. */
    px_status st = codec->ops->decode(codec->state, desc, f->body, f->body_len, &call->input, err);
    if (st != PX_OK)
        return st;
    size_t used = px_msg_heap_size(call->input);
    if (used > budget) {
        px__scall_free_input(call);
        *over = 1;
        return PX_RESOURCE_EXHAUSTED;
    }
    call->held += (int64_t)used;
    return PX_OK;
}

/* An admitted call runs: queued for a worker, or its handler now on this thread. */
static inline __attribute__((always_inline)) void px__dispatch(px_scall *call)
{
    const px_method *m = call->m;
    if (m->pool) {
        call->queued = 1;
        if (call->deadline_us != INT64_MAX) {
            int64_t left = call->deadline_us - px_loop_mono_us(&call->sc->sl->loop);
            px_tq_arm(&call->sc->sl->tq, &call->queue_t, left > 0 ? (double)left / 1e6 : 0,
                      px__queued_deadline_cb);
        }
        px_pool_submit(m->pool, &call->task, px__run_on_worker, call);
    } else {
        __atomic_store_n(&call->state, PX_SCALL_RUNNING, __ATOMIC_RELAXED);
        px__invoke(call);
    }
}

void px__scall_dispatch(px_scall *call) { px__dispatch(call); }

void px__on_request(px_sconn *sc, const px_preq *f)
{
    px_server *srv = sc->sl->srv;
    const px_limits *lim = &srv->sc->limits;
    /* The id is registered first (one probe of the set); every refusal below takes it
     * out again. A reused id is a protocol error: an answer for it could not be told
     * from the answer to the call already running under it. */
    int added = px_idset_add(&sc->ids, f->id);
    if (added == 0) {
        px__sconn_fatal(sc, PX_INVALID_ARGUMENT,
                        "protocol error: request id %llu is already in flight on this connection",
                        (unsigned long long)f->id);
        return;
    }
    if (added < 0) {
        px__sconn_error(sc, f->id, PX_RESOURCE_EXHAUSTED, PX_NOT_EXECUTED,
                        "server out of memory");
        return;
    }
    if (sc->goaway) {
        px__refuse(sc, f->id, PX_UNAVAILABLE, PX_NOT_EXECUTED,
                   "server %s is shutting down: the request was not executed", srv->sc->id);
        return;
    }
    const px_method *m = sc->last_m;
    if (!m || m->name_len != f->method_len || memcmp(m->name, f->method, f->method_len) != 0)
        m = sc->last_m = px_methods_find(&srv->methods, f->method, f->method_len);
    if (!m) {
        px__refuse_unknown(sc, f);
        return;
    }
    /* Calls answered early no longer count: their client saw the answer (or cancelled)
     * and may send another in their place, as the announced limit allows. */
    if (sc->inflight - sc->answered_early >= lim->max_inflight_per_conn) {
        px__refuse(sc, f->id, PX_RESOURCE_EXHAUSTED, PX_NOT_EXECUTED,
                   "too many calls in flight on this connection (max_inflight_per_conn %u)",
                   lim->max_inflight_per_conn);
        return;
    }
    if (px__server_over_budget(sc)) {
        px__refuse(sc, f->id, PX_RESOURCE_EXHAUSTED, PX_NOT_EXECUTED,
                   "%s: server %s is out of its memory budget (server.limits.max_server_memory "
                   "%llu bytes): the request was not executed", m->name, srv->sc->id,
                   (unsigned long long)lim->max_server_memory);
        return;
    }
    /* Allocated and recycled on this loop's thread only (completions come back here). */
    px_scall *call = px__scall_get(sc->sl);
    if (!call) {
        px__refuse(sc, f->id, PX_RESOURCE_EXHAUSTED, PX_NOT_EXECUTED, "server out of memory");
        return;
    }
    call->sc = sc;
    call->m = m;
    call->codec = (const px_codec_inst *)f->codec;
    call->held = (int64_t)sizeof *call;
    if (__builtin_expect(f->meta_len != 0, 0) && px__admit_meta(sc, call, f, m) != 0)
        return;
    int limit = 0;
    size_t budget = px__decode_budget(sc, f->body_len, &limit);
    px_err err; /* not = {0}: that zero-fills 516 bytes per call */
    px_err_clear(&err);
    int over = 0;
    px_status st = px__decode(sc, call, f, budget, &over, &err);
    if (st != PX_OK) {
        char why[300];
        if (over)
            px__budget_why(sc, limit, f->body_len, why, sizeof why);
        px__scall_put(sc->sl, call);
        if (over)
            px__refuse(sc, f->id, PX_RESOURCE_EXHAUSTED,
                       limit == PX_BUDGET_EXPANSION ? 0 : PX_NOT_EXECUTED,
                       "%s: request refused: %s", m->name, why);
        else if (st == PX_RESOURCE_EXHAUSTED) /* the process itself is out of memory */
            px__refuse(sc, f->id, PX_RESOURCE_EXHAUSTED, PX_NOT_EXECUTED,
                       "%s: cannot decode %s with codec %s: %s", m->name, m->input->name,
                       call->codec->name, err.msg);
        else
            px__refuse(sc, f->id, PX_INVALID_ARGUMENT, 0, "%s: cannot decode %s with codec %s: %s",
                       m->name, m->input->name, call->codec->name, err.msg);
        return;
    }
    call->id = f->id;
    call->id_live = 1;
    /* The loop's once-per-iteration clock: the budget counts from when the loop woke. */
    int64_t now = px_loop_mono_us(&sc->sl->loop);
    call->deadline_us = f->timeout_us > 0 ? now + f->timeout_us : INT64_MAX;
    call->next = sc->calls;
    if (sc->calls)
        sc->calls->prev = call;
    sc->calls = call;
    px_conn_charge(&sc->conn, call->held);
    sc->inflight++;
    px_conn_ref(&sc->conn);
    if (m->chain && !px__scall_filter_in(call, f))
        return;
    px__dispatch(call);
}



