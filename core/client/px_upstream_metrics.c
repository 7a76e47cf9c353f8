/* An upstream's core metrics: retries and hedges, and per endpoint its health (up),
 * ejections, re-admissions, timeouts and late replies (docs/OPERATIONS.md). Handles are
 * taken when the upstream is made and at an endpoint's first listing, and given back
 * when the upstream is freed: the up gauge goes with the endpoint (it leaves the list)
 * or the upstream, the counters stay and go on for a later client with the same
 * upstream name (two clients of one upstream count into one series). */
#include "px_upstream.h"

static double px__ep_up(void *arg)
{
    return px_endpoint_is_ejected(&((px_ep *)arg)->pub) ? 0 : 1;
}

void px__upstream_metrics_new(px_upstream *up)
{
    const px_mcore *mc = px__mcore();
    const char *v[] = {up->conf->name};
    up->m_retries = px__mget(mc->retries, v);
    up->m_hedges = px__mget(mc->hedges, v);
}

void px__ep_metrics_join(px_ep *ep)
{
    const px_mcore *mc = px__mcore();
    const char *v[] = {ep->up->conf->name, ep->pub.address};
    if (!ep->m_ejections) { /* its first listing */
        ep->m_ejections = px__mget(mc->ep_ejections, v);
        ep->m_readmissions = px__mget(mc->ep_readmissions, v);
        ep->m_timeouts = px__mget(mc->ep_timeouts, v);
        ep->m_late = px__mget(mc->ep_late, v);
    }
    if (!ep->m_up)
        ep->m_up = px__mget_fn(mc->ep_up, v, px__ep_up, ep);
}

void px__ep_metrics_leave(px_ep *ep)
{
    px_metric_release(ep->m_up);
    ep->m_up = NULL;
}

void px__upstream_metrics_free(px_upstream *up)
{
    for (uint32_t i = 0; i < px_eptable_count(&up->table); i++) {
        px_ep *ep = px_upstream_ep(up, i);
        px__ep_metrics_leave(ep);
        px_metric_release(ep->m_ejections);
        px_metric_release(ep->m_readmissions);
        px_metric_release(ep->m_timeouts);
        px_metric_release(ep->m_late);
    }
    px_metric_release(up->m_retries);
    px_metric_release(up->m_hedges);
}
