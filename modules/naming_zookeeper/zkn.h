/* naming_zookeeper: one instance per upstream (zkn), and the ZooKeeper session it
 * reads the providers through (zkn_sess, remade when the server expires it). */
#ifndef ZKN_H
#define ZKN_H

#include <pthread.h>
#include <stdint.h>
#include <plexus/plexus.h>
#include <zookeeper/zookeeper.h>

#include "zkn_node.h"

#define ZKN_MOD "naming_zookeeper"
#define ZKN_PATH_MAX 512

typedef struct zkn_conf {
    char *servers; /* zookeeper_init's host string: "h1:2181,h2:2181[/chroot]" */
    char *service;
    char *root;
    char *protocol; /* NULL: any */
    int64_t session_timeout_us;
    int64_t connect_timeout_us;
} zkn_conf;

typedef struct zkn_sess zkn_sess;

typedef struct zkn {
    char upstream[128];
    char servers[1024];
    char protocol[64]; /* "": any */
    char path[ZKN_PATH_MAX]; /* <root>/<service>/providers */
    int session_timeout_ms;
    int64_t connect_timeout_us;
    px_naming_sink *sink;
    px_metric *connected, *updates, *expirations, *endpoints, *refused;

    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cond;  /* keeper's work, start's first sync */
    pthread_t keeper;
    int keeper_started;
    zkn_sess *sess;       /* the session in use; NULL while the keeper makes one */
    int renew;            /* the session is gone: the keeper makes a new one */
    int stopping;
    int synced;           /* the first sync ended (a list, or no providers path) */
    size_t last_n;        /* endpoints of the last list delivered */
} zkn;

/* One entry of a session's table: a child of the providers path. */
typedef struct zkn_entry {
    char *name;
    zkn_node node;
    zkn_node_result res;
    int fresh; /* the data read is current (a change or a resync clears it) */
    int gone;  /* deleted between the listing and the read */
    int64_t bad_version; /* the mzxid of the data last refused (logged once) */
} zkn_entry;

struct zkn_sess {
    zkn *m;
    zhandle_t *handle; /* the keeper's (close); the library's threads use zh */
    int retired;       /* atomic: being closed, its callbacks do nothing */
    /* Everything below belongs to the library's completion thread of this handle. */
    zhandle_t *zh;
    uint64_t epoch; /* of the latest listing asked for */
    zkn_entry *ents; /* sorted by name */
    size_t n;
    size_t pending; /* data reads of this epoch not answered yet */
    int ever_connected;
    int lost;           /* an outage is under way (logged once) */
    int missing_logged; /* the providers path is absent (logged once) */
};

/* zkn_sess.c */
/** A new session (zookeeper_init2); its callbacks start the sync. NULL with errno. */
zkn_sess *zkn_sess_new(zkn *m);
/** Marks it retired, closes its handle (joining the library's threads) and frees it. */
void zkn_sess_free(zkn_sess *s);

/* zkn_sync.c: runs on a session's completion thread */
void zkn_sync_all(zkn_sess *s);
void zkn_node_event(zhandle_t *zh, int type, int state, const char *path, void *ctx);
void zkn_sync_free_table(zkn_sess *s);
/** Wakes start: the first sync ended. */
void zkn_synced(zkn *m, size_t n, int delivered);

#endif
