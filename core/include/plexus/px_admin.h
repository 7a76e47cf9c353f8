/* The admin listener: plain HTTP on its own port (the config's admin: key) serving
 * /metrics, /healthz, /readyz, /status and /config for operators and Prometheus.
 * It runs on a thread of its own, so it answers while the program's main thread waits
 * (px_server_wait). */
#ifndef PLEXUS_PX_ADMIN_H
#define PLEXUS_PX_ADMIN_H

#include <stddef.h>
#include "px_config.h"
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct px_admin px_admin;

/** What the program fills in; every hook may be NULL, and each runs on the admin's
 *  thread (so it must be safe to call beside the program's own threads). */
typedef struct px_admin_hooks {
    /** The metrics text to serve (Prometheus text format 0.0.4), malloc'd, *len its
     *  length; NULL when it cannot be had. NULL hook: px_metrics_text(), this
     *  process's metrics (a master of worker processes passes one that merges its
     *  workers' texts). */
    char *(*metrics)(void *ud, size_t *len);
    /** 1 when ready for traffic; 0 with why (a short phrase, up to cap bytes) while
     *  starting or draining. NULL hook: the state px_admin_set_ready last set. */
    int (*ready)(void *ud, char *why, size_t cap);
    /** Lines of its own for /status (plain text, written into buf, up to cap bytes),
     *  e.g. a master's workers. NULL: none. */
    void (*status)(void *ud, char *buf, size_t cap);
    void *spare[4]; /**< zero: room for hooks of later minor versions */
} px_admin_hooks;

/**
 * Starts the admin listener the config's admin: key asks for. Without that key it
 * starts nothing: PX_OK with *out NULL. hooks may be NULL (all defaults); ud is passed
 * to every hook. The listener starts not ready ("starting"): call px_admin_set_ready
 * once the program serves. Fails (err: which address and why) when it cannot listen.
 * cfg is read here only: it may be freed afterwards.
 */
PX_API px_status px_admin_new(const px_config *cfg, const px_admin_hooks *hooks, void *ud,
                              px_admin **out, px_err *err);
/**
 * The same, run by the program instead of threads of its own: for a program that forks
 * (plexusd's master of worker processes), since a process with threads cannot fork
 * safely. The program polls px_admin_poll_fd for reading, at most
 * px_admin_poll_timeout_ms, and calls px_admin_poll after each wait; the hooks then run
 * on the program's thread. New in ABI 1.5's library.
 */
PX_API px_status px_admin_new_polled(const px_config *cfg, const px_admin_hooks *hooks,
                                     void *ud, px_admin **out, px_err *err);
/** A polled admin's descriptor to poll for reading (-1: not a polled admin). */
PX_API int px_admin_poll_fd(const px_admin *adm);
/** How long the program may wait before calling px_admin_poll (ms; -1: not polled). */
PX_API int px_admin_poll_timeout_ms(px_admin *adm);
/** Answers what is ready and takes the /status sample when it is due. */
PX_API void px_admin_poll(px_admin *adm);
/** The port it listens on (the one the system picked for port 0). */
PX_API int px_admin_port(const px_admin *adm);
/** "127.0.0.1:9901": the address it listens on, port included. */
PX_API const char *px_admin_address(const px_admin *adm);
/** What /readyz answers when the hooks have no ready(): ready 1, or 0 with why
 *  ("starting", "draining"). Safe from any thread. */
PX_API void px_admin_set_ready(px_admin *adm, int ready, const char *why);
/** The config /status and /config show from now on (after a reload); read here only. */
PX_API px_status px_admin_set_config(px_admin *adm, const px_config *cfg, px_err *err);
/** Stops listening (waiting for requests being answered) and frees it; NULL is a no-op. */
PX_API void px_admin_free(px_admin *adm);

/**
 * The per-method table of a metrics text (as /metrics serves it): one line per
 * service/method of the server (plexus_server_*) and per upstream/service/method of
 * clients (plexus_client_*) with calls, errors (calls whose code is not OK), calls per
 * second between prev and now (prev taken secs before now; prev NULL: no rate) and the
 * p50/p90/p99 latency estimated from the histogram buckets (over the calls between
 * prev and now when there were any, else over all). What `plexus stats` and /status
 * print. malloc'd text, *out_len its length; NULL with err when a text is malformed
 * (err says which line and what).
 */
PX_API char *px_admin_method_table(const char *now, size_t now_len, const char *prev,
                                   size_t prev_len, double secs, size_t *out_len, px_err *err);

#ifdef __cplusplus
}
#endif
#endif
