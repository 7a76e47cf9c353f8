/* REGISTRY "zookeeper": publishes the server's listeners in ZooKeeper as ephemeral
 * sequential nodes under <root>/<service>/providers (the layout: docs/DEPLOYING.md), and
 * keeps them there: a session that expires is made again with its nodes, a connection
 * found again within the session has its nodes checked. stop deletes them and closes the
 * session, so clients see the server gone at once. Debian's libzookeeper-mt does the
 * protocol; the module adds the layout and the session's upkeep. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rz.h"

static const px_directive rz_dirs[] = {
    {"servers", PX_DIR_STRING, offsetof(rz_conf, servers), NULL, 1, NULL, NULL, NULL,
     "the ZooKeeper ensemble, host:port[,host:port...][/chroot]"},
    {"service", PX_DIR_STRING, offsetof(rz_conf, service), NULL, 1, NULL, NULL, NULL,
     "the name clients look the server up by: nodes go under <root>/<service>/providers"},
    {"root", PX_DIR_STRING, offsetof(rz_conf, root), "/plexus", 0, NULL, NULL, NULL,
     "the folder of every service's node"},
    {"session_timeout", PX_DIR_DURATION, offsetof(rz_conf, session_timeout_us), "10s", 0,
     "100ms", "10m", NULL,
     "how long ZooKeeper keeps the nodes of a server it lost (the server clamps it to 2 to 20 "
     "ticks)"},
    {NULL},
};

static pthread_once_t rz_once = PTHREAD_ONCE_INIT;
static px_metric_family *rz_f_registered, *rz_f_expirations;

static void rz_families(void)
{
    static const char *const svc[] = {"service"};
    rz_f_registered = px_metric_family_get(
        "plexus_registry_zookeeper_registered",
        "1 while the server's nodes are in ZooKeeper (its session connected and its nodes "
        "checked), else 0.", PX_METRIC_GAUGE, svc, 1, NULL, 0, NULL);
    rz_f_expirations = px_metric_family_get(
        "plexus_registry_zookeeper_session_expirations_total",
        "ZooKeeper sessions of the registration that expired (a new one was made).",
        PX_METRIC_COUNTER, NULL, 0, NULL, 0, NULL);
    /* The library's own lines: warnings and errors (connection refused, reconnects). */
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
}

/* Checks what the directive table cannot: the paths must make a ZooKeeper path. */
static const char *rz_check(const rz_conf *c)
{
    size_t rl = strlen(c->root);
    if (c->root[0] != '/' || (rl > 1 && c->root[rl - 1] == '/') || strstr(c->root, "//"))
        return "root: expected an absolute ZooKeeper path such as /plexus (no trailing /)";
    if (!c->service[0] || strchr(c->service, '/') || strcmp(c->service, ".") == 0 ||
        strcmp(c->service, "..") == 0)
        return "service: expected a name without '/' (it is one path component)";
    if (rl + strlen(c->service) + 16 >= 512)
        return "root and service: the path is too long";
    if (!c->servers[0] || c->servers[0] == ',' || c->servers[0] == '/')
        return "servers: expected host:port[,host:port...]";
    return NULL;
}

static px_status rz_create(const px_module_env *env, const void *conf, void **state,
                           px_err *err)
{
    (void)env;
    const rz_conf *c = conf;
    const char *why = rz_check(c);
    if (why)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s", why);
    rz *r = calloc(1, sizeof *r);
    if (r == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    r->conf = c;
    snprintf(r->providers, sizeof r->providers, "%s/%s/providers",
             strcmp(c->root, "/") == 0 ? "" : c->root, c->service);
    snprintf(r->prefix, sizeof r->prefix, "%s/p-", r->providers);
    *state = r;
    return PX_OK;
}

static void rz_destroy(void *state)
{
    rz *r = state;
    rz_session_stop(r);
    rz_nodes_free(r);
    px_metric_release(r->m_registered);
    px_metric_release(r->m_expirations);
    free(r);
}

static px_status rz_start(void *state, const px_registry_info *info, px_err *err)
{
    rz *r = state;
    pthread_once(&rz_once, rz_families);
    const char *svc[] = {r->conf->service};
    r->m_registered = rz_f_registered ? px_metric_get(rz_f_registered, svc, NULL) : NULL;
    r->m_expirations = rz_f_expirations ? px_metric_get(rz_f_expirations, NULL, NULL) : NULL;
    rz_gauge(r->m_registered, 0);
    if (rz_nodes_build(r, info) != 0)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    int rc = rz_session_start(r);
    if (rc != 0)
        return px_err_set(err, PX_INTERNAL, "cannot start its thread: %s", strerror(rc));
    px_log(PX_LOG_INFO, RZ_MOD, "publishing %zu listener(s) under %s on %s", r->n_nodes,
           r->providers, r->conf->servers);
    return PX_OK;
}

static void rz_stop(void *state)
{
    rz_session_stop(state);
}

static const px_registry_ops rz_ops = {.start = rz_start, .stop = rz_stop};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_REGISTRY,
    .name = "zookeeper",
    .version = "1.0.0",
    .description = "publishes the server's listeners as ephemeral nodes in ZooKeeper",
    .conf_size = sizeof(rz_conf),
    .directives = rz_dirs,
    .create = rz_create,
    .destroy = rz_destroy,
    .ops = &rz_ops,
};
