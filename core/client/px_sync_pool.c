/* The blocking client's connection pool: per endpoint, idle connections and a count of
 * those open or being opened, under one mutex; callers wait on one condition variable
 * for a connection put back. Connecting, HELLO and all IO are poll(2)-bounded. */
#include "px_sync_pool.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_grow.h"
#include "px_native.h"
#include "px_native_client.h"
#include "px_net.h"
#include "px_time.h"
#include "px_tls.h"

typedef struct px_sync_ep {
    px_bconn *idle;
    int total; /* open or being opened */
} px_sync_ep;

typedef struct px_sync_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    px_sync_ep *eps; /* by endpoint record index; grown under lock as endpoints appear */
    size_t cap;
    uint64_t next_id; /* atomic */
} px_sync_pool;

/* Locked: the pool's entry of ep, or NULL when out of memory. */
static px_sync_ep *px__sync_ep(px_sync_pool *p, const px_ep *ep)
{
    size_t i = ep->pub.index;
    void *eps = p->eps;
    if (px_grow_zeroed(&eps, &p->cap, i + 1, sizeof *p->eps, 8) != 0)
        return NULL;
    p->eps = eps;
    return &p->eps[i];
}

px_status px__sync_new(px_client *c, px_err *err)
{
    px_sync_pool *p = calloc(1, sizeof *p);
    if (!p)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    c->sync = p;
    return PX_OK;
}

static void px__bconn_close(px_bconn *b)
{
    if (b->pstate && b->proto->client_close)
        b->proto->client_close(b->pstate);
    if (b->tls) {
        px_tls_shutdown(b->tls);
        px_tls_conn_free(b->tls);
    }
    close(b->fd);
    px_buf_free(&b->in);
    free(b);
}

void px__sync_free(px_client *c)
{
    px_sync_pool *p = c->sync;
    if (!p)
        return;
    for (size_t i = 0; i < p->cap; i++)
        for (px_bconn *b = p->eps[i].idle, *next; b; b = next) {
            next = b->next;
            px__bconn_close(b);
        }
    free(p->eps);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
    c->sync = NULL;
}

uint64_t px_sync_next_id(px_client *c)
{
    return __atomic_add_fetch(&c->sync->next_id, 1, __ATOMIC_RELAXED);
}

int px_sync_poll_ms(int64_t until_us)
{
    if (!until_us)
        return -1;
    int64_t left = until_us - px_mono_us();
    return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

/* write(2), or a TLS write: bytes, or -1 with errno (EAGAIN: poll for *events; EPROTO:
 * TLS failed). */
static ssize_t px__bconn_write(px_bconn *b, const uint8_t *p, size_t n, short *events)
{
    *events = POLLOUT;
    if (!b->tls) /* MSG_NOSIGNAL: no SIGPIPE for a program that does not ignore it */
        return send(b->fd, p, n, MSG_NOSIGNAL);
    ssize_t w = px_tls_write(b->tls, p, n);
    if (w > 0)
        return w;
    *events = w == PX_TLS_WANT_READ ? POLLIN : POLLOUT;
    errno = w == PX_TLS_WANT_READ || w == PX_TLS_WANT_WRITE ? EAGAIN : EPROTO;
    return -1;
}

/* The failure of a write or read, in words. */
static px_status px__bconn_fail(px_bconn *b, const char *what, int e, px_err *err)
{
    if (e == EPROTO && b->tls)
        return px_err_set(err, PX_UNAVAILABLE, "%s %s: TLS: %s", what, b->ep->pub.address,
                          px_tls_error(b->tls));
    return px_err_set(err, PX_UNAVAILABLE, "%s %s: %s", what, b->ep->pub.address, strerror(e));
}

px_status px_bconn_send(px_bconn *b, const uint8_t *p, size_t n, int64_t deadline_us,
                        px_err *err)
{
    const char *peer = b->ep->pub.address;
    while (n) {
        short events;
        ssize_t w = px__bconn_write(b, p, n, &events);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN) {
            int e = errno;
            /* The server may have refused the handshake (a client certificate it does
             * not take: TLS 1.3 says so after the client's side is done) and reset the
             * connection on our request: its alert, still readable, says why. */
            uint8_t sink[512];
            if (b->tls && px_tls_read(b->tls, sink, sizeof sink) == PX_TLS_ERROR &&
                strstr(px_tls_error(b->tls), "refused the handshake"))
                return px__bconn_fail(b, "read from", EPROTO, err);
            return px__bconn_fail(b, "write to", e, err);
        }
        struct pollfd pfd = {.fd = b->fd, .events = events};
        int r = poll(&pfd, 1, px_sync_poll_ms(deadline_us));
        if (r == 0)
            return px_err_set(err, PX_DEADLINE_EXCEEDED, "deadline exceeded sending to %s", peer);
        if (r < 0 && errno != EINTR)
            return px_err_set(err, PX_UNAVAILABLE, "poll: %s", strerror(errno));
    }
    return PX_OK;
}

