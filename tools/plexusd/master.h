/* plexusd: the master of worker processes (server.processes > 1), nginx's model. */
#ifndef PX_PLEXUSD_MASTER_H
#define PX_PLEXUSD_MASTER_H

#include <stddef.h>

#include "plexus/plexus.h"

/**
 * Runs plexusd as a master: forks px_config_server_processes(cfg) workers, each a full
 * server on the listening sockets, respawns one that dies, reloads on SIGHUP by starting
 * workers with the new config of file and draining the old ones once the new are ready,
 * and on SIGTERM, SIGINT or SIGQUIT drains every worker and returns. Takes cfg. Call with
 * SIGTERM, SIGINT and SIGHUP blocked, from the only thread. Returns the exit status.
 */
int px_plexusd_master_run(const char *file, px_config *cfg);

/**
 * The metrics text of the running master: the sum of its workers' px_metrics_text
 * (px_metrics_merge), a worker that does not answer within timeout_ms left out, plus the
 * master's own series (plexus_workers, plexus_worker_restarts_total,
 * plexus_config_reloads_total). malloc'd, NUL-terminated; *len its length. NULL when no
 * master runs in this process or out of memory. From any thread of the master process:
 * the admin listener's metrics hook.
 */
char *px_plexusd_master_metrics(int timeout_ms, size_t *len);

/**
 * For the admin listener's /readyz: 1 while the master serves (its workers all said READY
 * and it is not stopping), else 0 with why in why ("starting", "draining").
 * From any thread of the master process.
 */
int px_plexusd_master_ready(char *why, size_t cap);

/**
 * For /status: one line per worker, "worker SLOT pid PID generation GEN STATE" (STATE:
 * starting, serving or draining), written into buf (NUL-terminated, cut at cap).
 */
void px_plexusd_master_status(char *buf, size_t cap);

#endif
