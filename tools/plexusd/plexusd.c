/* plexusd: the generic Plexus server daemon, composed from a YAML file. It is a program
 * of the SDK like any other: the public headers and libplexus.so (plexus/px_server.h). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "master.h"
#include "plexus/plexus.h"
#include "pidfile.h"
#include "serve.h"
#include "usage.h"

int main(int argc, char **argv)
{
    px_plexusd_args args;
    int rc = px_plexusd_args_parse(argc, argv, &args);
    if (rc >= 0)
        return rc;
    const char *file = args.file;
    int test_only = args.test_only;
    signal(SIGPIPE, SIG_IGN);
    /* Large buffers (frames, replies, decoded requests past 256 KiB) come from mmap and go
     * back to the system when freed, and the heap's free top is trimmed past 1 MiB. By
     * default glibc raises both thresholds after the first large free (up to 32 and 64
     * MiB), so a flood of large requests would leave its memory resident for good. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    /* A server holds a descriptor per client: take the hard limit, not the default 1024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    px_err err = {0};
    px_config *cfg = NULL;
    if (px_config_load(file, &cfg, &err) != PX_OK) {
        fprintf(stderr, "plexusd: %s%s\n", args.signal ? "nothing signalled: " : "", err.msg);
        return 1;
    }
    if (!px_config_has_server(cfg)) {
        fprintf(stderr, "plexusd: %s: no server: section to run\n", file);
        px_config_free(cfg);
        return 1;
    }
    if (test_only) {
        printf("configuration ok\n");
        px_config_free(cfg);
        return 0;
    }
    if (args.signal) {
        /* The file was read first: a reload it would refuse is said here, unsent. */
        rc = pxd_signal(cfg, args.signal);
        px_config_free(cfg);
        return rc;
    }
    if (px_config_server_processes(cfg) > 1)
        return px_plexusd_master_run(file, cfg);
    return pxd_serve(file, cfg);
}
