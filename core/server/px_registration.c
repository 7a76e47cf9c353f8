/* A server's registration (server.register:, px_registry.h): what the core tells the
 * registry module, worked out from the config and the bound sockets, and the module's
 * lifetime around it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexus/px_registry.h"
#include "px_listen_table.h"
#include "px_log.h"
#include "px_server_int.h"

struct px_registration {
    const px_modref *ref;
    const px_registry_ops *ops;
    void *state;
    px_registry_info info;
    px_registry_listener *ls;
    char (*addrs)[2][PX_NET_NAME_MAX]; /* per listener: published, bound */
    const char **names;                /* every name list of info, in one block */
};

/* The port listener i (0: server.listen) is bound to: the server's, or the kept
 * socket's when there is no server (plexusd's master). 0 when unknown. */
static int px__bound_port(const px_server_conf *sc, const px_server *srv, size_t i)
{
    if (srv)
        return i < srv->n_listeners ? srv->listeners[i].port : 0;
    const char *listen = i ? sc->listeners[i - 1].listen : sc->listen;
    const px_addr *addr = i ? &sc->listeners[i - 1].addr : &sc->listen_addr;
    int fd = px__listen_table_take(listen, addr, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    close(fd);
    return port;
}

static void px__with_port(px_addr *a, int port)
{
    if (a->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
}

/* Listener i's published and bound addresses, its protocols (names[*at...]) and TLS. */
static px_status px__listener(px_registration *r, const px_server_conf *sc,
                              const px_server *srv, size_t i, size_t *at, px_err *err)
{
    const px_listener_conf *lc = i ? &sc->listeners[i - 1] : NULL;
    int port = px__bound_port(sc, srv, i);
    if (port <= 0)
        return px_err_set(err, PX_FAILED_PRECONDITION, "server.register: %s '%s' is not bound",
                          i ? "listener" : "server.listen", lc ? lc->listen : sc->listen);
    px_addr bound = lc ? lc->addr : sc->listen_addr, pub = bound;
    px__with_port(&bound, port);
    if (sc->register_advertise) {
        char text[300];
        px_err why = {0};
        const char *h = sc->register_advertise;
        snprintf(text, sizeof text, strchr(h, ':') && h[0] != '[' ? "[%s]:%d" : "%s:%d", h,
                 port);
        if (px_net_parse_numeric(text, &pub, &why) != PX_OK) /* checked at load */
            return px_err_set(err, PX_INVALID_ARGUMENT, "server.register.advertise: %s",
                              why.msg);
    } else {
        pub = bound;
    }
    px_net_name((struct sockaddr *)&pub.ss, pub.len, r->addrs[i][0], PX_NET_NAME_MAX);
    px_net_name((struct sockaddr *)&bound.ss, bound.len, r->addrs[i][1], PX_NET_NAME_MAX);
    const px_modlist *protos = &sc->mods[PX_MOD_PROTOCOL];
    px_registry_listener *l = &r->ls[i];
    l->address = r->addrs[i][0];
    l->bound = r->addrs[i][1];
    l->protocols = &r->names[*at];
    l->n_protocols = lc && lc->protos ? lc->n_protos : protos->n;
    for (size_t k = 0; k < l->n_protocols; k++)
        r->names[(*at)++] = protos->refs[lc && lc->protos ? lc->protos[k] : k].mod->name;
    l->tls = lc ? lc->tls.present : sc->tls.present;
    return PX_OK;
}

static px_status px__info(px_registration *r, const px_config *cfg, const px_server *srv,
                          px_err *err)
{
    const px_server_conf *sc = &cfg->server;
    size_t nl = sc->n_listeners + 1;
    const px_modlist *codecs = &sc->mods[PX_MOD_CODEC];
    size_t names = nl * sc->mods[PX_MOD_PROTOCOL].n + codecs->n + sc->n_services + 1;
    r->ls = calloc(nl, sizeof *r->ls);
    r->addrs = calloc(nl, sizeof *r->addrs);
    r->names = calloc(names, sizeof *r->names);
    if (!r->ls || !r->addrs || !r->names)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "server.register: out of memory");
    size_t at = 0;
    for (size_t i = 0; i < nl; i++)
        if (px__listener(r, sc, srv, i, &at, err) != PX_OK)
            return err->status;
    px_registry_info *in = &r->info;
    in->codecs = &r->names[at];
    for (size_t i = 0; i < codecs->n; i++)
        r->names[at++] = codecs->refs[i].mod->name;
    in->n_codecs = codecs->n;
    in->services = &r->names[at];
    for (size_t i = 0; i < sc->n_services; i++)
        r->names[at++] = sc->services[i].module.mod->name;
    in->n_services = sc->n_services;
    in->server_id = sc->id;
    in->pid = getpid();
    in->weight = sc->register_weight ? sc->register_weight : 1;
    in->listeners = r->ls;
    in->n_listeners = nl;
    return PX_OK;
}

static void px__free(px_registration *r)
{
    if (r->state)
        px_modref_destroy(r->ref, r->state);
    free(r->ls);
    free(r->addrs);
    free(r->names);
    free(r);
}

px_status px_registration_start(const px_config *cfg, const px_server *srv,
                                px_registration **out, px_err *err)
{
    *out = NULL;
    const px_server_conf *sc = cfg && cfg->server.present ? &cfg->server : NULL;
    if (sc == NULL || sc->registry.mod == NULL)
        return PX_OK;
    px_registration *r = calloc(1, sizeof *r);
    if (r == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "server.register: out of memory");
    r->ref = &sc->registry;
    r->ops = sc->registry.mod->ops;
    px_module_env env = {.config_file = cfg->file, .server_id = sc->id, .scope = "server"};
    px_status st = px__info(r, cfg, srv, err);
    if (st == PX_OK)
        st = px_modref_create(r->ref, &env, &r->state, err);
    if (st == PX_OK)
        st = r->ops->start(r->state, &r->info, err);
    if (st != PX_OK) {
        px__free(r);
        return st;
    }
    for (size_t i = 0; i < r->info.n_listeners; i++)
        px_log(PX_LOG_INFO, NULL, "registering %s (bound %s) with registry '%s'",
               r->ls[i].address, r->ls[i].bound, r->ref->mod->name);
    *out = r;
    return PX_OK;
}

void px_registration_stop(px_registration *r)
{
    if (r == NULL)
        return;
    if (r->ops->stop)
        r->ops->stop(r->state);
    px_log(PX_LOG_INFO, NULL, "deregistered from registry '%s'", r->ref->mod->name);
    px__free(r);
}
