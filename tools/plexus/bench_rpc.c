/* plexus bench -c FILE SERVICE/METHOD JSON: arguments, request building, report. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_rpc.h"

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

void px_cli_bench_help(void)
{
    printf("Usage: plexus bench -c FILE [OPTION]... SERVICE/METHOD JSON\n"
           "  or:  plexus bench codec [-n ITERS] [-r RUNS] [-m INDEX] [-w] [-d DIR] [CODEC.so]...\n"
           "RPC load from one client: C connections per endpoint with D calls in flight on\n"
           "each (closed loop), or calls at a fixed rate (open loop), measured for S seconds\n"
           "after a warm-up. Prints successful and failed calls/s, latency p50/p90/p99/\n"
           "p99.9/max, and the failed calls by status with the first message of each.\n"
           "\n"
           "  -c, --config=FILE       the client configuration\n"
           "  -u, --upstream=NAME     the upstream under client.upstreams (default: the\n"
           "                          only one)\n"
           "      --connections=C     TCP connections per endpoint, 1..64 (default 1)\n"
           "      --inflight=D        calls in flight per connection (default 1); with\n"
           "                          --rate, the cap on calls in flight\n"
           "      --duration=S        seconds measured: 5, 0.5, 500ms, 1m (default 10)\n"
           "      --warmup=S          seconds run first and not counted (default 1)\n"
           "      --rate=R            open loop: R calls/s, latency from each call's\n"
           "                          intended send time (no coordinated omission)\n"
           "      --calls=N           stop after N calls (fixed-work runs for callgrind,\n"
           "                          malloc counts)\n"
           "      --timeout=DURATION  overrides the timeout module's budget per call\n"
           "      --json              one JSON object on stdout instead of the text report\n"
           "                          (a progress line shows on stderr when it is a terminal)\n"
           "  -h, --help              print this help and exit\n"
           "  -V, --version           print the version and exit\n"
           "\n"
           "JSON may be a template, expanded for every call (then decoded per call, which\n"
           "the client CPU figure includes):\n"
           "  {{seq}}     the call's number: 0, 1, 2, ...\n"
           "  {{rand}}    a random number in 0..2147483647 (fits any integer field)\n"
           "  {{rand:N}}  a random number in 0..N-1\n"
           "Every '{{' starts a placeholder; an unknown one is refused.\n"
           "\n"
           "'plexus bench codec' times encode and decode of every codec module on the calc\n"
           "corpus instead (it runs plexus-codec-bench: see 'plexus bench codec --help').\n"
           "\n"
           "Examples:\n"
           "  plexus bench -c conf/client.yaml calc.Calculator/Add '{\"a\":1,\"b\":2}' \\\n"
           "      --connections 8 --inflight 16 --duration 5\n"
           "  plexus bench -c conf/client.yaml calc.Calculator/Echo \\\n"
           "      '{\"f_string\":\"user{{rand:1000}}\"}' --calls 10000\n"
           "\n"
           "Exit status: 0 done, and some call succeeded; 1 no call succeeded, or the\n"
           "configuration or the client failed; 2 bad arguments, an unknown method, bad\n"
           "JSON or a bad template.\n");
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
        PX_CLI_STD_LONGS,
        {NULL, 0, NULL, 0},
    };
    *a = (px_bench_args){.connections = 1, .inflight = 1, .duration_s = 10, .warmup_s = 1};
    int opt, rc;
    long n = 0;
    const char *why;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:u:hV", longs, NULL)) != -1) {
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
        default: return px_cli_std_option("bench", opt, argv, px_cli_bench_help);
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

/* A template's widest expansion (every {{rand}} at its largest, {{seq}} at the last
 * call of --calls) must decode too: a field too narrow for it is refused up front, not
 * found as failed calls in the report. */
static int px__probe(const px_cli_request *q, const px_bench_tpl *t, const px_bench_args *a)
{
    char *text = malloc(t->max_len + 1);
    if (text == NULL) {
        fprintf(stderr, "plexus: bench: out of memory\n");
        return PX_CLI_FAIL;
    }
    size_t len = px_bench_tpl_expand_bound(t, a->calls ? a->calls - 1 : 0, 1, text);
    ProtobufCMessage *m = NULL;
    px_err err;
    px_err_clear(&err);
    int rc = PX_CLI_OK;
    if (q->json.ops->decode(q->json.state, q->md->input, (const uint8_t *)text, len, &m, &err) ==
        PX_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
    } else {
        fprintf(stderr, "plexus: bench: the request template with its largest numbers, %s, is "
                        "bad JSON for %s: %s (a smaller N in {{rand:N}}?)\n",
                text, q->md->input->name, err.msg);
        rc = PX_CLI_USAGE;
    }
    free(text);
    return rc;
}

/* The request: its template parsed, the config loaded, and decoded: a template with
 * every number at 0, then at its largest (the same messages every run). */
static int px__request_open(const px_bench_args *a, px_bench_tpl *tpl, px_cli_request *q)
{
    char why[300];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (px_bench_tpl_parse(tpl, a->json, seed, why, sizeof why) != 0)
        return px_cli_bad_usage("bench: the JSON request '%s': %s", a->json, why);
    char *first = malloc(tpl->max_len + 1);
    if (first == NULL) {
        px_bench_tpl_free(tpl);
        fprintf(stderr, "plexus: bench: out of memory\n");
        return PX_CLI_FAIL;
    }
    px_bench_tpl_expand_bound(tpl, 0, 0, first);
    int rc = px_cli_request_method(q, a->file, a->method);
    if (rc == PX_CLI_OK && (rc = px_cli_request_decode(q, first)) != PX_CLI_OK &&
        tpl->n_fields > 0)
        fprintf(stderr, "plexus: bench: (that is the request template with every number at 0: "
                        "%s)\n", first);
    free(first);
    if (rc == PX_CLI_OK && tpl->n_fields > 0)
        rc = px__probe(q, tpl, a);
    if (rc != PX_CLI_OK)
        px_cli_request_close(q);
    if (rc != PX_CLI_OK)
        px_bench_tpl_free(tpl);
    return rc;
}

int px_cli_bench_rpc(int argc, char **argv)
{
    px_bench_args a;
    int rc = px__parse_args(argc, argv, &a);
    if (rc != PX_CLI_OK)
        return rc;
    px_cli_request q;
    px_bench_tpl tpl;
    rc = px__request_open(&a, &tpl, &q);
    if (rc != PX_CLI_OK)
        return rc;
    px_bench_result *r = calloc(1, sizeof *r);
    if (r == NULL) {
        fprintf(stderr, "plexus: bench: out of memory\n");
        rc = PX_CLI_FAIL;
    } else if (px_bench_run(&q, &tpl, &a, r) != 0) {
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
    px_bench_tpl_free(&tpl);
    return rc;
}
