/* Server connections: accepting, starting a connection's protocol, errors and GOAWAYs
 * through it, timeouts (handshake, slowloris, idle, drain) and the per-loop steps of a
 * graceful shutdown. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "px_log.h"
#include "px_net.h"
#include "px_server_int.h"

/* After a shutdown GOAWAY, how long a connection with nothing in flight waits for its
 * client to close it: a request the client sent before the GOAWAY reached it still
 * arrives in that time and is refused as not executed, instead of meeting a reset. */
#define PX_DRAIN_LINGER 1.0

void px__sconn_error(px_sconn *sc, uint64_t id, px_status st, uint16_t flags, const char *fmt, ...)
{
    if (sc->conn.closed || !sc->proto)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sc->proto->reply_error(sc->pstate, px_conn_out(&sc->conn), id, st,
                               (flags & PX_NOT_EXECUTED) != 0, msg, NULL, 0) != 0)
        px__sconn_unanswerable(sc);
    else
        px_mcount(sc->m_tx, 1);
}

void px__sconn_unanswerable(px_sconn *sc)
{
    /* The client would wait for that answer until its deadline, or for ever without
     * one: ending the connection ends its calls there at once. */
    px__sconn_fatal(sc, PX_RESOURCE_EXHAUSTED, "server out of memory: an answer could not be "
                    "written");
}

void px__sconn_fatal(px_sconn *sc, px_status st, const char *fmt, ...)
{
    px_err e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    e.status = st;
    px_conn_finish(&sc->conn, &e);
}

void px__sconn_goaway(px_sconn *sc, px_status st, const char *why)
{
    if (sc->proto && sc->proto->goaway)
        sc->proto->goaway(sc->pstate, px_conn_out(&sc->conn), st, why);
}

int px__sconn_start_proto(px_sconn *sc, const px_inst *p)
{
    const px_protocol_ops *ops = p->ops;
    void *cs = NULL;
    if (ops->conn_open(p->state, (px_pconn *)sc, &cs) != 0) {
        px_err e;
        px_err_set(&e, PX_RESOURCE_EXHAUSTED, "out of memory opening a %s connection",
                   p->ref->mod->name);
        px_conn_abort(&sc->conn, &e);
        return -1;
    }
    sc->proto = ops;
    sc->pstate = cs;
    sc->proto_name = p->ref->mod->name;
    px__sconn_metrics(sc, p);
    return 0;
}

/* ---- timeouts ------------------------------------------------------------- */

/*
 * One lazy timer per connection enforces the time limits (nginx-style: activity only
 * stamps times, the timer re-arms itself for the nearest deadline): the protocol's
 * handshake (native: the HELLO) must complete within handshake_timeout, a message that
 * has started (in the connection's buffer, or inside the protocol) must be complete within
 * read_timeout (a client trickling bytes cannot hold the connection), with no call in
 * flight the connection may stay idle for idle_timeout, and after a shutdown GOAWAY
 * an idle connection is closed if its client has not closed it within the linger.
 */
static void px__watchdog_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_sconn *sc = w->data;
    if (sc->conn.closed || sc->conn.finishing)
        return; /* answering what is in progress, then closing: no more limits */
    const px_limits *lim = &sc->sl->srv->sc->limits;
    ev_tstamp now = ev_now(ev), next = now + 3600;
    if (!sc->ready) {
        ev_tstamp due = sc->accepted_at + lim->handshake_timeout_us / 1e6;
        if (now >= due) {
            px__sconn_fatal(sc, PX_DEADLINE_EXCEEDED,
                            "handshake not completed within handshake_timeout (%lldms)",
                            (long long)(lim->handshake_timeout_us / 1000));
            return;
        }
        next = due;
    }
    /* A message started: in the connection's buffer, or inside the protocol. */
    ev_tstamp partial = sc->conn.partial_since;
    if (sc->partial_at > 0 && (partial == 0 || sc->partial_at < partial))
        partial = sc->partial_at;
    if (partial > 0) {
        ev_tstamp due = partial + lim->read_timeout_us / 1e6;
        if (now >= due) {
            px__sconn_fatal(sc, PX_DEADLINE_EXCEEDED,
                            "frame not completed within read_timeout (%lldms)",
                            (long long)(lim->read_timeout_us / 1000));
            return;
        }
        if (due < next)
            next = due;
    } else if (sc->ready) {
        /* Nothing partial: check again within read_timeout, when one may have started. */
        ev_tstamp due = now + lim->read_timeout_us / 1e6;
        if (due < next)
            next = due;
    }
    if (sc->goaway && sc->inflight == 0) {
        ev_tstamp due = sc->goaway_at + PX_DRAIN_LINGER;
        if (now >= due) {
            px_conn_close_after_flush(&sc->conn);
            return;
        }
        if (due < next)
            next = due;
    } else if (lim->idle_timeout_us > 0 && sc->inflight == 0 && !sc->goaway) {
        ev_tstamp due = sc->last_active + lim->idle_timeout_us / 1e6;
        if (now >= due) {
            px__sconn_goaway(sc, PX_OK, "idle timeout");
            px_conn_close_after_flush(&sc->conn);
            return;
        }
        if (due < next)
            next = due;
    }
    w->repeat = next - now > 0.001 ? next - now : 0.001;
    ev_timer_again(ev, w);
}

