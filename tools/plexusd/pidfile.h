/* plexusd's pid file (server.pid_file) and `plexusd -s SIGNAL`, which reads it. */
#ifndef PX_PLEXUSD_PIDFILE_H
#define PX_PLEXUSD_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "plexus/plexus.h"

/** server.pid_file made absolute against the config's folder into buf; 0 when the
 *  config sets none, -1 when it does not fit. */
int pxd_pidfile_path(const px_config *cfg, char *buf, size_t cap);
/** Writes this process's pid to path (a temporary file renamed over it); 0, or -1 with
 *  the reason logged. */
int pxd_pidfile_write(const char *path);
/** Removes path if it still holds this process's pid. */
void pxd_pidfile_remove(const char *path);
/**
 * plexusd -s NAME (reload or stop; the caller checked it): the pid in cfg's pid file gets
 * SIGHUP or SIGTERM, after checking it is a plexusd. Returns the exit status (0, or 1 with the
 * reason on stderr).
 */
int pxd_signal(const px_config *cfg, const char *name);

#endif
