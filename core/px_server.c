/* Server: per-IO-thread listeners (SO_REUSEPORT), frame dispatch to services on the
 * IO thread or a worker pool, replies written back on the connection's own loop. */
#define _GNU_SOURCE /* accept4 */
#include "px_server.h"

#include <stdarg.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "plexus/px_codec.h"
#include "plexus/px_service.h"
#include "px_arena.h"
#include "px_codec_abi.h"
#include "px_config_int.h"
#include "px_conn.h"
#include "px_deadline.h"
#include "px_idset.h"
#include "px_log.h"
#include "px_methods.h"
#include "px_net.h"
#include "px_time.h"

typedef struct px_codec_inst {
    const char *name;
    const px_codec_ops *ops;
    px_decode_with_fn decode_with; /* NULL: the codec predates ABI 1.1 or has none */
    void *state;
    const px_modref *ref;
} px_codec_inst;

typedef struct px_service_inst {
    const px_modref *ref;
    void *state;
    px_pool pool;
    int has_pool;
} px_service_inst;

struct px_sconn;

typedef struct px_sloop {
    px_loop loop;
    struct px_server *srv;
    int lfd;
    ev_io accept_w;
    struct px_sconn *conns;
    size_t n_conns;
    int draining;
    px_task drain_task, force_task;
    struct px_scall *free_calls; /* recycled call records: no malloc per call */
    unsigned n_free_calls;
} px_sloop;

typedef struct px_sconn {
    px_conn conn;
    px_sloop *sl;
    const px_codec_inst *codec;
    uint32_t inflight;
    px_idset ids;         /* request ids in flight: a reused one is refused */
    const px_method *last_m; /* a connection mostly calls one method: skip the lookup */
    struct px_sconn *prev, *next;
    ev_timer watchdog_w;  /* handshake, read (slowloris) and idle timeouts */
    ev_tstamp accepted_at, last_active;
} px_sconn;

typedef struct px_scall {
    px_task task;
    px_sconn *sc;
    uint64_t id;
    const px_method *m;
    ProtobufCMessage *input;
    int64_t deadline_us; /* monotonic; INT64_MAX when the caller set none */
    px_status status;
    char msg[256];
    px_buf reply;        /* the answer frame when built off the IO thread */
    struct px_scall *next_free;
    px_arena arena;      /* the decoded request, when its codec takes an allocator */
    int in_arena;
    _Alignas(16) unsigned char arena_mem[256];
} px_scall;

#define PX_SLOOP_MAX_FREE_CALLS 1024

struct px_server {
    const px_config *cfg;
    const px_server_conf *sc;
    px_codec_inst *codecs;
    size_t n_codecs;
    px_service_inst *services;
    size_t n_services;
    px_methods methods;
    px_sloop *loops;
    int n_loops;
    uint32_t n_conns;     /* atomic: open connections over all loops */
    pthread_mutex_t lock; /* shutdown bookkeeping only */
    pthread_cond_t cond;
    int drained_loops;
};

/* ---- replies ------------------------------------------------------------ */

static void px__append_reply(px_scall *call, px_buf *out, const ProtobufCMessage *reply)
{
    const px_codec_inst *codec = call->sc->codec;
    if (reply) {
        px_frame f = {.type = PX_FRAME_RESPONSE, .id = call->id};
        size_t off = px_frame_begin(out, &f);
        if (off == (size_t)-1)
            return;
        px_err err; /* not = {0}: that zero-fills 516 bytes per call */
        px_err_clear(&err);
        if (codec->ops->encode(codec->state, reply, out, &err) == PX_OK) {
            px_frame_end(out, off);
            return;
        }
        out->len = off;
        char msg[600];
        snprintf(msg, sizeof msg, "cannot encode the reply of %s: %s", call->m->name, err.msg);
        px_frame_append_error(out, call->id, PX_INTERNAL, msg);
        return;
    }
    if (call->status == PX_OK) {
        call->status = PX_INTERNAL;
        snprintf(call->msg, sizeof call->msg, "handler of %s ended the call without a reply",
                 call->m->name);
    }
    px_frame_append_error(out, call->id, call->status, call->msg);
}

