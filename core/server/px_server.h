/* The server: IO loops that accept, read frames, dispatch to services, write replies. */
#ifndef PX_SERVER_H
#define PX_SERVER_H

#include "plexus/px_config.h"
#include "plexus/px_status.h"

typedef struct px_server px_server;

/** Creates codec and service instances and binds the listening sockets. */
px_status px_server_new(const px_config *cfg, px_server **out, px_err *err);
/** Starts the IO threads; returns at once. */
px_status px_server_start(px_server *s, px_err *err);
/**
 * Graceful stop: stop accepting, tell every client GOAWAY at once, let calls in flight
 * finish for up to server.shutdown_grace; then answer every call still without an
 * answer with UNAVAILABLE, close every connection and join the threads. Blocks for at
 * most the grace plus about two seconds. Returns how many threads were still in a
 * handler and were left behind (0 normally); the process should then exit.
 */
int px_server_shutdown(px_server *s);
/** Frees everything, unless threads were left behind by px_server_shutdown (then the
 *  server stays until the process exits). */
void px_server_free(px_server *s);

#endif
