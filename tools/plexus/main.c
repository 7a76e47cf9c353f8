/* plexus: the command-line tool; dispatches to one file per subcommand. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void px_cli_usage(FILE *to)
{
    fprintf(to,
            "usage: plexus COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  call -c FILE [-u UPSTREAM] [--timeout DURATION] [--async] [-H KEY=VALUE]...\n"
            "       SERVICE/METHOD [JSON]\n"
            "      call a method of a service named in client.descriptors; the request is\n"
            "      JSON (default {}), the reply is printed as JSON on stdout.\n"
            "      -u UPSTREAM   the upstream under client.upstreams (default: the only one)\n"
            "      --timeout D   overrides the timeout module's budget: 250ms, 2s, ...\n"
            "      --async       go through the async client (px_call_wait), not the pool\n"
            "      -H KEY=VALUE  request metadata, repeatable, in order (--header); keys are\n"
            "                    lowercase a-z 0-9 - _ .; a KEY ending in -bin takes hex\n"
            "                    digits (00ff) or @FILE. Response metadata is printed on\n"
            "                    stderr as 'key: value' lines (-bin values in hex)\n"
            "      e.g. plexus call -c conf/client.yaml calc.Calculator/Add '{\"a\":2,\"b\":3}'\n"
            "           plexus call -c conf/client.yaml -H tenant=blue calc.Calculator/Echo '{}'\n"
            "  modules -c FILE\n"
            "      list the modules the config loads and the directives each accepts\n"
            "  check -c FILE\n"
            "      check the config: prints 'configuration ok', or FILE:LINE:COL: the error\n"
            "  bench -c FILE [-u UPSTREAM] SERVICE/METHOD JSON [--connections C] [--inflight D]\n"
            "        [--duration S] [--warmup S] [--rate R] [--calls N] [--timeout D] [--json]\n"
            "      RPC load: C TCP connections per endpoint (one client, default 1) with D calls in\n"
            "      flight each (default 1) for S seconds (default 10, after 1 s of warm-up);\n"
            "      prints calls/s, latency p50/p90/p99/p99.9/max and errors by status.\n"
            "      --rate R      open loop: R calls/s, latency from each call's intended send\n"
            "                    time (no coordinated omission); C x D caps calls in flight\n"
            "      --calls N     stop after N calls (fixed-work runs for callgrind, malloc counts)\n"
            "      --json        one JSON object on stdout; a progress line shows on a terminal\n"
            "      e.g. plexus bench -c conf/client.yaml calc.Calculator/Add '{\"a\":1,\"b\":2}' \\\n"
            "             --connections 8 --inflight 16 --duration 5\n"
            "  bench codec [-n ITERS] [-r RUNS] [-d DIR] [CODEC.so ...]\n"
            "      encode / decode ns per op and bytes of every codec module on the calc\n"
            "      corpus, beside raw libprotobuf-c and libxml2 (runs plexus-codec-bench)\n"
            "  help\n"
            "      this text\n"
            "\n"
            "exit status: 0 done; 1 the call or the check failed (call: 'STATUS: message'\n"
            "on stderr); 2 bad arguments or bad JSON\n");
}

int main(int argc, char **argv)
{
    /* A server that closes mid-write must surface as a status, not kill the tool. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        px_cli_usage(stdout);
        return PX_CLI_OK;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "call") == 0)
        return px_cli_call(argc - 1, argv + 1);
    if (strcmp(cmd, "modules") == 0)
        return px_cli_modules(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return px_cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return px_cli_bench(argc - 1, argv + 1);
    return px_cli_bad_usage("unknown command '%s' (commands: call, modules, check, bench, help)", cmd);
}
