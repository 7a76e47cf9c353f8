/* Socket helpers: address parsing, listening, non-blocking connect. Errors go to px_err. */
#ifndef PX_NET_H
#define PX_NET_H

#include <netinet/in.h>
#include "plexus/px_status.h"

/** Parses "host:port" (IPv4 literal or "localhost") into sa. */
px_status px_net_parse(const char *addr, struct sockaddr_in *sa, px_err *err);
/** A non-blocking listening socket with SO_REUSEADDR and SO_REUSEPORT. -1 on error. */
int px_net_listen(const char *addr, int backlog, px_err *err);
/** Starts a non-blocking connect; returns the fd (connect may be in progress) or -1. */
int px_net_connect(const struct sockaddr_in *sa, px_err *err);
/** Sets O_NONBLOCK and TCP_NODELAY on an accepted or connected fd. */
void px_net_tune(int fd);

#endif
