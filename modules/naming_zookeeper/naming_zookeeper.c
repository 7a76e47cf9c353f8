/* NAMING "zookeeper": the upstream's endpoints are the providers registered under
 * <root>/<service>/providers in ZooKeeper (docs/DEPLOYING.md "ZooKeeper layout"), kept
 * current by watches, through the multi-threaded C client. A keeper thread makes the
 * session and makes it again when the server expires it; the library's completion
 * thread reads the nodes and delivers the list (zkn_sync.c). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zkn.h"

static const px_directive zkn_directives[] = {
    {.name = "servers", .type = PX_DIR_STRING, .offset = offsetof(zkn_conf, servers),
     .required = 1,
     .help = "ZooKeeper servers, \"host:port,host:port\" (a /chroot suffix allowed)"},
    {.name = "service", .type = PX_DIR_STRING, .offset = offsetof(zkn_conf, service),
     .required = 1, .help = "the service name servers register under"},
    {.name = "root", .type = PX_DIR_STRING, .offset = offsetof(zkn_conf, root),
     .def = "/plexus", .help = "the znode holding every service"},
    {.name = "protocol", .type = PX_DIR_STRING, .offset = offsetof(zkn_conf, protocol),
     .help = "only providers listing this protocol (default: any)"},
    {.name = "session_timeout", .type = PX_DIR_DURATION,
     .offset = offsetof(zkn_conf, session_timeout_us), .def = "10s", .min = "100ms",
     .max = "10m", .help = "the ZooKeeper session timeout asked for (the server bounds it)"},
    {.name = "connect_timeout", .type = PX_DIR_DURATION,
     .offset = offsetof(zkn_conf, connect_timeout_us), .def = "5s", .min = "0s", .max = "10m",
     .help = "how long the client's start waits for the first list"},
    {.name = NULL},
};

/* The metric families and their series for this upstream; 0, or -1 with err. */
static int zkn_metrics(zkn *m, px_err *err)
{
    const char *labels[] = {"upstream"};
    const char *values[] = {m->upstream};
    struct {
        px_metric **slot;
        const char *name, *help;
        px_metric_type type;
    } fams[] = {
        {&m->connected, "plexus_naming_zookeeper_connected",
         "Whether the upstream's ZooKeeper session is connected (1) or not (0).",
         PX_METRIC_GAUGE},
        {&m->updates, "plexus_naming_zookeeper_updates_total",
         "Endpoint lists read from ZooKeeper and handed to the client.", PX_METRIC_COUNTER},
        {&m->expirations, "plexus_naming_zookeeper_session_expirations_total",
         "ZooKeeper sessions the server expired (each is made again).", PX_METRIC_COUNTER},
        /* the family every naming module that lists endpoints shares (naming_dns) */
        {&m->endpoints, "plexus_naming_endpoints",
         "Endpoints the upstream's naming module listed last.", PX_METRIC_GAUGE},
        {&m->refused, "plexus_naming_zookeeper_nodes_refused_total",
         "Provider znodes refused (malformed JSON, no or bad address, bad weight).",
         PX_METRIC_COUNTER},
    };
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
        px_metric_family *f = px_metric_family_get(fams[i].name, fams[i].help, fams[i].type,
                                                   labels, 1, NULL, 0, err);
        if (f == NULL || (*fams[i].slot = px_metric_get(f, values, err)) == NULL)
            return -1;
    }
    return 0;
}

static void zkn_free(zkn *m)
{
    px_metric_release(m->connected);
    px_metric_release(m->updates);
    px_metric_release(m->expirations);
    px_metric_release(m->endpoints);
    px_metric_release(m->refused);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static int copy(char *dst, size_t cap, const char *src)
{
    return snprintf(dst, cap, "%s", src) < (int)cap;
}

static px_status zkn_create(const px_module_env *env, const void *conf, void **state,
                            px_err *err)
{
    const zkn_conf *c = conf;
    if (c->servers[0] == '\0')
        return px_err_set(err, PX_INVALID_ARGUMENT, "servers: is empty");
    if (c->service[0] == '\0' || strchr(c->service, '/') != NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "service: '%s' must be one znode name (not empty, no '/')",
                          c->service);
    if (c->root[0] != '/')
        return px_err_set(err, PX_INVALID_ARGUMENT, "root: '%s' must start with '/'", c->root);
    size_t rl = strlen(c->root);
    while (rl > 0 && c->root[rl - 1] == '/') /* "/plexus/" and "/" name the same parent */
        rl--;
    zkn *m = calloc(1, sizeof *m);
    if (m == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
    int ok = copy(m->upstream, sizeof m->upstream, env->scope ? env->scope : "") &&
             copy(m->servers, sizeof m->servers, c->servers) &&
             copy(m->protocol, sizeof m->protocol, c->protocol ? c->protocol : "") &&
             snprintf(m->path, sizeof m->path, "%.*s/%s/providers", (int)rl, c->root,
                      c->service) < (int)sizeof m->path;
    if (!ok) {
        zkn_free(m);
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "servers, protocol or the providers path is too long");
    }
    m->session_timeout_ms = (int)(c->session_timeout_us / 1000);
    m->connect_timeout_us = c->connect_timeout_us;
    if (zkn_metrics(m, err) != 0) {
        zkn_free(m);
        return err->status;
    }
    *state = m;
    return PX_OK;
}

static void zkn_destroy(void *state)
{
    if (state)
        zkn_free(state);
}

void zkn_synced(zkn *m, size_t n, int delivered)
{
    pthread_mutex_lock(&m->mu);
    if (delivered)
        m->last_n = n;
    m->synced = 1;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->mu);
}

