/* Socket helpers: the one address parser (config load), listening, non-blocking connect. */
#include "px_net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PX__HOST_MAX 253 /* the longest DNS name, dots included */

/* ---- parsing ---------------------------------------------------------------------- */

/* px__parse's flags. */
#define PX__RESOLVE 1 /* a host name is looked up (else refused) */
#define PX__PORT0 2   /* port 0 (the system picks one when listening) is allowed */

static px_status px__port(const char *s, int flags, uint16_t *port, px_err *err)
{
    size_t n = strlen(s);
    long low = flags & PX__PORT0 ? 0 : 1;
    long v = n >= 1 && n <= 5 && strspn(s, "0123456789") == n ? strtol(s, NULL, 10) : -1;
    if (v < low || v > 65535)
        return px_err_set(err, PX_INVALID_ARGUMENT, "port '%s' is not a number in %ld..65535",
                          s, low);
    *port = (uint16_t)v;
    return PX_OK;
}

static px_status px__v4(const char *host, px_addr *out, px_err *err)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return px_err_set(err, PX_INVALID_ARGUMENT, "'%s' is not a valid IPv4 address", host);
    sin->sin_family = AF_INET;
    out->len = sizeof *sin;
    return PX_OK;
}

/* "%eth0" or "%2": link-local addresses need the interface they are on. */
static px_status px__scope(const char *host, const char *scope, uint32_t *id, px_err *err)
{
    size_t n = strlen(scope);
    unsigned long v = n > 0 && n <= 10 && strspn(scope, "0123456789") == n
                          ? strtoul(scope, NULL, 10) : 0;
    if (v > 0 && v <= UINT32_MAX) {
        *id = (uint32_t)v;
        return PX_OK;
    }
    *id = n ? if_nametoindex(scope) : 0;
    if (*id == 0)
        return px_err_set(err, PX_INVALID_ARGUMENT, "'%s': no network interface '%s'", host,
                          scope);
    return PX_OK;
}

/* The text between the brackets: an IPv6 literal, with an optional %scope. */
static px_status px__v6(const char *host, px_addr *out, px_err *err)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
    char lit[INET6_ADDRSTRLEN];
    const char *pct = strchr(host, '%');
    size_t n = pct ? (size_t)(pct - host) : strlen(host);
    if (n < sizeof lit) {
        memcpy(lit, host, n);
        lit[n] = '\0';
    }
    if (n >= sizeof lit || inet_pton(AF_INET6, lit, &sin6->sin6_addr) != 1)
        return px_err_set(err, PX_INVALID_ARGUMENT, "'%s' is not a valid IPv6 address", host);
    if (pct && px__scope(host, pct + 1, &sin6->sin6_scope_id, err) != PX_OK)
        return err->status;
    sin6->sin6_family = AF_INET6;
    out->len = sizeof *sin6;
    return PX_OK;
}

static int px__host_chars(const char *host)
{
    for (const char *c = host; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_')
            return 0;
    return *host != '\0';
}

/* A numeric form (digits and dots, or 0x7f.1 that inet_aton would take) is meant
 * as an IPv4 literal: it is checked as one instead of going to DNS. */
static int px__looks_numeric(const char *host)
{
    struct in_addr ignored;
    return strspn(host, "0123456789.") == strlen(host) || inet_aton(host, &ignored);
}

static px_status px__resolve(const char *host, px_addr *out, px_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        int again = rc == EAI_AGAIN || rc == EAI_SYSTEM || rc == EAI_MEMORY;
        return px_err_set(err, again ? PX_UNAVAILABLE : PX_INVALID_ARGUMENT,
                          "cannot resolve '%s': %s", host,
                          rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    }
    /* The first result, in the system's order (RFC 6724, /etc/gai.conf). */
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return PX_OK;
}

static px_status px__host(const char *host, int resolve, px_addr *out, px_err *err)
{
    /* As before this parser resolved names: a server on localhost and a client of it
     * agree on 127.0.0.1 whatever order the hosts file lists ::1 in. */
    if (strcasecmp(host, "localhost") == 0)
        return px__v4("127.0.0.1", out, err);
    if (px__looks_numeric(host))
        return px__v4(host, out, err);
    if (!px__host_chars(host))
        return px_err_set(err, PX_INVALID_ARGUMENT, "'%s' is not a valid host name", host);
    if (!resolve)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "'%s' is a host name: a numeric address is needed here (names are "
                          "resolved only when a config is loaded)",
                          host);
    return px__resolve(host, out, err);
}

