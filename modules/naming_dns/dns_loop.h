/* A c-ares channel run on the naming thread's event loop: its sockets as
 * px_naming_io fd watches, its timeouts as one px_naming_io timer. No thread. */
#ifndef DNS_LOOP_H
#define DNS_LOOP_H

#include <stdint.h>
#include <ares.h>
#include <plexus/plexus.h>

typedef struct dns_watch {
    int fd;
    int ev; /* PX_NAMING_READ | PX_NAMING_WRITE, as c-ares asked */
    px_naming_io *io;
} dns_watch;

typedef struct dns_loop {
    ares_channel ch;
    px_naming_sink *sink;
    px_naming_io *timer; /* ares_timeout's next deadline */
    dns_watch *w;
    size_t n, cap;
    int alive; /* 0 once closing: sockets c-ares closes need no watch */
} dns_loop;

/**
 * Makes the channel: query_timeout_us per try, tries, DNS only (no /etc/hosts), and
 * servers ("host:port,..." as ares_set_servers_ports_csv reads it; NULL or "": the
 * system's resolv.conf). sink NULL: a channel for checking the servers only (no loop).
 */
int dns_loop_init(dns_loop *l, px_naming_sink *sink, int64_t query_timeout_us, int tries,
                  const char *servers, px_err *err);
/** After queries were issued outside a callback of the loop: re-arms the timeout timer. */
void dns_loop_kick(dns_loop *l);
/**
 * Runs the channel right here, blocking (poll on its sockets), until done(arg) is
 * nonzero or deadline_us (px clock: dns_now_us) passes. For start, which runs on the
 * loop itself and so cannot wait on it.
 */
void dns_loop_run_until(dns_loop *l, int (*done)(void *), void *arg, int64_t deadline_us);
/** Ends every query (their callbacks run with ARES_EDESTRUCTION), closes the watches. */
void dns_loop_close(dns_loop *l);

/** CLOCK_MONOTONIC in microseconds. */
int64_t dns_now_us(void);

#endif