void px__sconn_ready(px_sconn *sc)
{
    sc->ready = 1;
    /* The watchdog sleeps toward the handshake's deadline: wake it for the nearest one
     * now, or an idle_timeout shorter than handshake_timeout would wait for that. */
    if (!sc->conn.closed && ev_is_active(&sc->watchdog_w))
        px__watchdog_cb(sc->sl->loop.ev, &sc->watchdog_w, 0);
}

void px__sconn_call_ended(px_sconn *sc)
{
    if (sc->conn.finishing) {
        px_conn_idle(&sc->conn);
        return;
    }
    if (sc->goaway && sc->inflight == 0 && !sc->conn.closed)
        px__watchdog_cb(sc->sl->loop.ev, &sc->watchdog_w, 0); /* arm the linger */
    if (sc->conn.paused)
        px_conn_resume(&sc->conn);
}

/* ---- connection lifetime --------------------------------------------------- */

static void px__sloop_check_drained(px_sloop *sl)
{
    if (sl->draining != 1 || sl->n_conns)
        return;
    px_server *srv = sl->srv;
    pthread_mutex_lock(&srv->lock);
    srv->drained_loops++;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    sl->draining = 2; /* counted */
}

static int px__sconn_busy(px_conn *c) { return ((px_sconn *)c)->inflight > 0; }

