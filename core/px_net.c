/* Socket helpers: address parsing, listening, non-blocking connect. */
#include "px_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

px_status px_net_parse(const char *addr, struct sockaddr_in *sa, px_err *err)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon || colon == addr || !colon[1])
        return px_err_set(err, PX_INVALID_ARGUMENT, "address '%s' is not host:port", addr ? addr : "");
    char host[64];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host)
        return px_err_set(err, PX_INVALID_ARGUMENT, "address '%s': host too long", addr);
    memcpy(host, addr, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return px_err_set(err, PX_INVALID_ARGUMENT, "address '%s': port must be 1..65535", addr);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return px_err_set(err, PX_INVALID_ARGUMENT, "address '%s': '%s' is not an IPv4 address", addr, host);
    return PX_OK;
}

void px_net_tune(int fd)
{
    int one = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int px_net_listen(const char *addr, int backlog, px_err *err)
{
    struct sockaddr_in sa;
    if (px_net_parse(addr, &sa, err) != PX_OK)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        px_err_set(err, PX_INTERNAL, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, backlog) != 0) {
        px_err_set(err, PX_UNAVAILABLE, "cannot listen on %s: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int px_net_connect(const struct sockaddr_in *sa, px_err *err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        px_err_set(err, PX_UNAVAILABLE, "socket: %s", strerror(errno));
        return -1;
    }
    px_net_tune(fd);
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0 && errno != EINPROGRESS) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof ip);
        px_err_set(err, PX_UNAVAILABLE, "connect to %s:%u: %s", ip, ntohs(sa->sin_port), strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
