/* plexus bench -c FILE SERVICE/METHOD JSON: arguments, request building, report. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_rpc.h"
#include "px_conf.h"

/* Seconds: a plain number ("5", "0.5") or a duration with a unit ("500ms", "1m"). */
static const char *px__parse_seconds(const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end != text && *end == '\0' && errno == 0) {
        if (!isfinite(v) || v < 0)
            return "must be a number of seconds >= 0";
        *out = v;
        return NULL;
    }
    int64_t us = 0;
    const char *why = px_parse_duration(text, &us);
    if (why != NULL)
        return why;
    *out = (double)us / 1e6;
    return NULL;
}

static int px__parse_count(const char *opt, const char *text, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || v < min || v > max)
        return px_cli_bad_usage("bench: %s: '%s' is not a whole number in %ld..%ld", opt, text,
                                min, max);
    *out = v;
    return PX_CLI_OK;
}

enum { PX__OPT_CONNS = 256, PX__OPT_INFLIGHT, PX__OPT_DURATION, PX__OPT_WARMUP, PX__OPT_RATE,
       PX__OPT_CALLS, PX__OPT_TIMEOUT, PX__OPT_JSON };

static int px__parse_args(int argc, char **argv, px_bench_args *a)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"upstream", required_argument, NULL, 'u'},
        {"connections", required_argument, NULL, PX__OPT_CONNS},
        {"inflight", required_argument, NULL, PX__OPT_INFLIGHT},
        {"duration", required_argument, NULL, PX__OPT_DURATION},
        {"warmup", required_argument, NULL, PX__OPT_WARMUP},
        {"rate", required_argument, NULL, PX__OPT_RATE},
        {"calls", required_argument, NULL, PX__OPT_CALLS},
        {"timeout", required_argument, NULL, PX__OPT_TIMEOUT},
        {"json", no_argument, NULL, PX__OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    *a = (px_bench_args){.connections = 1, .inflight = 1, .duration_s = 10, .warmup_s = 1};
    int opt, rc;
    long n = 0;
    const char *why;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:u:", longs, NULL)) != -1) {
        switch (opt) {
        case 'c': a->file = optarg; break;
        case 'u': a->upstream = optarg; break;
        case PX__OPT_CONNS:
            /* The config's own bound on connections_per_endpoint. */
            if ((rc = px__parse_count("--connections", optarg, 1, 64, &n)) != PX_CLI_OK)
                return rc;
            a->connections = (int)n;
            break;
        case PX__OPT_INFLIGHT:
            if ((rc = px__parse_count("--inflight", optarg, 1, 65536, &n)) != PX_CLI_OK)
                return rc;
            a->inflight = (int)n;
            break;
        case PX__OPT_CALLS:
            if ((rc = px__parse_count("--calls", optarg, 1, 2000000000L, &n)) != PX_CLI_OK)
                return rc;
            a->calls = (uint64_t)n;
            break;
        case PX__OPT_DURATION:
            if ((why = px__parse_seconds(optarg, &a->duration_s)) != NULL)
                return px_cli_bad_usage("bench: --duration: '%s' %s", optarg, why);
            if (a->duration_s <= 0)
                return px_cli_bad_usage("bench: --duration: '%s' must be longer than 0", optarg);
            break;
        case PX__OPT_WARMUP:
            if ((why = px__parse_seconds(optarg, &a->warmup_s)) != NULL)
                return px_cli_bad_usage("bench: --warmup: '%s' %s", optarg, why);
            break;
        case PX__OPT_RATE: {
            char *end = NULL;
            errno = 0;
            a->rate = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || errno != 0 || !isfinite(a->rate) ||
                a->rate < 1 || a->rate > 1e8)
                return px_cli_bad_usage("bench: --rate: '%s' is not a number of calls per second "
                                        "in 1..1e8", optarg);
            break;
        }
        case PX__OPT_TIMEOUT:
            if ((why = px_parse_duration(optarg, &a->timeout_us)) != NULL)
                return px_cli_bad_usage("bench: --timeout: '%s' %s", optarg, why);
            if (a->timeout_us <= 0)
                return px_cli_bad_usage("bench: --timeout: '%s' must be longer than 0", optarg);
            break;
        case PX__OPT_JSON: a->json_out = 1; break;
        default: return px_cli_opt_error("bench", opt, argv);
        }
    }
    if (a->file == NULL)
        return px_cli_bad_usage("bench: missing -c FILE (the client configuration)");
    if (optind >= argc)
        return px_cli_bad_usage("bench: missing SERVICE/METHOD, e.g. calc.Calculator/Add");
    a->method = argv[optind++];
    if (optind >= argc)
        return px_cli_bad_usage("bench: missing the JSON request of %s (e.g. '{\"a\":1,\"b\":2}')",
                                a->method);
    a->json = argv[optind++];
    if (optind < argc)
        return px_cli_bad_usage("bench: unexpected argument '%s' after the JSON request "
                                "(quote the JSON as one argument)", argv[optind]);
    return PX_CLI_OK;
}

int px_cli_bench_rpc(int argc, char **argv)
{
    px_bench_args a;
    int rc = px__parse_args(argc, argv, &a);
    if (rc != PX_CLI_OK)
        return rc;
    px_cli_request q;
    rc = px_cli_request_open(&q, a.file, a.method, a.json);
    if (rc != PX_CLI_OK)
        return rc;
    px_bench_result *r = calloc(1, sizeof *r);
    if (r == NULL) {
        fprintf(stderr, "plexus: bench: out of memory\n");
        rc = PX_CLI_FAIL;
    } else if (px_bench_run(q.cfg, &a, q.req, q.md->output, r) != 0) {
        rc = PX_CLI_FAIL;
    } else {
        if (a.json_out) {
            if (px_bench_print_json(stdout, &a, r) != 0) {
                fprintf(stderr, "plexus: bench: out of memory printing the JSON report\n");
                rc = PX_CLI_FAIL;
            }
        } else {
            px_bench_print_text(stdout, &a, r);
        }
        if (rc == PX_CLI_OK && r->calls == 0) {
            fprintf(stderr, "plexus: bench: no call of %s succeeded in the measured window\n",
                    a.method);
            rc = PX_CLI_FAIL;
        }
    }
    free(r);
    px_cli_request_close(&q);
    return rc;
}
