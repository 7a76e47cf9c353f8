/* TIMEOUT "per_method": each method its own call budget (a map given as one string,
 * since directives have no map type), a default for the rest, one connect budget. */
#include <stdlib.h>
#include <plexus/plexus.h>

#include "method_map.h"
#include "timeout_per_method.h"

typedef struct pm_state {
    method_map map;
    int64_t default_us;
    int64_t connect_us;
} pm_state;

static int64_t pm_call(void *state, const char *method)
{
    const pm_state *s = state;
    int64_t us = method_map_find(&s->map, method);
    return us >= 0 ? us : s->default_us;
}

static int64_t pm_connect(void *state) { return ((const pm_state *)state)->connect_us; }

static px_status pm_create(const px_module_env *env, const void *conf, void **state, px_err *err)
{
    const timeout_per_method_conf *c = conf;
    pm_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    px_err e;
    px_err_clear(&e);
    if (method_map_parse(&s->map, c->methods, &e) != PX_OK) {
        free(s);
        /* The core prefixes "timeout 'per_method': "; say where the string came from. */
        return px_err_set(err, e.status, "%s: upstreams.%s.timeout.methods: %s",
                          env && env->config_file ? env->config_file : "?",
                          env && env->scope ? env->scope : "?", e.msg);
    }
    s->default_us = c->default_us;
    s->connect_us = c->connect_us;
    *state = s;
    return PX_OK;
}

static void pm_destroy(void *state)
{
    pm_state *s = state;
    method_map_free(&s->map);
    free(s);
}

static const px_directive pm_directives[] = {
    {.name = "methods", .type = PX_DIR_STRING, .offset = offsetof(timeout_per_method_conf, methods),
     .def = NULL,
     .help = "\"pkg.Svc/Method=2s,pkg.Svc/*=300ms\": call budgets by method, or by service with /*"},
    {.name = "default", .type = PX_DIR_DURATION,
     .offset = offsetof(timeout_per_method_conf, default_us), .def = "1s", .min = "1ms",
     .max = "1h", .help = "call budget of a method the map does not list"},
    {.name = "connect", .type = PX_DIR_DURATION,
     .offset = offsetof(timeout_per_method_conf, connect_us), .def = "1s", .min = "1ms",
     .max = "1h", .help = "time allowed to establish a connection"},
    {.name = NULL},
};

static const px_timeout_ops pm_ops = {
    .call_timeout_us = pm_call,
    .connect_timeout_us = pm_connect,
    .observe = NULL,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_TIMEOUT,
    .name = "per_method",
    .version = "1.0.0",
    .description = "call budget per method (or per service), with a default",
    .conf_size = sizeof(timeout_per_method_conf),
    .directives = pm_directives,
    .create = pm_create,
    .destroy = pm_destroy,
    .ops = &pm_ops,
};
