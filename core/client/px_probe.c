/* Probes re-admit an ejected endpoint only once it answers a PING on a fresh
 * connection, so a server that is still down costs one connect per probe interval
 * instead of failed calls. The result goes to px_health_probe_done. */
#include "px_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_client_int.h"
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
} px_probe;

/* A PONG re-admits; a wrong HELLO answer, an ERROR, a refusal or a frame a server
 * must not send fails the probe. A plain GOAWAY does not: the PING is still answered. */
static void px__probe_on_frame(px_conn *c, const px_frame *f)
{
    px_probe *p = (px_probe *)c;
    px_nc_msg m;
    px_err e;
    switch (px_nc_classify(f, &m)) {
    case PX_NC_PONG:
        p->ok = 1;
        px_conn_close(c, NULL);
        return;
    case PX_NC_HELLO:
        if (px_nc_hello_check(&m, p->lp->cl->up->codec_name, c->peer, &e) != PX_OK)
            px_conn_close(c, &e);
        return;
    case PX_NC_REPLY:
        return;
    default:
        if (px_nc_err(&m, c->peer, &e) != PX_OK)
            px_conn_close(c, &e);
        return;
    }
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

static void px__probe_on_free(px_conn *c) { free(c); }

static const px_conn_ops px__probe_ops = {
    .on_frame = px__probe_on_frame,
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
    p->lp = lp;
    p->ep = ep;
    p->next = lp->probes;
    if (lp->probes)
        lp->probes->prev = p;
    lp->probes = p;
    px_nc_hello(&p->conn.out, up->codec_name);
    px_nc_ping(&p->conn.out, 1);
    ev_timer_init(&p->timeout_w, px__probe_timeout_cb, up->conf->health.probe_timeout_us / 1e6, 0);
    p->timeout_w.data = p;
    ev_timer_start(lp->loop.ev, &p->timeout_w);
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
