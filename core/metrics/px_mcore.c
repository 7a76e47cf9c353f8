/* The core's metric families (px_mcore.h). */
#include "px_mcore.h"

#include <pthread.h>

#include "px_log.h"

static px_mcore g_core;

static px_metric_family *fam(const char *name, const char *help, px_metric_type type,
                             const char *l1, const char *l2)
{
    const char *labels[] = {l1, l2};
    px_err err;
    px_metric_family *f = px_metric_family_get(name, help, type, labels, l2 ? 2 : l1 ? 1 : 0,
                                               NULL, 0, &err);
    if (!f)
        px_log_warn("metrics: %s", err.msg);
    return f;
}

static void make(void)
{
    px_mcore *c = &g_core;
    const px_metric_type C = PX_METRIC_COUNTER, G = PX_METRIC_GAUGE;
    c->conns = fam("plexus_server_connections", "Connections open on a server listener.", G,
                   "listener", NULL);
    c->accepted = fam("plexus_server_connections_accepted_total",
                      "Connections a server listener accepted.", C, "listener", NULL);
    c->frames_rx = fam("plexus_server_frames_received_total",
                       "Requests a server received, by protocol module.", C, "protocol", NULL);
    c->frames_tx = fam("plexus_server_frames_sent_total",
                       "Answers (replies and errors) a server sent, by protocol module.", C,
                       "protocol", NULL);
    c->mem = fam("plexus_server_memory_bytes",
                 "Bytes of the servers' memory budget in use (limits.max_server_memory).", G,
                 NULL, NULL);
    c->mem_limit = fam("plexus_server_memory_limit_bytes",
                       "The servers' memory budget (limits.max_server_memory).", G, NULL, NULL);
    c->loop_lag = fam("plexus_loop_lag_seconds",
                      "How late an IO loop's periodic timer last fired, in seconds.", G, "loop",
                      NULL);
    c->ep_up = fam("plexus_upstream_endpoint_up",
                   "1 while an upstream endpoint takes traffic, 0 while it is ejected.", G,
                   "upstream", "endpoint");
    c->ep_ejections = fam("plexus_upstream_ejections_total",
                          "Times endpoint health ejected an upstream endpoint.", C, "upstream",
                          "endpoint");
    c->ep_readmissions = fam("plexus_upstream_readmissions_total",
                             "Times an ejected upstream endpoint was re-admitted.", C, "upstream",
                             "endpoint");
    c->ep_timeouts = fam("plexus_upstream_timeouts_total",
                         "Attempts on an upstream endpoint that ended DEADLINE_EXCEEDED.", C,
                         "upstream", "endpoint");
    c->ep_late = fam("plexus_upstream_late_replies_dropped_total",
                     "Replies from an upstream endpoint that came after their call ended.", C,
                     "upstream", "endpoint");
    c->retries = fam("plexus_upstream_retries_total",
                     "Attempts a client made again after a failed one (failover or a "
                     "transparent retry).", C, "upstream", NULL);
    c->hedges = fam("plexus_upstream_hedges_total", "Hedged attempts a client sent.", C,
                    "upstream", NULL);
}

const px_mcore *px__mcore(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make);
    return &g_core;
}

px_metric *px__mget(px_metric_family *f, const char *const *values)
{
    if (!f)
        return NULL;
    px_err err;
    px_metric *m = px_metric_get(f, values, &err);
    if (!m)
        px_log_warn("metrics: %s", err.msg);
    return m;
}

px_metric *px__mget_fn(px_metric_family *f, const char *const *values, double (*read)(void *),
                       void *arg)
{
    if (!f)
        return NULL;
    px_err err;
    px_metric *m = px_metric_get_fn(f, values, read, arg, &err);
    if (!m)
        px_log_warn("metrics: %s", err.msg);
    return m;
}
