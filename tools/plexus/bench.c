/* plexus bench codec [ARGS]: runs plexus-codec-bench, which is built next to this tool;
 * any other `plexus bench ...` is the RPC load generator (bench_rpc.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define PX__BENCH_TOOL "plexus-codec-bench"

int px_cli_bench(int argc, char **argv)
{
    if (argc < 2)
        return px_cli_bad_usage("bench: name what to measure (bench codec, or bench -c FILE "
                                "SERVICE/METHOD JSON for RPC load)");
    if (strcmp(argv[1], "codec") != 0)
        return px_cli_bench_rpc(argc, argv);
    /* The bench links the codec corpus and libxml2, which the CLI itself does not need:
     * it stays its own program, found in the directory of this executable. */
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) {
        fprintf(stderr, "plexus: bench: cannot find this program's directory: %s\n", strerror(errno));
        return PX_CLI_FAIL;
    }
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    size_t dir_len = slash != NULL ? (size_t)(slash - path) + 1 : 0;
    if (dir_len + sizeof PX__BENCH_TOOL > sizeof path) {
        fprintf(stderr, "plexus: bench: the path %s is too long\n", path);
        return PX_CLI_FAIL;
    }
    memcpy(path + dir_len, PX__BENCH_TOOL, sizeof PX__BENCH_TOOL);
    argv[1] = path; /* plexus-codec-bench [ARGS] */
    execv(path, argv + 1);
    fprintf(stderr, "plexus: bench: cannot run %s: %s (it is built, and installed, next to plexus)\n",
            path, strerror(errno));
    return PX_CLI_FAIL;
}