static void px__sconn_on_close(px_conn *c, const px_err *why)
{
    px_sconn *sc = (px_sconn *)c;
    px_sloop *sl = sc->sl;
    ev_timer_stop(c->loop->ev, &sc->watchdog_w);
    px__sconn_unpause(sc);
    __atomic_sub_fetch(&sl->srv->n_conns, 1, __ATOMIC_RELAXED);
    px_mcount(sc->l->m_conns, -1);
    if (why->status != PX_OK && c->tls_hs && c->tls_hs_started)
        px__sloop_log_tls(sl, c->peer, why->msg); /* a client the operator may be setting up */
    else if (why->status != PX_OK)
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

/* The last call is over too: the protocol's state may go. */
static void px__sconn_on_free(px_conn *c)
{
    px_sconn *sc = (px_sconn *)c;
    if (sc->proto && sc->proto->conn_close)
        sc->proto->conn_close(sc->pstate);
    px_idset_free(&sc->ids);
    free(c);
}

static const px_conn_ops px__sconn_ops = {
    .on_bytes = px__sconn_on_bytes,
    .msg_size = px__sconn_msg_size,
    .write_final = px__sconn_write_final,
    .on_close = px__sconn_on_close,
    .on_free = px__sconn_on_free,
    .busy = px__sconn_busy,
    .may_read = px__sconn_may_read,
    .not_tls = px__sconn_not_tls,
};

/* Best effort on a fresh socket that will not be served: the kernel buffer takes a
 * small frame at once. What the client already sent is read first, so that the close
 * sends a FIN after the GOAWAY rather than a reset that could discard it. */
static void px__refuse_conn(const px_listener *l, int fd, const char *why)
{
    px_buf b = {0};
    /* In the listener's first protocol: before any byte there is no other to choose
     * (over TLS the refusal is plaintext a TLS client cannot read: it sees the close). */
    const px_protocol_ops *p = l->protos[0]->ops;
    if (p->goaway)
        p->goaway(NULL, &b, PX_RESOURCE_EXHAUSTED, why);
    if (b.len && send(fd, b.data, b.len, MSG_NOSIGNAL) < 0) {
        /* the peer is gone already: nothing to tell */
    }
    px_buf_free(&b);
    char sink[512];
    for (int i = 0; i < 16 && read(fd, sink, sizeof sink) > 0; i++) {
    }
    close(fd);
}

void px__server_accept_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    px_slisten *ls = w->data;
    px_sloop *sl = ls->sl;
    px_server *srv = sl->srv;
    const px_limits *lim = &srv->sc->limits;
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(ls->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                px_log_warn("accept on %s: %s", ls->l->listen, strerror(errno));
            return;
        }
        px_net_tune(fd);
        uint32_t open = __atomic_add_fetch(&srv->n_conns, 1, __ATOMIC_RELAXED);
        if (open > lim->max_connections) {
            __atomic_sub_fetch(&srv->n_conns, 1, __ATOMIC_RELAXED);
            char why[128];
            snprintf(why, sizeof why, "too many connections (max_connections %u)",
                     lim->max_connections);
            px__refuse_conn(ls->l, fd, why);
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
        px_conn_init(&sc->conn, &sl->loop, fd, &px__sconn_ops, lim->max_meta, lim->max_frame, 0,
                     name);
        sc->conn.mem = &sl->mem;
        sc->conn.read_free_below = srv->light_floor; /* ordinary clients are always read */
        sc->sl = sl;
        sc->l = ls->l;
        sc->next = sl->conns;
        if (sl->conns)
            sl->conns->prev = sc;
        sl->conns = sc;
        sl->n_conns++;
        px_mcount(ls->l->m_accepted, 1);
        px_mcount(ls->l->m_conns, 1);
        sc->accepted_at = sc->last_active = ev_now(ev);
        sc->plim = (px_plimits){.max_body = lim->max_frame, .max_meta = lim->max_meta,
                                .max_inflight = lim->max_inflight_per_conn};
        ev_init(&sc->watchdog_w, px__watchdog_cb);
        sc->watchdog_w.data = sc;
        sc->watchdog_w.repeat = lim->handshake_timeout_us / 1e6;
        ev_timer_again(ev, &sc->watchdog_w);
        if (px__sconn_tls(sc) != 0)
            continue;
        /* One protocol: it is this connection's, whatever the first bytes (it judges
         * them itself); several: the first bytes choose (px_server_proto.c). */
        if (sc->l->n_protos == 1)
            px__sconn_start_proto(sc, sc->l->protos[0]);
    }
}

/* ---- shutdown, per loop ----------------------------------------------------- */

/* Shutdown begins: no new connections, and every connection is told at once (GOAWAY,
 * status 0) that it will take no new calls; those in flight finish. A connection
 * closes when its client closes it, or after the linger once it has nothing in
 * flight. */
void px__sloop_drain_task(px_loop *loop, void *arg)
{
    px_sloop *sl = arg;
    px__sloop_unlisten(sl);
    sl->draining = 1;
    ev_tstamp now = ev_now(loop->ev);
    for (px_sconn *sc = sl->conns, *next; sc; sc = next) {
        next = sc->next;
        if (sc->conn.closed || sc->conn.finishing || sc->goaway)
            continue;
        px__sconn_goaway(sc, PX_OK, "server shutting down");
        sc->goaway = 1;
        sc->goaway_at = now;
        px__watchdog_cb(loop->ev, &sc->watchdog_w, 0);
    }
    px__sloop_check_drained(sl);
}

/* The grace ran out: every call without an answer gets one now (UNAVAILABLE; marked
 * not executed when it never left the worker queue), what can be written is written,
 * and every connection closes. */
void px__sloop_force_task(px_loop *loop, void *arg)
{
    px_sloop *sl = arg;
    px_server *srv = sl->srv;
    char why[200];
    snprintf(why, sizeof why, "server %s is shutting down and its shutdown_grace (%lldms) ran out",
             srv->sc->id, (long long)(srv->sc->shutdown_grace_us / 1000));
    px_err e;
    px_err_set(&e, PX_UNAVAILABLE, "%s", why);
    for (px_sconn *sc = sl->conns, *next; sc; sc = next) {
        next = sc->next;
        px__sconn_answer_all(sc, why);
        px_conn_abort(&sc->conn, &e);
    }
}
