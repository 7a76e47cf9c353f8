/* A TLS listener: each accepted connection gets a session from the listener's context;
 * a plaintext client is told, in its protocol, that the port speaks TLS; and the
 * certificate files are looked at now and then (and on px_server_reload_tls, SIGHUP in
 * plexusd) so that new connections get a renewed certificate without a restart. */
#include <stdio.h>
#include <string.h>

#include "px_log.h"
#include "px_server_int.h"

int px__sconn_tls(px_sconn *sc)
{
    px_tls_ctx *t = sc->l->tls;
    px_err e;
    if (!t || px_conn_tls(&sc->conn, t, 1, &e) == 0)
        return 0;
    px_conn_abort(&sc->conn, &e);
    return -1;
}

void px__sconn_not_tls(px_conn *c, px_buf *out)
{
    px_sconn *sc = (px_sconn *)c;
    /* Before any byte of TLS there is no protocol yet: the listener's first says it. */
    const px_protocol_ops *p = sc->l->protos[0]->ops;
    if (p->goaway)
        p->goaway(NULL, out, PX_UNAVAILABLE,
                  "this port speaks TLS only: connect with TLS (an upstream's tls: block)");
}

void px__sloop_log_tls(px_sloop *sl, const char *peer, const char *why)
{
    /* Once per second per loop at most: a scanner must not flood the log. */
    ev_tstamp now = ev_now(sl->loop.ev);
    if (now - sl->tls_logged < 1.0) {
        sl->tls_quiet++;
        return;
    }
    char line[700];
    if (strncmp(why, "TLS handshake with ", 19) == 0)
        snprintf(line, sizeof line, "%s", why);
    else /* a limit of the server's (handshake_timeout) ended it */
        snprintf(line, sizeof line, "TLS handshake with %s failed: %s", peer, why);
    if (sl->tls_quiet)
        px_log_info("%s (and %u more failed TLS handshakes since the last one logged)", line,
                    sl->tls_quiet);
    else
        px_log_info("%s", line);
    sl->tls_logged = now;
    sl->tls_quiet = 0;
}

static void px__reload_log(const px_listener *l, px_status st, int changed, const px_err *err)
{
    const px_tls_conf *tc = l->tls_conf;
    if (st != PX_OK)
        px_log_error("%s; the certificate loaded before keeps serving", err->msg);
    else if (changed)
        px_log_info("%s: reloaded %s and %s%s%s: new connections on %s use them", l->where,
                    tc->cert, tc->key, tc->ca ? " and " : "", tc->ca ? tc->ca : "", l->listen);
}

/* Every TLS listener's files, looked at (force: read again whatever they say). */
static px_status px__reload_all(px_server *s, int force, px_err *first)
{
    px_status res = PX_OK;
    for (size_t i = 0; i < s->n_listeners; i++) {
        const px_listener *l = &s->listeners[i];
        if (!l->tls || (!force && px_tls_ctx_check_us(l->tls) <= 0))
            continue;
        px_err err;
        int changed = 0;
        px_status st = px_tls_ctx_reload(l->tls, force, &changed, &err);
        px__reload_log(l, st, changed, &err);
        if (st != PX_OK && res == PX_OK) {
            res = st;
            *first = err;
        }
    }
    return res;
}

static void px__tls_check_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_sloop *sl = w->data;
    px_err err;
    px__reload_all(sl->srv, 0, &err);
}

void px__sloop_tls_start(px_sloop *sl)
{
    /* The shortest reload_check of the TLS listeners: each timer tick looks at the files
     * of every listener (a stat(2) each when nothing changed). */
    px_server *s = sl->srv;
    int64_t every_us = 0;
    for (size_t i = 0; i < s->n_listeners; i++) {
        int64_t c = s->listeners[i].tls ? px_tls_ctx_check_us(s->listeners[i].tls) : 0;
        if (c > 0 && (every_us == 0 || c < every_us))
            every_us = c;
    }
    if (every_us <= 0 || sl->loop.index != 0)
        return;
    ev_timer_init(&sl->tls_w, px__tls_check_cb, every_us / 1e6, every_us / 1e6);
    sl->tls_w.data = sl;
    ev_timer_start(sl->loop.ev, &sl->tls_w);
}

void px__sloop_tls_stop(px_sloop *sl)
{
    if (ev_is_active(&sl->tls_w))
        ev_timer_stop(sl->loop.ev, &sl->tls_w);
}

px_status px_server_reload_tls(px_server *s, px_err *err)
{
    int any = 0;
    for (size_t i = 0; i < s->n_listeners; i++)
        any |= s->listeners[i].tls != NULL;
    if (!any)
        return px_err_set(err, PX_FAILED_PRECONDITION, "server %s has no TLS listener",
                          s->sc->id);
    return px__reload_all(s, 1, err);
}
