/* plexusd: the generic Plexus server daemon, composed from a YAML file. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "plexus/plexus.h"
#include "px_config_int.h"
#include "px_log.h"
#include "px_server.h"
#include "usage.h"

int main(int argc, char **argv)
{
    px_plexusd_args args;
    int rc = px_plexusd_args_parse(argc, argv, &args);
    if (rc >= 0)
        return rc;
    const char *file = args.file;
    int test_only = args.test_only;
    /* Signals are taken synchronously by this thread; IO threads inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
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
        fprintf(stderr, "plexusd: %s\n", err.msg);
        return 1;
    }
    if (!cfg->server.present) {
        fprintf(stderr, "plexusd: %s: no server: section to run\n", file);
        px_config_free(cfg);
        return 1;
    }
    if (test_only) {
        printf("configuration ok\n");
        px_config_free(cfg);
        return 0;
    }
    char name[96];
    snprintf(name, sizeof name, "plexusd[%s]", cfg->server.id);
    px_log_set_name(name);
    px_server *srv = NULL;
    if (px_server_new(cfg, &srv, &err) != PX_OK || px_server_start(srv, &err) != PX_OK) {
        fprintf(stderr, "plexusd: %s\n", err.msg);
        px_server_free(srv);
        px_config_free(cfg);
        return 1;
    }
    /* The address bound, as resolved at load: a host name's shows here. */
    const px_addr *la = &cfg->server.listen_addr;
    char bound[PX_NET_NAME_MAX];
    px_net_name((const struct sockaddr *)&la->ss, la->len, bound, sizeof bound);
    if (strcmp(bound, cfg->server.listen) == 0)
        px_log_info("listening on %s (%d IO threads)", bound, cfg->server.io_threads);
    else
        px_log_info("listening on %s = %s (%d IO threads)", cfg->server.listen, bound,
                    cfg->server.io_threads);
    int sig = 0;
    sigwait(&sigs, &sig);
    px_log_info("%s: finishing calls in flight, then exiting", sig == SIGINT ? "SIGINT" : "SIGTERM");
    int stuck = px_server_shutdown(srv);
    if (stuck) {
        /* Threads still in a handler would touch what freeing releases: leave it all to
         * the exit, without running atexit handlers under them. */
        px_log_info("stopped, leaving %d thread(s) in a handler behind", stuck);
        fflush(stderr);
        _exit(0);
    }
    px_server_free(srv);
    px_config_free(cfg);
    px_log_info("stopped");
    return 0;
}