static void px__sconn_maybe_close(px_sconn *sc);

static void px__scall_free_input(px_scall *call)
{
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
    return call;
}

static void px__scall_put(px_sloop *sl, px_scall *call)
{
    if (sl->n_free_calls < PX_SLOOP_MAX_FREE_CALLS) {
        call->next_free = sl->free_calls;
        sl->free_calls = call;
        sl->n_free_calls++;
    } else {
        free(call);
    }
}

static void px__call_finish(px_scall *call)
{
    px_sconn *sc = call->sc;
    px__scall_free_input(call);
    px_buf_free(&call->reply);
    px_idset_del(&sc->ids, call->id);
    px__scall_put(sc->sl, call);
    sc->inflight--;
    px__sconn_maybe_close(sc);
    px_conn_unref(&sc->conn);
}

/* Loop thread: a reply built on a worker arrives. */
static void px__call_complete_task(px_loop *loop, void *arg)
{
    px_scall *call = arg;
    px_sconn *sc = call->sc;
    if (!sc->conn.closed)
        px_buf_append(px_conn_out(&sc->conn), call->reply.data, call->reply.len);
    px__call_finish(call);
}

/* The ProtobufCClosure handed to handlers: any thread, exactly once. */
static void px__closure(const ProtobufCMessage *reply, void *data)
{
    px_scall *call = data;
    px_sconn *sc = call->sc;
    if (px_loop_is_current(&sc->sl->loop)) {
        if (!sc->conn.closed)
            px__append_reply(call, px_conn_out(&sc->conn), reply);
        px__call_finish(call);
        return;
    }
    /* Encode here, off the IO thread; the loop only copies the finished frame. */
    px__append_reply(call, &call->reply, reply);
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

/* ---- requests ----------------------------------------------------------- */

/* Runs the handler with the caller's deadline inherited by calls it makes. */
static void px__invoke(px_scall *call)
{
    int64_t prev = px_deadline_inherit(call->deadline_us);
    call->m->service->invoke(call->m->service, call->m->index, call->input, px__closure, call);
    px_deadline_inherit(prev);
}

static void px__run_on_worker(px_loop *unused, void *arg)
{
    px_scall *call = arg;
    /* Queued past its deadline: the caller has given up, so do not run the handler. */
    if (call->deadline_us != INT64_MAX && px_mono_us() >= call->deadline_us) {
        px_handler_fail(call, PX_DEADLINE_EXCEEDED,
                        "%s: the deadline expired while the call waited for a worker", call->m->name);
        px__closure(NULL, call);
        return;
    }
    px__invoke(call);
}

static void px__send_error(px_sconn *sc, uint64_t id, px_status st, const char *fmt, ...)
    PX_PRINTF(4, 5);
static void px__send_error(px_sconn *sc, uint64_t id, px_status st, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    px_frame_append_error(px_conn_out(&sc->conn), id, st, msg);
}

static void px__on_request(px_sconn *sc, const px_frame *f)
{
    px_server *srv = sc->sl->srv;
    if (!sc->codec) {
        px__send_error(sc, 0, PX_FAILED_PRECONDITION,
                       "protocol error: REQUEST before HELLO: open the connection with a HELLO naming a codec");
        px_conn_close_after_flush(&sc->conn);
        return;
    }
    if (f->id == 0) {
        /* Id 0 names the connection in ERROR frames: a request may not use it. */
        px__send_error(sc, 0, PX_INVALID_ARGUMENT, "protocol error: request id 0 is reserved");
        px_conn_close_after_flush(&sc->conn);
        return;
    }
    if (sc->sl->draining) {
        px__send_error(sc, f->id, PX_UNAVAILABLE, "server %s is shutting down", srv->sc->id);
        return;
    }
    const px_method *m = sc->last_m;
    if (!m || m->name_len != f->method_len || memcmp(m->name, f->method, f->method_len) != 0)
        m = sc->last_m = px_methods_find(&srv->methods, f->method, f->method_len);
    if (!m) {
        const uint8_t *slash = memchr(f->method, '/', f->method_len);
        int mlen = (int)f->method_len;
        if (!slash)
            px__send_error(sc, f->id, PX_UNIMPLEMENTED,
                           "malformed method name '%.*s': expected package.Service/Method", mlen,
                           (const char *)f->method);
        else if (!px_methods_has_service(&srv->methods, f->method, (size_t)(slash - f->method)))
            px__send_error(sc, f->id, PX_UNIMPLEMENTED, "unknown service '%.*s'",
                           (int)(slash - f->method), (const char *)f->method);
        else
            px__send_error(sc, f->id, PX_UNIMPLEMENTED, "unknown method '%.*s' in service '%.*s'",
                           (int)(f->method + f->method_len - slash - 1), (const char *)slash + 1,
                           (int)(slash - f->method), (const char *)f->method);
        return;
    }
    /* The id is registered first (one probe of the set, not two); every refusal
     * below takes it out again. */
    int added = px_idset_add(&sc->ids, f->id);
    if (added == 0) {
        /* Answering would give the client two replies with one id: refuse this one;
         * the call already in flight under the id is unaffected. */
        px__send_error(sc, f->id, PX_INVALID_ARGUMENT,
                       "request id %llu is already in flight on this connection",
                       (unsigned long long)f->id);
        return;
    }
    if (sc->inflight >= srv->sc->limits.max_inflight_per_conn) {
        if (added > 0)
            px_idset_del(&sc->ids, f->id);
        px__send_error(sc, f->id, PX_RESOURCE_EXHAUSTED,
                       "too many calls in flight on this connection (max_inflight_per_conn %u)",
                       srv->sc->limits.max_inflight_per_conn);
        return;
    }
    /* Allocated and recycled on this loop's thread only (completions come back here). */
    px_scall *call = added > 0 ? px__scall_get(sc->sl) : NULL;
    if (!call) {
        if (added > 0)
            px_idset_del(&sc->ids, f->id);
        px__send_error(sc, f->id, PX_RESOURCE_EXHAUSTED, "server out of memory");
        return;
    }
    px_err err; /* not = {0}: that zero-fills 516 bytes per call */
    px_err_clear(&err);
    const px_codec_inst *codec = sc->codec;
    px_status st;
    if (codec->decode_with) {
        call->in_arena = 1;
        st = codec->decode_with(codec->state, m->input, f->body, f->body_len,
                                &call->arena.alloc, &call->input, &err);
    } else {
        st = codec->ops->decode(codec->state, m->input, f->body, f->body_len, &call->input, &err);
    }
    if (st != PX_OK) {
        px__scall_put(sc->sl, call);
        px_idset_del(&sc->ids, f->id);
        px__send_error(sc, f->id, PX_INVALID_ARGUMENT, "%s: cannot decode %s with codec %s: %s",
                       m->name, m->input->name, codec->name, err.msg);
        return;
    }
    call->sc = sc;
    call->id = f->id;
    call->m = m;
    /* The loop's once-per-iteration clock: the budget counts from when the loop woke. */
    call->deadline_us = f->deadline_ms
                            ? px_loop_mono_us(&sc->sl->loop) + (int64_t)f->deadline_ms * 1000
                            : INT64_MAX;
    sc->inflight++;
    px_conn_ref(&sc->conn);
    if (m->pool)
        px_pool_submit(m->pool, &call->task, px__run_on_worker, call);
    else
        px__invoke(call);
}

static void px__on_hello(px_sconn *sc, const px_frame *f)
{
    px_server *srv = sc->sl->srv;
    if (sc->codec) {
        px__send_error(sc, 0, PX_INVALID_ARGUMENT, "protocol error: a second HELLO");
        px_conn_close_after_flush(&sc->conn);
        return;
    }
    for (size_t i = 0; i < srv->n_codecs; i++) {
        if (strlen(srv->codecs[i].name) == f->body_len &&
            memcmp(srv->codecs[i].name, f->body, f->body_len) == 0) {
            sc->codec = &srv->codecs[i];
            px_frame h = {.type = PX_FRAME_HELLO, .body = f->body, .body_len = f->body_len};
            px_frame_append(px_conn_out(&sc->conn), &h);
            return;
        }
    }
    char have[256] = "";
    for (size_t i = 0; i < srv->n_codecs; i++) {
        size_t l = strlen(have);
        snprintf(have + l, sizeof have - l, "%s%s", i ? ", " : "", srv->codecs[i].name);
    }
    px__send_error(sc, 0, PX_UNIMPLEMENTED,
                   "codec '%.*s' is not available on server %s (it has: %s)",
                   (int)(f->body_len > 64 ? 64 : f->body_len), (const char *)f->body, srv->sc->id,
                   have);
    px_conn_close_after_flush(&sc->conn);
}

static void px__sconn_on_frame(px_conn *c, const px_frame *f)
{
    px_sconn *sc = (px_sconn *)c;
    sc->last_active = ev_now(c->loop->ev);
    switch (f->type) {
    case PX_FRAME_HELLO:
        px__on_hello(sc, f);
        break;
    case PX_FRAME_REQUEST:
        px__on_request(sc, f);
        break;
    case PX_FRAME_PING: {
        px_frame p = {.type = PX_FRAME_PONG, .id = f->id};
        px_frame_append(px_conn_out(c), &p);
        break;
    }
    case PX_FRAME_CANCEL:
        /* The client has already failed the call and will drop the reply; handlers
         * see the deadline through px_handler_remaining_us. Nothing to undo here. */
        break;
    default:
        px__send_error(sc, 0, PX_INVALID_ARGUMENT, "protocol error: unexpected %s frame from a client",
                       px_frame_type_name(f->type));
        px_conn_close_after_flush(c);
        break;
    }
}

/* ---- connection lifetime ------------------------------------------------- */

static void px__sloop_check_drained(px_sloop *sl)
{
    if (!sl->draining || sl->n_conns)
        return;
    px_server *srv = sl->srv;
    pthread_mutex_lock(&srv->lock);
    srv->drained_loops++;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    sl->draining = 2; /* counted */
}

static void px__sconn_goaway_close(px_sconn *sc, const char *why)
{
    px_frame g = {.type = PX_FRAME_GOAWAY, .body = (const uint8_t *)why,
                  .body_len = (uint32_t)strlen(why)};
    px_frame_append(px_conn_out(&sc->conn), &g);
    px_conn_close_after_flush(&sc->conn);
}

static void px__sconn_maybe_close(px_sconn *sc)
{
    if (sc->sl->draining && sc->inflight == 0 && !sc->conn.closed && !sc->conn.close_after_flush)
        px__sconn_goaway_close(sc, "server shutting down");
}

static void px__sconn_on_close(px_conn *c, const px_err *why)
{
    px_sconn *sc = (px_sconn *)c;
    px_sloop *sl = sc->sl;
    ev_timer_stop(c->loop->ev, &sc->watchdog_w);
    __atomic_sub_fetch(&sl->srv->n_conns, 1, __ATOMIC_RELAXED);
    if (why->status != PX_OK)
        px_log_debug("connection from %s closed: %s", c->peer, why->msg);
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        sl->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    sl->n_conns--;
    px__sloop_check_drained(sl);
}

static void px__sconn_on_free(px_conn *c)
{
    px_idset_free(&((px_sconn *)c)->ids);
    free(c);
}

static const px_conn_ops px__sconn_ops = {
    .on_frame = px__sconn_on_frame,
    .on_close = px__sconn_on_close,
    .on_free = px__sconn_on_free,
};

/*
 * One lazy timer per connection enforces three limits (nginx-style: activity only
 * stamps times, the timer re-arms itself for the nearest deadline): the HELLO must
 * come within handshake_timeout, a frame that has started must be complete within
 * read_timeout (a client trickling bytes cannot hold the connection), and with no
 * call in flight the connection may stay idle for idle_timeout.
 */
static void px__watchdog_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_sconn *sc = w->data;
    const px_limits *lim = &sc->sl->srv->sc->limits;
    ev_tstamp now = ev_now(ev), next = now + 3600;
    if (!sc->codec) {
        ev_tstamp due = sc->accepted_at + lim->handshake_timeout_us / 1e6;
        if (now >= due) {
            px__send_error(sc, 0, PX_DEADLINE_EXCEEDED, "no HELLO within handshake_timeout (%lldms)",
                           (long long)(lim->handshake_timeout_us / 1000));
            px_conn_close_after_flush(&sc->conn);
            return;
        }
        next = due;
    }
    if (sc->conn.partial_since > 0) {
        ev_tstamp due = sc->conn.partial_since + lim->read_timeout_us / 1e6;
        if (now >= due) {
            px__send_error(sc, 0, PX_DEADLINE_EXCEEDED,
                           "frame not completed within read_timeout (%lldms)",
                           (long long)(lim->read_timeout_us / 1000));
            px_conn_close_after_flush(&sc->conn);
            return;
        }
        if (due < next)
            next = due;
    } else if (sc->codec) {
        /* Nothing partial: check again within read_timeout, when one may have started. */
        ev_tstamp due = now + lim->read_timeout_us / 1e6;
        if (due < next)
            next = due;
    }
    if (lim->idle_timeout_us > 0 && sc->inflight == 0) {
        ev_tstamp due = sc->last_active + lim->idle_timeout_us / 1e6;
        if (now >= due) {
            px__sconn_goaway_close(sc, "idle timeout");
            return;
        }
        if (due < next)
            next = due;
    }
    w->repeat = next - now > 0.001 ? next - now : 0.001;
    ev_timer_again(ev, w);
}

