/* Module kind names and the file-name prefixes the loader searches for. */
#include "plexus/px_module.h"

const char *px_module_kind_name(px_module_kind kind)
{
    switch (kind) {
    case PX_MOD_CODEC: return "codec";
    case PX_MOD_BALANCER: return "balancer";
    case PX_MOD_FAILOVER: return "failover";
    case PX_MOD_TIMEOUT: return "timeout";
    case PX_MOD_SERVICE: return "service";
    }
    return "unknown";
}

const char *px_module_kind_prefix(px_module_kind kind)
{
    switch (kind) {
    case PX_MOD_CODEC: return "codec_";
    case PX_MOD_BALANCER: return "lb_";
    case PX_MOD_FAILOVER: return "failover_";
    case PX_MOD_TIMEOUT: return "timeout_";
    case PX_MOD_SERVICE: return "service_";
    }
    return "";
}
