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
 * Graceful stop: stop accepting, tell clients GOAWAY, let in-flight calls finish
 * (up to server.shutdown_grace), close, join every thread. Blocks.
 */
void px_server_shutdown(px_server *s);
void px_server_free(px_server *s);

#endif
