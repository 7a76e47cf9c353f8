/* NAMING "dns": an upstream's endpoints from DNS, kept current by the records' TTLs.
 * A / AAAA / ANY_IP records of a name with the configured port, or SRV records (their
 * lowest priority that resolves, with the records' ports and weights). c-ares runs on
 * the naming thread's loop (dns_loop.c); failures keep the last good list and retry
 * with a doubling backoff (dns_report.c). */
#include <ares.h>
#include <stdlib.h>
#include <string.h>

#include "dns_state.h"

static const char *const dns_types[] = {"A", "AAAA", "ANY_IP", "SRV", NULL};
static const char *const dns_ip_types[] = {"A", "AAAA", "ANY_IP", NULL};

static const px_directive dns_directives[] = {
    {.name = "name", .type = PX_DIR_STRING, .offset = offsetof(dns_conf, name), .required = 1,
     .help = "the name to resolve: calc.svc.example. (A/AAAA) or _calc._tcp.svc.example. (SRV)"},
    {.name = "type", .type = PX_DIR_ENUM, .offset = offsetof(dns_conf, type), .def = "A",
     .enum_values = dns_types,
     .help = "A, AAAA, ANY_IP (A and AAAA) with `port`, or SRV (the records carry the ports)"},
    {.name = "port", .type = PX_DIR_INT, .offset = offsetof(dns_conf, port), .def = "0",
     .min = "0", .max = "65535", .help = "the endpoints' port: required with A, AAAA, ANY_IP"},
    {.name = "srv_target", .type = PX_DIR_ENUM, .offset = offsetof(dns_conf, srv_target),
     .def = "ANY_IP", .enum_values = dns_ip_types,
     .help = "SRV: the records an SRV target's addresses are looked up as"},
    {.name = "servers", .type = PX_DIR_STRING, .offset = offsetof(dns_conf, servers),
     .help = "DNS servers, \"127.0.0.1:5353,[::1]:53\"; default: /etc/resolv.conf's"},
    {.name = "ttl_min", .type = PX_DIR_DURATION, .offset = offsetof(dns_conf, ttl_min),
     .def = "1s", .min = "10ms", .max = "1h", .help = "the soonest re-resolution after a success"},
    {.name = "ttl_max", .type = PX_DIR_DURATION, .offset = offsetof(dns_conf, ttl_max),
     .def = "5m", .min = "10ms", .max = "24h", .help = "the latest re-resolution after a success"},
    {.name = "retry_min", .type = PX_DIR_DURATION, .offset = offsetof(dns_conf, retry_min),
     .def = "500ms", .min = "10ms", .max = "1h", .help = "the first retry's delay after a failure"},
    {.name = "retry_max", .type = PX_DIR_DURATION, .offset = offsetof(dns_conf, retry_max),
     .def = "30s", .min = "10ms", .max = "1h", .help = "the delay doubles up to this"},
    {.name = "query_timeout", .type = PX_DIR_DURATION, .offset = offsetof(dns_conf, query_timeout),
     .def = "2s", .min = "10ms", .max = "1m", .help = "one try of a query (c-ares' timeout)"},
    {.name = "attempts", .type = PX_DIR_INT, .offset = offsetof(dns_conf, attempts), .def = "2",
     .min = "1", .max = "5", .help = "tries of a query over the servers (c-ares' tries)"},
    {.name = NULL},
};

static px_status dns_create(const px_module_env *env, const void *conf, void **state, px_err *err)
{
    (void)env;
    const dns_conf *c = conf;
    size_t nl = c->name ? strlen(c->name) : 0;
    if (nl == 0 || nl > 254)
        return px_err_set(err, PX_INVALID_ARGUMENT, "name: a DNS name of 1 to 254 characters "
                                                    "is needed");
    if (c->type != DNS_SRV && c->port == 0)
        return px_err_set(err, PX_INVALID_ARGUMENT, "port is required with type %s (A and AAAA "
                          "records carry no port)", dns_type_name(c->type));
    if (c->type == DNS_SRV && c->port != 0)
        return px_err_set(err, PX_INVALID_ARGUMENT, "port is not used with type SRV (each record "
                                                    "carries its port): leave it out");
    if (c->ttl_min > c->ttl_max)
        return px_err_set(err, PX_INVALID_ARGUMENT, "ttl_min is above ttl_max");
    if (c->retry_min > c->retry_max)
        return px_err_set(err, PX_INVALID_ARGUMENT, "retry_min is above retry_max");
    dns_loop check; /* the servers as c-ares reads them, refused here rather than later */
    px_status st = dns_loop_init(&check, NULL, c->query_timeout, (int)c->attempts, c->servers, err);
    if (st != PX_OK)
        return st;
    dns_loop_close(&check);
    dns_state *s = calloc(1, sizeof *s);
    if (!s)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    s->conf = c;
    *state = s;
    return PX_OK;
}

static void dns_destroy(void *state)
{
    free(state);
}

static void on_refresh(void *arg)
{
    dns_state *s = arg;
    if (s->round) /* one resolution at a time */
        return;
    dns_resolve(s);
    dns_loop_kick(&s->loop);
}

static int round_over(void *arg)
{
    return ((dns_state *)arg)->round == NULL;
}

/*
 * The first resolution runs here, blocking, so that the client is made with its list:
 * start runs on the naming thread, whose loop cannot turn until it returns, so it polls
 * c-ares' sockets itself, for at most as long as the queries' own timeouts allow. A
 * failure is only a warning: the client is made, its calls fail UNAVAILABLE until a
 * retry succeeds.
 */
static px_status dns_start(void *state, px_naming_sink *sink, px_err *err)
{
    dns_state *s = state;
    const dns_conf *c = s->conf;
    s->sink = sink;
    s->backoff_us = c->retry_min;
    px_status st = dns_loop_init(&s->loop, sink, c->query_timeout, (int)c->attempts, c->servers,
                                 err);
    if (st != PX_OK)
        return st;
    if (!(s->refresh = px_naming_io_timer(sink, on_refresh, s, err))) {
        dns_loop_close(&s->loop);
        return err->status;
    }
    /* c-ares doubles a try's timeout at each round over the servers. */
    int64_t bound = c->query_timeout * ((1 << c->attempts) - 1) * (c->type == DNS_SRV ? 2 : 1);
    dns_resolve(s);
    dns_loop_run_until(&s->loop, round_over, s, dns_now_us() + bound + 100000);
    return PX_OK;
}

static void dns_stop(void *state)
{
    dns_state *s = state;
    s->stopping = 1;
    dns_loop_close(&s->loop); /* the round in flight ends (ARES_EDESTRUCTION), unreported */
    if (s->refresh)
        px_naming_io_close(s->refresh);
    s->refresh = NULL;
    dns_report_close(s);
    dns_list_free(&s->last);
}

static const px_naming_ops dns_ops = {
    .start = dns_start,
    .stop = dns_stop,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_NAMING,
    .name = "dns",
    .version = "1.0.0",
    .description = "endpoints from DNS (A, AAAA or SRV records, c-ares), re-resolved per TTL",
    .conf_size = sizeof(dns_conf),
    .directives = dns_directives,
    .create = dns_create,
    .destroy = dns_destroy,
    .ops = &dns_ops,
};
