/* REGISTRY "zookeeper": the layout (docs/DEPLOYING.md): persistent parents
 * <root>/<service>/providers, and one EPHEMERAL|SEQUENTIAL node p-NNNNNNNNNN per listener
 * whose data is the listener as JSON. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rz.h"

#define RZ_LAYOUT_VERSION 1

static json_t *rz__strings(const char *const *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(s[i]));
    return a;
}

static char *rz__data(const px_registry_info *info, const px_registry_listener *l)
{
    json_t *o = json_pack("{s:s, s:I, s:o, s:o, s:s, s:I, s:i}", "address", l->address,
                          "weight", (json_int_t)info->weight, "protocols",
                          rz__strings(l->protocols, l->n_protocols), "codecs",
                          rz__strings(info->codecs, info->n_codecs), "id", info->server_id,
                          "pid", (json_int_t)info->pid, "version", RZ_LAYOUT_VERSION);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

int rz_nodes_build(rz *r, const px_registry_info *info)
{
    if ((r->nodes = calloc(info->n_listeners, sizeof *r->nodes)) == NULL)
        return -1;
    r->n_nodes = info->n_listeners;
    for (size_t i = 0; i < r->n_nodes; i++) {
        r->nodes[i].data = rz__data(info, &info->listeners[i]);
        r->nodes[i].address = strdup(info->listeners[i].address);
        if (!r->nodes[i].data || !r->nodes[i].address)
            return -1;
    }
    return 0;
}

void rz_nodes_free(rz *r)
{
    for (size_t i = 0; i < r->n_nodes; i++) {
        free(r->nodes[i].data); /* json_dumps uses malloc unless told otherwise */
        free(r->nodes[i].address);
    }
    free(r->nodes);
    r->nodes = NULL;
    r->n_nodes = 0;
}

int rz_parents(rz *r, zhandle_t *zh)
{
    char path[sizeof r->providers];
    for (char *p = r->providers + 1;; p++) {
        if (*p != '/' && *p != 0)
            continue;
        memcpy(path, r->providers, (size_t)(p - r->providers));
        path[p - r->providers] = 0;
        int rc = zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
        if (rc != ZOK && rc != ZNODEEXISTS) {
            px_log(PX_LOG_WARN, RZ_MOD, "cannot create %s: %s", path, zerror(rc));
            return rc;
        }
        if (*p == 0)
            return ZOK;
    }
}

int rz_publish(rz *r, zhandle_t *zh)
{
    int rc = rz_parents(r, zh);
    for (size_t i = 0; rc == ZOK && i < r->n_nodes; i++) {
        rz_node *n = &r->nodes[i];
        if (n->path[0]) {
            /* A connection lost and found again within the session keeps the node. */
            struct Stat st;
            rc = zoo_exists(zh, n->path, 0, &st);
            if (rc == ZOK)
                continue;
            if (rc != ZNONODE)
                break;
            px_log(PX_LOG_WARN, RZ_MOD, "%s (%s) is gone: creating it again", n->path,
                   n->address);
        }
        rc = zoo_create(zh, r->prefix, n->data, (int)strlen(n->data), &ZOO_OPEN_ACL_UNSAFE,
                        ZOO_EPHEMERAL_SEQUENTIAL, n->path, (int)sizeof n->path);
        if (rc != ZOK) {
            n->path[0] = 0;
            px_log(PX_LOG_WARN, RZ_MOD, "cannot create %s* for %s: %s", r->prefix, n->address,
                   zerror(rc));
            break;
        }
        px_log(PX_LOG_INFO, RZ_MOD, "registered %s as %s", n->address, n->path);
    }
    return rc;
}

void rz_unpublish(rz *r, zhandle_t *zh)
{
    for (size_t i = 0; i < r->n_nodes; i++) {
        rz_node *n = &r->nodes[i];
        if (!n->path[0])
            continue;
        int rc = zoo_delete(zh, n->path, -1);
        if (rc != ZOK && rc != ZNONODE)
            px_log(PX_LOG_WARN, RZ_MOD, "cannot delete %s: %s (the session's end removes it)",
                   n->path, zerror(rc));
        n->path[0] = 0;
    }
}