static void px__refuse(int fd, const char *why)
{
    /* Best effort on a fresh socket: the kernel buffer takes a small frame at once. */
    px_buf b = {0};
    px_frame g = {.type = PX_FRAME_GOAWAY, .status = PX_RESOURCE_EXHAUSTED,
                  .body = (const uint8_t *)why, .body_len = (uint32_t)strlen(why)};
    if (px_frame_append(&b, &g) == 0 && write(fd, b.data, b.len) < 0) {
        /* the peer is gone already: nothing to tell */
    }
    px_buf_free(&b);
    close(fd);
}

static void px__accept_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px_sloop *sl = w->data;
    px_server *srv = sl->srv;
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(sl->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                px_log_warn("accept on %s: %s", srv->sc->listen, strerror(errno));
            return;
        }
        px_net_tune(fd);
        uint32_t open = __atomic_add_fetch(&srv->n_conns, 1, __ATOMIC_RELAXED);
        if (open > srv->sc->limits.max_connections) {
            __atomic_sub_fetch(&srv->n_conns, 1, __ATOMIC_RELAXED);
            char why[128];
            snprintf(why, sizeof why, "too many connections (max_connections %u)",
                     srv->sc->limits.max_connections);
            px__refuse(fd, why);
            continue;
        }
        px_sconn *sc = calloc(1, sizeof *sc);
        if (!sc) {
            __atomic_sub_fetch(&srv->n_conns, 1, __ATOMIC_RELAXED);
            close(fd);
            continue;
        }
        char name[PX_NET_NAME_MAX];
        px_net_name((struct sockaddr *)&peer, plen, name, sizeof name);
        px_conn_init(&sc->conn, &sl->loop, fd, &px__sconn_ops, srv->sc->limits.max_meta,
                     srv->sc->limits.max_frame, 0, name);
        /* Unsent answers beyond this pause reading the client (it sends but does not read). */
        uint64_t high = 2 * srv->sc->limits.max_frame;
        sc->conn.out_high_water = high > (1u << 20) ? (size_t)high : (1u << 20);
        sc->sl = sl;
        sc->next = sl->conns;
        if (sl->conns)
            sl->conns->prev = sc;
        sl->conns = sc;
        sl->n_conns++;
        sc->accepted_at = sc->last_active = ev_now(ev);
        ev_init(&sc->watchdog_w, px__watchdog_cb);
        sc->watchdog_w.data = sc;
        sc->watchdog_w.repeat = srv->sc->limits.handshake_timeout_us / 1e6;
        ev_timer_again(ev, &sc->watchdog_w);
    }
}

