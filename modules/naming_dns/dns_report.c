/* A resolution's outcome: the list delivered (or kept), the log lines, the metrics,
 * and when the next resolution runs. */
#include <ares.h>
#include <pthread.h>
#include <stdlib.h>

#include "dns_state.h"

#define LOG "naming_dns"

/* The result label of plexus_naming_dns_resolutions_total, by c-ares status. */
enum { R_OK, R_SERVFAIL, R_TIMEOUT, R_NXDOMAIN, R_REFUSED, R_SERVERS_FAILED, R_NO_RECORDS,
       R_ERROR };
static const char *const result_names[] = {"ok",      "servfail",       "timeout",
                                           "nxdomain", "refused",       "servers_failed",
                                           "no_records", "error"};

static int result_of(int status)
{
    switch (status) {
    case ARES_SUCCESS: return R_OK;
    case ARES_ESERVFAIL: return R_SERVFAIL;
    case ARES_ETIMEOUT: return R_TIMEOUT;
    case ARES_ENOTFOUND: return R_NXDOMAIN;
    case ARES_EREFUSED: return R_REFUSED;
    case ARES_ECONNREFUSED: return R_SERVERS_FAILED;
    case ARES_ENODATA: return R_NO_RECORDS;
    default: return R_ERROR;
    }
}

static px_metric_family *g_results, *g_endpoints;

static void declare(void)
{
    static const char *const rl[] = {"upstream", "result"};
    static const char *const el[] = {"upstream"};
    g_results = px_metric_family_get("plexus_naming_dns_resolutions_total",
                                     "DNS resolutions of an upstream's name, by result.",
                                     PX_METRIC_COUNTER, rl, 2, NULL, 0, NULL);
    g_endpoints = px_metric_family_get("plexus_naming_endpoints",
                                       "Endpoints the upstream's naming module listed last.",
                                       PX_METRIC_GAUGE, el, 1, NULL, 0, NULL);
}

static void count(dns_state *s, int result, size_t listed)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, declare);
    const char *up = px_naming_upstream(s->sink);
    if (g_results && !s->m.results[result]) {
        const char *v[] = {up, result_names[result]};
        s->m.results[result] = px_metric_get(g_results, v, NULL);
    }
    px_metric_add(s->m.results[result], 1); /* NULL (registry full): not counted */
    if (g_endpoints && !s->m.endpoints)
        s->m.endpoints = px_metric_get(g_endpoints, &up, NULL);
    px_metric_set(s->m.endpoints, (double)listed);
}

void dns_report_close(dns_state *s)
{
    for (size_t i = 0; i < sizeof s->m.results / sizeof s->m.results[0]; i++)
        px_metric_release(s->m.results[i]);
    px_metric_release(s->m.endpoints);
    s->m = (dns_metrics){0};
}

static const char *via(const dns_state *s)
{
    return s->conf->servers && s->conf->servers[0] ? s->conf->servers : "resolv.conf's servers";
}

static px_status deliver(dns_state *s, dns_list *list)
{
    px_naming_endpoint *eps = calloc(list->n, sizeof *eps);
    if (!eps)
        return PX_RESOURCE_EXHAUSTED;
    for (size_t i = 0; i < list->n; i++)
        eps[i] = (px_naming_endpoint){.address = list->v[i].addr, .weight = list->v[i].weight};
    px_status st = px_naming_set(s->sink, eps, list->n);
    free(eps);
    return st;
}

static void ok(dns_state *s, dns_list *list, uint32_t ttl_s)
{
    const dns_conf *c = s->conf;
    const char *up = px_naming_upstream(s->sink);
    if (s->fails)
        px_log(PX_LOG_INFO, LOG, "upstream %s: %s %s resolves again via %s after %u failed "
               "attempt%s", up, dns_type_name(c->type), c->name, via(s), s->fails,
               s->fails == 1 ? "" : "s");
    s->fails = 0;
    s->backoff_us = c->retry_min;
    if (!dns_list_equal(list, &s->last)) {
        px_status st = deliver(s, list);
        px_log(PX_LOG_INFO, LOG, "upstream %s: %s %s: %zu endpoint%s, first %s (TTL %us)%s", up,
               dns_type_name(c->type), c->name, list->n, list->n == 1 ? "" : "s",
               list->v[0].addr, (unsigned)ttl_s,
               st == PX_OK ? "" : "; some were refused (see above)");
        dns_list_free(&s->last);
        s->last = *list; /* taken over */
        *list = (dns_list){0};
    }
    int64_t after = (int64_t)ttl_s * 1000000;
    after = after < c->ttl_min ? c->ttl_min : after > c->ttl_max ? c->ttl_max : after;
    count(s, R_OK, s->last.n);
    px_naming_io_after(s->refresh, after);
}

static void failed(dns_state *s, int status, const char *why)
{
    const dns_conf *c = s->conf;
    s->fails++;
    int64_t after = s->backoff_us;
    s->backoff_us = after >= c->retry_max / 2 ? c->retry_max : 2 * after;
    /* c-ares tries the next server on SERVFAIL or REFUSED, as a stub resolver should, and
     * reports ARES_ECONNREFUSED when none was left: its "Could not contact DNS servers"
     * would hide that they did answer. */
    if (!why)
        why = status == ARES_ENODATA ? "the answer has no usable records"
              : status == ARES_ECONNREFUSED
                  ? "no server gave an answer (each said SERVFAIL or REFUSED, or refused the "
                    "connection)"
                  : ares_strerror(status);
    px_log(PX_LOG_WARN, LOG, "upstream %s: %s %s via %s: %s; keeping the last list (%zu "
           "endpoint%s), retry in %lld ms", px_naming_upstream(s->sink), dns_type_name(c->type),
           c->name, via(s), why, s->last.n, s->last.n == 1 ? "" : "s",
           (long long)(after / 1000));
    count(s, result_of(status), s->last.n);
    px_naming_io_after(s->refresh, after);
}

void dns_report(dns_state *s, dns_list *list, uint32_t ttl_s, int status, const char *why)
{
    if (status == ARES_SUCCESS && list->n)
        ok(s, list, ttl_s);
    else
        failed(s, status == ARES_SUCCESS ? ARES_ENODATA : status, why);
}
