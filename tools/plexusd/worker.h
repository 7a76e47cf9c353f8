/* plexusd: a worker process, forked by the master (master.c). */
#ifndef PX_PLEXUSD_WORKER_H
#define PX_PLEXUSD_WORKER_H

#include <sys/types.h>

#include "plexus/plexus.h"

/**
 * In the child after fork: serves cfg as a full server (its IO threads, accepting on the
 * listening sockets the master bound), says READY on fd once it serves, answers the
 * master's metrics requests on fd, and drains on SIGTERM, SIGINT or SIGQUIT (or when the
 * master dies). slot names the worker in the log. Returns the exit status.
 */
int px_plexusd_worker_run(const px_config *cfg, int fd, int slot, pid_t master);

#endif
