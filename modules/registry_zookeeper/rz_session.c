/* REGISTRY "zookeeper": the session thread. The library's own threads run the
 * connection and call the watcher; its synchronous calls cannot be made from there (the
 * watcher runs on the thread that completes them), so a thread of the module does the
 * work the watcher asks for: make a session (again, once one expired), and check the
 * nodes whenever a session is (re)connected. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rz.h"

#define RZ_RETRY_MS 500   /* after a failed create, or a failed zookeeper_init */
#define RZ_IDLE_MS 10000  /* nothing to do: the watcher wakes the thread */

/* The library's own log lines (connection refused, reconnects) as the core's, at most
 * one every RZ_ZLOG_EVERY_S: while the ensemble is unreachable the library retries, and
 * logs, many times a second. */
#define RZ_ZLOG_EVERY_S 10
static void rz__zlog(const char *message)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static time_t last;
    static unsigned dropped;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&mu);
    if (last && now.tv_sec - last < RZ_ZLOG_EVERY_S) {
        dropped++;
        pthread_mutex_unlock(&mu);
        return;
    }
    unsigned n_dropped = dropped;
    dropped = 0;
    last = now.tv_sec ? now.tv_sec : 1;
    pthread_mutex_unlock(&mu);
    /* Its own time stamp and thread id go: the core's line has its own. */
    const char *m = strstr(message, "ZOO_");
    m = m ? m : message;
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == '\r'))
        n--;
    if (n_dropped)
        px_log(PX_LOG_WARN, "zookeeper", "%.*s (%u more lines of the library in the last %d s "
               "not shown)", (int)n, m, n_dropped, RZ_ZLOG_EVERY_S);
    else
        px_log(PX_LOG_WARN, "zookeeper", "%.*s", (int)n, m);
}

static void rz__watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)path;
    rz *r = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&r->mu);
    if (zh == r->zh) {
        if (state == ZOO_CONNECTED_STATE) {
            const clientid_t *id = zoo_client_id(zh);
            px_log(PX_LOG_INFO, RZ_MOD, "connected to ZooKeeper (session 0x%llx, timeout %d ms)",
                   id ? (unsigned long long)id->client_id : 0ULL, zoo_recv_timeout(zh));
            r->connected = 1;
            r->dirty = 1;
        } else if (state == ZOO_EXPIRED_SESSION_STATE) {
            r->connected = 0;
            r->expired = 1;
        } else if (state == ZOO_AUTH_FAILED_STATE) {
            px_log(PX_LOG_ERROR, RZ_MOD, "ZooKeeper refused the session's authentication");
        } else {
            if (r->connected)
                px_log(PX_LOG_WARN, RZ_MOD, "lost the connection to ZooKeeper: reconnecting; "
                       "the nodes stay while the session lives");
            r->connected = 0; /* connecting again: the nodes live as long as the session */
        }
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

static void rz__wait(rz *r, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

/* A new session in place of an expired one (or the first). Locked; unlocks around the
 * old handle's close, which joins the library threads that may wait for the lock. */
static void rz__new_session(rz *r)
{
    zhandle_t *old = r->zh;
    if (old) {
        r->zh = NULL;
        pthread_mutex_unlock(&r->mu);
        zookeeper_close(old);
        pthread_mutex_lock(&r->mu);
        rz_count(r->m_expirations);
        rz_gauge(r->m_registered, 0);
        px_log(PX_LOG_WARN, RZ_MOD, "session expired (its nodes are gone): making a new one");
    }
    for (size_t i = 0; i < r->n_nodes; i++)
        r->nodes[i].path[0] = 0;
    r->expired = r->connected = 0;
    /* Under the lock: the watcher's first event waits until r->zh is this handle. */
    r->zh = zookeeper_init2(r->conf->servers, rz__watch,
                            (int)(r->conf->session_timeout_us / 1000), NULL, r, 0, rz__zlog);
    if (r->zh == NULL)
        px_log(PX_LOG_ERROR, RZ_MOD, "zookeeper_init(%s): %s; trying again", r->conf->servers,
               strerror(errno));
}

static void *rz__main(void *arg)
{
    rz *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        if (r->zh == NULL || r->expired)
            rz__new_session(r);
        if (r->zh && r->connected && r->dirty) {
            r->dirty = 0;
            zhandle_t *zh = r->zh;
            pthread_mutex_unlock(&r->mu);
            int rc = rz_publish(r, zh);
            pthread_mutex_lock(&r->mu);
            if (rc != ZOK)
                r->dirty = 1;
            else if (r->connected && !r->expired)
                rz_gauge(r->m_registered, 1);
        }
        if (!r->stopping && !r->expired)
            rz__wait(r, r->zh == NULL || r->dirty ? RZ_RETRY_MS : RZ_IDLE_MS);
    }
    zhandle_t *zh = r->zh;
    int connected = r->connected;
    r->zh = NULL;
    pthread_mutex_unlock(&r->mu);
    if (zh) {
        /* Deleted first and the session closed: clients see the server gone now, not
         * after the session timeout. */
        if (connected)
            rz_unpublish(r, zh);
        zookeeper_close(zh);
    }
    rz_gauge(r->m_registered, 0);
    return NULL;
}

int rz_session_start(rz *r)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&r->thread, NULL, rz__main, r);
    r->has_thread = rc == 0;
    return rc;
}

void rz_session_stop(rz *r)
{
    if (!r->has_thread)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    r->has_thread = 0;
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}
