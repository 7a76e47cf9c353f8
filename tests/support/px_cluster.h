/* Test helper for failure tests: calc servers s0..sN-1 (real plexusd processes), a
 * client over them, a health watch and a load generator, brought up and torn down. */
#ifndef PX_CLUSTER_H
#define PX_CLUSTER_H

#include "px_load.h"
#include "px_proc.h"

/** A calc server with one IO thread, protobuf only. */
#define PX_CALC_SERVER_YAML                                                                    \
    "  io_threads: 1\n"                                                                        \
    "  codecs: [protobuf]\n"                                                                   \
    "  services:\n"                                                                            \
    "    - module: calc\n"

typedef struct px_cluster_spec {
    int n;                                    /* servers, at most PX_LOAD_MAX_SRV */
    const char *host[PX_LOAD_MAX_SRV];        /* NULL: 127.0.0.1 */
    const char *server_yaml[PX_LOAD_MAX_SRV]; /* NULL: the spec's default_yaml */
    const char *default_yaml;                 /* NULL: PX_CALC_SERVER_YAML */
    const char *upstream_yaml;                /* the upstream block (px_write_client_conf) */
    int calls;                                /* room in the load generator */
} px_cluster_spec;

typedef struct px_cluster {
    px_proc srv[PX_LOAD_MAX_SRV];
    int n; /* servers started */
    char conf[256];
    px_config *cfg;
    px_client *cl;
    px_watch w;
    px_load load;
} px_cluster;

/**
 * Starts the servers and a client for upstream "calc". Returns 0, or -1 with a message
 * printed; either way c holds what was started, for px_cluster_down.
 */
int px_cluster_up(px_cluster *c, const px_cluster_spec *spec);
/**
 * Continues any server a failed test left stopped (SIGSTOP), frees the client, stops
 * the servers. Returns 0, or -1 when a server did not exit cleanly.
 */
int px_cluster_down(px_cluster *c);
/**
 * A cmocka teardown for a test that calloc'd its px_cluster into *state (NULL when it
 * started nothing): px_cluster_down, then free.
 */
int px_cluster_teardown(void **state);

#endif
