/* Socket helpers: the one address parser (config load), listening, non-blocking connect. */
#ifndef PX_NET_H
#define PX_NET_H

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include "plexus/px_status.h"

/** An address as bind and connect take it, resolved once when the config is loaded. */
typedef struct px_addr {
    struct sockaddr_storage ss;
    socklen_t len; /**< 0: not set */
} px_addr;

/** Room for the longest name px_net_name writes, "[v6%ifname]:65535", with its NUL. */
#define PX_NET_NAME_MAX (INET6_ADDRSTRLEN + IF_NAMESIZE + 8)

/**
 * Parses "A.B.C.D:port", "[v6]:port" (a scope as in [fe80::1%eth0]:port is allowed)
 * or "name:port", port 1..65535, into out. "localhost" is 127.0.0.1; any other name
 * is resolved here with getaddrinfo (AF_UNSPEC, SOCK_STREAM) and its first result is
 * kept. Digits and dots, or any other form inet_aton takes, must be a valid dotted
 * IPv4 address: 999.1.1.1 is refused, never looked up. On failure err->msg is the
 * reason alone (e.g. "'999.1.1.1' is not a valid IPv4 address"): callers say which
 * text and where it came from.
 */
px_status px_net_parse(const char *text, px_addr *out, px_err *err);
/** px_net_parse for a listening address: port 0 is allowed too (the system picks one). */
px_status px_net_parse_listen(const char *text, px_addr *out, px_err *err);
/**
 * px_net_parse for run time (naming updates): the same forms, but a host name is refused
 * ("'db1' is a host name: ...") instead of resolved; "localhost" is still 127.0.0.1.
 */
px_status px_net_parse_numeric(const char *text, px_addr *out, px_err *err);
/** "1.2.3.4:80" or "[::1]:80" into buf (PX_NET_NAME_MAX bytes hold any); "?" if unknown. */
void px_net_name(const struct sockaddr *sa, socklen_t len, char *buf, size_t n);
/** The host part of "host:port" or "[v6]:port" (no brackets) into host[cap]; 0, or -1
 *  when text is not an address or the host does not fit. */
int px_net_host(const char *text, char *host, size_t cap);
/** A non-blocking listening socket with SO_REUSEADDR and SO_REUSEPORT. -1 on error. */
int px_net_listen(const px_addr *addr, int backlog, px_err *err);
/** Starts a non-blocking connect; returns the fd (connect may be in progress) or -1. */
int px_net_connect(const px_addr *addr, px_err *err);
/** Sets O_NONBLOCK and TCP_NODELAY on an accepted or connected fd. */
void px_net_tune(int fd);

#endif
