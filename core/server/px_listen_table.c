/* The process's table of kept listening sockets (px_server_keep_listeners): a socket per
 * listener address and IO-loop slot, bound once and handed to every server generation
 * made after, so that a reload or a worker process accepts on the very socket the old
 * one did. Closing a socket and binding a new one in its place (even with SO_REUSEPORT
 * beside it) would reset the connections waiting in the old one's accept queue. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_listen_table.h"
#include "px_log.h"
#include "px_server_int.h"

typedef struct px__kept {
    char *listen; /* as configured: "127.0.0.1:0" keeps the port its first bind got */
    px_addr addr; /* as resolved when bound: a name that now resolves elsewhere is new */
    int slot;     /* the IO loop's index */
    int fd;
    int mark;     /* scratch of a release */
} px__kept;

static pthread_mutex_t px__lock = PTHREAD_MUTEX_INITIALIZER;
static px__kept *px__tab;
static size_t px__n, px__cap;

static px__kept *px__find(const char *listen, const px_addr *addr, int slot)
{
    for (size_t i = 0; i < px__n; i++) {
        px__kept *k = &px__tab[i];
        if (k->slot == slot && strcmp(k->listen, listen) == 0 && k->addr.len == addr->len &&
            memcmp(&k->addr.ss, &addr->ss, addr->len) == 0)
            return k;
    }
    return NULL;
}

/* The bound port of fd, 0 when it cannot be read. */
static int px__port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

static void px__set_port(px_addr *a, int port)
{
    if (a->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
}

/* Binds the slots of one listener that the table lacks. For port 0 every slot takes the
 * port the listener's first socket got. Locked by the caller. */
static px_status px__keep_one(const char *listen, const px_addr *addr, int slots, px_err *err)
{
    px_addr a = *addr;
    for (int slot = 0; slot < slots; slot++) {
        px__kept *k = px__find(listen, addr, slot);
        if (k) {
            px__set_port(&a, px__port_of(k->fd));
            continue;
        }
        if (px__n == px__cap) {
            size_t cap = px__cap ? px__cap * 2 : 8;
            px__kept *t = realloc(px__tab, cap * sizeof *t);
            if (!t)
                return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
            px__tab = t;
            px__cap = cap;
        }
        int fd = px_net_listen(&a, 1024, err);
        if (fd < 0) {
            px_err inner = *err;
            return px_err_set(err, inner.status, "listen on %s: %s", listen, inner.msg);
        }
        char *name = strdup(listen);
        if (!name) {
            close(fd);
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        }
        px__tab[px__n++] = (px__kept){.listen = name, .addr = *addr, .slot = slot, .fd = fd};
        px__set_port(&a, px__port_of(fd));
    }
    return PX_OK;
}

/* Calls fn for each listener of sc (server.listen, then server.listeners). */
static px_status px__each(const px_server_conf *sc, px_status (*fn)(const char *, const px_addr *,
                                                                     int, px_err *),
                          px_err *err)
{
    for (size_t i = 0; i <= sc->n_listeners; i++) {
        const char *listen = i ? sc->listeners[i - 1].listen : sc->listen;
        const px_addr *addr = i ? &sc->listeners[i - 1].addr : &sc->listen_addr;
        if (fn(listen, addr, sc->io_threads, err) != PX_OK)
            return err->status;
    }
    return PX_OK;
}

static px_status px__mark(const char *listen, const px_addr *addr, int slots, px_err *err)
{
    (void)err;
    for (int slot = 0; slot < slots; slot++) {
        px__kept *k = px__find(listen, addr, slot);
        if (k)
            k->mark = 1;
    }
    return PX_OK;
}

/* Closes the sockets not marked (all when keep is NULL). Locked by the caller. */
static void px__release_unmarked(const px_server_conf *keep)
{
    for (size_t i = 0; i < px__n; i++)
        px__tab[i].mark = 0;
    if (keep)
        px__each(keep, px__mark, NULL);
    size_t w = 0;
    for (size_t i = 0; i < px__n; i++) {
        if (px__tab[i].mark) {
            px__tab[w++] = px__tab[i];
            continue;
        }
        close(px__tab[i].fd);
        free(px__tab[i].listen);
    }
    px__n = w;
    if (!px__n) {
        free(px__tab);
        px__tab = NULL;
        px__cap = 0;
    }
}

px_status px_server_keep_listeners(const px_config *cfg, px_err *err)
{
    const px_server_conf *sc = cfg ? &cfg->server : NULL;
    if (!sc || !sc->present)
        return px_err_set(err, PX_INVALID_ARGUMENT, "the config has no server: section");
    pthread_mutex_lock(&px__lock);
    size_t before = px__n;
    px_status st = px__each(sc, px__keep_one, err);
    if (st != PX_OK) {
        /* All or nothing: what this call bound goes again. */
        for (size_t i = before; i < px__n; i++) {
            close(px__tab[i].fd);
            free(px__tab[i].listen);
        }
        px__n = before;
    }
    pthread_mutex_unlock(&px__lock);
    return st;
}

void px_server_release_listeners(const px_config *keep)
{
    const px_server_conf *sc = keep ? &keep->server : NULL;
    pthread_mutex_lock(&px__lock);
    px__release_unmarked(sc && sc->present ? sc : NULL);
    pthread_mutex_unlock(&px__lock);
}

int px__listen_table_take(const char *listen, const px_addr *addr, int slot)
{
    pthread_mutex_lock(&px__lock);
    px__kept *k = px__find(listen, addr, slot);
    /* dup, not fcntl(F_DUPFD): ThreadSanitizer sees a dup make a new descriptor (it does
     * not model F_DUPFD, and would take the number for whatever it last named). */
    int fd = k ? dup(k->fd) : -1;
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    pthread_mutex_unlock(&px__lock);
    if (k && fd < 0)
        px_log(PX_LOG_WARN, NULL, "listen on %s: cannot share the kept socket: binding anew",
               listen);
    return fd;
}
