/* FILTER "metrics": per service and method, on a server or in a client, calls by
 * status, a latency histogram (a server's handling time, a client's end to end),
 * request and response bytes and calls in flight, as Prometheus metrics in the
 * process's registry (px_metrics.h; docs/OPERATIONS.md lists them). The series of a
 * method are found by a lock-free table; the counts go to per-thread cells, so a call
 * takes no lock and allocates nothing once its method has been seen. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <plexus/plexus.h>

#include "mx_methods.h"

typedef struct mx_conf {
    int64_t max_methods;
} mx_conf;

typedef struct mx_state {
    mx_methods methods;
    char *upstream; /* a client's: its upstream's name (the instance's scope) */
} mx_state;

static mx_families g_server, g_client;
static int g_fam_ok;

/* The families, declared once per process (a reload's new instances find them). */
static void declare(void)
{
    static const char *const sl[] = {"service", "method", "code"};
    static const char *const cl[] = {"upstream", "service", "method", "code"};
    const px_metric_type C = PX_METRIC_COUNTER, G = PX_METRIC_GAUGE, H = PX_METRIC_HISTOGRAM;
    mx_families *s = &g_server, *c = &g_client;
    s->calls = px_metric_family_get("plexus_server_calls_total",
                                    "Calls a server answered, by method and status.", C, sl, 3,
                                    NULL, 0, NULL);
    s->seconds = px_metric_family_get("plexus_server_handling_seconds",
                                      "Seconds from a request's admission to its answer.", H, sl,
                                      2, NULL, 0, NULL);
    s->req_bytes = px_metric_family_get("plexus_server_request_bytes_total",
                                        "Encoded request body bytes a server received.", C, sl, 2,
                                        NULL, 0, NULL);
    s->resp_bytes = px_metric_family_get("plexus_server_response_bytes_total",
                                         "Encoded response body bytes a server sent.", C, sl, 2,
                                         NULL, 0, NULL);
    s->in_flight = px_metric_family_get("plexus_server_calls_in_flight",
                                        "Calls a server admitted and has not answered yet.", G,
                                        sl, 2, NULL, 0, NULL);
    c->calls = px_metric_family_get("plexus_client_calls_total",
                                    "Calls a client made that ended, by method and status.", C,
                                    cl, 4, NULL, 0, NULL);
    c->seconds = px_metric_family_get("plexus_client_call_seconds",
                                      "Seconds from a call's start to its outcome (end to end, "
                                      "retries and hedges included).", H, cl, 3, NULL, 0, NULL);
    c->req_bytes = px_metric_family_get("plexus_client_request_bytes_total",
                                        "Encoded request body bytes of a client's calls.", C, cl,
                                        3, NULL, 0, NULL);
    c->resp_bytes = px_metric_family_get("plexus_client_response_bytes_total",
                                         "Encoded response body bytes a client received.", C, cl,
                                         3, NULL, 0, NULL);
    c->in_flight = px_metric_family_get("plexus_client_calls_in_flight",
                                        "Calls a client started that have not ended yet.", G, cl,
                                        3, NULL, 0, NULL);
    g_fam_ok = s->calls && s->seconds && s->req_bytes && s->resp_bytes && s->in_flight &&
               c->calls && c->seconds && c->req_bytes && c->resp_bytes && c->in_flight;
}

static px_status mx_create(const px_module_env *env, const void *conf, void **state,
                           px_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, declare);
    if (!g_fam_ok)
        return px_err_set(err, PX_INTERNAL, "the metrics registry refused the filter's families "
                          "(another module declared one of the names otherwise)");
    const mx_conf *c = conf;
    mx_state *s = calloc(1, sizeof *s);
    if (!s)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    /* A client's instance serves one upstream, named by its scope; a server's scope is
     * "server" and its series have no upstream label. */
    int client = (!env->server_id || !env->server_id[0]) && env->scope && strcmp(env->scope, "server") != 0;
    if (client && !(s->upstream = strdup(env->scope))) {
        free(s);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    }
    if (mx_methods_init(&s->methods, client ? &g_client : &g_server, s->upstream,
                        (size_t)c->max_methods) != 0) {
        free(s->upstream);
        free(s);
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    }
    *state = s;
    return PX_OK;
}

static void mx_destroy(void *state)
{
    mx_state *s = state;
    mx_methods_free(&s->methods);
    free(s->upstream);
    free(s);
}

static px_filter_verdict mx_request(void *state, px_fcall *call)
{
    mx_state *s = state;
    mx_method *m = mx_methods_get(&s->methods, px_fcall_method(call));
    if (m)
        px_metric_add(m->in_flight, 1);
    *px_fcall_data(call) = m;
    return PX_FILTER_CONTINUE;
}

static void mx_done(void *state, px_fcall *call)
{
    mx_state *s = state;
    mx_method *m = *px_fcall_data(call);
    if (!m)
        return;
    px_metric_add(m->in_flight, -1);
    px_metric *c = mx_method_calls(&s->methods, m, px_fcall_status(call, NULL));
    if (c)
        px_metric_add(c, 1);
    px_metric_observe(m->seconds, (double)px_fcall_elapsed_us(call) * 1e-6);
    px_metric_add(m->req_bytes, (int64_t)px_fcall_request_bytes(call));
    px_metric_add(m->resp_bytes, (int64_t)px_fcall_response_bytes(call));
}

static const px_directive mx_directives[] = {
    {.name = "max_methods", .type = PX_DIR_INT, .offset = offsetof(mx_conf, max_methods),
     .def = "1000", .min = "1", .max = "100000",
     .help = "methods with series of their own; calls of further ones count as (other)"},
    {.name = NULL},
};

static const px_filter_ops mx_ops = {
    .sides = PX_FILTER_SERVER | PX_FILTER_CLIENT,
    .on_request = mx_request,
    .on_done = mx_done,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_FILTER,
    .name = "metrics",
    .version = "1.0.0",
    .description = "Prometheus metrics per method: calls by status, latency, bytes, in flight",
    .conf_size = sizeof(mx_conf),
    .directives = mx_directives,
    .create = mx_create,
    .destroy = mx_destroy,
    .ops = &mx_ops,
};
