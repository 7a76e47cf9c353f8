/* c-ares on the naming thread's loop (px_naming_io_*): ARES_OPT_SOCK_STATE_CB tells
 * which sockets to watch and for what, ares_process_fd runs when one is ready, and a
 * timer runs ares' timeouts at the deadline ares_timeout names. */
#include "dns_loop.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t dns_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void rearm(dns_loop *l)
{
    if (!l->timer)
        return;
    struct timeval tv;
    if (ares_timeout(l->ch, NULL, &tv) == NULL)
        px_naming_io_after(l->timer, -1);
    else
        px_naming_io_after(l->timer, (int64_t)tv.tv_sec * 1000000 + tv.tv_usec);
}

static void on_fd(void *arg, int fd, int revents)
{
    dns_loop *l = arg;
    ares_process_fd(l->ch, (revents & PX_NAMING_READ) ? fd : ARES_SOCKET_BAD,
                    (revents & PX_NAMING_WRITE) ? fd : ARES_SOCKET_BAD);
    rearm(l);
}

static void on_timer(void *arg)
{
    dns_loop *l = arg;
    ares_process_fd(l->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts only */
    rearm(l);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    dns_loop *l = data;
    int ev = (readable ? PX_NAMING_READ : 0) | (writable ? PX_NAMING_WRITE : 0);
    size_t i = 0;
    while (i < l->n && l->w[i].fd != fd)
        i++;
    if (i < l->n) {
        if (ev) {
            px_naming_io_events(l->w[i].io, ev);
            l->w[i].ev = ev;
        } else { /* c-ares is closing it */
            px_naming_io_close(l->w[i].io);
            l->w[i] = l->w[--l->n];
        }
        return;
    }
    if (!ev || !l->alive || !l->sink)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4;
        dns_watch *w = realloc(l->w, cap * sizeof *w);
        if (!w) {
            px_log(PX_LOG_ERROR, "naming_dns", "upstream %s: out of memory watching a DNS socket",
                   px_naming_upstream(l->sink));
            return; /* its query times out */
        }
        l->w = w;
        l->cap = cap;
    }
    px_err err;
    px_naming_io *io = px_naming_io_fd(l->sink, fd, ev, on_fd, l, &err);
    if (!io) {
        px_log(PX_LOG_ERROR, "naming_dns", "upstream %s: cannot watch a DNS socket: %s",
               px_naming_upstream(l->sink), err.msg);
        return;
    }
    l->w[l->n++] = (dns_watch){.fd = fd, .ev = ev, .io = io};
}

static void lib_init(void)
{
    ares_library_init(ARES_LIB_INIT_ALL); /* a no-op on Linux, kept for the contract */
}

int dns_loop_init(dns_loop *l, px_naming_sink *sink, int64_t query_timeout_us, int tries,
                  const char *servers, px_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, lib_init);
    memset(l, 0, sizeof *l);
    l->sink = sink;
    l->alive = 1;
    struct ares_options o = {0};
    o.timeout = (int)(query_timeout_us / 1000);
    o.tries = tries;
    o.lookups = (char *)"b"; /* DNS only: /etc/hosts carries no TTL */
    o.sock_state_cb = sock_state;
    o.sock_state_cb_data = l;
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB;
    int rc = ares_init_options(&l->ch, &o, mask);
    if (rc != ARES_SUCCESS) {
        l->ch = NULL;
        return px_err_set(err, PX_INTERNAL, "c-ares: %s", ares_strerror(rc));
    }
    if (servers && servers[0])
        rc = ares_set_servers_ports_csv(l->ch, servers);
    if (rc != ARES_SUCCESS) {
        ares_destroy(l->ch);
        l->ch = NULL;
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "servers '%s': %s (want host:port, comma-separated: "
                          "\"127.0.0.1:5353,[::1]:53\")",
                          servers, ares_strerror(rc));
    }
    if (sink) {
        l->timer = px_naming_io_timer(sink, on_timer, l, err);
        if (!l->timer) {
            ares_destroy(l->ch);
            l->ch = NULL;
            return err->status;
        }
    }
    return PX_OK;
}

void dns_loop_kick(dns_loop *l)
{
    rearm(l);
}

void dns_loop_run_until(dns_loop *l, int (*done)(void *), void *arg, int64_t deadline_us)
{
    while (!done(arg)) {
        int64_t left = deadline_us - dns_now_us();
        if (left <= 0)
            break;
        struct timeval tv, max = {.tv_sec = left / 1000000, .tv_usec = left % 1000000};
        struct timeval *t = ares_timeout(l->ch, &max, &tv);
        int ms = (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
        struct pollfd p[16]; /* c-ares keeps a socket or two per server */
        nfds_t n = 0;
        for (size_t i = 0; i < l->n && n < 16; i++, n++) {
            short ev = (short)(((l->w[i].ev & PX_NAMING_READ) ? POLLIN : 0) |
                               ((l->w[i].ev & PX_NAMING_WRITE) ? POLLOUT : 0));
            p[n] = (struct pollfd){.fd = l->w[i].fd, .events = ev};
        }
        int r = poll(p, n, ms);
        if (r <= 0) {
            ares_process_fd(l->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            continue;
        }
        for (nfds_t i = 0; i < n; i++) {
            int rd = p[i].revents & (POLLIN | POLLERR | POLLHUP), wr = p[i].revents & POLLOUT;
            if (rd || wr)
                ares_process_fd(l->ch, rd ? p[i].fd : ARES_SOCKET_BAD,
                                wr ? p[i].fd : ARES_SOCKET_BAD);
        }
    }
    rearm(l);
}

void dns_loop_close(dns_loop *l)
{
    if (l->ch) {
        ares_destroy(l->ch); /* sock_state(fd, 0, 0) for each socket closes its watch */
        l->ch = NULL;
    }
    l->alive = 0;
    for (size_t i = 0; i < l->n; i++)
        px_naming_io_close(l->w[i].io);
    if (l->timer)
        px_naming_io_close(l->timer);
    free(l->w);
    memset(l, 0, sizeof *l);
}
