/* The public view of a loaded config (plexus/px_config.h) and codec instances outside a
 * call (plexus/px_codec.h): what tools need without the config's private layout. */
#include <stdlib.h>
#include <string.h>

#include "plexus/px_codec.h"
#include "plexus/px_config.h"
#include "plexus/px_service.h"
#include "px_conf.h"
#include "px_config_int.h"
#include "px_loader.h"
#include "px_moduledir.h"

const char *px_config_file(const px_config *cfg)
{
    return cfg->file;
}

size_t px_config_module_count(const px_config *cfg)
{
    return px_loader_count(cfg->loader);
}

const px_module *px_config_module(const px_config *cfg, size_t i, const char **path)
{
    if (i >= px_loader_count(cfg->loader))
        return NULL;
    return px_loader_at(cfg->loader, i, path);
}

size_t px_config_descriptor_count(const px_config *cfg)
{
    return cfg->client.n_descriptors;
}

const ProtobufCServiceDescriptor *px_config_descriptor(const px_config *cfg, size_t i,
                                                       const px_module **mod)
{
    const px_modref *ref = i < cfg->client.n_descriptors ? &cfg->client.descriptors[i] : NULL;
    if (mod != NULL)
        *mod = ref ? ref->mod : NULL;
    const px_service_ops *ops = ref && ref->mod ? ref->mod->ops : NULL;
    const ProtobufCServiceDescriptor *sd = ops ? ops->descriptor : NULL;
    return sd != NULL && sd->magic == PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC ? sd : NULL;
}

const char *px_config_pid_file(const px_config *cfg)
{
    return cfg->server.present ? cfg->server.pid_file : NULL;
}

int px_config_io_threads(const px_config *cfg)
{
    return cfg->client.io_threads > 0 ? cfg->client.io_threads : 1;
}

int px_config_server_processes(const px_config *cfg)
{
    return cfg->server.present && cfg->server.processes > 0 ? cfg->server.processes : 1;
}

size_t px_config_upstream_count(const px_config *cfg)
{
    return cfg->client.n_upstreams;
}

const char *px_config_upstream_name(const px_config *cfg, size_t i)
{
    return i < cfg->client.n_upstreams ? cfg->client.upstreams[i].name : NULL;
}

static px_upstream_conf *px__upstream(const px_config *cfg, const char *name)
{
    for (size_t i = 0; name != NULL && i < cfg->client.n_upstreams; i++)
        if (strcmp(cfg->client.upstreams[i].name, name) == 0)
            return &cfg->client.upstreams[i];
    return NULL;
}

const char *px_config_upstream_codec(const px_config *cfg, const char *name)
{
    const px_upstream_conf *uc = px__upstream(cfg, name);
    const px_modref *ref = uc ? px_modlist_one(uc->mods, PX_MOD_CODEC) : NULL;
    return ref && ref->mod ? ref->mod->name : NULL;
}

size_t px_config_upstream_endpoints(const px_config *cfg, const char *name)
{
    const px_upstream_conf *uc = px__upstream(cfg, name);
    return uc ? uc->n_endpoints : 0;
}

px_status px_config_upstream_set_connections(px_config *cfg, const char *name, int n,
                                             px_err *err)
{
    px_upstream_conf *uc = px__upstream(cfg, name);
    if (uc == NULL)
        return px_err_set(err, PX_NOT_FOUND, "%s: no upstream '%s'", cfg->file,
                          name ? name : "(null)");
    if (n < 1 || n > 64)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "connections_per_endpoint %d is out of range 1..64", n);
    uc->connections_per_endpoint = n;
    return PX_OK;
}

/* ---- codec instances ---------------------------------------------------- */

struct px_codec_handle {
    px_modref ref;
    void *state;
    px_loader *own; /* without a config: the handle's own loader */
};

/* Without a config, the search path a config without modules.path has. */
static px_loader *px__default_loader(void)
{
    px_loader *l = px_loader_new();
    if (l != NULL && (px_loader_add_path_list(l, getenv("PLEXUS_MODULE_PATH")) != 0 ||
                      px_loader_add_path(l, px_moduledir_installed()) != 0)) {
        px_loader_free(l);
        l = NULL;
    }
    return l;
}

px_status px_codec_open(const px_config *cfg, const char *name, const char *scope,
                        px_codec_handle **out, px_err *err)
{
    *out = NULL;
    const char *file = cfg != NULL ? cfg->file : "(no config)";
    px_codec_handle *h = calloc(1, sizeof *h);
    if (h == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    px_loader *l = cfg != NULL ? cfg->loader : (h->own = px__default_loader());
    px_status st = l == NULL ? px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory")
                             : px_loader_load(l, PX_MOD_CODEC, name, &h->ref.mod, &h->ref.path,
                                              err);
    /* No YAML block configures it: its conf holds the directive defaults. */
    if (st == PX_OK && h->ref.mod->conf_size > 0) {
        h->ref.conf = calloc(1, h->ref.mod->conf_size);
        st = h->ref.conf == NULL
                 ? px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory")
                 : px_conf_apply(h->ref.mod->directives, h->ref.conf, NULL, NULL, file, err);
    }
    px_module_env env = {.config_file = file, .server_id = "", .scope = scope};
    if (st == PX_OK)
        st = px_modref_create(&h->ref, &env, &h->state, err);
    if (st != PX_OK) {
        if (h->ref.conf != NULL)
            px_conf_release(h->ref.mod->directives, h->ref.conf);
        free(h->ref.conf);
        if (h->own != NULL)
            px_loader_free(h->own);
        free(h);
        return st;
    }
    *out = h;
    return PX_OK;
}

const px_codec_ops *px_codec_handle_ops(const px_codec_handle *h)
{
    return h->ref.mod->ops;
}

void *px_codec_handle_state(const px_codec_handle *h)
{
    return h->state;
}

const px_module *px_codec_handle_module(const px_codec_handle *h)
{
    return h->ref.mod;
}

const char *px_codec_handle_path(const px_codec_handle *h)
{
    return h->ref.path;
}

void px_codec_close(px_codec_handle *h)
{
    if (h == NULL)
        return;
    px_modref_destroy(&h->ref, h->state);
    if (h->ref.conf != NULL)
        px_conf_release(h->ref.mod->directives, h->ref.conf);
    free(h->ref.conf);
    if (h->own != NULL)
        px_loader_free(h->own); /* unloads the module: after destroy */
    free(h);
}
