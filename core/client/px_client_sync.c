/* The blocking client (the seed's 10 steps): a pool of N long-lived connections per
 * endpoint with get/put, send and receive bounded by the call's deadline through
 * poll(2), the same balancer/failover/timeout modules as the async client. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_client_int.h"
#include "px_net.h"
#include "px_time.h"

typedef struct px_bconn {
    int fd;
    px_ep *ep;
    px_buf in;
    struct px_bconn *next;
} px_bconn;

typedef struct px_sync_ep {
    px_bconn *idle;
    int total; /* open or being opened */
} px_sync_ep;

typedef struct px_sync_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    px_sync_ep *eps;
    uint64_t next_id; /* atomic */
} px_sync_pool;

px_status px__sync_new(px_client *c, px_err *err)
{
    px_sync_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->eps = calloc(c->up->n, sizeof *p->eps))) {
        free(p);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    }
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
    close(b->fd);
    px_buf_free(&b->in);
    free(b);
}

void px__sync_free(px_client *c)
{
    px_sync_pool *p = c->sync;
    if (!p)
        return;
    for (size_t i = 0; i < c->up->n; i++)
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

static int px__poll_ms(int64_t deadline_us)
{
    if (!deadline_us)
        return -1;
    int64_t left = deadline_us - px_mono_us();
    return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

static px_status px__send_all(int fd, const uint8_t *p, size_t n, int64_t deadline_us,
                              const char *peer, px_err *err)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN)
            return px_err_set(err, PX_UNAVAILABLE, "write to %s: %s", peer, strerror(errno));
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r = poll(&pfd, 1, px__poll_ms(deadline_us));
        if (r == 0)
            return px_err_set(err, PX_DEADLINE_EXCEEDED, "deadline exceeded sending to %s", peer);
        if (r < 0 && errno != EINTR)
            return px_err_set(err, PX_UNAVAILABLE, "poll: %s", strerror(errno));
    }
    return PX_OK;
}

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
    /* HELLO now; its answer (or refusal) is read with the first reply. */
    const char *codec = c->up->codec_name;
    px_buf hello = {0};
    px_frame h = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)codec,
                  .body_len = (uint32_t)strlen(codec)};
    px_status st = px_frame_append(&hello, &h) == 0
                       ? px__send_all(fd, hello.data, hello.len, deadline_us, ep->pub.address, err)
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
 * reply waiting there is left for px__recv to drop and count. */
static int px__bconn_stale(px_bconn *b)
{
    uint8_t head[4];
    ssize_t n = recv(b->fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0)
        return errno != EAGAIN && errno != EWOULDBLOCK;
    if (b->in.len >= 4) /* a frame begun by an earlier read */
        return b->in.data[3] == PX_FRAME_GOAWAY;
    return n == 0 || (n == (ssize_t)sizeof head && head[3] == PX_FRAME_GOAWAY);
}

