/* The peer load clients: argument parsing, clocks and the JSON report they share. */
#include "rpc_peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int px__usage(const px_peer_args *a, const char *what, const char *arg)
{
    fprintf(stderr,
            "%s: %s '%s'\n"
            "usage: %s PORT [--connections C] [--inflight D] [--duration S] [--warmup S] "
            "[--calls N]\n",
            a->name, what, arg ? arg : "", a->name);
    return 2;
}

static int px__number(const char *text, double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int px_peer_parse(int argc, char **argv, px_peer_args *a)
{
    const char *slash = strrchr(argv[0], '/');
    *a = (px_peer_args){.name = slash ? slash + 1 : argv[0], .connections = 1, .inflight = 1,
                        .duration_s = 5, .warmup_s = 1};
    double v;
    if (argc < 2 || px__number(argv[1], 1, 65535, &v) != 0)
        return px__usage(a, "the first argument must be the server's port, not", argv[1]);
    a->port = (int)v;
    for (int i = 2; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val == NULL)
            return px__usage(a, "this option needs a value:", opt);
        if (strcmp(opt, "--connections") == 0 && px__number(val, 1, 1024, &v) == 0)
            a->connections = (int)v;
        else if (strcmp(opt, "--inflight") == 0 && px__number(val, 1, 65536, &v) == 0)
            a->inflight = (int)v;
        else if (strcmp(opt, "--duration") == 0 && px__number(val, 0.001, 86400, &v) == 0)
            a->duration_s = v;
        else if (strcmp(opt, "--warmup") == 0 && px__number(val, 0, 86400, &v) == 0)
            a->warmup_s = v;
        else if (strcmp(opt, "--calls") == 0 && px__number(val, 1, 2e9, &v) == 0)
            a->calls = (uint64_t)v;
        else
            return px__usage(a, "unknown option or bad value:", opt);
    }
    return 0;
}

int64_t px_peer_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double px_peer_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void px_peer_print_json(const px_peer_args *a, const char *method, const char *codec,
                        const px_peer_result *r)
{
    const px_hist *h = &r->hist;
    double per_s = r->measured_s > 0 ? (double)h->n / r->measured_s : 0;
    uint64_t ended = h->n + r->errors;
    printf("{\"method\":\"%s\",\"codec\":\"%s\",\"mode\":\"closed\",\"connections\":%d,"
           "\"inflight\":%d,\"warmup_s\":%g,\"duration_s\":%.6f,\"calls\":%llu,"
           "\"calls_per_s\":%.1f,\"calls_total\":%llu,\"latency_us\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
           "\"p99_9\":%.3f,\"max\":%.3f,\"min\":%.3f,\"mean\":%.3f},"
           "\"errors\":{\"total\":%llu},\"client_cpu_us_per_call\":%.4f}\n",
           method, codec, a->connections, a->inflight, a->warmup_s, r->measured_s,
           (unsigned long long)h->n, per_s, (unsigned long long)r->calls_total,
           (double)px_hist_quantile(h, 0.5) / 1e3,
           (double)px_hist_quantile(h, 0.9) / 1e3, (double)px_hist_quantile(h, 0.99) / 1e3,
           (double)px_hist_quantile(h, 0.999) / 1e3, (double)(h->n ? h->max : 0) / 1e3,
           (double)(h->n ? h->min : 0) / 1e3, px_hist_mean(h) / 1e3,
           (unsigned long long)r->errors,
           ended ? r->client_cpu_s * 1e6 / (double)ended : 0.0);
    fflush(stdout);
}
