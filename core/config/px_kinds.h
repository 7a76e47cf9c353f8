/* The registry of module kinds: one row per kind says its name, its file prefix, where
 * a config names its modules and which ops a module of the kind must have. Adding a
 * kind is its public header (the ops table), its number in px_module.h and one row in
 * px_kinds.c; the loader, the config schema and the instance lists read the table. */
#ifndef PX_KINDS_H
#define PX_KINDS_H

#include <stddef.h>
#include "plexus/px_module.h"

/* Kind numbers are below this: per-kind arrays are indexed by kind. */
#define PX_KIND_LIMIT 16

/** Where a config names modules of one kind, in one scope (a server or an upstream). */
typedef struct px_kind_slot {
    const char *key;     /**< the YAML key ("balancer", "codecs"); NULL: not in this scope */
    int list;            /**< 1: a list of modules; 0: one module */
    const char *def;     /**< module used when the key is absent; NULL: none (an empty list,
                              or no module of this kind) */
} px_kind_slot;

typedef struct px_kind {
    px_module_kind id;
    const char *name;       /**< "balancer" */
    const char *prefix;     /**< file-name prefix: "lb_" */
    unsigned since_minor;   /**< the ABI minor that introduced the kind */
    int repeat;             /**< a list may name a module twice (each its own instance,
                                 e.g. two access logs); else that is refused */
    px_kind_slot server;    /**< under server: (services are configured on their own) */
    px_kind_slot upstream;  /**< under client.upstreams.NAME: */
    /** The ops a module of this kind cannot run without: NULL, or the name of the
     *  first missing one. */
    const char *(*missing_op)(const void *ops);
    /** NULL, or why a module with these ops cannot serve in a server (server 1) or a
     *  client upstream (0) scope. May be NULL. */
    const char *(*refuses_scope)(const void *ops, int server);
} px_kind;

/** The row of a kind, or NULL when the core does not know it. */
const px_kind *px_kind_get(px_module_kind kind);
/** Every kind, in the order configs are read: n rows. */
const px_kind *px_kinds_all(size_t *n);

#endif
