/* REGISTRY "zookeeper" (internal): the instance, its session thread and its nodes. */
#ifndef RZ_H
#define RZ_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>
#include <plexus/plexus.h>

#define RZ_MOD "registry_zookeeper"

typedef struct rz_conf {
    char *servers;              /* "host:port,host:port[/chroot]" as ZooKeeper takes it */
    char *service;
    char *root;
    int64_t session_timeout_us;
} rz_conf;

/* One published listener: its node's data, and the node once created. */
typedef struct rz_node {
    char *data;      /* the layout's JSON */
    char *address;   /* for log lines */
    char path[512];  /* "" until created in the current session */
} rz_node;

typedef struct rz {
    const rz_conf *conf;
    char providers[512];        /* <root>/<service>/providers */
    char prefix[520];           /* providers + "/p-" */
    rz_node *nodes;
    size_t n_nodes;
    px_metric *m_registered, *m_expirations;

    /* The session thread's state, under mu; the watcher (the library's thread) sets the
     * flags and signals cv. */
    pthread_t thread;
    int has_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    zhandle_t *zh;
    int stopping;
    int connected;   /* the session is connected */
    int expired;     /* the session is gone: make another */
    int dirty;       /* the nodes must be checked (created, or found still there) */
} rz;

/* The metrics are optional (a full registry gives NULL handles). */
static inline void rz_gauge(px_metric *m, double v)
{
    if (m)
        px_metric_set(m, v);
}
static inline void rz_count(px_metric *m)
{
    if (m)
        px_metric_add(m, 1);
}

/* rz_node.c: the layout */
/** The nodes' data for info, one per listener (the layout's JSON); -1 on OOM. */
int rz_nodes_build(rz *r, const px_registry_info *info);
void rz_nodes_free(rz *r);
/** Creates the missing persistent parents of r->providers. A ZooKeeper code (ZOK). */
int rz_parents(rz *r, zhandle_t *zh);
/** Makes sure every node is there in this session: a known one that is gone, or one not
 *  made yet, is created. ZOK, or the first failure's code (the rest wait a retry). */
int rz_publish(rz *r, zhandle_t *zh);
/** Deletes the nodes this session made (best effort: closing the session removes them
 *  anyway). */
void rz_unpublish(rz *r, zhandle_t *zh);

/* rz_session.c: the session thread */
/** Starts the thread that keeps a session and the nodes in it. 0, or an errno. */
int rz_session_start(rz *r);
/** Deletes the nodes, closes the session and joins the thread. */
void rz_session_stop(rz *r);

#endif
