/* Probes re-admit an ejected endpoint only once it answers a PING on a fresh
 * connection, so a server that is still down costs one connect per probe interval
 * instead of failed calls. The result goes to px_health_probe_done. */
#include "px_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_client_int.h"
#include "px_client_read.h"
#include "px_health.h"
#include "px_native_client.h"
#include "px_net.h"
#include "px_time.h"

typedef struct px_probe {
    px_conn conn;
    struct px_cloop *lp;
    px_ep *ep;
    ev_timer timeout_w;
    int ok;
    struct px_probe *prev, *next;
    void *pstate; /* the protocol's (client_open) */
} px_probe;

/* A PONG re-admits (or, for a protocol without pings, the server's acceptance of the
 * opening); a wrong acceptance, an ERROR, a refusal or a message a server must not send
 * fails the probe. A plain GOAWAY does not: the PING is still answered. */
static void px__probe_on_msg(px_probe *p, const px_cmsg *m)
{
    px_conn *c = &p->conn;
    px_err e;
    switch (m->kind) {
    case PX_CMSG_PONG:
        p->ok = 1;
        px_conn_close(c, NULL);
        return;
    case PX_CMSG_READY:
        if (px_cmsg_ready_check(m, p->lp->cl->up->codec_name, c->peer, &e) != PX_OK) {
            px_conn_close(c, &e);
        } else if (!p->lp->cl->up->proto->client_ping) {
            p->ok = 1;
            px_conn_close(c, NULL);
        }
        return;
    case PX_CMSG_REPLY:
        return;
    default:
        if (px_cmsg_err(m, c->peer, &e) != PX_OK)
            px_conn_close(c, &e);
        return;
    }
}

static void px__probe_msg(px_conn *c, const px_cmsg *m)
{
    px__probe_on_msg((px_probe *)c, m);
}

static size_t px__probe_on_bytes(px_conn *c, const uint8_t *buf, size_t len)
{
    px_probe *p = (px_probe *)c;
    px_upstream *up = p->lp->cl->up;
    return px_client_read(c, up->proto, p->pstate, &up->plim, buf, len, px__probe_msg);
}

static void px__probe_on_close(px_conn *c, const px_err *why)
{
    px_probe *p = (px_probe *)c;
    ev_timer_stop(c->loop->ev, &p->timeout_w);
    if (p->prev)
        p->prev->next = p->next;
    else
        p->lp->probes = p->next;
    if (p->next)
        p->next->prev = p->prev;
    px_health_probe_done(p->ep, p->ok, p->ok ? "" : why->status ? why->msg : "closed before PONG");
}

static void px__probe_on_free(px_conn *c)
{
    px_probe *p = (px_probe *)c;
    const px_protocol_ops *po = p->lp->cl->up->proto;
    if (p->pstate && po->client_close)
        po->client_close(p->pstate);
    free(c);
}

static const px_conn_ops px__probe_ops = {
    .on_bytes = px__probe_on_bytes,
    .on_close = px__probe_on_close,
    .on_free = px__probe_on_free,
};

static void px__probe_timeout_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_probe *p = w->data;
    px_err e;
    px_err_set(&e, PX_DEADLINE_EXCEEDED, "no PONG within probe_timeout");
    px_conn_close(&p->conn, &e);
}

static void px__probe_one(px_cloop *lp, px_ep *ep)
{
    px_upstream *up = lp->cl->up;
    px_err err = {0};
    int fd = px_net_connect(&ep->sa, &err);
    px_probe *p = fd >= 0 ? calloc(1, sizeof *p) : NULL;
    if (!p) {
        if (fd >= 0)
            close(fd);
        px_health_probe_done(ep, 0, fd < 0 ? err.msg : "out of memory");
        return;
    }
    px_conn_init(&p->conn, &lp->loop, fd, &px__probe_ops, up->conf->limits.max_meta,
                 up->conf->limits.max_frame, 1, ep->pub.address);
    if (up->conf->tls_ctx && px_conn_tls(&p->conn, up->conf->tls_ctx, 0, &err) != 0) {
        ev_io_stop(lp->loop.ev, &p->conn.wio);
        close(fd);
        free(p);
        px_health_probe_done(ep, 0, err.msg);
        return;
    }
    p->lp = lp;
    p->ep = ep;
    p->next = lp->probes;
    if (lp->probes)
        lp->probes->prev = p;
    lp->probes = p;
    ev_timer_init(&p->timeout_w, px__probe_timeout_cb, up->conf->health.probe_timeout_us / 1e6, 0);
    p->timeout_w.data = p;
    ev_timer_start(lp->loop.ev, &p->timeout_w);
    const px_protocol_ops *po = up->proto;
    if (po->client_open(up->proto_state, up->codec_name, &p->conn.out, &p->pstate) != 0 ||
        (po->client_ping && po->client_ping(p->pstate, &p->conn.out, 1) != 0)) {
        px_err e;
        px_err_set(&e, PX_RESOURCE_EXHAUSTED, "out of memory");
        px_conn_close(&p->conn, &e);
    }
}

static void px__probe_tick(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_cloop *lp = w->data;
    px_upstream *up = lp->cl->up;
    int64_t now = px_mono_us();
    /* Every record, listed or not: px_health_probe_due passes over removed ones. */
    uint32_t n = px_eptable_count(&up->table);
    for (uint32_t i = 0; i < n; i++)
        if (px_health_probe_due(px_upstream_ep(up, i), now))
            px__probe_one(lp, px_upstream_ep(up, i));
}

void px_probe_start(px_cloop *lp)
{
    const px_health_conf *h = &lp->cl->up->conf->health;
    if (h->probe_interval_us <= 0 || h->max_fails <= 0)
        return;
    ev_timer_init(&lp->probe_w, px__probe_tick, h->probe_interval_us / 1e6,
                  h->probe_interval_us / 1e6);
    lp->probe_w.data = lp;
    ev_timer_start(lp->loop.ev, &lp->probe_w);
}

void px_probe_stop(px_cloop *lp)
{
    ev_timer_stop(lp->loop.ev, &lp->probe_w);
    while (lp->probes) {
        px_err e;
        px_err_set(&e, PX_CANCELLED, "client is shutting down");
        px_conn_close(&lp->probes->conn, &e);
    }
}
