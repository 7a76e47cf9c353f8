/* plexusd: the generic Plexus server daemon, composed from a YAML file. It is a program
 * of the SDK like any other: the public headers and libplexus.so (plexus/px_server.h). */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "master.h"
#include "notify.h"
#include "plexus/plexus.h"
#include "usage.h"

/* What the signal handler stops, and which signal it was. */
static px_server *px__srv;
static volatile sig_atomic_t px__sig;

static void px__on_signal(int sig)
{
    px__sig = sig;
    px_server_stop(px__srv); /* async-signal-safe: one write to an eventfd */
}

int main(int argc, char **argv)
{
    px_plexusd_args args;
    int rc = px_plexusd_args_parse(argc, argv, &args);
    if (rc >= 0)
        return rc;
    const char *file = args.file;
    int test_only = args.test_only;
    /* SIGINT, SIGTERM and SIGHUP reach the main thread only: blocked here, so that the server's
     * threads inherit the mask, and unblocked in this thread once they run. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
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
    if (px_config_server_processes(cfg) > 1)
        return px_plexusd_master_run(file, cfg);
    px_server *srv = NULL;
    if (px_server_new(cfg, &srv, &err) != PX_OK) {
        fprintf(stderr, "plexusd: %s\n", err.msg);
        px_config_free(cfg);
        return 1;
    }
    char name[96];
    snprintf(name, sizeof name, "plexusd %s", px_server_id(srv));
    px_log_set_name(name);
    if (px_server_start(srv, &err) != PX_OK) {
        fprintf(stderr, "plexusd: %s\n", err.msg);
        px_server_shutdown(srv);
        px_server_free(srv);
        px_config_free(cfg);
        return 1;
    }
    px__srv = srv;
    struct sigaction sa = {.sa_handler = px__on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    px_plexusd_notify_ready("serving");
    for (;;) {
        px_server_wait(srv);
        if (px__sig != SIGHUP)
            break;
        /* SIGHUP: the TLS certificate is read again (the rest of the config is not). */
        px__sig = 0;
        px_plexusd_notify_reloading();
        px_log(PX_LOG_INFO, NULL, "SIGHUP: reloading the TLS certificate");
        if (px_server_reload_tls(srv, &err) != PX_OK && err.status == PX_FAILED_PRECONDITION)
            px_log(PX_LOG_INFO, NULL, "SIGHUP: %s: nothing to reload", err.msg);
        px_plexusd_notify_ready("serving");
    }
    px_plexusd_notify_stopping();
    px_log(PX_LOG_INFO, NULL, "%s: finishing calls in flight, then exiting",
           px__sig == SIGINT ? "SIGINT" : "SIGTERM");
    int stuck = px_server_shutdown(srv);
    if (stuck) {
        /* Threads still in a handler would touch what freeing releases: leave it all to
         * the exit, without running atexit handlers under them. */
        px_log(PX_LOG_INFO, NULL, "stopped, leaving %d thread(s) in a handler behind", stuck);
        fflush(stderr);
        _exit(0);
    }
    px_server_free(srv);
    px_config_free(cfg);
    px_log(PX_LOG_INFO, NULL, "stopped");
    return 0;
}
