/* The server's listeners: server.listen and each of server.listeners, with the
 * protocols and the TLS context each serves; on every loop a socket per listener
 * (SO_REUSEPORT spreads a port's connections over the loops). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_listen_table.h"
#include "px_log.h"
#include "px_server_int.h"

static px_status px__listener(px_server *s, px_listener *l, const px_listener_conf *lc,
                              px_err *err)
{
    const px_server_conf *sc = s->sc;
    size_t n = lc && lc->protos ? lc->n_protos : s->n_protos;
    if ((l->protos = calloc(n, sizeof *l->protos)) == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n; i++)
        l->protos[i] = &s->protos[lc && lc->protos ? lc->protos[i] : i];
    l->n_protos = n;
    l->listen = lc ? lc->listen : sc->listen;
    l->addr = lc ? lc->addr : sc->listen_addr;
    l->conf_addr = lc ? &lc->addr : &sc->listen_addr;
    l->tls = lc ? lc->tls_ctx : sc->tls_ctx;
    l->tls_conf = lc ? &lc->tls : &sc->tls;
    if (lc)
        snprintf(l->where, sizeof l->where, "server.listeners[%zu].tls",
                 (size_t)(lc - sc->listeners));
    else
        snprintf(l->where, sizeof l->where, "server.tls");
    return PX_OK;
}

px_status px__listeners_new(px_server *s, px_err *err)
{
    const px_server_conf *sc = s->sc;
    if ((s->listeners = calloc(1 + sc->n_listeners, sizeof *s->listeners)) == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i <= sc->n_listeners; i++) {
        s->n_listeners++;
        if (px__listener(s, &s->listeners[i], i ? &sc->listeners[i - 1] : NULL, err) != PX_OK)
            return err->status;
    }
    return PX_OK;
}

void px__listeners_free(px_server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++)
        free(s->listeners[i].protos);
    free(s->listeners);
}

/* Listener l's socket on loop sl: for port 0 the first bind picks the port and the other
 * loops take the same. */
static px_status px__listen_one(px_sloop *sl, px_slisten *ls, px_listener *l, px_err *err)
{
    ls->sl = sl;
    ls->l = l;
    /* A socket the process keeps (a reload, a worker process) is taken over, else bound. */
    ls->lfd = px__listen_table_take(l->listen, l->conf_addr, (int)(sl - sl->srv->loops));
    if (ls->lfd < 0)
        ls->lfd = px_net_listen(&l->addr, 1024, err);
    if (ls->lfd < 0) {
        /* Say which listener: a server may have several. */
        px_err inner = *err;
        px_err_set(err, inner.status, "listen on %s: %s", l->listen, inner.msg);
        return err->status;
    }
    if (l->port == 0) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (getsockname(ls->lfd, (struct sockaddr *)&ss, &len) != 0)
            return px_err_set(err, PX_INTERNAL, "getsockname: %s", strerror(errno));
        in_port_t port = ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port;
        if (l->addr.ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&l->addr.ss)->sin6_port = port;
        else
            ((struct sockaddr_in *)&l->addr.ss)->sin_port = port;
        l->port = ntohs(port);
    }
    ev_io_init(&ls->accept_w, px__server_accept_cb, ls->lfd, EV_READ);
    ls->accept_w.data = ls;
    ev_io_start(sl->loop.ev, &ls->accept_w);
    return PX_OK;
}

px_status px__sloop_listen(px_sloop *sl, px_err *err)
{
    px_server *s = sl->srv;
    if ((sl->ls = calloc(s->n_listeners, sizeof *sl->ls)) == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < s->n_listeners; i++)
        sl->ls[i].lfd = -1;
    for (size_t i = 0; i < s->n_listeners; i++)
        if (px__listen_one(sl, &sl->ls[i], &s->listeners[i], err) != PX_OK)
            return err->status;
    s->port = s->listeners[0].port;
    return PX_OK;
}

void px__sloop_unlisten(px_sloop *sl)
{
    for (size_t i = 0; sl->ls && i < sl->srv->n_listeners; i++) {
        px_slisten *ls = &sl->ls[i];
        if (ls->lfd < 0)
            continue;
        ev_io_stop(sl->loop.ev, &ls->accept_w);
        close(ls->lfd);
        ls->lfd = -1;
    }
}

void px__sloop_listen_free(px_sloop *sl)
{
    px__sloop_unlisten(sl);
    free(sl->ls);
    sl->ls = NULL;
}

/* "listening on 127.0.0.1:7101 (2 IO threads)" per listener, with the address bound when
 * it differs from the name given (a host name, port 0), its protocols and TLS. */
void px__log_listening(const px_server *s)
{
    for (size_t i = 0; i < s->n_listeners && s->n_loops; i++) {
        const px_listener *l = &s->listeners[i];
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        char bound[PX_NET_NAME_MAX] = "?", what[300] = "";
        if (getsockname(s->loops[0].ls[i].lfd, (struct sockaddr *)&ss, &len) == 0)
            px_net_name((const struct sockaddr *)&ss, len, bound, sizeof bound);
        if (s->n_listeners > 1 || l->tls) {
            size_t w = 0;
            for (size_t k = 0; k < l->n_protos && w < sizeof what; k++)
                w += (size_t)snprintf(what + w, sizeof what - w, "%s%s", k ? ", " : ": ",
                                      l->protos[k]->ref->mod->name);
            if (w < sizeof what)
                snprintf(what + w, sizeof what - w, "%s", l->tls ? " over TLS" : "");
        }
        if (strcmp(bound, l->listen) == 0)
            px_log_info("listening on %s (%d IO threads)%s", bound, s->n_loops, what);
        else
            px_log_info("listening on %s = %s (%d IO threads)%s", l->listen, bound, s->n_loops,
                        what);
    }
}