/* getConnection: an idle one, a new one while under pool_size, or wait for a put. */
static px_status px__get(px_client *c, px_ep *ep, int64_t deadline_us, px_bconn **out, px_err *err)
{
    px_sync_pool *p = c->sync;
    px_sync_ep *se = &p->eps[ep->pub.index];
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (se->idle) {
            px_bconn *b = se->idle;
            se->idle = b->next;
            if (px__bconn_stale(b)) {
                /* The server closed it or said GOAWAY while it sat in the pool. */
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
                se->total--;
                pthread_cond_broadcast(&p->cond);
                pthread_mutex_unlock(&p->lock);
            }
            return st;
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

/* putConnection: back to the pool, or closed when it can no longer be trusted. */
static void px__put(px_client *c, px_bconn *b, int healthy)
{
    px_sync_pool *p = c->sync;
    px_sync_ep *se = &p->eps[b->ep->pub.index];
    pthread_mutex_lock(&p->lock);
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

/* Reads frames until the one answering id; others are late replies to calls that
 * already timed out on this connection, and are dropped. */
static px_status px__recv(px_client *c, px_bconn *b, uint64_t id, int64_t deadline_us,
                          const ProtobufCMessageDescriptor *desc, ProtobufCMessage **reply,
                          int *healthy, int *refused, px_err *err)
{
    const px_upstream_conf *uc = c->up->conf;
    const char *peer = b->ep->pub.address;
    for (;;) {
        px_frame f;
        size_t used = 0;
        px_parse_result r = px_frame_parse(b->in.data, b->in.len, uc->limits.max_meta,
                                           uc->limits.max_frame, &f, &used, err);
        if (r == PX_PARSE_ERROR) {
            *healthy = 0;
            return px_err_set(err, PX_INTERNAL, "protocol error from %s: %s", peer, err->msg);
        }
        if (r == PX_PARSE_OK) {
            px_status st = PX_OK;
            int mine = 0;
            if (f.type == PX_FRAME_ERROR && f.id == 0) {
                *healthy = 0;
                st = px_err_set(err, f.status > 0 && f.status < PX_STATUS_COUNT ? f.status : PX_UNKNOWN,
                                "%s: %.*s", peer, (int)f.body_len, (const char *)f.body);
                mine = 1;
            } else if (f.type == PX_FRAME_GOAWAY) {
                *healthy = 0; /* finish this call, then do not reuse the connection */
                if (f.status != 0) {
                    /* The server refused the connection: nothing sent on it ran. */
                    *refused = 1;
                    mine = 1;
                    st = px_err_set(err, f.status < PX_STATUS_COUNT ? f.status : PX_UNKNOWN,
                                    "%s refused the connection: %.*s", peer, (int)f.body_len,
                                    (const char *)f.body);
                }
            } else if ((f.type == PX_FRAME_RESPONSE || f.type == PX_FRAME_ERROR) && f.id == id) {
                mine = 1;
                if (f.type == PX_FRAME_ERROR && (f.flags & PX_FRAME_F_NOT_EXECUTED))
                    *refused = 1;
                if (f.type == PX_FRAME_ERROR)
                    st = px_err_set(err, f.status > 0 && f.status < PX_STATUS_COUNT ? f.status : PX_UNKNOWN,
                                    "%.*s", (int)f.body_len, (const char *)f.body);
                else if (c->up->codec->decode(c->up->codec_state, desc, f.body, f.body_len, reply,
                                              err) != PX_OK)
                    st = px_err_set(err, PX_INTERNAL, "cannot decode the reply from %s: %s", peer,
                                    err->msg);
            } else if (f.type == PX_FRAME_RESPONSE || f.type == PX_FRAME_ERROR) {
                __atomic_add_fetch(&c->stats.late_responses, 1, __ATOMIC_RELAXED);
            }
            memmove(b->in.data, b->in.data + used, b->in.len - used);
            b->in.len -= used;
            if (mine)
                return st;
            continue;
        }
        if (px_buf_reserve(&b->in, 64 * 1024) != 0) {
            *healthy = 0;
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
        }
        struct pollfd pfd = {.fd = b->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, px__poll_ms(deadline_us));
        if (pr == 0)
            return px_err_set(err, PX_DEADLINE_EXCEEDED, "deadline exceeded waiting for %s", peer);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            *healthy = 0;
            return px_err_set(err, PX_UNAVAILABLE, "poll: %s", strerror(errno));
        }
        ssize_t n = read(b->fd, b->in.data + b->in.len, b->in.cap - b->in.len);
        if (n > 0) {
            b->in.len += (size_t)n;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            *healthy = 0;
            return px_err_set(err, PX_UNAVAILABLE, "%s %s", peer,
                              n == 0 ? "closed the connection" : strerror(errno));
        }
    }
}

/* After a failed write: the frames already in the socket, read without waiting, for a
 * refusal (GOAWAY with a status) or a connection ERROR that explains the failure
 * better than the reset; err is replaced when one is there. */
static px_status px__recv_last_words(px_client *c, px_bconn *b, int *refused, px_err *err)
{
    const px_upstream_conf *uc = c->up->conf;
    for (int i = 0; i < 16; i++) {
        if (px_buf_reserve(&b->in, 4096) != 0)
            return err->status;
        ssize_t n = recv(b->fd, b->in.data + b->in.len, b->in.cap - b->in.len, MSG_DONTWAIT);
        if (n <= 0)
            break;
        b->in.len += (size_t)n;
    }
    size_t off = 0, used = 0;
    px_frame f;
    px_err perr;
    while (px_frame_parse(b->in.data + off, b->in.len - off, uc->limits.max_meta,
                          uc->limits.max_frame, &f, &used, &perr) == PX_PARSE_OK) {
        off += used;
        int refusal = f.type == PX_FRAME_GOAWAY && f.status != 0;
        if (refusal || (f.type == PX_FRAME_ERROR && f.id == 0)) {
            *refused = refusal;
            return px_err_set(err, f.status < PX_STATUS_COUNT ? f.status : PX_UNKNOWN,
                              "%s%s: %.*s", b->ep->pub.address,
                              refusal ? " refused the connection" : "", (int)f.body_len,
                              (const char *)f.body);
        }
    }
    return err->status;
}

px_status px_call(px_client *c, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *reply_desc, const px_call_opts *opts,
                  ProtobufCMessage **reply, px_err *err)
{
    *reply = NULL;
    size_t mlen = method ? strlen(method) : 0;
    if (!c || !req || !reply_desc || !mlen || mlen > PX_FRAME_MAX_METHOD || !strchr(method, '/'))
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "px_call: method must be package.Service/Method and arguments non-NULL");
    px_upstream *up = c->up;
    __atomic_add_fetch(&c->stats.calls_started, 1, __ATOMIC_RELAXED);
    /* Steps 1-2: serialise the request into a frame once; retries resend the same bytes. */
    px_buf frame = {0};
    px_frame f = {.type = PX_FRAME_REQUEST, .method = (const uint8_t *)method,
                  .method_len = (uint16_t)mlen};
    size_t off = px_frame_begin(&frame, &f);
    px_err e = {0};
    if (off == (size_t)-1 || up->codec->encode(up->codec_state, req, &frame, &e) != PX_OK) {
        px_buf_free(&frame);
        __atomic_add_fetch(&c->stats.calls_completed, 1, __ATOMIC_RELAXED);
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: cannot encode the request: %s", method, e.msg);
    }
    px_frame_end(&frame, off);
    size_t body_len = frame.len - off - PX_FRAME_HEADER_SIZE - mlen;
    if (body_len > up->conf->limits.max_frame) {
        px_buf_free(&frame);
        __atomic_add_fetch(&c->stats.calls_completed, 1, __ATOMIC_RELAXED);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: request of %zu bytes exceeds max_frame %llu",
                          method, body_len, (unsigned long long)up->conf->limits.max_frame);
    }
    px_call_opts o = px_upstream_call_opts(up, method, req, opts);
    opts = &o;
    int64_t budget = px_upstream_call_timeout(up, method, opts);
    int64_t start = px_mono_us();
    int64_t deadline = budget > 0 ? start + budget : 0;
    uint8_t tried[up->n];
    memset(tried, 0, up->n);
    px_status st = PX_UNAVAILABLE;
    px_err_set(err, PX_UNAVAILABLE, "%s: no endpoint available in upstream %s", method,
               up->conf->name);
    int transparent = 0; /* the one retry of a refused, unexecuted attempt was used */
    for (unsigned attempt = 0;; attempt++) {
        px_ep *ep = px_upstream_pick(up, method, opts, tried, px_mono_us());
        if (!ep)
            break;
        tried[ep->pub.index] = 1;
        px_ep_inflight_add(ep, 1);
        int64_t t0 = px_mono_us();
        int sent = 0, healthy = 1, refused = 0;
        px_bconn *b = NULL;
        st = px__get(c, ep, deadline, &b, err);
        if (st == PX_OK) {
            uint64_t id = __atomic_add_fetch(&c->sync->next_id, 1, __ATOMIC_RELAXED);
            /* Patch the id and the remaining budget into the prepared header. */
            int64_t left = deadline ? deadline - px_mono_us() : 0;
            uint32_t dms = deadline ? (left <= 1000 ? 1 : (uint32_t)((left + 999) / 1000)) : 0;
            for (int i = 0; i < 8; i++)
                frame.data[off + 8 + i] = (uint8_t)(id >> (56 - 8 * i));
            for (int i = 0; i < 4; i++)
                frame.data[off + 16 + i] = (uint8_t)(dms >> (24 - 8 * i));
            st = px__send_all(b->fd, frame.data, frame.len, deadline, ep->pub.address, err);
            sent = 1;
            if (st != PX_OK) {
                healthy = 0;
                /* A reset while writing: what the server said before it (a refusal
                 * GOAWAY) is the better reason, and says whether anything ran. */
                st = px__recv_last_words(c, b, &refused, err);
            } else {
                st = px__recv(c, b, id, deadline, reply_desc, reply, &healthy, &refused, err);
            }
            if (refused)
                sent = 0; /* never executed: safe to send elsewhere */
            px__put(c, b, healthy);
        }
        px_ep_inflight_add(ep, -1);
        int64_t now = px_mono_us();
        px_failover_action act = px_upstream_attempt_done(
            up, ep, method, st, attempt, sent, opts->idempotent, refused, &transparent,
            now - t0, deadline ? deadline - now : INT64_MAX);
        if (act != PX_FAILOVER_RETRY)
            break;
        __atomic_add_fetch(&c->stats.retries, 1, __ATOMIC_RELAXED);
    }
    px_buf_free(&frame);
    __atomic_add_fetch(&c->stats.calls_completed, 1, __ATOMIC_RELAXED);
    if (st == PX_OK)
        px_err_clear(err);
    return st;
}
