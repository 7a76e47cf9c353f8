/* Endpoint health, one mechanism for both clients and every failover module: the core
 * records every attempt's outcome (px_upstream_attempt_done, px_upstream_attempt_lost);
 * max_fails failures within fail_window eject an endpoint for `ejection`; each
 * re-ejection soon after re-admission doubles it up to max_ejection; never more than
 * max_ejected_percent of the upstream's live endpoints is out at once. Re-admission is
 * lazy: the first pick after the ejection runs out lets the endpoint take traffic again.
 * Health follows the naming module's list: a removed endpoint is neither ejected nor
 * probed, and one that joins (again) starts with a clean record. */
#include "px_health.h"

#include "plexus/px_endpoint.h"
#include "px_log.h"
#include "px_time.h"
#include "px_upstream.h"

/* Since ABI 1.2 the core records every attempt itself; a module built before still
 * calls this, and must not count each attempt twice. */
void px_endpoint_report(px_endpoint *ep, px_status st)
{
    (void)ep;
    (void)st;
}

void px_health_failure(px_ep *ep)
{
    px_upstream *up = ep->up;
    const px_health_conf *h = &up->conf->health;
    if (h->max_fails <= 0)
        return;
    int64_t now = px_mono_us();
    pthread_mutex_lock(&ep->lock);
    if (ep->pub.ejected || !px_ep_is_member(ep)) { /* out already, or removed */
        pthread_mutex_unlock(&ep->lock);
        return;
    }
    int fails = __atomic_load_n(&ep->fails, __ATOMIC_RELAXED);
    if (fails == 0 || now - ep->window_start_us > h->fail_window_us) {
        fails = 0;
        ep->window_start_us = now;
    }
    __atomic_store_n(&ep->fails, ++fails, __ATOMIC_RELAXED);
    if (fails >= h->max_fails) {
        uint32_t out = __atomic_load_n(&up->n_ejected, __ATOMIC_RELAXED);
        if ((out + 1) * 100 <= (uint64_t)h->max_ejected_percent * px_upstream_live_count(up)) {
            /* Ejected again within one window of coming back: back off harder. */
            if (ep->ejected_until_us && now - ep->ejected_until_us < h->fail_window_us) {
                ep->ejection_us *= 2;
                if (ep->ejection_us > h->max_ejection_us)
                    ep->ejection_us = h->max_ejection_us;
            } else {
                ep->ejection_us = h->ejection_us;
            }
            ep->ejected_until_us = now + ep->ejection_us;
            __atomic_store_n(&ep->pub.ejected, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&up->n_ejected, 1, __ATOMIC_RELAXED);
            __atomic_store_n(&ep->fails, 0, __ATOMIC_RELAXED);
            px_mcount(ep->m_ejections, 1);
            px_log_info("upstream %s: ejected %s for %lldms after %d failures", up->conf->name,
                        ep->pub.address, (long long)(ep->ejection_us / 1000), h->max_fails);
        }
    }
    pthread_mutex_unlock(&ep->lock);
}

static void px__readmit(px_ep *ep, const char *how)
{
    __atomic_store_n(&ep->pub.ejected, 0, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&ep->up->n_ejected, 1, __ATOMIC_RELAXED);
    px_mcount(ep->m_readmissions, 1);
    px_log_info("upstream %s: re-admitted %s %s", ep->up->conf->name, ep->pub.address, how);
}

int px_health_is_out(px_ep *ep, int64_t now_us)
{
    if (!px_endpoint_is_ejected(&ep->pub))
        return 0;
    if (ep->up->conf->health.probe_interval_us > 0)
        return 1;
    pthread_mutex_lock(&ep->lock);
    int out = ep->pub.ejected && now_us < ep->ejected_until_us;
    if (ep->pub.ejected && !out)
        px__readmit(ep, "after its ejection ran out");
    pthread_mutex_unlock(&ep->lock);
    return out;
}

int px_health_probe_due(px_ep *ep, int64_t now_us)
{
    if (!px_endpoint_is_ejected(&ep->pub))
        return 0;
    pthread_mutex_lock(&ep->lock);
    int due = ep->pub.ejected && !ep->probing && now_us >= ep->ejected_until_us &&
              px_ep_is_member(ep);
    if (due)
        ep->probing = 1;
    pthread_mutex_unlock(&ep->lock);
    return due;
}

void px_health_probe_done(px_ep *ep, int ok, const char *why)
{
    const px_health_conf *h = &ep->up->conf->health;
    pthread_mutex_lock(&ep->lock);
    ep->probing = 0;
    if (!ep->pub.ejected) {
        /* Removed while the probe ran (which ended the ejection), and perhaps back:
         * the probe says nothing about what naming decided. */
    } else if (ok) {
        px__readmit(ep, "after a successful probe");
    } else {
        int64_t now = px_mono_us();
        ep->ejection_us *= 2;
        if (ep->ejection_us > h->max_ejection_us)
            ep->ejection_us = h->max_ejection_us;
        ep->ejected_until_us = now + ep->ejection_us;
        px_log_info("upstream %s: probe of %s failed (%s): ejected for %lldms more",
                    ep->up->conf->name, ep->pub.address, why,
                    (long long)(ep->ejection_us / 1000));
    }
    pthread_mutex_unlock(&ep->lock);
}

void px_health_join(px_ep *ep)
{
    pthread_mutex_lock(&ep->lock);
    __atomic_store_n(&ep->fails, 0, __ATOMIC_RELAXED);
    ep->window_start_us = 0;
    ep->ejected_until_us = 0;
    ep->ejection_us = ep->up->conf->health.ejection_us;
    __atomic_store_n(&ep->member, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&ep->lock);
    px__ep_metrics_join(ep);
}

void px_health_leave(px_ep *ep)
{
    pthread_mutex_lock(&ep->lock);
    __atomic_store_n(&ep->member, 0, __ATOMIC_RELEASE);
    if (ep->pub.ejected) {
        __atomic_store_n(&ep->pub.ejected, 0, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&ep->up->n_ejected, 1, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&ep->fails, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&ep->lock);
    px__ep_metrics_leave(ep);
}