int px_bconn_send_now(px_bconn *b, const uint8_t *p, size_t n)
{
    ssize_t w;
    short events;
    do
        w = px__bconn_write(b, p, n, &events);
    while (w < 0 && errno == EINTR);
    return w == (ssize_t)n ? 0 : -1;
}

/* Reads records until the socket has no more, and never leaves plaintext inside
 * OpenSSL (poll(2) would not see it). */
static int px__bconn_tls_read(px_bconn *b, px_err *err)
{
    size_t total = 0;
    for (;;) {
        ssize_t n = px_tls_read(b->tls, b->in.data + b->in.len, b->in.cap - b->in.len);
        if (n > 0) {
            b->in.len += (size_t)n;
            total += (size_t)n;
            if (!px_tls_pending(b->tls))
                return (int)total;
            if (px_buf_reserve(&b->in, 16 * 1024) != 0) {
                px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
                return -1;
            }
            continue;
        }
        if (n == PX_TLS_WANT_READ || n == PX_TLS_WANT_WRITE)
            return (int)total;
        if (n == PX_TLS_EOF)
            px_err_set(err, PX_UNAVAILABLE, "%s closed the connection", b->ep->pub.address);
        else
            px__bconn_fail(b, "read from", EPROTO, err);
        return -1;
    }
}

int px_bconn_read(px_bconn *b, px_err *err)
{
    if (px_buf_reserve(&b->in, 64 * 1024) != 0) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        return -1;
    }
    if (b->tls)
        return px__bconn_tls_read(b, err);
    ssize_t n = read(b->fd, b->in.data + b->in.len, b->in.cap - b->in.len);
    if (n > 0) {
        b->in.len += (size_t)n;
        return (int)n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    px_err_set(err, PX_UNAVAILABLE, "%s %s", b->ep->pub.address,
               n == 0 ? "closed the connection" : strerror(errno));
    return -1;
}

void px_bconn_consume(px_bconn *b, size_t n)
{
    if (n == 0)
        return; /* also: the buffer may have no storage yet */
    memmove(b->in.data, b->in.data + n, b->in.len - n);
    b->in.len -= n;
}

/* The TLS handshake on a connected socket, bounded by the connect timeout ct. */
static px_status px__handshake(px_bconn *b, px_tls_ctx *t, int64_t ct, px_err *err)
{
    const char *peer = b->ep->pub.address;
    if ((b->tls = px_tls_conn_new(t, b->fd, 0, peer, err)) == NULL)
        return err->status;
    int64_t until = ct > 0 ? px_mono_us() + ct : 0;
    for (;;) {
        int r = px_tls_handshake(b->tls);
        if (r == PX_TLS_DONE)
            return PX_OK;
        if (r != PX_TLS_WANT_READ && r != PX_TLS_WANT_WRITE)
            return px_err_set(err, PX_UNAVAILABLE, "TLS handshake with %s failed: %s", peer,
                              px_tls_error(b->tls));
        struct pollfd pfd = {.fd = b->fd, .events = r == PX_TLS_WANT_READ ? POLLIN : POLLOUT};
        int pr = poll(&pfd, 1, px_sync_poll_ms(until));
        if (pr == 0)
            return px_err_set(err, PX_UNAVAILABLE, "TLS handshake with %s timed out", peer);
        if (pr < 0 && errno != EINTR)
            return px_err_set(err, PX_UNAVAILABLE, "poll: %s", strerror(errno));
    }
}

/* Connects (bounded by the connect timeout) and sends HELLO; its answer (or refusal)
 * is read with the first reply. */