static px_status px__parse(const char *text, int flags, px_addr *out, px_err *err);

px_status px_net_parse(const char *text, px_addr *out, px_err *err)
{
    return px__parse(text, PX__RESOLVE, out, err);
}

px_status px_net_parse_listen(const char *text, px_addr *out, px_err *err)
{
    return px__parse(text, PX__RESOLVE | PX__PORT0, out, err);
}

px_status px_net_parse_numeric(const char *text, px_addr *out, px_err *err)
{
    return px__parse(text, 0, out, err);
}

/* Splits "host:port" or "[v6]:port": the host's span and the port's text, or why not. */
static const char *px__split(const char *text, const char **host, size_t *hlen,
                             const char **port, int *bracketed)
{
    const char *end;
    *bracketed = text[0] == '[';
    *host = text;
    if (*bracketed) {
        *host = text + 1;
        end = strchr(*host, ']');
        if (end == NULL || end[1] != ':')
            return "expected [IPv6]:port, e.g. [::1]:7101";
        *port = end + 2;
    } else {
        end = strrchr(text, ':');
        if (end == NULL || end == text)
            return "expected host:port, e.g. 127.0.0.1:7101, [::1]:7101 or localhost:7101";
        if (memchr(text, ':', (size_t)(end - text)) != NULL)
            return "an IPv6 address goes in brackets, e.g. [::1]:7101";
        *port = end + 1;
    }
    *hlen = (size_t)(end - *host);
    return NULL;
}

int px_net_host(const char *text, char *host, size_t cap)
{
    const char *h, *port;
    size_t n;
    int bracketed;
    if (px__split(text, &h, &n, &port, &bracketed) != NULL || n >= cap)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    return 0;
}

static px_status px__parse(const char *text, int flags, px_addr *out, px_err *err)
{
    memset(out, 0, sizeof *out);
    text = text ? text : "";
    const char *host, *port;
    size_t n;
    int bracketed;
    const char *why = px__split(text, &host, &n, &port, &bracketed);
    if (why)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s", why);
    if (n > PX__HOST_MAX)
        return px_err_set(err, PX_INVALID_ARGUMENT, "the host is longer than %d characters",
                          PX__HOST_MAX);
    char h[PX__HOST_MAX + 1];
    memcpy(h, host, n);
    h[n] = '\0';
    uint16_t p;
    if (px__port(port, flags, &p, err) != PX_OK ||
        (bracketed ? px__v6(h, out, err) : px__host(h, flags & PX__RESOLVE, out, err)) != PX_OK) {
        memset(out, 0, sizeof *out);
        return err->status;
    }
    /* sin_port and sin6_port sit at the same offset. */
    ((struct sockaddr_in *)&out->ss)->sin_port = htons(p);
    return PX_OK;
}

void px_net_name(const struct sockaddr *sa, socklen_t len, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE], serv[8];
    if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
        getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(buf, n, "?");
        return;
    }
    snprintf(buf, n, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

/* ---- sockets ---------------------------------------------------------------------- */

void px_net_tune(int fd)
{
    int one = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Sets err to "what NAME: errno's text" and closes fd. */
static int px__fail(int fd, const px_addr *a, px_status st, const char *what, px_err *err)
{
    int e = errno;
    char name[PX_NET_NAME_MAX];
    px_net_name((const struct sockaddr *)&a->ss, a->len, name, sizeof name);
    px_err_set(err, st, "%s %s: %s", what, name, strerror(e));
    if (fd >= 0)
        close(fd);
    return -1;
}

int px_net_listen(const px_addr *a, int backlog, px_err *err)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return px__fail(fd, a, PX_INTERNAL, "socket for", err);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    /* A v6 listener takes v6 only: [::]:P would otherwise also take IPv4 clients (as
     * ::ffff:a.b.c.d) and then clash with a 0.0.0.0:P listener; the config says which
     * family it means, whatever net.ipv6.bindv6only says. */
    if (a->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0 || listen(fd, backlog) != 0)
        return px__fail(fd, a, PX_UNAVAILABLE, "cannot listen on", err);
    return fd;
}

int px_net_connect(const px_addr *a, px_err *err)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return px__fail(fd, a, PX_UNAVAILABLE, "socket for", err);
    px_net_tune(fd);
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) != 0 && errno != EINPROGRESS)
        return px__fail(fd, a, PX_UNAVAILABLE, "connect to", err);
    return fd;
}
