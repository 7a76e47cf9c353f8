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

/* The library's log lines (connection refused, reconnects) as the core's. */
static void rz__zlog(const char *message)
{
    size_t n = strlen(message);
    while (n && (message[n - 1] == '\n' || message[n - 1] == '\r'))
        n--;
    px_log(PX_LOG_WARN, "zookeeper", "%.*s", (int)n, message);
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
            r->connected = 1;
            r->dirty = 1;
        } else if (state == ZOO_EXPIRED_SESSION_STATE) {
            r->connected = 0;
            r->expired = 1;
        } else if (state == ZOO_AUTH_FAILED_STATE) {
            px_log(PX_LOG_ERROR, RZ_MOD, "ZooKeeper refused the session's authentication");
        } else {
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
