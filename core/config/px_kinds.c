/* The registry of module kinds (see px_kinds.h). */
#include "px_kinds.h"

#include "plexus/px_balancer.h"
#include "plexus/px_codec.h"
#include "plexus/px_failover.h"
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

static const char *px__service_missing(const void *ops)
{
    const px_service_ops *o = ops;
    return !o->descriptor ? "descriptor" : !o->service ? "service" : NULL;
}

/* Config order: a server's codecs, then an upstream's codec, balancer, failover, timeout. */
static const px_kind px__kinds[] = {
    {PX_MOD_CODEC, "codec", "codec_", 0, {"codecs", 1, "protobuf"}, {"codec", 0, "protobuf"},
     px__codec_missing},
    {PX_MOD_BALANCER, "balancer", "lb_", 0, {NULL, 0, NULL}, {"balancer", 0, "random"},
     px__balancer_missing},
    {PX_MOD_FAILOVER, "failover", "failover_", 0, {NULL, 0, NULL}, {"failover", 0, "failfast"},
     px__failover_missing},
    {PX_MOD_TIMEOUT, "timeout", "timeout_", 0, {NULL, 0, NULL}, {"timeout", 0, "fixed"},
     px__timeout_missing},
    {PX_MOD_SERVICE, "service", "service_", 0, {NULL, 0, NULL}, {NULL, 0, NULL},
     px__service_missing},
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