static void deadline_in(struct timespec *ts, int64_t us)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += us / 1000000;
    ts->tv_nsec += (long)(us % 1000000) * 1000;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* The keeper: makes the session, and a new one whenever the last expired. Closing a
 * handle joins the library's threads, which is why this is not done on them. */
static void *zkn_keeper(void *arg)
{
    zkn *m = arg;
    int failed_logged = 0;
    pthread_mutex_lock(&m->mu);
    while (!m->stopping) {
        if (!m->renew) {
            pthread_cond_wait(&m->cond, &m->mu);
            continue;
        }
        m->renew = 0;
        zkn_sess *old = m->sess;
        m->sess = NULL;
        pthread_mutex_unlock(&m->mu);
        zkn_sess_free(old);
        zkn_sess *s = zkn_sess_new(m);
        int e = errno;
        pthread_mutex_lock(&m->mu);
        if (s != NULL) {
            m->sess = s;
            failed_logged = 0;
            continue;
        }
        /* zookeeper_init resolves the host names: try again in a second. */
        if (!failed_logged)
            px_log(PX_LOG_ERROR, ZKN_MOD,
                   "upstream %s: cannot make a ZooKeeper session for '%s' (%s): retrying "
                   "every second",
                   m->upstream, m->servers, strerror(e));
        failed_logged = 1;
        m->renew = 1;
        struct timespec ts;
        deadline_in(&ts, 1000000);
        while (!m->stopping && pthread_cond_timedwait(&m->cond, &m->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* Starts the keeper and waits, up to connect_timeout, for the first list: the first
 * call then has endpoints. ZooKeeper out of reach does not fail the start: the client is
 * made (its calls fail UNAVAILABLE) and takes the list as soon as it comes, as a client
 * started during a ZooKeeper outage must. */
static px_status zkn_start(void *state, px_naming_sink *sink, px_err *err)
{
    zkn *m = state;
    m->sink = sink;
    m->renew = 1;
    int rc = pthread_create(&m->keeper, NULL, zkn_keeper, m);
    if (rc != 0)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "upstream %s: no thread: %s",
                          m->upstream, strerror(rc));
    m->keeper_started = 1;
    struct timespec ts;
    deadline_in(&ts, m->connect_timeout_us);
    pthread_mutex_lock(&m->mu);
    while (!m->synced && pthread_cond_timedwait(&m->cond, &m->mu, &ts) == 0)
        ;
    int synced = m->synced;
    pthread_mutex_unlock(&m->mu);
    if (!synced && m->connect_timeout_us > 0)
        px_log(PX_LOG_WARN, ZKN_MOD,
               "upstream %s: no list from ZooKeeper %s within connect_timeout (%lld ms): "
               "starting without endpoints (calls fail UNAVAILABLE until the list comes)",
               m->upstream, m->servers, (long long)(m->connect_timeout_us / 1000));
    return PX_OK;
}

/* The keeper first (it may be closing or making a session), then the session: once
 * zookeeper_close returned, no completion can reach the sink. */
static void zkn_stop(void *state)
{
    zkn *m = state;
    if (!m->keeper_started)
        return;
    pthread_mutex_lock(&m->mu);
    m->stopping = 1;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->keeper, NULL);
    m->keeper_started = 0;
    zkn_sess_free(m->sess);
    m->sess = NULL;
    px_metric_set(m->connected, 0);
}

static const px_naming_ops zkn_ops = {.start = zkn_start, .stop = zkn_stop};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_NAMING,
    .name = "zookeeper",
    .version = "1.0.0",
    .description = "providers registered in ZooKeeper, kept current by watches",
    .conf_size = sizeof(zkn_conf),
    .directives = zkn_directives,
    .create = zkn_create,
    .destroy = zkn_destroy,
    .ops = &zkn_ops,
};
