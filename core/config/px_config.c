/* The config schema: YAML file -> struct px_config, loading and validating every named module. */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "plexus/px_naming.h"
#include "px_builtin.h"
#include "px_conf.h"
#include "plexus/px_filter.h"
#include "px_config_int.h"
#include "px_config_tls.h"
#include "px_moduledir.h"
#include "px_yaml.h"

typedef struct px__ctx {
    px_config *cfg;
    const char *file;
    px_err *err;
    char *dir; /* the config file's folder, absolute: what relative paths in it are relative to */
} px__ctx;

static px_status px__at(px__ctx *c, const px_ynode *n, px_status st, const char *fmt, ...)
    PX_PRINTF(4, 5);

/* "FILE:LINE:COL: what" at node n. */
static px_status px__at(px__ctx *c, const px_ynode *n, px_status st, const char *fmt, ...)
{
    char what[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return px_err_set(c->err, st, "%s:%d:%d: %s", c->file, n->line, n->col, what);
}

static px_status px__oom(px__ctx *c)
{
    return px_err_set(c->err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", c->file);
}

/* Parses (and resolves) an address once, here, so run time cannot fail differently
 * from `plexusd -t`; a refusal names the text and why, at node n. */
static px_status px__address(px__ctx *c, const px_ynode *n, const char *scope, const char *text,
                             px_addr *out)
{
    px_err why = {0};
    /* A server (server.listen, server.listeners[i].listen) may listen on port 0 (the
     * system picks one: px_server_port says which). */
    px_status st = strncmp(scope, "server.listen", 13) == 0 ? px_net_parse_listen(text, out, &why)
                                                      : px_net_parse(text, out, &why);
    if (st == PX_OK)
        return PX_OK;
    return px__at(c, n, why.status, "%s: '%s': %s", scope, text, why.msg);
}

/* ---- the core's own directive tables: every default of the schema lives here ---- */

typedef struct px__server_raw {
    char *listen, *id, *pid_file;
    int64_t io_threads, shutdown_grace_us, processes;
    int reflection, health;
} px__server_raw;

static const px_directive px__server_dirs[] = {
    {"listen", PX_DIR_STRING, offsetof(px__server_raw, listen), NULL, 1, NULL, NULL, NULL,
     "address to listen on, host:port"},
    {"id", PX_DIR_STRING, offsetof(px__server_raw, id), NULL, 0, NULL, NULL, NULL,
     "server identity; default: the listen string"},
    {"io_threads", PX_DIR_INT, offsetof(px__server_raw, io_threads), "1", 0, "1", "64", NULL,
     "event-loop threads"},
    {"processes", PX_DIR_INT, offsetof(px__server_raw, processes), "1", 0, "1", "256", NULL,
     "worker processes (plexusd); 1: one process, no master"},
    {"shutdown_grace", PX_DIR_DURATION, offsetof(px__server_raw, shutdown_grace_us), "10s", 0,
     "0", "1h", NULL, "max wait for in-flight calls on SIGTERM"},
    {"pid_file", PX_DIR_STRING, offsetof(px__server_raw, pid_file), NULL, 0, NULL, NULL, NULL,
     "plexusd writes its pid here (plexusd -s reads it); relative to the config's folder"},
    {"reflection", PX_DIR_BOOL, offsetof(px__server_raw, reflection), "true", 0, NULL, NULL,
     NULL, "serve plexus.reflection.v1.Reflection (the built-in service px_reflection)"},
    {"health", PX_DIR_BOOL, offsetof(px__server_raw, health), "true", 0, NULL, NULL, NULL,
     "serve plexus.health.v1.Health (the built-in service px_health)"},
    {NULL},
};
/* Besides the directives and the kind registry's keys (px__scope_keys). */
static const char *const px__server_keys[] = {"services", "limits", "tls", "listeners",
                                              "register", NULL};

typedef struct px__limits_raw {
    uint64_t max_frame, max_meta;
    int64_t max_inflight, idle_timeout_us;
    int64_t max_connections, handshake_timeout_us, read_timeout_us;
    uint64_t max_conn_memory, max_server_memory;
    int64_t max_decode_expansion;
    int64_t max_queued; /* client only */
} px__limits_raw;

#define PX__DIR_MAX_FRAME                                                                  \
    {"max_frame", PX_DIR_SIZE, offsetof(px__limits_raw, max_frame), "4MiB", 0, "1KiB", "1GiB", \
     NULL, "max body bytes of one frame"}
#define PX__DIR_MAX_META                                                                   \
    {"max_meta", PX_DIR_SIZE, offsetof(px__limits_raw, max_meta), "16KiB", 0, "0", "16MiB",    \
     NULL, "max metadata bytes of one frame"}

static const px_directive px__server_limit_dirs[] = {
    PX__DIR_MAX_FRAME,
    PX__DIR_MAX_META,
    {"max_inflight_per_conn", PX_DIR_INT, offsetof(px__limits_raw, max_inflight), "1024", 0,
     "1", "1048576", NULL, "requests in progress per connection"},
    {"idle_timeout", PX_DIR_DURATION, offsetof(px__limits_raw, idle_timeout_us), "0", 0, "0",
     NULL, NULL, "close a connection idle this long; 0 = never"},
    {"max_connections", PX_DIR_INT, offsetof(px__limits_raw, max_connections), "10000", 0, "1",
     "1000000", NULL, "connections per server; beyond: GOAWAY and close the new one"},
    {"handshake_timeout", PX_DIR_DURATION, offsetof(px__limits_raw, handshake_timeout_us), "10s",
     0, "1ms", "1h", NULL, "a new connection must send its HELLO within this"},
    {"read_timeout", PX_DIR_DURATION, offsetof(px__limits_raw, read_timeout_us), "30s", 0, "1ms",
     "1h", NULL, "a frame that has started arriving must be complete within this (slowloris)"},
    {"max_conn_memory", PX_DIR_SIZE, offsetof(px__limits_raw, max_conn_memory), "0", 0, "0",
     "64GiB", NULL,
     "bytes one connection may hold before it is not read; 0 = 16MiB or 4 x max_frame"},
    {"max_server_memory", PX_DIR_SIZE, offsetof(px__limits_raw, max_server_memory), "0", 0, "0",
     "1TiB", NULL,
     "bytes all connections may hold together; 0 = 1GiB or a quarter of the RAM, the less"},
    {"max_decode_expansion", PX_DIR_INT, offsetof(px__limits_raw, max_decode_expansion), "8", 0,
     "1", "1000", NULL, "a decoded request may take at most this many times its body's bytes"},
    {NULL},
};
/* A client sets the frame bounds and its own queue; the rest keep the server table's
 * defaults. */
static const px_directive px__client_limit_dirs[] = {
    PX__DIR_MAX_FRAME,
    PX__DIR_MAX_META,
    {"max_queued_per_conn", PX_DIR_INT, offsetof(px__limits_raw, max_queued), "65536", 0, "1",
     "16777216", NULL,
     "async calls waiting per connection while the server's announced max_inflight is reached"},
    {NULL},
};

typedef struct px__service_raw {
    int64_t workers;
} px__service_raw;

static const px_directive px__workers_dir = {
    "workers", PX_DIR_INT, offsetof(px__service_raw, workers), "0", 0, "0", "256", NULL,
    "0: handlers run on the IO thread; N: on a pool of N threads"};
static const char *const px__service_skip[] = {"module", "workers", "filters", NULL};
static const char *const px__module_skip[] = {"module", NULL};

typedef struct px__client_raw {
    int64_t io_threads;
} px__client_raw;

static const px_directive px__client_dirs[] = {
    {"io_threads", PX_DIR_INT, offsetof(px__client_raw, io_threads), "1", 0, "1", "64", NULL,
     "async client IO threads"},
    {NULL},
};
static const char *const px__client_keys[] = {"descriptors", "upstreams", NULL};

typedef struct px__upstream_raw {
    int64_t conns, pool_size, max_endpoints;
} px__upstream_raw;

static const px_directive px__upstream_dirs[] = {
    {"connections_per_endpoint", PX_DIR_INT, offsetof(px__upstream_raw, conns), "1", 0, "1",
     "64", NULL, "async client: multiplexed connections per endpoint"},
    {"pool_size", PX_DIR_INT, offsetof(px__upstream_raw, pool_size), "4", 0, "1", "1024", NULL,
     "sync client: blocking connections per endpoint"},
    {"max_endpoints", PX_DIR_INT, offsetof(px__upstream_raw, max_endpoints), "1024", 0, "1",
     "16384", NULL,
     "distinct endpoint addresses the upstream may list over its life (naming updates)"},
    {NULL},
};
static const char *const px__upstream_keys[] = {"endpoints", "health", "limits", "tls", NULL};

typedef struct px__endpoint_raw {
    char *address;
    int64_t weight;
} px__endpoint_raw;

static const px_directive px__endpoint_dirs[] = {
    {"address", PX_DIR_STRING, offsetof(px__endpoint_raw, address), NULL, 1, NULL, NULL, NULL,
     "host:port"},
    {"weight", PX_DIR_INT, offsetof(px__endpoint_raw, weight), "1", 0, "1", "10000", NULL,
     "relative share for weighted balancers"},
    {NULL},
};

typedef struct px__health_raw {
    int64_t max_fails, fail_window, ejection, max_ejection, max_ejected_percent;
    int64_t probe_interval, probe_timeout;
} px__health_raw;

static const px_directive px__health_dirs[] = {
    {"max_fails", PX_DIR_INT, offsetof(px__health_raw, max_fails), "3", 0, "0", "1000000", NULL,
     "failures within fail_window that eject; 0 = never eject"},
    {"fail_window", PX_DIR_DURATION, offsetof(px__health_raw, fail_window), "10s", 0, "1ms",
     "1h", NULL, "window failures are counted in"},
    {"ejection", PX_DIR_DURATION, offsetof(px__health_raw, ejection), "1s", 0, "1ms", "1h",
     NULL, "first ejection time, doubled on each re-ejection"},
    {"max_ejection", PX_DIR_DURATION, offsetof(px__health_raw, max_ejection), "30s", 0, "1ms",
     "24h", NULL, "cap of the doubling"},
    {"max_ejected_percent", PX_DIR_INT, offsetof(px__health_raw, max_ejected_percent), "50", 0,
     "0", "100", NULL, "never eject more than this share of endpoints"},
    {"probe_interval", PX_DIR_DURATION, offsetof(px__health_raw, probe_interval), "500ms", 0,
     "0", "1h", NULL,
     "how often ejected endpoints whose ejection ran out are probed; 0 = re-admit without a probe"},
    {"probe_timeout", PX_DIR_DURATION, offsetof(px__health_raw, probe_timeout), "500ms", 0,
     "1ms", "1m", NULL, "a probe (connect, HELLO, PING) must get its PONG within this"},
    {NULL},
};

typedef struct px__admin_raw {
    char *listen;
} px__admin_raw;

static const px_directive px__admin_dirs[] = {
    {"listen", PX_DIR_STRING, offsetof(px__admin_raw, listen), NULL, 1, NULL, NULL, NULL,
     "address of the admin HTTP listener (metrics, health, status), host:port"},
    {NULL},
};

static const char *const px__top_keys[] = {"modules", "server", "client", "admin", NULL};
static const char *const px__modules_keys[] = {"path", NULL};

/* ---- paths ----------------------------------------------------------------------- */

/* "<dir>/<rel>"; NULL on OOM. */
static char *px__join_dir(const char *dir, const char *rel)
{
    size_t n = strlen(dir) + 1 + strlen(rel) + 1;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", rel);
    return s;
}

/* The folder of the config file, absolute, so errors show where a relative path led
 * whatever the current directory was; NULL on OOM. */
static char *px__file_dir(const char *file)
{
    const char *slash = strrchr(file, '/');
    char *dir = slash == NULL ? strdup(".") : slash == file ? strdup("/")
                                                            : strndup(file, (size_t)(slash - file));
    if (dir == NULL || dir[0] == '/')
        return dir;
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return dir; /* no current directory to name: keep the relative one */
    char *full = strcmp(dir, ".") == 0 ? strdup(cwd) : px__join_dir(cwd, dir);
    free(dir);
    return full;
}

/* ---- modules -------------------------------------------------------------------- */

static void px__modref_release(px_modref *ref)
{
    if (ref->conf != NULL && ref->mod != NULL)
        px_conf_release(ref->mod->directives, ref->conf);
    free(ref->conf);
    ref->conf = NULL;
}

static void px__modlists_release(px_modlist *mods)
{
    for (size_t k = 0; k < PX_KIND_LIMIT; k++) {
        for (size_t i = 0; i < mods[k].n; i++)
            px__modref_release(&mods[k].refs[i]);
        free(mods[k].refs);
    }
}

/*
 * Loads the module a config node names and validates its block before anything
 * else runs. node is a name, a {module: name, ...} mapping, or NULL for def_name
 * at `where`. Extra keys of the block are the module's directives, except skip.
 */
static px_status px__modref(px__ctx *c, px_module_kind kind, const px_ynode *node,
                            const px_ynode *where, const char *def_name, const char *scope,
                            const char *const *skip, px_modref *ref)
{
    const px_ynode *name_node = where, *block = NULL;
    const char *name = def_name;
    if (node != NULL) {
        if (node->kind == PX_YMAP) {
            block = node;
            name_node = px_ymap_get(node, "module");
            if (name_node == NULL)
                return px__at(c, node, PX_INVALID_ARGUMENT, "%s: missing required key 'module'",
                              scope);
        } else if (node->kind == PX_YSCALAR) {
            name_node = node;
        } else {
            return px__at(c, node, PX_INVALID_ARGUMENT,
                          "%s: expected a module name or {module: NAME, ...}, got a %s", scope,
                          px_ynode_kind_name(node->kind));
        }
        if (name_node->kind != PX_YSCALAR || px_ynode_is_null(name_node) ||
            strlen(name_node->str) != name_node->len)
            return px__at(c, name_node, PX_INVALID_ARGUMENT, "%s: expected a module name", scope);
        name = name_node->str;
    }
    px_err lerr;
    px_err_clear(&lerr);
    px_status st = px_loader_load(c->cfg->loader, kind, name, &ref->mod, &ref->path, &lerr);
    if (st != PX_OK) {
        ref->mod = NULL;
        /* The loader printed where a relative file led; say why there. */
        int rel_file = strchr(name, '/') != NULL && name[0] != '/';
        return px__at(c, name_node, st, "%s%s", lerr.msg,
                      rel_file && st == PX_NOT_FOUND
                          ? " (a module file is relative to the config file's folder)"
                          : "");
    }
    ref->line = name_node->line;
    ref->col = name_node->col;
    if (ref->mod->conf_size > 0 && (ref->conf = calloc(1, ref->mod->conf_size)) == NULL)
        return px__oom(c);
    /* A bare name still gets its defaults and its required-key check, at the name. */
    px_ynode none = {.kind = PX_YMAP, .line = name_node->line, .col = name_node->col};
    return px_conf_apply_scoped(ref->mod->directives, ref->conf, block ? block : &none, skip,
                                scope, c->file, c->err);
}

/* A module twice in a list (codecs, descriptors): the loader caches, same name = same mod. */
static px_status px__unique_mod(px__ctx *c, const px_modref *refs, size_t i, const char *what,
                                const char *scope)
{
    for (size_t j = 0; j < i; j++) {
        if (refs[j].mod == refs[i].mod)
            return px_err_set(c->err, PX_INVALID_ARGUMENT,
                              "%s:%d:%d: %s: %s '%s' is listed twice (first at %d:%d)", c->file,
                              refs[i].line, refs[i].col, scope, what, refs[i].mod->name,
                              refs[j].line, refs[j].col);
    }
    return PX_OK;
}

/* ---- modules: path ------------------------------------------------------------------ */

static px_status px__add_path(px__ctx *c, const char *dir)
{
    return px_loader_add_path(c->cfg->loader, dir) == 0 ? PX_OK : px__oom(c);
}

/* Relative entries are relative to the directory of the config file. */
static px_status px__add_config_path(px__ctx *c, const px_ynode *item, size_t i)
{
    if (item->kind != PX_YSCALAR || px_ynode_is_null(item) || strlen(item->str) != item->len)
        return px__at(c, item, PX_INVALID_ARGUMENT, "modules.path[%zu]: expected a directory",
                      i);
    if (item->str[0] == '/')
        return px__add_path(c, item->str);
    char *full = px__join_dir(c->dir, item->str);
    if (full == NULL)
        return px__oom(c);
    px_status st = px__add_path(c, full);
    free(full);
    return st;
}

/* PLEXUS_MODULE_PATH first, then modules.path, then the installed module directory:
 * a config that adds its own folder still finds the standard modules. */
static px_status px__module_path(px__ctx *c, const px_ynode *modules)
{
    if (px_loader_add_path_list(c->cfg->loader, getenv("PLEXUS_MODULE_PATH")) != 0)
        return px__oom(c);
    if (modules != NULL) {
        px_status st = px_conf_apply_scoped(NULL, NULL, modules, px__modules_keys, "modules",
                                            c->file, c->err);
        if (st != PX_OK)
            return st;
    }
    const px_ynode *path = px_ymap_get(modules, "path");
    px_status st = PX_OK;
    if (path == NULL || px_ynode_is_null(path))
        ;
    else if (path->kind == PX_YSCALAR)
        st = px__add_config_path(c, path, 0);
    else if (path->kind != PX_YSEQ)
        return px__at(c, path, PX_INVALID_ARGUMENT,
                      "modules.path: expected a list of directories, got a %s",
                      px_ynode_kind_name(path->kind));
    for (size_t i = 0; st == PX_OK && path != NULL && path->kind == PX_YSEQ && i < path->n; i++)
        st = px__add_config_path(c, path->items[i], i);
    return st == PX_OK ? px__add_path(c, px_moduledir_installed()) : st;
}

/* ---- server ------------------------------------------------------------------------ */

/* The memory budgets: defaults that follow max_frame and the machine, and bounds
 * between them (a connection must be able to hold two whole frames, or a large one
 * could never complete; the server must be able to hold one connection's budget). */
static px_status px__memory_limits(px__ctx *c, const px_ynode *node, const px__limits_raw *raw,
                                   px_limits *out)
{
    uint64_t two_frames = 2 * (raw->max_frame + raw->max_meta);
    out->max_conn_memory = raw->max_conn_memory;
    if (!out->max_conn_memory) {
        out->max_conn_memory = 16ull << 20;
        if (out->max_conn_memory < 4 * raw->max_frame)
            out->max_conn_memory = 4 * raw->max_frame;
    } else if (out->max_conn_memory < two_frames) {
        return px__at(c, px_ymap_get(node, "max_conn_memory"), PX_INVALID_ARGUMENT,
                      "server.limits.max_conn_memory: %llu bytes is less than two frames of "
                      "max_frame + max_meta (%llu bytes): a large request could never be read",
                      (unsigned long long)out->max_conn_memory, (unsigned long long)two_frames);
    }
    out->max_server_memory = raw->max_server_memory;
    if (!out->max_server_memory) {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        uint64_t quarter = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 4 : 0;
        out->max_server_memory = 1ull << 30;
        if (quarter && quarter < out->max_server_memory)
            out->max_server_memory = quarter;
        if (out->max_server_memory < out->max_conn_memory)
            out->max_server_memory = out->max_conn_memory;
    } else if (out->max_server_memory < out->max_conn_memory) {
        return px__at(c, px_ymap_get(node, "max_server_memory"), PX_INVALID_ARGUMENT,
                      "server.limits.max_server_memory: %llu bytes is less than max_conn_memory "
                      "(%llu bytes)",
                      (unsigned long long)out->max_server_memory,
                      (unsigned long long)out->max_conn_memory);
    }
    return PX_OK;
}

static px_status px__limits(px__ctx *c, const px_ynode *node, const px_directive *dirs,
                            const char *scope, px_limits *out)
{
    px__limits_raw raw;
    memset(&raw, 0, sizeof raw);
    /* Keys a table lacks keep the server table's defaults: one place for each default. */
    for (const px_directive *d = px__server_limit_dirs; d->name; d++)
        px_conf_set_default(d, &raw, NULL);
    px_status st = px_conf_apply_scoped(dirs, &raw, node, NULL, scope, c->file, c->err);
    if (st != PX_OK)
        return st;
    out->max_frame = raw.max_frame;
    out->max_meta = raw.max_meta;
    out->max_inflight_per_conn = (uint32_t)raw.max_inflight;
    out->idle_timeout_us = raw.idle_timeout_us;
    out->max_connections = (uint32_t)raw.max_connections;
    out->handshake_timeout_us = raw.handshake_timeout_us;
    out->read_timeout_us = raw.read_timeout_us;
    out->max_decode_expansion = (uint32_t)raw.max_decode_expansion;
    out->max_queued_per_conn = (uint32_t)raw.max_queued;
    return px__memory_limits(c, node, &raw, out);
}

/* A list of module names or {module: NAME, ...} blocks (server.codecs, client.descriptors),
 * each module at most once; `what` names one item in messages. */
static px_status px__modlist(px__ctx *c, px_module_kind kind, const px_ynode *list,
                             const char *scope, const char *what, px_modref **out, size_t *n,
                             int repeat)
{
    if (list->kind != PX_YSEQ)
        return px__at(c, list, PX_INVALID_ARGUMENT, "%s: expected a list of %s names, got a %s",
                      scope, what, px_ynode_kind_name(list->kind));
    if (list->n == 0)
        return PX_OK;
    if ((*out = calloc(list->n, sizeof **out)) == NULL)
        return px__oom(c);
    *n = list->n;
    for (size_t i = 0; i < list->n; i++) {
        char item[64];
        snprintf(item, sizeof item, "%s[%zu]", scope, i);
        px_status st = px__modref(c, kind, list->items[i], NULL, NULL, item, px__module_skip,
                                  &(*out)[i]);
        if (st == PX_OK && !repeat)
            st = px__unique_mod(c, *out, i, what, item);
        if (st != PX_OK)
            return st;
    }
    return PX_OK;
}

/* The keys a scope accepts besides its directives: fixed ones, then every key the kind
 * registry gives that scope. */
/* The keys a scope accepts besides its directives: every key the kind registry gives
 * that scope, then the fixed ones. */
static const char *const *px__scope_keys(const char *const *fixed, int server,
                                         const char **out, size_t cap)
{
    size_t n = 0, nk;
    const px_kind *k = px_kinds_all(&nk);
    for (size_t i = 0; i < nk && n + 1 < cap; i++) {
        const char *key = server ? k[i].server.key : k[i].upstream.key;
        if (key)
            out[n++] = key;
    }
    for (size_t i = 0; fixed[i] && n + 1 < cap; i++)
        out[n++] = fixed[i];
    out[n] = NULL;
    return out;
}

/* Modules of a kind that cannot serve in this scope (a client-only filter on a server). */
static px_status px__scope_fits(px__ctx *c, const px_kind *k, const px_modlist *l, int server,
                                const char *where)
{
    for (size_t i = 0; k->refuses_scope && i < l->n; i++) {
        const char *why = k->refuses_scope(l->refs[i].mod->ops, server);
        if (why)
            return px_err_set(c->err, PX_INVALID_ARGUMENT, "%s:%d:%d: %s: %s '%s' cannot be used "
                              "here: %s", c->file, l->refs[i].line, l->refs[i].col, where,
                              k->name, l->refs[i].mod->name, why);
    }
    return PX_OK;
}

/* One kind's modules in a scope: a list, one module, a default, or none. */
static px_status px__scope_kind(px__ctx *c, const px_kind *k, int server, const px_ynode *node,
                                const char *scope, px_modlist *out)
{
    const px_kind_slot *slot = server ? &k->server : &k->upstream;
    const px_ynode *v = px_ymap_get(node, slot->key);
    char where[96];
    snprintf(where, sizeof where, "%s%s%s", scope, scope[0] ? "." : "", slot->key);
    if (v != NULL && px_ynode_is_null(v))
        v = NULL;
    if (v == NULL && slot->def == NULL)
        return PX_OK;
    px_status st;
    if (slot->list && v != NULL) {
        /* A kind with a default is one the scope cannot run without. */
        if (v->kind == PX_YSEQ && v->n == 0 && slot->def != NULL)
            return px__at(c, v, PX_INVALID_ARGUMENT, "%s: needs at least one %s", where,
                          k->name);
        st = px__modlist(c, k->id, v, where, k->name, &out->refs, &out->n, k->repeat);
        if (st == PX_OK && k->id == PX_MOD_FILTER && out->n > PX_FILTER_MAX_CHAIN)
            st = px__at(c, v, PX_INVALID_ARGUMENT, "%s: %zu filters: a call passes through at "
                        "most %d", where, out->n, PX_FILTER_MAX_CHAIN);
    } else {
        if ((out->refs = calloc(1, sizeof *out->refs)) == NULL)
            return px__oom(c);
        out->n = 1;
        st = px__modref(c, k->id, v, node, slot->def, where, px__module_skip, &out->refs[0]);
    }
    return st == PX_OK ? px__scope_fits(c, k, out, server, where) : st;
}

/* Every kind the registry places in this scope (server: or an upstream), in table order. */
static px_status px__scope_mods(px__ctx *c, const px_ynode *node, int server,
                                const char *scope, px_modlist *mods)
{
    size_t nk;
    const px_kind *k = px_kinds_all(&nk);
    for (size_t i = 0; i < nk; i++) {
        if ((server ? k[i].server.key : k[i].upstream.key) == NULL)
            continue;
        px_status st = px__scope_kind(c, &k[i], server, node, scope, &mods[k[i].id]);
        if (st != PX_OK)
            return st;
    }
    return PX_OK;
}

static px_status px__unique_services(px__ctx *c, const px_server_conf *sc, size_t i,
                                    const char *scope)
{
    const px_modref *r = &sc->services[i].module;
    for (size_t j = 0; j < i; j++)
        if (sc->services[j].module.mod == r->mod)
            return px_err_set(c->err, PX_INVALID_ARGUMENT,
                              "%s:%d:%d: %s: service '%s' is listed twice (first at %d:%d)",
                              c->file, r->line, r->col, scope, r->mod->name,
                              sc->services[j].module.line, sc->services[j].module.col);
    return PX_OK;
}

static px_status px__services(px__ctx *c, const px_ynode *server, px_server_conf *sc)
{
    const px_ynode *list = px_ymap_get(server, "services");
    if (list == NULL || px_ynode_is_null(list))
        return PX_OK;
    if (list->kind != PX_YSEQ)
        return px__at(c, list, PX_INVALID_ARGUMENT,
                      "server.services: expected a list of {module: NAME, ...}, got a %s",
                      px_ynode_kind_name(list->kind));
    if (list->n == 0)
        return PX_OK;
    if ((sc->services = calloc(list->n, sizeof *sc->services)) == NULL)
        return px__oom(c);
    sc->n_services = list->n;
    for (size_t i = 0; i < list->n; i++) {
        const px_ynode *item = list->items[i];
        char scope[48];
        snprintf(scope, sizeof scope, "server.services[%zu]", i);
        px_status st = px__modref(c, PX_MOD_SERVICE, item, NULL, NULL, scope, px__service_skip,
                                  &sc->services[i].module);
        if (st == PX_OK)
            st = px__unique_services(c, sc, i, scope);
        if (st != PX_OK)
            return st;
        px__service_raw raw = {0};
        const px_ynode *w = px_ymap_get(item, "workers");
        st = w ? px_conf_set(&px__workers_dir, &raw, w, scope, c->file, c->err)
               : px_conf_set_default(&px__workers_dir, &raw, c->err);
        if (st != PX_OK)
            return st;
        sc->services[i].workers = (int)raw.workers;
        /* A service's own filters run after the server's, for its calls only. */
        const px_ynode *fl = item->kind == PX_YMAP ? px_ymap_get(item, "filters") : NULL;
        if (fl != NULL && !px_ynode_is_null(fl)) {
            char where[64];
            snprintf(where, sizeof where, "%s.filters", scope);
            px_modlist *l = &sc->services[i].filters;
            st = px__modlist(c, PX_MOD_FILTER, fl, where, "filter", &l->refs, &l->n, 1);
            if (st == PX_OK)
                st = px__scope_fits(c, px_kind_get(PX_MOD_FILTER), l, 1, where);
            if (st == PX_OK && l->n + sc->mods[PX_MOD_FILTER].n > PX_FILTER_MAX_CHAIN)
                st = px__at(c, fl, PX_INVALID_ARGUMENT,
                            "%s: %zu filters here and %zu in server.filters: a call passes "
                            "through at most %d", where, l->n, sc->mods[PX_MOD_FILTER].n,
                            PX_FILTER_MAX_CHAIN);
            if (st != PX_OK)
                return st;
        }
    }
    return PX_OK;
}

/* server.reflection / server.health: the built-in service `name` after the listed ones,
 * unless the list names it already. Errors point at the key, or at server: when absent. */
static px_status px__builtin_service(px__ctx *c, const px_ynode *server, const char *key,
                                     const char *name, px_server_conf *sc)
{
    for (size_t i = 0; i < sc->n_services; i++)
        if (strcmp(sc->services[i].module.mod->name, name) == 0)
            return PX_OK;
    px_service_conf *grown = realloc(sc->services, (sc->n_services + 1) * sizeof *grown);
    if (grown == NULL)
        return px__oom(c);
    sc->services = grown;
    px_service_conf *svc = &sc->services[sc->n_services++];
    memset(svc, 0, sizeof *svc);
    const px_ynode *at = px_ymap_get(server, key);
    char scope[32];
    snprintf(scope, sizeof scope, "server.%s", key);
    return px__modref(c, PX_MOD_SERVICE, NULL, at ? at : server, name, scope, NULL,
                      &svc->module);
}

/* A tls: block of the scope (server: or an upstream), offering by default the ALPN ids
 * of the protocols the scope speaks. */
static px_status px__tls(px__ctx *c, const px_ynode *scope_node, int server, const char *scope,
                         const px_modlist *mods, px_tls_conf *tc, px_tls_ctx **ctx)
{
    const px_ynode *node = px_ymap_get(scope_node, "tls");
    const char *ids[16];
    size_t n = 0;
    const px_modlist *protos = &mods[PX_MOD_PROTOCOL];
    for (size_t i = 0; i < protos->n && n < 16; i++) {
        const char *id = px_tls_alpn_of(protos->refs[i].mod->name);
        if (id)
            ids[n++] = id;
    }
    if (protos->n == 0)
        ids[n++] = px_tls_alpn_of("native");
    /* h2 last: a client that offers both HTTP/1.1 and h2 (curl, a browser) is a plain
     * HTTP client; a gRPC client offers h2 alone. */
    for (size_t i = 0; i + 1 < n; i++)
        if (strcmp(ids[i], "h2") == 0) {
            memmove(&ids[i], &ids[i + 1], (n - i - 1) * sizeof ids[0]);
            ids[n - 1] = "h2";
            break;
        }
    char where[200];
    snprintf(where, sizeof where, "%s.tls", scope);
    if (node && node->kind != PX_YMAP && !px_ynode_is_null(node))
        return px__at(c, node, PX_INVALID_ARGUMENT, "%s: expected a mapping {cert: ..., key: "
                      "...}, got a %s", where, px_ynode_kind_name(node->kind));
    return px_config_tls(node, server, where, c->file, c->dir, ids, n, tc, ctx, c->err);
}

typedef struct px__listener_raw {
    char *listen;
} px__listener_raw;

static const px_directive px__listener_dirs[] = {
    {"listen", PX_DIR_STRING, offsetof(px__listener_raw, listen), NULL, 1, NULL, NULL, NULL,
     "address to listen on, host:port"},
    {NULL},
};
static const char *const px__listener_keys[] = {"protocols", "tls", NULL};

/* A listener's protocols: names of server.protocols, in the listener's order. */
static px_status px__listener_protos(px__ctx *c, const px_ynode *list, const char *scope,
                                     const px_modlist *server_protos, px_listener_conf *l)
{
    if (list->kind != PX_YSEQ || list->n == 0)
        return px__at(c, list, PX_INVALID_ARGUMENT,
                      "%s.protocols: expected a non-empty list of protocol names", scope);
    if ((l->protos = calloc(list->n, sizeof *l->protos)) == NULL)
        return px__oom(c);
    for (size_t i = 0; i < list->n; i++) {
        const px_ynode *it = list->items[i];
        size_t j = 0;
        while (it->kind == PX_YSCALAR && j < server_protos->n &&
               strcmp(server_protos->refs[j].mod->name, it->str) != 0)
            j++;
        if (it->kind != PX_YSCALAR || j == server_protos->n) {
            char have[200] = "";
            for (size_t k = 0; k < server_protos->n; k++) {
                size_t hl = strlen(have);
                snprintf(have + hl, sizeof have - hl, "%s%s", k ? ", " : "",
                         server_protos->refs[k].mod->name);
            }
            return px__at(c, it, PX_INVALID_ARGUMENT,
                          "%s.protocols[%zu]: '%s' is not one of server.protocols [%s] (a "
                          "listener serves some of the server's protocols)",
                          scope, i, it->kind == PX_YSCALAR ? it->str : "?", have);
        }
        for (size_t k = 0; k < l->n_protos; k++)
            if (l->protos[k] == j)
                return px__at(c, it, PX_INVALID_ARGUMENT, "%s.protocols[%zu]: '%s' is listed "
                              "twice", scope, i, it->str);
        l->protos[l->n_protos++] = j;
    }
    return PX_OK;
}

/* server.listeners: more addresses, each with some of the server's protocols and its
 * own tls: (none: plaintext), e.g. TLS on one port and plaintext on another. */
static px_status px__listeners(px__ctx *c, const px_ynode *list, px_server_conf *sc)
{
    if (list == NULL || px_ynode_is_null(list))
        return PX_OK;
    if (list->kind != PX_YSEQ)
        return px__at(c, list, PX_INVALID_ARGUMENT, "server.listeners: expected a list of "
                      "{listen: HOST:PORT, protocols: [...], tls: {...}}, got a %s",
                      px_ynode_kind_name(list->kind));
    if (list->n == 0)
        return PX_OK;
    if ((sc->listeners = calloc(list->n, sizeof *sc->listeners)) == NULL)
        return px__oom(c);
    for (size_t i = 0; i < list->n; i++) {
        const px_ynode *item = list->items[i];
        px_listener_conf *l = &sc->listeners[i];
        sc->n_listeners++;
        char scope[48];
        snprintf(scope, sizeof scope, "server.listeners[%zu]", i);
        px__listener_raw raw = {0};
        px_status st = px_conf_apply_scoped(px__listener_dirs, &raw, item, px__listener_keys,
                                            scope, c->file, c->err);
        if (st != PX_OK)
            return st;
        l->listen = raw.listen;
        char where[64];
        snprintf(where, sizeof where, "%s.listen", scope);
        st = px__address(c, px_ymap_get(item, "listen"), where, l->listen, &l->addr);
        if (st != PX_OK)
            return st;
        for (size_t j = 0; j <= i; j++) {
            const char *other = j < i ? sc->listeners[j].listen : sc->listen;
            if (strcmp(other, l->listen) == 0)
                return px__at(c, px_ymap_get(item, "listen"), PX_INVALID_ARGUMENT,
                              "%s: '%s' is already a listener of this server", where,
                              l->listen);
        }
        const px_ynode *pl = px_ymap_get(item, "protocols");
        if (pl && (st = px__listener_protos(c, pl, scope, &sc->mods[PX_MOD_PROTOCOL], l)) != PX_OK)
            return st;
        /* Its ALPN ids by default: those of its own protocols. */
        px_modlist own[PX_KIND_LIMIT] = {{0}};
        px_modref refs[16];
        own[PX_MOD_PROTOCOL] = sc->mods[PX_MOD_PROTOCOL];
        if (l->protos) {
            size_t n = l->n_protos < 16 ? l->n_protos : 16;
            for (size_t k = 0; k < n; k++)
                refs[k] = sc->mods[PX_MOD_PROTOCOL].refs[l->protos[k]];
            own[PX_MOD_PROTOCOL] = (px_modlist){refs, n};
        }
        st = px__tls(c, item, 1, scope, own, &l->tls, &l->tls_ctx);
        if (st != PX_OK)
            return st;
    }
    return PX_OK;
}

/* ---- server.register ------------------------------------------------------------------ */

typedef struct px__register_raw {
    int64_t weight;
    char *advertise;
} px__register_raw;

/* The keys every registry module shares, read by the core: they shape what is published. */
static const px_directive px__register_dirs[] = {
    {"weight", PX_DIR_INT, offsetof(px__register_raw, weight), "1", 0, "1", "10000", NULL,
     "share clients' weighted balancers give this server"},
    {"advertise", PX_DIR_STRING, offsetof(px__register_raw, advertise), NULL, 0, NULL, NULL,
     NULL, "numeric host to publish instead of the listeners' own; required when one listens "
     "on 0.0.0.0 or ::"},
    {NULL},
};
static const char *const px__register_skip[] = {"module", "weight", "advertise", NULL};

static int px__wildcard(const px_addr *a)
{
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->ss;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->ss;
    return a->ss.ss_family == AF_INET ? v4->sin_addr.s_addr == htonl(INADDR_ANY)
                                      : IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
}

/* server.register: {module: NAME, weight, advertise, the module's keys}. */
static px_status px__register(px__ctx *c, const px_ynode *node, px_server_conf *sc)
{
    if (node == NULL || px_ynode_is_null(node))
        return PX_OK;
    if (node->kind != PX_YMAP)
        return px__at(c, node, PX_INVALID_ARGUMENT, "server.register: expected {module: NAME, "
                      "...}, got a %s", px_ynode_kind_name(node->kind));
    px_status st = px__modref(c, PX_MOD_REGISTRY, node, NULL, NULL, "server.register",
                              px__register_skip, &sc->registry);
    px__register_raw raw = {0};
    for (const px_directive *d = px__register_dirs; st == PX_OK && d->name; d++) {
        const px_ynode *v = px_ymap_get(node, d->name);
        st = v ? px_conf_set(d, &raw, v, "server.register", c->file, c->err)
               : px_conf_set_default(d, &raw, c->err);
    }
    sc->register_weight = (uint32_t)raw.weight;
    sc->register_advertise = raw.advertise;
    if (st != PX_OK)
        return st;
    if (raw.advertise) {
        /* Clients never resolve a published name: the host must be an address. */
        char probe[300];
        px_addr a;
        px_err why = {0};
        snprintf(probe, sizeof probe,
                 strchr(raw.advertise, ':') && raw.advertise[0] != '[' ? "[%s]:1" : "%s:1",
                 raw.advertise);
        if (px_net_parse_numeric(probe, &a, &why) != PX_OK)
            return px__at(c, px_ymap_get(node, "advertise"), PX_INVALID_ARGUMENT,
                          "server.register.advertise: '%s' is not a numeric IPv4 or IPv6 "
                          "address (clients dial what is published, without a name lookup)",
                          raw.advertise);
        if (px__wildcard(&a))
            return px__at(c, px_ymap_get(node, "advertise"), PX_INVALID_ARGUMENT,
                          "server.register.advertise: '%s' is a wildcard address: publish one "
                          "clients can dial", raw.advertise);
        return PX_OK;
    }
    for (size_t i = 0; i <= sc->n_listeners; i++) {
        const px_addr *a = i == 0 ? &sc->listen_addr : &sc->listeners[i - 1].addr;
        if (px__wildcard(a))
            return px__at(c, node, PX_INVALID_ARGUMENT, "server.register: missing key "
                          "'advertise': %s '%s' listens on every address, so the one to "
                          "publish must be given", i == 0 ? "server.listen" : "a listener",
                          i == 0 ? sc->listen : sc->listeners[i - 1].listen);
    }
    return PX_OK;
}

static px_status px__server(px__ctx *c, const px_ynode *node)
{
    px_server_conf *sc = &c->cfg->server;
    sc->present = 1;
    px__server_raw raw;
    memset(&raw, 0, sizeof raw);
    const char *keys[24];
    px_status st = px_conf_apply_scoped(px__server_dirs, &raw, node,
                                        px__scope_keys(px__server_keys, 1, keys, 24), "server",
                                        c->file, c->err);
    if (st != PX_OK)
        return st;
    sc->listen = raw.listen;
    sc->id = raw.id;
    sc->pid_file = raw.pid_file;
    sc->io_threads = (int)raw.io_threads;
    sc->processes = (int)raw.processes;
    sc->shutdown_grace_us = raw.shutdown_grace_us;
    st = px__address(c, px_ymap_get(node, "listen"), "server.listen", sc->listen,
                     &sc->listen_addr);
    if (st != PX_OK)
        return st;
    if (sc->id == NULL && (sc->id = strdup(sc->listen)) == NULL)
        return px__oom(c);
    st = px__limits(c, px_ymap_get(node, "limits"), px__server_limit_dirs, "server.limits",
                    &sc->limits);
    if (st == PX_OK)
        st = px__scope_mods(c, node, 1, "server", sc->mods);
    if (st == PX_OK)
        st = px__tls(c, node, 1, "server", sc->mods, &sc->tls, &sc->tls_ctx);
    if (st == PX_OK)
        st = px__listeners(c, px_ymap_get(node, "listeners"), sc);
    if (st == PX_OK)
        st = px__services(c, node, sc);
    if (st == PX_OK)
        st = px__register(c, px_ymap_get(node, "register"), sc);
    /* Built in and on by default: a client needs only the address to list, call and
     * check the server (plexus list / call / health HOST:PORT). */
    if (st == PX_OK && raw.health)
        st = px__builtin_service(c, node, "health", "px_health", sc);
    if (st == PX_OK && raw.reflection)
        st = px__builtin_service(c, node, "reflection", "px_reflection", sc);
    return st;
}

/* ---- client ------------------------------------------------------------------------- */

static px_status px__endpoint(px__ctx *c, const px_ynode *item, size_t i, px_upstream_conf *u)
{
    char scope[48];
    snprintf(scope, sizeof scope, "endpoints[%zu]", i);
    const px_ynode *addr_node = item;
    px__endpoint_raw raw = {NULL, 1};
    if (item->kind == PX_YMAP) {
        px_status st =
            px_conf_apply_scoped(px__endpoint_dirs, &raw, item, NULL, scope, c->file, c->err);
        if (st != PX_OK)
            return st;
        addr_node = px_ymap_get(item, "address");
    } else if (item->kind != PX_YSCALAR || px_ynode_is_null(item) ||
               strlen(item->str) != item->len) {
        return px__at(c, item, PX_INVALID_ARGUMENT,
                      "%s: expected host:port or {address: host:port, weight: N}", scope);
    } else if ((raw.address = strdup(item->str)) == NULL) {
        return px__oom(c);
    }
    u->endpoints[i] = raw.address;
    u->weights[i] = (uint32_t)raw.weight;
    for (size_t j = 0; j < i; j++)
        if (strcmp(u->endpoints[j], raw.address) == 0)
            return px__at(c, addr_node, PX_INVALID_ARGUMENT, "%s: '%s' is listed twice", scope,
                          raw.address);
    return px__address(c, addr_node, scope, raw.address, &u->addrs[i]);
}

/* The endpoints: list, when the upstream has one (whether it must depends on its naming
 * module: px__naming_list). */
static px_status px__endpoints(px__ctx *c, const px_ynode *up, px_upstream_conf *u)
{
    const px_ynode *list = px_ymap_get(up, "endpoints");
    if (list == NULL && px_ymap_get(up, "naming") == NULL) {
        /* The default naming module is built in: whether it needs the list is known
         * before any module is loaded, so this error comes first, as it always did. */
        const px_module *def =
            px_builtin_find(PX_MOD_NAMING, px_kind_get(PX_MOD_NAMING)->upstream.def);
        if (def && (((const px_naming_ops *)def->ops)->flags & PX_NAMING_USES_ENDPOINTS))
            return px__at(c, up, PX_INVALID_ARGUMENT,
                          "upstreams.%s: missing required key 'endpoints'", u->name);
    }
    if (list == NULL)
        return PX_OK;
    if (list->kind != PX_YSEQ || list->n == 0)
        return px__at(c, list, PX_INVALID_ARGUMENT,
                      "upstreams.%s.endpoints: expected a non-empty list of host:port", u->name);
    if (list->n > u->max_endpoints)
        return px__at(c, list, PX_INVALID_ARGUMENT,
                      "upstreams.%s.endpoints: %zu endpoints is more than max_endpoints (%u)",
                      u->name, list->n, (unsigned)u->max_endpoints);
    u->endpoints = calloc(list->n, sizeof *u->endpoints);
    u->weights = calloc(list->n, sizeof *u->weights);
    u->addrs = calloc(list->n, sizeof *u->addrs);
    if (u->endpoints == NULL || u->weights == NULL || u->addrs == NULL)
        return px__oom(c);
    u->n_endpoints = list->n;
    for (size_t i = 0; i < list->n; i++) {
        px_status st = px__endpoint(c, list->items[i], i, u);
        if (st != PX_OK)
            return st;
    }
    return PX_OK;
}

/* A naming module that serves the endpoints: list (static, the default) needs one; any
 * other may do without. */
static px_status px__naming_list(px__ctx *c, const px_ynode *up, px_upstream_conf *u)
{
    const px_modref *ref = px_modlist_one(u->mods, PX_MOD_NAMING);
    const px_naming_ops *ops = ref ? ref->mod->ops : NULL;
    if (u->n_endpoints > 0 || ops == NULL || !(ops->flags & PX_NAMING_USES_ENDPOINTS))
        return PX_OK;
    if (px_ymap_get(up, "naming") == NULL)
        return px__at(c, up, PX_INVALID_ARGUMENT,
                      "upstreams.%s: missing required key 'endpoints'", u->name);
    return px__at(c, up, PX_INVALID_ARGUMENT,
                  "upstreams.%s: missing required key 'endpoints' (naming '%s' serves that "
                  "list)",
                  u->name, ref->mod->name);
}

static px_status px__health(px__ctx *c, const px_ynode *node, px_health_conf *h)
{
    px__health_raw raw;
    memset(&raw, 0, sizeof raw);
    px_status st = px_conf_apply_scoped(px__health_dirs, &raw, node, NULL, "health", c->file,
                                        c->err);
    if (st != PX_OK)
        return st;
    if (raw.ejection > raw.max_ejection) {
        const px_ynode *at = px_ymap_get(node, "ejection");
        if (at == NULL)
            at = px_ymap_get(node, "max_ejection");
        return px__at(c, at, PX_INVALID_ARGUMENT,
                      "health: ejection (%lldus) is longer than max_ejection (%lldus)",
                      (long long)raw.ejection, (long long)raw.max_ejection);
    }
    h->max_fails = (int)raw.max_fails;
    h->fail_window_us = raw.fail_window;
    h->ejection_us = raw.ejection;
    h->max_ejection_us = raw.max_ejection;
    h->max_ejected_percent = (int)raw.max_ejected_percent;
    h->probe_interval_us = raw.probe_interval;
    h->probe_timeout_us = raw.probe_timeout;
    return PX_OK;
}

static int px__valid_name(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

static px_status px__upstream(px__ctx *c, const px_ynode *key, const px_ynode *up,
                              px_upstream_conf *u)
{
    if (!px__valid_name(key->str) || strlen(key->str) != key->len)
        return px__at(c, key, PX_INVALID_ARGUMENT,
                      "upstreams: name '%s' may only use letters, digits, '_', '-' and '.'",
                      key->str);
    if ((u->name = strdup(key->str)) == NULL)
        return px__oom(c);
    if (up->kind != PX_YMAP)
        return px__at(c, up, PX_INVALID_ARGUMENT,
                      "upstreams.%s: expected a mapping with endpoints:, got a %s", u->name,
                      px_ynode_kind_name(up->kind));
    px__upstream_raw raw;
    memset(&raw, 0, sizeof raw);
    char scope[160];
    snprintf(scope, sizeof scope, "upstreams.%s", u->name);
    const char *keys[24];
    px_status st = px_conf_apply_scoped(px__upstream_dirs, &raw, up,
                                        px__scope_keys(px__upstream_keys, 0, keys, 24), scope,
                                        c->file, c->err);
    if (st != PX_OK)
        return st;
    u->connections_per_endpoint = (int)raw.conns;
    u->pool_size = (int)raw.pool_size;
    u->max_endpoints = (uint32_t)raw.max_endpoints;
    st = px__endpoints(c, up, u);
    if (st == PX_OK)
        st = px__scope_mods(c, up, 0, "", u->mods);
    if (st == PX_OK)
        st = px__naming_list(c, up, u);
    if (st == PX_OK)
        st = px__health(c, px_ymap_get(up, "health"), &u->health);
    if (st == PX_OK)
        st = px__limits(c, px_ymap_get(up, "limits"), px__client_limit_dirs, "limits",
                        &u->limits);
    if (st == PX_OK)
        st = px__tls(c, up, 0, scope, u->mods, &u->tls, &u->tls_ctx);
    return st;
}

static px_status px__client(px__ctx *c, const px_ynode *node)
{
    px_client_conf *cc = &c->cfg->client;
    px__client_raw raw;
    memset(&raw, 0, sizeof raw);
    px_status st = px_conf_apply_scoped(px__client_dirs, &raw, node, px__client_keys, "client",
                                        c->file, c->err);
    if (st != PX_OK)
        return st;
    cc->io_threads = (int)raw.io_threads;
    /* SERVICE modules named only for their .proto descriptors (the CLI's method names). */
    const px_ynode *desc = px_ymap_get(node, "descriptors");
    if (desc != NULL && !px_ynode_is_null(desc)) {
        st = px__modlist(c, PX_MOD_SERVICE, desc, "client.descriptors", "service",
                         &cc->descriptors, &cc->n_descriptors, 0);
        if (st != PX_OK)
            return st;
    }
    const px_ynode *ups = px_ymap_get(node, "upstreams");
    if (ups == NULL)
        return px__at(c, node, PX_INVALID_ARGUMENT, "client: missing required key 'upstreams'");
    if (ups->kind != PX_YMAP || ups->n == 0)
        return px__at(c, ups, PX_INVALID_ARGUMENT,
                      "client.upstreams: expected a mapping of NAME: {endpoints: [...]}, "
                      "with at least one upstream");
    if ((cc->upstreams = calloc(ups->n, sizeof *cc->upstreams)) == NULL)
        return px__oom(c);
    cc->n_upstreams = ups->n;
    for (size_t i = 0; i < ups->n; i++) {
        st = px__upstream(c, ups->pairs[i].key, ups->pairs[i].value, &cc->upstreams[i]);
        if (st != PX_OK)
            return st;
    }
    return PX_OK;
}

/* ---- admin ------------------------------------------------------------------------- */

/* admin: {listen: ADDR}: off when absent; its address is parsed (and resolved) here so
 * that `plexusd -t` refuses what the listener could not bind to. Port 0: the system
 * picks one (px_admin_port says which). */
static px_status px__admin(px__ctx *c, const px_ynode *node)
{
    if (node == NULL)
        return PX_OK;
    px__admin_raw raw = {0};
    px_status st = px_conf_apply_scoped(px__admin_dirs, &raw, node, NULL, "admin", c->file,
                                        c->err);
    if (st != PX_OK)
        return st;
    const px_ynode *at = px_ymap_get(node, "listen");
    px_err why = {0};
    if (px_net_parse_listen(raw.listen, &c->cfg->admin.addr, &why) != PX_OK) {
        st = px__at(c, at, why.status, "admin.listen: '%s': %s", raw.listen, why.msg);
        px_conf_release(px__admin_dirs, &raw);
        return st;
    }
    c->cfg->admin.listen = raw.listen; /* taken: not released */
    return PX_OK;
}

/* ---- load / free -------------------------------------------------------------------- */

static px_status px__load(px__ctx *c, const px_ynode *root)
{
    if (root->kind == PX_YSCALAR && px_ynode_is_null(root))
        return px_err_set(c->err, PX_INVALID_ARGUMENT,
                          "%s: the file is empty (it needs a server: or a client: section)",
                          c->file);
    if (root->kind != PX_YMAP)
        return px__at(c, root, PX_INVALID_ARGUMENT,
                      "expected a mapping with server: and/or client: at the top, got a %s",
                      px_ynode_kind_name(root->kind));
    px_status st = px_conf_apply(NULL, NULL, root, px__top_keys, c->file, c->err);
    if (st != PX_OK)
        return st;
    const px_ynode *server = px_ymap_get(root, "server");
    const px_ynode *client = px_ymap_get(root, "client");
    if (server == NULL && client == NULL)
        return px__at(c, root, PX_INVALID_ARGUMENT,
                      "needs a server: or a client: section (or both)");
    st = px__admin(c, px_ymap_get(root, "admin"));
    if (st == PX_OK)
        st = px__module_path(c, px_ymap_get(root, "modules"));
    if (st == PX_OK && server != NULL)
        st = px__server(c, server);
    if (st == PX_OK && client != NULL)
        st = px__client(c, client);
    return st;
}

/* A module's create() may refuse what its directive table cannot express (an empty
 * key_field, a malformed per-method map, floor > ceiling). Making and dropping one
 * instance of every strategy module now puts those errors where the others are —
 * at the module's line in the file, at load time, so `plexusd -t` and `plexus check`
 * see them. Services are left out: their instances may be heavy (threads, clients). */
static px_status px__check_one(const px_config *cfg, const px_modref *ref, const char *scope,
                               px_err *err)
{
    if (ref->mod == NULL || ref->mod->create == NULL)
        return PX_OK;
    px_module_env env = {.config_file = cfg->file, .server_id = cfg->server.id ? cfg->server.id : "",
                         .scope = scope};
    void *state = NULL;
    px_err e = {0};
    if (px_modref_create(ref, &env, &state, &e) != PX_OK) {
        /* A module that names the place itself (an item of a PX_DIR_LIST) keeps it. */
        size_t fl = strlen(cfg->file);
        if (strncmp(e.msg, cfg->file, fl) == 0 && e.msg[fl] == ':')
            return px_err_set(err, e.status, "%s", e.msg);
        return px_err_set(err, e.status, "%s:%d:%d: %s", cfg->file, ref->line, ref->col, e.msg);
    }
    px_modref_destroy(ref, state);
    return PX_OK;
}

static px_status px__check_scope(const px_config *cfg, const px_modlist *mods,
                                 const char *scope, px_err *err)
{
    for (size_t k = 0; k < PX_KIND_LIMIT; k++)
        for (size_t i = 0; i < mods[k].n; i++)
            if (px__check_one(cfg, &mods[k].refs[i], scope, err) != PX_OK)
                return err->status;
    return PX_OK;
}

static px_status px__check_strategies(const px_config *cfg, px_err *err)
{
    if (px__check_scope(cfg, cfg->server.mods, "server", err) != PX_OK ||
        px__check_one(cfg, &cfg->server.registry, "server", err) != PX_OK)
        return err->status;
    for (size_t i = 0; i < cfg->server.n_services; i++) {
        const px_modlist *f = &cfg->server.services[i].filters;
        for (size_t j = 0; j < f->n; j++)
            if (px__check_one(cfg, &f->refs[j], "server", err) != PX_OK)
                return err->status;
    }
    for (size_t i = 0; i < cfg->client.n_upstreams; i++) {
        const px_upstream_conf *u = &cfg->client.upstreams[i];
        if (px__check_scope(cfg, u->mods, u->name, err) != PX_OK)
            return err->status;
    }
    return PX_OK;
}

/* A parsed document to a config; name is its file name in messages and the base of
 * relative module paths. Takes root. */
static px_status px__config_from(px_ynode *root, const char *name, px_config **out, px_err *err)
{
    px_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL || (cfg->file = strdup(name)) == NULL ||
        (cfg->loader = px_loader_new()) == NULL) {
        px_config_free(cfg);
        px_yaml_free(root);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", name);
    }
    px__ctx c = {cfg, name, err, px__file_dir(name)};
    if (c.dir == NULL || px_loader_set_base(cfg->loader, c.dir) != 0) {
        free(c.dir);
        px_config_free(cfg);
        px_yaml_free(root);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", name);
    }
    px_status st = px__load(&c, root);
    free(c.dir);
    /* Kept for what shows the config as it runs (the admin's /config). */
    cfg->root = root;
    cfg->loaded_at = time(NULL);
    if (st == PX_OK)
        st = px__check_strategies(cfg, err);
    if (st != PX_OK) {
        px_config_free(cfg);
        return st;
    }
    *out = cfg;
    return PX_OK;
}

px_status px_config_load(const char *path, px_config **out, px_err *err)
{
    *out = NULL;
    px_ynode *root = NULL;
    px_status st = px_yaml_load_file(path, &root, err);
    if (st != PX_OK)
        return st;
    return px__config_from(root, path, out, err);
}

px_status px_config_parse(const char *text, size_t len, const char *name, px_config **out,
                          px_err *err)
{
    *out = NULL;
    if (name == NULL)
        name = "<config>";
    px_ynode *root = NULL;
    px_status st = px_yaml_parse(text, len, name, &root, err);
    if (st != PX_OK)
        return st;
    return px__config_from(root, name, out, err);
}

int px_config_has_server(const px_config *cfg) { return cfg != NULL && cfg->server.present; }

void px_config_free(px_config *cfg)
{
    if (cfg == NULL)
        return;
    px_server_conf *sc = &cfg->server;
    free(sc->listen);
    free(sc->id);
    free(sc->pid_file);
    px_tls_ctx_free(sc->tls_ctx);
    px_tls_conf_release(&sc->tls);
    for (size_t i = 0; i < sc->n_listeners; i++) {
        px_listener_conf *l = &sc->listeners[i];
        free(l->listen);
        free(l->protos);
        px_tls_ctx_free(l->tls_ctx);
        px_tls_conf_release(&l->tls);
    }
    free(sc->listeners);
    px__modlists_release(sc->mods);
    for (size_t i = 0; i < sc->n_services; i++) {
        px__modref_release(&sc->services[i].module);
        for (size_t j = 0; j < sc->services[i].filters.n; j++)
            px__modref_release(&sc->services[i].filters.refs[j]);
        free(sc->services[i].filters.refs);
    }
    free(sc->services);
    px__modref_release(&sc->registry);
    free(sc->register_advertise);
    for (size_t i = 0; i < cfg->client.n_upstreams; i++) {
        px_upstream_conf *u = &cfg->client.upstreams[i];
        free(u->name);
        for (size_t j = 0; u->endpoints && j < u->n_endpoints; j++)
            free(u->endpoints[j]);
        free(u->endpoints);
        free(u->weights);
        free(u->addrs);
        px_tls_ctx_free(u->tls_ctx);
        px_tls_conf_release(&u->tls);
        px__modlists_release(u->mods);
    }
    free(cfg->client.upstreams);
    for (size_t i = 0; i < cfg->client.n_descriptors; i++)
        px__modref_release(&cfg->client.descriptors[i]);
    free(cfg->client.descriptors);
    /* Module confs are released above: their directive tables live in the .so files. */
    px_loader_free(cfg->loader);
    free(cfg->admin.listen);
    px_yaml_free(cfg->root);
    free(cfg->file);
    free(cfg);
}

/* ---- instances ---------------------------------------------------------------------- */

px_status px_modref_create(const px_modref *ref, const px_module_env *env, void **state,
                           px_err *err)
{
    *state = NULL;
    if (ref == NULL || ref->mod == NULL)
        return px_err_set(err, PX_FAILED_PRECONDITION, "no module configured in this slot");
    if (ref->mod->create == NULL) {
        *state = ref->conf;
        return PX_OK;
    }
    px_err merr;
    px_err_clear(&merr);
    px_status st = ref->mod->create(env, ref->conf, state, &merr);
    if (st == PX_OK)
        return PX_OK;
    *state = NULL;
    /* "FILE:LINE:COL: why" (a module naming the item of a list it refuses) keeps its
     * place first: "FILE:LINE:COL: filter 'acl': why". */
    const char *file = env && env->config_file ? env->config_file : NULL;
    size_t fl = file ? strlen(file) : 0;
    int line, col, used = 0;
    if (fl && strncmp(merr.msg, file, fl) == 0 &&
        sscanf(merr.msg + fl, ":%d:%d: %n", &line, &col, &used) == 2 && used > 0)
        return px_err_set(err, st, "%.*s%s '%s': %s", (int)(fl + (size_t)used), merr.msg,
                          px_module_kind_name(ref->mod->kind), ref->mod->name,
                          merr.msg + fl + used);
    return px_err_set(err, st, "%s '%s': %s", px_module_kind_name(ref->mod->kind),
                      ref->mod->name, merr.msg[0] ? merr.msg : px_status_message(st));
}

void px_modref_destroy(const px_modref *ref, void *state)
{
    if (ref != NULL && ref->mod != NULL && ref->mod->destroy != NULL && state != NULL)
        ref->mod->destroy(state);
}
