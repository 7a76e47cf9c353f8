/* plexus bench: the report, as text for a person or as one JSON object for scripts. */
#include <jansson.h>

#include "bench_rpc.h"

/* "812 ns", "45.1 us", "1.32 ms", "2.50 s". */
static const char *px__dur(char *buf, size_t cap, uint64_t ns)
{
    if (ns < 1000)
        snprintf(buf, cap, "%llu ns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(buf, cap, "%.1f us", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, cap, "%.2f ms", (double)ns / 1e6);
    else
        snprintf(buf, cap, "%.2f s", (double)ns / 1e9);
    return buf;
}

static uint64_t px__errors(const px_bench_result *r)
{
    uint64_t n = 0;
    for (int i = 0; i < PX_STATUS_COUNT; i++)
        n += r->errors[i];
    return n;
}

static double px__per_s(const px_bench_result *r, uint64_t n)
{
    return r->measured_s > 0 ? (double)n / r->measured_s : 0;
}

/* "41234", "7.5", "0.3": whole calls/s once the fraction stops mattering. */
static const char *px__rate(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, v >= 10 || v == 0 ? "%.0f" : "%.1f", v);
    return buf;
}

static double px__cpu_us_per_call(const px_bench_result *r)
{
    uint64_t n = r->calls + px__errors(r);
    return n ? r->client_cpu_s * 1e6 / (double)n : 0;
}

void px_bench_print_text(FILE *to, const px_bench_args *a, const px_bench_result *r)
{
    char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
    uint64_t failed = px__errors(r);
    fprintf(to, "plexus bench: %s on upstream %s (codec %s), %d endpoint%s, %d IO thread%s\n",
            a->method, r->upstream, r->codec, r->endpoints, r->endpoints == 1 ? "" : "s",
            r->io_threads, r->io_threads == 1 ? "" : "s");
    if (a->rate > 0)
        fprintf(to, "  open loop: %.0f calls/s over %d connection%s per endpoint, at most %d in "
                    "flight each; latency from each call's intended send time\n",
                a->rate, a->connections, a->connections == 1 ? "" : "s", a->inflight);
    else
        fprintf(to, "  closed loop: %d connection%s per endpoint x %d in flight\n",
                a->connections, a->connections == 1 ? "" : "s", a->inflight);
    if (r->tcp_connections >= 0)
        fprintf(to, "  TCP connections open at the end: %d\n", r->tcp_connections);
    if (r->templated)
        fprintf(to, "  request    template %s, expanded and decoded for every call\n", a->json);
    fprintf(to, "  warm-up %.2f s, measured %.2f s\n", a->warmup_s, r->measured_s);
    fprintf(to, "  calls      %llu ok, %s calls/s; %llu failed, %s calls/s\n",
            (unsigned long long)r->calls, px__rate(b1, sizeof b1, px__per_s(r, r->calls)),
            (unsigned long long)failed, px__rate(b2, sizeof b2, px__per_s(r, failed)));
    fprintf(to, "  latency    p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)\n",
            px__dur(b1, sizeof b1, px_hist_quantile(&r->hist, 0.50)),
            px__dur(b2, sizeof b2, px_hist_quantile(&r->hist, 0.90)),
            px__dur(b3, sizeof b3, px_hist_quantile(&r->hist, 0.99)),
            px__dur(b4, sizeof b4, px_hist_quantile(&r->hist, 0.999)),
            px__dur(b5, sizeof b5, r->hist.n ? r->hist.max : 0),
            px__dur(b6, sizeof b6, (uint64_t)px_hist_mean(&r->hist)));
    fprintf(to, "  errors     %llu\n", (unsigned long long)failed);
    for (int i = 0; i < PX_STATUS_COUNT; i++)
        if (r->errors[i])
            fprintf(to, "    %-20s %llu  (first: %s)\n", px_status_name((px_status)i),
                    (unsigned long long)r->errors[i], r->first_error[i]);
    if (r->warmup_errors)
        fprintf(to, "  (and %llu failed calls during the warm-up)\n",
                (unsigned long long)r->warmup_errors);
    if (a->rate > 0 && r->late_sends_max)
        fprintf(to, "  calls waiting for a free slot: at most %llu (raise --inflight)\n",
                (unsigned long long)r->late_sends_max);
    fprintf(to, "  client CPU %.2f us per call\n", px__cpu_us_per_call(r));
}

