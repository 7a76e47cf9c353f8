/* REGISTRY modules: a server that publishes itself (its listeners) in a registry such
 * as ZooKeeper, so that clients find it there (their naming module reads the registry).
 * Since ABI 1.6. */
#ifndef PLEXUS_PX_REGISTRY_H
#define PLEXUS_PX_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "px_config.h"
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A server names one registry module in `server.register:` ({module: NAME, weight,
 * advertise, and the module's own keys}). The host program (plexusd) starts the
 * registration once the server serves (its listeners bound, its threads running) and
 * stops it first when the server stops, before the drain, so clients stop picking the
 * server while its calls in flight finish. On a reload the new generation's
 * registration starts before the old one stops (a client dedupes two entries for one
 * address, so the short overlap is harmless).
 *
 * Threads and lifetime:
 * - create (px_module.create) runs when the registration is made, start right after it,
 *   stop and then destroy when it ends: all on the host's main thread (plexusd's, or its
 *   master's with server.processes > 1: the master registers once, it owns the sockets).
 * - start must not block for long: a registry that cannot be reached is no reason to
 *   refuse to serve. It returns PX_OK and keeps trying on threads of its own (the
 *   registry client library's, for instance), logging what fails; it returns an error
 *   only for what cannot work at all (a bad key the config could not check, no memory).
 *   plexusd logs such an error and serves unregistered.
 * - The module may keep threads of its own; stop must join them (or close the library
 *   that runs them) before it returns. stop deregisters at once (deletes what it
 *   published, rather than waiting for the registry to expire it): clients must see the
 *   server gone before it stops accepting.
 * - info and everything it points to is valid from start until stop returns: copy what
 *   a thread of the module reads after stop.
 */

/** One listener as it is published: the address clients must dial. */
typedef struct px_registry_listener {
    /** Numeric "10.0.0.5:7101" or "[fd00::5]:7101", the port the socket is bound to (the
     *  system's choice for port 0); the host is `advertise` when that is set, else the
     *  listener's own (a wildcard 0.0.0.0 / :: listener requires advertise). */
    const char *address;
    /** The address as bound ("0.0.0.0:7101"), for log lines. */
    const char *bound;
    const char *const *protocols; /**< protocol modules it speaks: "native", "grpc" */
    size_t n_protocols;
    int tls;                      /**< nonzero: the listener speaks TLS */
    void *spare[4];               /**< zero */
} px_registry_listener;

/** What the core tells the registry module about the server it publishes. */
typedef struct px_registry_info {
    const char *server_id;                  /**< server.id */
    pid_t pid;                              /**< the process that registers */
    uint32_t weight;                        /**< register.weight, 1..10000 (default 1) */
    const px_registry_listener *listeners;  /**< server.listen first, then server.listeners */
    size_t n_listeners;
    const char *const *codecs;              /**< server.codecs: "protobuf", "json" */
    size_t n_codecs;
    const char *const *services;            /**< service modules served: "calc", "px_health" */
    size_t n_services;
    void *spare[8];                         /**< zero */
} px_registry_info;

typedef struct px_registry_ops {
    unsigned flags; /**< 0 (none defined yet) */
    /** Begins publishing info (see the contract above). PX_OK, or a status with err set.
     *  Required. */
    px_status (*start)(void *state, const px_registry_info *info, px_err *err);
    /** Deletes what was published and joins the module's threads. May be NULL. */
    void (*stop)(void *state);
    void *spare[4]; /**< zero */
} px_registry_ops;

/* ---- for the host program (plexusd) ---- */

typedef struct px_registration px_registration;
struct px_server;

/**
 * Starts the registration cfg's server.register: names, publishing the listeners of srv
 * (a started server made from cfg), or, when srv is NULL, those of the process's kept
 * listening sockets of cfg (px_server_keep_listeners: plexusd's master, which runs no
 * server). *out is NULL, and PX_OK returned, when cfg has no register: block. An error
 * (err set, *out NULL) means the module refused to start; the server may serve on.
 * Main thread only. New in ABI 1.6's library.
 */
PX_API px_status px_registration_start(const px_config *cfg, const struct px_server *srv,
                                       px_registration **out, px_err *err);
/** Deregisters at once and frees; NULL is fine. Main thread only. */
PX_API void px_registration_stop(px_registration *r);

#ifdef __cplusplus
}
#endif
#endif
