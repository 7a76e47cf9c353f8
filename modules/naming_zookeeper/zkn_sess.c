/* A ZooKeeper session of the module: made by the keeper thread (naming_zookeeper.c), its
 * state changes seen here on the library's completion thread. While the connection is
 * lost the list stays as it is (an outage is not "no server is left"); when it is back
 * everything is read again; an expired session is handed to the keeper to be remade. */
#include <errno.h>
#include <stdlib.h>

#include "zkn.h"

/* The library's own lines (connects, retries), at debug: the module says what matters
 * once per state change. */
static void zkn_lib_log(const char *message)
{
    px_log(PX_LOG_DEBUG, ZKN_MOD, "%s", message);
}

static void lost(zkn_sess *s, const char *what)
{
    zkn *m = s->m;
    px_metric_set(m->connected, 0);
    if (s->lost)
        return;
    s->lost = 1;
    pthread_mutex_lock(&m->mu);
    size_t n = m->last_n;
    pthread_mutex_unlock(&m->mu);
    px_log(PX_LOG_WARN, ZKN_MOD, "upstream %s: %s: keeping the last list (%zu endpoints)",
           m->upstream, what, n);
}

static void session_event(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)path;
    zkn_sess *s = ctx;
    if (type != ZOO_SESSION_EVENT || __atomic_load_n(&s->retired, __ATOMIC_ACQUIRE))
        return;
    zkn *m = s->m;
    s->zh = zh; /* the completion thread's own copy (init may not have returned yet) */
    if (state == ZOO_CONNECTED_STATE) {
        px_metric_set(m->connected, 1);
        const clientid_t *id = zoo_client_id(zh);
        /* The servers as configured, not zoo_get_current_server: the library formats
         * that in a static buffer its other threads log through. */
        if (!s->ever_connected || s->lost)
            px_log(PX_LOG_INFO, ZKN_MOD,
                   "upstream %s: %s ZooKeeper %s (session 0x%llx): reading %s",
                   m->upstream, s->ever_connected ? "reconnected to" : "connected to",
                   m->servers, (unsigned long long)id->client_id, m->path);
        s->ever_connected = 1;
        s->lost = 0;
        zkn_sync_all(s);
    } else if (state == ZOO_CONNECTING_STATE) {
        if (s->ever_connected)
            lost(s, "lost the connection to ZooKeeper, reconnecting");
    } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
        if (state == ZOO_EXPIRED_SESSION_STATE)
            px_metric_add(m->expirations, 1);
        s->lost = 0; /* say it once more for this cause */
        lost(s, state == ZOO_EXPIRED_SESSION_STATE
                    ? "the ZooKeeper session expired, making a new one"
                    : "ZooKeeper refused the authentication, making a new session");
        pthread_mutex_lock(&m->mu);
        m->renew = 1;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->mu);
    }
}

zkn_sess *zkn_sess_new(zkn *m)
{
    zkn_sess *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->m = m;
    s->handle = zookeeper_init2(m->servers, session_event, m->session_timeout_ms, NULL, s, 0,
                                zkn_lib_log);
    if (s->handle == NULL) {
        int e = errno;
        free(s);
        errno = e;
        return NULL;
    }
    return s;
}

void zkn_sess_free(zkn_sess *s)
{
    if (s == NULL)
        return;
    __atomic_store_n(&s->retired, 1, __ATOMIC_RELEASE);
    /* Joins the library's threads: no callback of this session runs after it. */
    zookeeper_close(s->handle);
    zkn_sync_free_table(s);
    free(s);
}
