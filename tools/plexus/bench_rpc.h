/* plexus bench (RPC load): what its files share: the arguments, the run and its results. */
#ifndef PX_BENCH_RPC_H
#define PX_BENCH_RPC_H

#include <stdint.h>
#include <stdio.h>

#include "bench_hist.h"
#include "bench_template.h"
#include "cli.h"

typedef struct px_bench_args {
    const char *file;     /* -c: the client configuration */
    const char *upstream; /* -u: NULL = the config's only upstream */
    const char *method;   /* "package.Service/Method" */
    const char *json;     /* the request: JSON, or a template expanded per call */
    int connections;      /* TCP connections per endpoint */
    int inflight;         /* calls in flight per connection (closed loop); the cap (open loop) */
    double duration_s;    /* measured window */
    double warmup_s;      /* calls run but are not counted */
    double rate;          /* open loop: calls/s over all connections; 0 = closed loop */
    uint64_t calls;       /* stop after this many calls (counting runs); 0 = no limit */
    int64_t timeout_us;   /* per-call budget override; 0 = the timeout module's */
    int json_out;         /* print one JSON object instead of the text report */
} px_bench_args;

typedef struct px_bench_result {
    const char *upstream;     /* the upstream actually used */
    const char *codec;        /* its codec module */
    int endpoints;
    int io_threads;
    double measured_s;        /* the window actually measured */
    uint64_t calls;           /* calls that ended OK inside the window */
    uint64_t calls_total;     /* calls that ended, any status, warm-up and drain included */
    px_hist hist;             /* their latency, ns */
    uint64_t errors[PX_STATUS_COUNT]; /* calls that ended with a status inside the window */
    char first_error[PX_STATUS_COUNT][200]; /* the first message of each status */
    uint64_t warmup_errors;   /* failed calls during the warm-up (not in errors[]) */
    int templated;            /* the request is a template, expanded and decoded per call */
    uint64_t late_sends_max;  /* open loop: most calls ever waiting for a free slot */
    double client_cpu_s;      /* this process's user+system CPU during the window */
    int tcp_connections;      /* established TCP connections of this process at the end; -1 unknown */
} px_bench_result;

/**
 * Runs the load: a client of the upstream (connections_per_endpoint set to
 * a->connections) calling a->method with q's request, or when tpl has placeholders
 * with tpl expanded for each call and decoded with q's JSON codec. Fills r.
 * Returns 0, or -1 after printing why on stderr.
 */
int px_bench_run(const px_cli_request *q, const px_bench_tpl *tpl, const px_bench_args *a,
                 px_bench_result *r);

/** The human report (bench_rpc_report.c). */
void px_bench_print_text(FILE *to, const px_bench_args *a, const px_bench_result *r);
/** One JSON object on one line; returns 0, or -1 when out of memory. */
int px_bench_print_json(FILE *to, const px_bench_args *a, const px_bench_result *r);

/** Established TCP connections (IPv4 and IPv6) owned by this process; -1 if /proc cannot tell. */
int px_bench_tcp_count(void);

#endif
