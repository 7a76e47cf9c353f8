/* The server's memory budget. Every byte a connection holds is counted (its input and
 * output buffers, each call's record, decoded request and worker-built reply), per
 * connection and over the server (px_mem). A connection at max_conn_memory is not read
 * (TCP back-pressure, as nginx and Envoy's overload manager do); when the server is
 * past three quarters of max_server_memory, so are connections holding more than a
 * small floor; past max_server_memory new requests of such connections are refused
 * with RESOURCE_EXHAUSTED, while connections holding less than the floor (ordinary
 * clients) are still served. A request or reply that would take a connection past twice
 * max_conn_memory is refused. Freed memory is given back to the system once the total
 * has fallen well below its peak (malloc_trim). */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "px_log.h"
#include "px_server_int.h"

/* How often paused connections are looked at again while any is paused. */
#define PX_PRESSURE_RECHECK 0.02
/* Every this many rechecks, paused connections are also checked for a peer reset. */
#define PX_LIVENESS_TICKS 25
/* How often the first loop considers giving freed memory back. */
#define PX_TRIM_INTERVAL 1.0
/* Give memory back when the total fell by at least this much, to under half its peak. */
#define PX_TRIM_MIN_DROP (4 << 20)


/* A connection holding less than the floor is an ordinary client: it is always read
 * and served, even when the server is out of its budget. Small enough that
 * max_connections of them stay within a quarter of max_server_memory. */
void px__server_mem_init(px_server *srv)
{
    const px_limits *l = &srv->sc->limits;
    int64_t f = (int64_t)(l->max_server_memory / 4 / (l->max_connections ? l->max_connections : 1));
    int64_t cap = (int64_t)l->max_conn_memory / 16;
    if (f > cap)
        f = cap;
    srv->light_floor = f < 16 * 1024 ? 16 * 1024 : f;
    srv->pressure_at = (int64_t)(l->max_server_memory / 4 * 3);
    srv->conn_hard = 2 * (int64_t)l->max_conn_memory;
}

/* Called only for a connection at or past the ordinary share (px_conn reads freely
 * below read_free_below). */
int px__sconn_may_read(px_conn *c)
{
    px_sconn *sc = (px_sconn *)c;
    px_sloop *sl = sc->sl;
    const px_server *srv = sl->srv;
    int ok = c->held < (int64_t)srv->sc->limits.max_conn_memory &&
             (c->held < srv->light_floor || px_mem_total(&sl->mem) < srv->pressure_at);
    if (!ok && !sc->pressure_paused) {
        sc->pressure_paused = 1;
        if (sl->n_paused++ == 0)
            ev_timer_again(sl->loop.ev, &sl->pressure_w);
    } else if (ok && sc->pressure_paused) {
        px__sconn_unpause(sc);
    }
    return ok;
}

void px__sconn_unpause(px_sconn *sc)
{
    px_sloop *sl = sc->sl;
    if (!sc->pressure_paused)
        return;
    sc->pressure_paused = 0;
    if (--sl->n_paused == 0)
        ev_timer_stop(sl->loop.ev, &sl->pressure_w);
}

/* A paused connection is not read, so a reset from its peer would go unnoticed (a
 * flooder that gives up would hold its memory for good): its socket's pending error
 * is looked at, one getsockopt per paused connection every PX_LIVENESS_TICKS. */
static int px__peer_reset(px_sconn *sc)
{
    int e = 0;
    socklen_t l = sizeof e;
    if (getsockopt(sc->conn.fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0 || e == 0)
        return 0;
    px_err why;
    px_err_set(&why, PX_UNAVAILABLE, "%s: %s (while not read, over its memory budget)",
               sc->conn.peer, strerror(e));
    px_conn_close(&sc->conn, &why);
    return 1;
}

/* While connections are paused: the budget may have room again (other connections, or
 * other loops, released memory), so each is looked at again. */
static void px__pressure_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_sloop *sl = w->data;
    int liveness = ++sl->pressure_ticks % PX_LIVENESS_TICKS == 0;
    for (px_sconn *sc = sl->conns, *next; sc; sc = next) {
        next = sc->next;
        if (!sc->conn.paused || (liveness && px__peer_reset(sc)))
            continue;
        px_conn_resume(&sc->conn);
    }
}