static px_status px__open(px_client *c, px_ep *ep, int64_t deadline_us, px_bconn **out,
                          px_err *err)
{
    int fd = px_net_connect(&ep->sa, err);
    if (fd < 0)
        return err->status;
    int64_t ct = px_upstream_connect_timeout(c->up, deadline_us ? deadline_us - px_mono_us() : 0);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int r;
    do
        r = poll(&pfd, 1, ct > 0 ? (int)((ct + 999) / 1000) : -1);
    while (r < 0 && errno == EINTR);
    int e = 0;
    socklen_t l = sizeof e;
    if (r == 0) {
        close(fd);
        return px_err_set(err, PX_UNAVAILABLE, "connect to %s timed out", ep->pub.address);
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
    if (r < 0 || e) {
        close(fd);
        return px_err_set(err, PX_UNAVAILABLE, "connect to %s: %s", ep->pub.address,
                          strerror(r < 0 ? errno : e));
    }
    px_bconn *b = calloc(1, sizeof *b);
    if (!b) {
        close(fd);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    }
    b->fd = fd;
    b->ep = ep;
    b->proto = c->up->proto;
    px_tls_ctx *tls = c->up->conf->tls_ctx;
    if (tls && px__handshake(b, tls, ct, err) != PX_OK) {
        px__bconn_close(b);
        return err->status;
    }
    px_buf hello = {0};
    px_status st = b->proto->client_open(c->up->proto_state, c->up->codec_name, &hello,
                                         &b->pstate) == 0
                       ? px_bconn_send(b, hello.data, hello.len, deadline_us, err)
                       : px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    px_buf_free(&hello);
    if (st != PX_OK) {
        px__bconn_close(b);
        return st;
    }
    *out = b;
    return PX_OK;
}

/* Whether the server is done with an idle pooled connection: it closed it, reset it
 * or said GOAWAY while it sat in the pool. One non-blocking peek per reuse; a late
 * reply waiting there is left for the next reader to drop and count. */
static int px__bconn_stale(px_bconn *b)
{
    uint8_t head[4];
    ssize_t n = recv(b->fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0)
        return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    if (b->tls) {
        /* Records cannot be peeked at: what arrived is read (session tickets, a GOAWAY,
         * the server's close_notify) and judged like plaintext. */
        px_err e;
        if (px_bconn_read(b, &e) < 0)
            return 1;
        return b->proto == &px_native_ops && b->in.len > 0 &&
               px_frame_peek_type(b->in.data, b->in.len) == PX_FRAME_GOAWAY;
    }
    if (b->proto != &px_native_ops) /* another protocol's GOAWAY is read with the reply */
        return 0;
    if (b->in.len > 0) /* a frame begun by an earlier read comes first */
        return px_frame_peek_type(b->in.data, b->in.len) == PX_FRAME_GOAWAY;
    return px_frame_peek_type(head, (size_t)n) == PX_FRAME_GOAWAY;
}

void px__sync_sweep(px_client *c)
{
    px_sync_pool *p = c->sync;
    px_bconn *gone = NULL;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->cap; i++) {
        px_sync_ep *se = &p->eps[i];
        if (!se->idle || px_ep_is_member(se->idle->ep))
            continue;
        for (px_bconn *b = se->idle, *next; b; b = next) {
            next = b->next;
            b->next = gone;
            gone = b;
            se->total--;
        }
        se->idle = NULL;
    }
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (px_bconn *b = gone, *next; b; b = next) {
        next = b->next;
        px__bconn_close(b);
    }
}

px_status px_sync_get(px_client *c, px_ep *ep, int64_t deadline_us, int wait, px_bconn **out,
                      px_err *err)
{
    px_sync_pool *p = c->sync;
    *out = NULL;
    pthread_mutex_lock(&p->lock);
    if (px__sync_ep(p, ep) == NULL) {
        pthread_mutex_unlock(&p->lock);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (;;) {
        /* Again after every wait: another thread may have grown the array meanwhile. */
        px_sync_ep *se = &p->eps[ep->pub.index];
        if (se->idle) {
            px_bconn *b = se->idle;
            se->idle = b->next;
            if (px__bconn_stale(b)) {
                se->total--;
                pthread_mutex_unlock(&p->lock);
                px__bconn_close(b);
                pthread_mutex_lock(&p->lock);
                continue;
            }
            pthread_mutex_unlock(&p->lock);
            *out = b;
            return PX_OK;
        }
        if (se->total < c->up->conf->pool_size) {
            se->total++;
            pthread_mutex_unlock(&p->lock);
            px_status st = px__open(c, ep, deadline_us, out, err);
            if (st != PX_OK) {
                pthread_mutex_lock(&p->lock);
                p->eps[ep->pub.index].total--;
                pthread_cond_broadcast(&p->cond);
                pthread_mutex_unlock(&p->lock);
            }
            return st;
        }
        if (!wait) {
            pthread_mutex_unlock(&p->lock);
            return PX_OK;
        }
        if (!deadline_us) {
            pthread_cond_wait(&p->cond, &p->lock);
            continue;
        }
        struct timespec ts = {.tv_sec = deadline_us / 1000000,
                              .tv_nsec = (deadline_us % 1000000) * 1000};
        if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->lock);
            return px_err_set(err, PX_DEADLINE_EXCEEDED,
                              "deadline exceeded waiting for a free connection to %s (pool_size %d)",
                              ep->pub.address, c->up->conf->pool_size);
        }
    }
}

void px_sync_put(px_client *c, px_bconn *b, int healthy)
{
    px_sync_pool *p = c->sync;
    pthread_mutex_lock(&p->lock);
    px_sync_ep *se = &p->eps[b->ep->pub.index]; /* px_sync_get made the entry */
    healthy = healthy && px_ep_is_member(b->ep); /* naming removed it: close, not pool */
    if (healthy) {
        b->next = se->idle;
        se->idle = b;
    } else {
        se->total--;
    }
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (!healthy)
        px__bconn_close(b);
}
