/* The peer load clients of the RPC comparison (raw, gRPC): shared arguments and the
 * JSON report, with the keys and meaning of `plexus bench --json`. */
#ifndef PX_RPC_PEER_H
#define PX_RPC_PEER_H

#include <stdint.h>
#include "bench_hist.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct px_peer_args {
    const char *name;   /* the program, for messages */
    int port;           /* the server on 127.0.0.1 */
    int connections;    /* TCP connections (default 1) */
    int inflight;       /* calls in flight per connection (default 1) */
    double duration_s;  /* measured window (default 5) */
    double warmup_s;    /* default 1 */
    uint64_t calls;     /* stop after this many calls; 0 = run for the duration */
} px_peer_args;

/**
 * Parses "PORT [--connections C] [--inflight D] [--duration S] [--warmup S]
 * [--calls N]". Returns 0, or 2 after printing the usage and what was wrong.
 */
int px_peer_parse(int argc, char **argv, px_peer_args *a);

/** Monotonic nanoseconds. */
int64_t px_peer_now_ns(void);
/** This process's user + system CPU seconds. */
double px_peer_cpu_s(void);

/** What a run measured: calls that ended OK inside the window, their latency. */
typedef struct px_peer_result {
    px_hist hist;
    uint64_t errors;     /* calls that failed inside the window */
    uint64_t calls_total; /* calls that ended, any status, warm-up included */
    double measured_s;
    double client_cpu_s; /* during the window */
} px_peer_result;

/** Prints the one-line JSON report on stdout. */
void px_peer_print_json(const px_peer_args *a, const char *method, const char *codec,
                        const px_peer_result *r);

#ifdef __cplusplus
}
#endif
#endif