size_t px__decode_budget_tight(px_sconn *sc, int64_t b, int64_t srv_left, int *limit)
{
    int64_t floor_left = sc->sl->srv->light_floor - sc->conn.held;
    if (srv_left < floor_left)
        srv_left = floor_left; /* an ordinary client's request is served regardless */
    if (srv_left < b) {
        b = srv_left;
        *limit = PX_BUDGET_SERVER;
    }
    return b > 0 ? (size_t)b : 0;
}

void px__budget_why(px_sconn *sc, int limit, size_t len, char *buf, size_t cap)
{
    const px_limits *l = &sc->sl->srv->sc->limits;
    if (limit == PX_BUDGET_EXPANSION)
        snprintf(buf, cap,
                 "its %zu bytes decode to more than %u times their size + 64KiB "
                 "(server.limits.max_decode_expansion %u)",
                 len, l->max_decode_expansion, l->max_decode_expansion);
    else
        snprintf(buf, cap,
                 "server %s is out of its memory budget (server.limits.max_server_memory %llu "
                 "bytes); the request was not executed",
                 sc->sl->srv->sc->id, (unsigned long long)l->max_server_memory);
}

const char *px__reply_over_budget(px_sconn *sc, size_t n)
{
    const px_server *srv = sc->sl->srv;
    int64_t after = sc->conn.held + (int64_t)n;
    if (after < srv->light_floor)
        return NULL; /* an ordinary client's answer always goes */
    const px_limits *l = &srv->sc->limits;
    if (after > srv->conn_hard) {
        snprintf(sc->sl->why, sizeof sc->sl->why,
                 "the connection already holds %lld bytes of replies and calls its client has "
                 "not taken (limit: twice server.limits.max_conn_memory %llu)",
                 (long long)sc->conn.held, (unsigned long long)l->max_conn_memory);
        return sc->sl->why;
    }
    if (px_mem_total(&sc->sl->mem) + (int64_t)n > (int64_t)l->max_server_memory) {
        snprintf(sc->sl->why, sizeof sc->sl->why,
                 "server %s is out of its memory budget (server.limits.max_server_memory %llu "
                 "bytes)",
                 srv->sc->id, (unsigned long long)l->max_server_memory);
        return sc->sl->why;
    }
    return NULL;
}

/* After a flood, freed memory stays in malloc's arenas (glibc keeps what it can reuse):
 * once the total has fallen to under half its peak, and by a good amount, hand the
 * free pages of every arena back (malloc_trim walks them all). At most once a second,
 * off the hot path, on the first loop only. */
static void px__trim_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    px_sloop *sl = w->data;
    px_server *srv = sl->srv;
    int64_t peak = __atomic_load_n(&srv->mem_peak, __ATOMIC_RELAXED);
    int64_t total = __atomic_load_n(&srv->mem_total, __ATOMIC_RELAXED);
    if (peak - total < PX_TRIM_MIN_DROP || total > peak / 2)
        return;
    __atomic_store_n(&srv->mem_peak, total, __ATOMIC_RELAXED);
    malloc_trim(0);
    px_log_debug("memory: gave free pages back (held %lld bytes, peak was %lld)",
                 (long long)total, (long long)peak);
}

void px__sloop_mem_start(px_sloop *sl)
{
    sl->mem.total = &sl->srv->mem_total;
    sl->mem.peak = &sl->srv->mem_peak;
    ev_init(&sl->pressure_w, px__pressure_cb);
    sl->pressure_w.repeat = PX_PRESSURE_RECHECK;
    sl->pressure_w.data = sl;
    if (sl->loop.index == 0) {
        ev_timer_init(&sl->trim_w, px__trim_cb, PX_TRIM_INTERVAL, PX_TRIM_INTERVAL);
        sl->trim_w.data = sl;
        ev_timer_start(sl->loop.ev, &sl->trim_w);
    }
}

void px__sloop_mem_stop(px_sloop *sl)
{
    ev_timer_stop(sl->loop.ev, &sl->pressure_w);
    if (sl->loop.index == 0)
        ev_timer_stop(sl->loop.ev, &sl->trim_w);
}