/* json_object_set_new that remembers a failure instead of returning it. */
static void px__set(json_t *o, const char *key, json_t *v, int *bad)
{
    if (v == NULL || json_object_set_new(o, key, v) != 0)
        *bad = 1;
}

static json_t *px__us(uint64_t ns) { return json_real((double)ns / 1e3); }

int px_bench_print_json(FILE *to, const px_bench_args *a, const px_bench_result *r)
{
    int bad = 0;
    json_t *o = json_object(), *lat = json_object(), *err = json_object();
    json_t *by = json_object(), *first = json_object();
    if (!o || !lat || !err || !by || !first) {
        json_decref(o);
        json_decref(lat);
        json_decref(err);
        json_decref(by);
        json_decref(first);
        return -1;
    }
    px__set(o, "method", json_string(a->method), &bad);
    px__set(o, "upstream", json_string(r->upstream), &bad);
    px__set(o, "codec", json_string(r->codec), &bad);
    px__set(o, "mode", json_string(a->rate > 0 ? "open" : "closed"), &bad);
    px__set(o, "connections", json_integer(a->connections), &bad);
    px__set(o, "inflight", json_integer(a->inflight), &bad);
    px__set(o, "rate", a->rate > 0 ? json_real(a->rate) : json_null(), &bad);
    px__set(o, "endpoints", json_integer(r->endpoints), &bad);
    px__set(o, "io_threads", json_integer(r->io_threads), &bad);
    px__set(o, "tcp_connections", json_integer(r->tcp_connections), &bad);
    px__set(o, "warmup_s", json_real(a->warmup_s), &bad);
    px__set(o, "duration_s", json_real(r->measured_s), &bad);
    px__set(o, "calls", json_integer((json_int_t)r->calls), &bad);
    px__set(o, "calls_per_s", json_real(px__per_s(r, r->calls)), &bad);
    px__set(o, "calls_failed", json_integer((json_int_t)px__errors(r)), &bad);
    px__set(o, "failed_per_s", json_real(px__per_s(r, px__errors(r))), &bad);
    px__set(o, "template", r->templated ? json_string(a->json) : json_null(), &bad);
    px__set(o, "calls_total", json_integer((json_int_t)r->calls_total), &bad);
    px__set(lat, "p50", px__us(px_hist_quantile(&r->hist, 0.50)), &bad);
    px__set(lat, "p90", px__us(px_hist_quantile(&r->hist, 0.90)), &bad);
    px__set(lat, "p99", px__us(px_hist_quantile(&r->hist, 0.99)), &bad);
    px__set(lat, "p99_9", px__us(px_hist_quantile(&r->hist, 0.999)), &bad);
    px__set(lat, "max", px__us(r->hist.n ? r->hist.max : 0), &bad);
    px__set(lat, "min", px__us(r->hist.n ? r->hist.min : 0), &bad);
    px__set(lat, "mean", json_real(px_hist_mean(&r->hist) / 1e3), &bad);
    px__set(o, "latency_us", lat, &bad);
    for (int i = 0; i < PX_STATUS_COUNT; i++) {
        if (!r->errors[i])
            continue;
        px__set(by, px_status_name((px_status)i), json_integer((json_int_t)r->errors[i]), &bad);
        px__set(first, px_status_name((px_status)i), json_string(r->first_error[i]), &bad);
    }
    px__set(err, "total", json_integer((json_int_t)px__errors(r)), &bad);
    px__set(err, "by_status", by, &bad);
    px__set(err, "first", first, &bad);
    px__set(o, "errors", err, &bad);
    px__set(o, "warmup_errors", json_integer((json_int_t)r->warmup_errors), &bad);
    if (a->rate > 0)
        px__set(o, "late_sends_max", json_integer((json_int_t)r->late_sends_max), &bad);
    px__set(o, "client_cpu_us_per_call", json_real(px__cpu_us_per_call(r)), &bad);
    char *text = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (text == NULL)
        return -1;
    fprintf(to, "%s\n", text);
    free(text);
    return 0;
}