/* ---- setup and shutdown -------------------------------------------------- */

px_status px_server_new(const px_config *cfg, px_server **out, px_err *err)
{
    const px_server_conf *sc = &cfg->server;
    if (!sc->present)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: no server: section", cfg->file);
    px_server *s = calloc(1, sizeof *s);
    if (!s)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    s->cfg = cfg;
    s->sc = sc;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    *out = s;
    px_module_env env = {.config_file = cfg->file, .server_id = sc->id, .scope = "server"};

    s->codecs = calloc(sc->n_codecs ? sc->n_codecs : 1, sizeof *s->codecs);
    s->services = calloc(sc->n_services ? sc->n_services : 1, sizeof *s->services);
    s->loops = calloc((size_t)sc->io_threads, sizeof *s->loops);
    if (!s->codecs || !s->services || !s->loops)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < sc->n_codecs; i++) {
        px_codec_inst *ci = &s->codecs[i];
        ci->ref = &sc->codecs[i];
        ci->name = ci->ref->mod->name;
        ci->ops = ci->ref->mod->ops;
        ci->decode_with = px_codec_decode_with(ci->ref->mod);
        if (px_modref_create(ci->ref, &env, &ci->state, err) != PX_OK)
            return err->status;
        s->n_codecs++;
    }
    for (size_t i = 0; i < sc->n_services; i++) {
        px_service_inst *si = &s->services[i];
        si->ref = &sc->services[i].module;
        if (px_modref_create(si->ref, &env, &si->state, err) != PX_OK)
            return err->status;
        s->n_services++;
        if (sc->services[i].workers > 0) {
            if (px_pool_start(&si->pool, sc->services[i].workers) != 0)
                return px_err_set(err, PX_RESOURCE_EXHAUSTED, "cannot start %d worker threads",
                                  sc->services[i].workers);
            si->has_pool = 1;
        }
        const px_service_ops *ops = si->ref->mod->ops;
        ProtobufCService *svc = ops->service(si->state);
        if (!svc || !svc->descriptor || !svc->invoke)
            return px_err_set(err, PX_INTERNAL, "service module %s (%s) returned no service",
                              si->ref->mod->name, si->ref->path);
        if (px_methods_add(&s->methods, svc, si->has_pool ? &si->pool : NULL, err) != PX_OK)
            return err->status;
    }
    if (px_methods_seal(&s->methods, err) != PX_OK)
        return err->status;
    for (int i = 0; i < sc->io_threads; i++) {
        px_sloop *sl = &s->loops[i];
        if (px_loop_init(&sl->loop, (unsigned)i) != 0)
            return px_err_set(err, PX_INTERNAL, "cannot create an event loop");
        sl->srv = s;
        s->n_loops++;
        sl->lfd = px_net_listen(&sc->listen_addr, 1024, err);
        if (sl->lfd < 0)
            return err->status;
        ev_io_init(&sl->accept_w, px__accept_cb, sl->lfd, EV_READ);
        sl->accept_w.data = sl;
        ev_io_start(sl->loop.ev, &sl->accept_w);
    }
    return PX_OK;
}

