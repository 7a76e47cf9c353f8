/* The parsed configuration (internal): what px_config_load produces. */
#ifndef PX_CONFIG_INT_H
#define PX_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>
#include "plexus/px_config.h"
#include "plexus/px_module.h"
#include "px_kinds.h"
#include "px_loader.h"
#include "px_net.h"
#include "px_tls.h"

/** A module named in the config, loaded, with its block validated into conf. */
typedef struct px_modref {
    const px_module *mod; /**< loaded and checked; NULL when the slot is unused */
    const char *path;     /**< file it came from (owned by the loader) */
    void *conf;           /**< mod->conf_size bytes filled from its directives, or NULL */
    int line, col;        /**< where the config named it */
} px_modref;

/** The modules a scope names of one kind, in config order. */
typedef struct px_modlist {
    px_modref *refs;
    size_t n;
} px_modlist;

/** The first (for a one-module kind: the) module of kind in a scope's lists, or NULL. */
static inline const px_modref *px_modlist_one(const px_modlist *mods, px_module_kind kind)
{
    return mods[kind].n ? &mods[kind].refs[0] : NULL;
}

/** Bounds checked before anything is allocated (server and client side). */
typedef struct px_limits {
    uint64_t max_frame;             /**< max body bytes of one frame; default 4MiB */
    uint64_t max_meta;              /**< max metadata bytes of one frame; default 16KiB */
    uint32_t max_inflight_per_conn; /**< requests in progress per connection; default 1024 */
    int64_t idle_timeout_us;        /**< close a connection idle this long; 0 = never; default 0 */
    uint32_t max_connections;       /**< per server; beyond it new ones get GOAWAY; default 10000 */
    int64_t handshake_timeout_us;   /**< HELLO must arrive within this; default 10s */
    int64_t read_timeout_us;        /**< a started frame must complete within this; default 30s */
    uint64_t max_conn_memory;       /**< bytes one connection may hold before it is not read;
                                         default 16MiB or 4 x max_frame */
    uint64_t max_server_memory;     /**< bytes all connections may hold; default 1GiB or a
                                         quarter of the RAM, whichever is less */
    uint32_t max_decode_expansion;  /**< a decoded request may take this times its body; default 8 */
    uint32_t max_queued_per_conn;   /**< client: async attempts waiting per connection while its
                                         server's announced max_inflight is reached; default
                                         65536 (server: 0) */
} px_limits;

typedef struct px_service_conf {
    px_modref module;
    int workers; /**< 0: handlers run on the IO thread; N: on a pool of N threads */
    px_modlist filters; /**< the service's own FILTER modules, after the server's */
} px_service_conf;

/** One of server.listeners: a further address, with its own protocols and TLS. */
typedef struct px_listener_conf {
    char *listen;            /**< "127.0.0.1:7443" */
    px_addr addr;            /**< resolved at load */
    size_t *protos;          /**< indexes into the server's protocol list, in this
                                  listener's order; NULL: all of them, in theirs */
    size_t n_protos;
    px_tls_conf tls;         /**< tls.present 0: plaintext */
    px_tls_ctx *tls_ctx;
} px_listener_conf;

typedef struct px_server_conf {
    int present;             /**< the file has a server: section */
    char *listen;            /**< "127.0.0.1:7101" (required) */
    px_addr listen_addr;     /**< listen, resolved at load: run time never resolves */
    char *id;                /**< server identity (Whoami); default: listen */
    char *pid_file;          /**< plexusd's pid file, as written; NULL: none */
    int io_threads;          /**< default 1 */
    px_modlist mods[PX_KIND_LIMIT]; /**< by kind, from the keys of the kind registry
                                         (codecs: default [protobuf]) */
    px_service_conf *services;
    size_t n_services;
    px_limits limits;
    int64_t shutdown_grace_us; /**< max wait for in-flight calls on SIGTERM; default 10s */
    px_tls_conf tls;         /**< server.tls (tls.present 0: plaintext) ... */
    px_tls_ctx *tls_ctx;     /**< ... and its context, built at load; NULL without */
    px_listener_conf *listeners; /**< server.listeners: more addresses besides listen */
    size_t n_listeners;
    int processes;           /**< plexusd's worker processes; default 1 (no master) */
    px_modref registry;      /**< server.register: (registry.mod NULL: none); made by the
                                  host program (px_registration_start), not the server */
    uint32_t register_weight;    /**< server.register.weight; default 1 */
    char *register_advertise;    /**< server.register.advertise: a numeric host; NULL none */
} px_server_conf;

typedef struct px_health_conf {
    int max_fails;            /**< failures within fail_window that eject; default 3; 0 = never eject */
    int64_t fail_window_us;   /**< default 10s */
    int64_t ejection_us;      /**< first ejection time, doubled on each re-ejection; default 1s */
    int64_t max_ejection_us;  /**< cap of the doubling; default 30s */
    int max_ejected_percent;  /**< never eject more than this share of endpoints; default 50 */
    int64_t probe_interval_us;/**< probe ejected endpoints this often; 0 = lazy re-admission; default 500ms */
    int64_t probe_timeout_us; /**< a probe's connect+HELLO+PING budget; default 500ms */
} px_health_conf;

typedef struct px_upstream_conf {
    char *name;
    char **endpoints;   /**< "host:port"; none (n_endpoints 0) when the naming module
                             does not need the list */
    px_addr *addrs;     /**< endpoints[i], resolved at load: run time never resolves */
    uint32_t *weights;  /**< per endpoint, default 1 */
    size_t n_endpoints;
    px_modlist mods[PX_KIND_LIMIT]; /**< by kind, from the keys of the kind registry: one
                                         codec (default protobuf), balancer (random),
                                         failover (failfast), timeout (fixed), naming
                                         (static) */
    uint32_t max_endpoints;  /**< distinct addresses the upstream may ever list; default 1024 */
    px_health_conf health;
    int connections_per_endpoint; /**< async client: multiplexed connections; default 1 */
    int pool_size;                /**< sync client: blocking connections per endpoint; default 4 */
    px_limits limits;
    px_tls_conf tls;              /**< upstreams.NAME.tls ... */
    px_tls_ctx *tls_ctx;          /**< ... and its context; NULL: plaintext */
} px_upstream_conf;

typedef struct px_client_conf {
    int io_threads; /**< async client IO threads; default 1 */
    /** client.descriptors: SERVICE modules loaded only for their .proto descriptors
     * (px_service_ops.descriptor), so the CLI can call by method name. No instance. */
    px_modref *descriptors;
    size_t n_descriptors;
    px_upstream_conf *upstreams;
    size_t n_upstreams;
} px_client_conf;

/** admin: the admin HTTP listener; listen NULL: off (the key is absent). */
typedef struct px_admin_conf {
    char *listen;       /**< "127.0.0.1:9901" as written */
    px_addr addr;       /**< resolved at load */
} px_admin_conf;

struct px_ynode;

struct px_config {
    char *file;         /**< path as given */
    struct px_ynode *root; /**< the document as parsed (what /config shows) */
    int64_t loaded_at;  /**< when it was loaded, seconds since the epoch */
    px_admin_conf admin;
    px_loader *loader;  /**< owns every module the config loaded */
    px_server_conf server;
    px_client_conf client;
};

/**
 * Makes an instance of a configured module: runs its create() with the
 * validated conf (state = conf when create is NULL).
 */
px_status px_modref_create(const px_modref *ref, const px_module_env *env,
                           void **state, px_err *err);
/** Runs destroy() when the module has one. */
void px_modref_destroy(const px_modref *ref, void *state);

#endif
