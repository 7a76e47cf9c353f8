/* NAMING "dns": the module's configuration and per-upstream state, shared by its files. */
#ifndef DNS_STATE_H
#define DNS_STATE_H

#include <stdint.h>
#include <plexus/plexus.h>

#include "dns_list.h"
#include "dns_loop.h"

enum { DNS_A, DNS_AAAA, DNS_ANY_IP, DNS_SRV };

typedef struct dns_conf {
    char *name;
    int type;       /* DNS_* */
    int srv_target; /* DNS_A, DNS_AAAA or DNS_ANY_IP: how SRV targets are resolved */
    int64_t port;   /* A/AAAA/ANY_IP only */
    char *servers;  /* NULL: resolv.conf */
    int64_t ttl_min, ttl_max, retry_min, retry_max, query_timeout, attempts;
} dns_conf;

typedef struct dns_round dns_round;

/** The results' series of one upstream (dns_report.c); handles taken on first use. */
typedef struct dns_metrics {
    px_metric *results[8];
    px_metric *endpoints;
} dns_metrics;

typedef struct dns_state {
    const dns_conf *conf;
    px_naming_sink *sink;
    dns_loop loop;
    px_naming_io *refresh; /* the next resolution: after a TTL, or a backoff */
    dns_round *round;      /* the resolution in flight, NULL between two */
    dns_list last;         /* what was delivered last */
    int64_t backoff_us;    /* the next retry's delay after a failure */
    unsigned fails;        /* failed resolutions since the last good one */
    int stopping;
    dns_metrics m;
} dns_state;

/** "A", "AAAA", "ANY_IP", "SRV". */
const char *dns_type_name(int type);

/** Starts a resolution of s->conf->name (s->round is set until it ends); its outcome
 *  goes to dns_report, possibly before this returns. Naming thread. */
void dns_resolve(dns_state *s);

/**
 * One resolution's outcome: status ARES_SUCCESS with a non-empty list and the smallest
 * TTL seen (seconds), or a c-ares status (ARES_ENODATA: no usable records) and why.
 * Delivers or keeps the list, logs, counts, and arms the next resolution.
 */
void dns_report(dns_state *s, dns_list *list, uint32_t ttl_s, int status, const char *why);
/** Releases the metric handles. */
void dns_report_close(dns_state *s);

#endif