px_status px_server_start(px_server *s, px_err *err)
{
    for (int i = 0; i < s->n_loops; i++)
        if (px_loop_start(&s->loops[i].loop) != 0)
            return px_err_set(err, PX_INTERNAL, "cannot start IO thread %d", i);
    return PX_OK;
}

static void px__drain_task(px_loop *loop, void *arg)
{
    px_sloop *sl = arg;
    ev_io_stop(loop->ev, &sl->accept_w);
    close(sl->lfd);
    sl->lfd = -1;
    sl->draining = 1;
    for (px_sconn *sc = sl->conns, *next; sc; sc = next) {
        next = sc->next;
        px__sconn_maybe_close(sc);
    }
    px__sloop_check_drained(sl);
}

static void px__force_task(px_loop *loop, void *arg)
{
    px_sloop *sl = arg;
    px_err why;
    px_err_set(&why, PX_UNAVAILABLE, "server shutdown grace period expired");
    while (sl->conns)
        px_conn_close(&sl->conns->conn, &why);
}

void px_server_shutdown(px_server *s)
{
    for (int i = 0; i < s->n_loops; i++)
        if (s->loops[i].loop.running)
            px_loop_post(&s->loops[i].loop, &s->loops[i].drain_task, px__drain_task, &s->loops[i]);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t grace = s->sc->shutdown_grace_us;
    until.tv_sec += grace / 1000000;
    until.tv_nsec += (grace % 1000000) * 1000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    int running = 0;
    for (int i = 0; i < s->n_loops; i++)
        running += s->loops[i].loop.running;
    pthread_mutex_lock(&s->lock);
    while (s->drained_loops < running)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT)
            break;
    int timed_out = s->drained_loops < running;
    pthread_mutex_unlock(&s->lock);
    if (timed_out) {
        px_log_warn("shutdown grace expired with calls in flight; closing connections");
        for (int i = 0; i < s->n_loops; i++)
            if (s->loops[i].loop.running)
                px_loop_post(&s->loops[i].loop, &s->loops[i].force_task, px__force_task,
                             &s->loops[i]);
    }
    /* Workers first: their last replies are posted to loops that still run. */
    for (size_t i = 0; i < s->n_services; i++)
        if (s->services[i].has_pool) {
            px_pool_stop(&s->services[i].pool);
            s->services[i].has_pool = 0;
        }
    for (int i = 0; i < s->n_loops; i++)
        px_loop_stop_join(&s->loops[i].loop);
}

void px_server_free(px_server *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_loops; i++) {
        px_sloop *sl = &s->loops[i];
        px_loop_stop_join(&sl->loop);
        px_err why;
        px_err_set(&why, PX_UNAVAILABLE, "server freed");
        while (sl->conns)
            px_conn_close(&sl->conns->conn, &why);
        if (sl->lfd >= 0) {
            ev_io_stop(sl->loop.ev, &sl->accept_w);
            close(sl->lfd);
        }
        px_loop_destroy(&sl->loop);
        while (sl->free_calls) {
            px_scall *next = sl->free_calls->next_free;
            free(sl->free_calls);
            sl->free_calls = next;
        }
    }
    for (size_t i = 0; i < s->n_services; i++) {
        if (s->services[i].has_pool)
            px_pool_stop(&s->services[i].pool);
        px_modref_destroy(s->services[i].ref, s->services[i].state);
    }
    for (size_t i = 0; i < s->n_codecs; i++)
        px_modref_destroy(s->codecs[i].ref, s->codecs[i].state);
    px_methods_free(&s->methods);
    free(s->codecs);
    free(s->services);
    free(s->loops);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}
