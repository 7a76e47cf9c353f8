/* The registry of module kinds (see px_kinds.h). */
#include "px_kinds.h"

#include "plexus/px_balancer.h"
#include "plexus/px_codec.h"
#include "plexus/px_failover.h"
#include "plexus/px_filter.h"
#include "plexus/px_naming.h"
#include "plexus/px_protocol.h"
#include "plexus/px_registry.h"
#include "plexus/px_service.h"
#include "plexus/px_timeout.h"

static const char *px__codec_missing(const void *ops)
{
    const px_codec_ops *o = ops;
    return !o->encode ? "encode" : !o->decode ? "decode" : NULL;
}

static const char *px__balancer_missing(const void *ops)
{
    return ((const px_balancer_ops *)ops)->pick ? NULL : "pick";
}

static const char *px__failover_missing(const void *ops)
{
    return ((const px_failover_ops *)ops)->on_result ? NULL : "on_result";
}

static const char *px__timeout_missing(const void *ops)
{
    (void)ops; /* every op is optional: a missing budget means none */
    return NULL;
}

static const char *px__naming_missing(const void *ops)
{
    return ((const px_naming_ops *)ops)->start ? NULL : "start";
}

static const char *px__registry_missing(const void *ops)
{
    return ((const px_registry_ops *)ops)->start ? NULL : "start";
}

static const char *px__service_missing(const void *ops)
{
    const px_service_ops *o = ops;
    return !o->descriptor ? "descriptor" : !o->service ? "service" : NULL;
}

static const char *px__filter_missing(const void *ops)
{
    const px_filter_ops *o = ops;
    if (!o->on_request && !o->on_done)
        return "on_request";
    return o->sides & (PX_FILTER_SERVER | PX_FILTER_CLIENT) ? NULL : "sides";
}

static const char *px__filter_scope(const void *ops, int server)
{
    unsigned need = server ? PX_FILTER_SERVER : PX_FILTER_CLIENT;
    if (((const px_filter_ops *)ops)->sides & need)
        return NULL;
    return server ? "it is a client-side filter only" : "it is a server-side filter only";
}

static const char *px__protocol_missing(const void *ops)
{
    const px_protocol_ops *o = ops;
    if (!o->detect && !o->client_request) /* neither half */
        return "detect' (a server half) or 'client_request"; /* in "has no '%s' op" */
    if (o->detect && (!o->conn_open || !o->conn_recv || !o->reply_begin || !o->reply_end ||
                      !o->reply_error))
        return !o->conn_open ? "conn_open" : !o->conn_recv ? "conn_recv"
               : !o->reply_begin ? "reply_begin" : !o->reply_end ? "reply_end" : "reply_error";
    if (o->client_request && (!o->client_open || !o->client_next))
        return !o->client_open ? "client_open" : "client_next";
    return NULL;
}

static const char *px__protocol_scope(const void *ops, int server)
{
    const px_protocol_ops *o = ops;
    if (server && !o->detect)
        return "it has no server half (it can only call servers)";
    if (!server && !o->client_request)
        return "it has no client half (it can only serve)";
    return NULL;
}

/* Config order: a server's codecs, then an upstream's codec, balancer, failover, timeout,
 * filters, protocol, naming (created last, so it is destroyed first: it may feed the balancer until
 * then). */
static const px_kind px__kinds[] = {
    {.id = PX_MOD_CODEC, .name = "codec", .prefix = "codec_",
     .server = {"codecs", 1, "protobuf"}, .upstream = {"codec", 0, "protobuf"},
     .missing_op = px__codec_missing},
    {.id = PX_MOD_BALANCER, .name = "balancer", .prefix = "lb_",
     .upstream = {"balancer", 0, "random"}, .missing_op = px__balancer_missing},
    {.id = PX_MOD_FAILOVER, .name = "failover", .prefix = "failover_",
     .upstream = {"failover", 0, "failfast"}, .missing_op = px__failover_missing},
    {.id = PX_MOD_TIMEOUT, .name = "timeout", .prefix = "timeout_",
     .upstream = {"timeout", 0, "fixed"}, .missing_op = px__timeout_missing},
    {.id = PX_MOD_SERVICE, .name = "service", .prefix = "service_",
     .missing_op = px__service_missing},
    {.id = PX_MOD_FILTER, .name = "filter", .prefix = "filter_", .since_minor = 2, .repeat = 1,
     .server = {"filters", 1, NULL}, .upstream = {"filters", 1, NULL},
     .missing_op = px__filter_missing, .refuses_scope = px__filter_scope},
    {.id = PX_MOD_PROTOCOL, .name = "protocol", .prefix = "proto_", .since_minor = 4,
     .server = {"protocols", 1, "native"}, .upstream = {"protocol", 0, "native"},
     .missing_op = px__protocol_missing, .refuses_scope = px__protocol_scope},
    {.id = PX_MOD_NAMING, .name = "naming", .prefix = "naming_", .since_minor = 2,
     .upstream = {"naming", 0, "static"}, .missing_op = px__naming_missing},
    /* server.register: is read by the config itself (it has core keys besides the
     * module's) and is instantiated by the host program, not the server. */
    {.id = PX_MOD_REGISTRY, .name = "registry", .prefix = "registry_", .since_minor = 6,
     .missing_op = px__registry_missing},
};

const px_kind *px_kinds_all(size_t *n)
{
    *n = sizeof px__kinds / sizeof px__kinds[0];
    return px__kinds;
}

const px_kind *px_kind_get(px_module_kind kind)
{
    for (size_t i = 0; i < sizeof px__kinds / sizeof px__kinds[0]; i++)
        if (px__kinds[i].id == kind)
            return &px__kinds[i];
    return NULL;
}

const char *px_module_kind_name(px_module_kind kind)
{
    const px_kind *k = px_kind_get(kind);
    return k ? k->name : "unknown";
}

const char *px_module_kind_prefix(px_module_kind kind)
{
    const px_kind *k = px_kind_get(kind);
    return k ? k->prefix : "";
}
