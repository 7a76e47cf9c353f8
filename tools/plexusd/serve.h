/* plexusd in one process (server.processes 1): serve.c. */
#ifndef PX_PLEXUSD_SERVE_H
#define PX_PLEXUSD_SERVE_H

#include "plexus/plexus.h"

/**
 * Serves cfg (loaded from file; owned from here on) until SIGTERM or SIGINT, reloading
 * file on SIGHUP. Returns the exit status: 0 stopped, 1 the start failed (said on stderr).
 */
int pxd_serve(const char *file, px_config *cfg);

#endif
