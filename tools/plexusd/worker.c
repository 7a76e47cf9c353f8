/* plexusd: a worker process. The master forked it with the config loaded and the
 * listening sockets open; it builds its own px_server from them, so a crash stays in this
 * process while the sockets (and connections queued on them) stay open in the master. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "notify.h"
#include "worker.h"

static px_server *px__srv;
/* Written by the signal handler (main thread) and the channel thread, read by both:
 * atomic, which a handler may use too (lock-free int). */
static int px__sig;

static void px__on_signal(int sig)
{
    __atomic_store_n(&px__sig, sig, __ATOMIC_RELAXED);
    px_server_stop(px__srv); /* async-signal-safe: one write to an eventfd */
}

/* Answers the master's metrics requests until the channel closes: EOF is the master
 * gone (or this worker shutting the channel down to end the thread). */
static void *px__channel_run(void *arg)
{
    px_chan_serve(*(int *)arg);
    int none = 0; /* a signal that came first names the reason */
    __atomic_compare_exchange_n(&px__sig, &none, SIGTERM, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    px_server_stop(px__srv);
    return NULL;
}

static const char *px__signame(int sig)
{
    return sig == SIGQUIT ? "SIGQUIT" : sig == SIGINT ? "SIGINT" : "SIGTERM";
}

int px_plexusd_worker_run(const px_config *cfg, int fd, int slot, pid_t master)
{
    /* The master may die without a word (kill -9): the worker then drains and exits
     * instead of serving on unsupervised. The check after prctl covers a master that died
     * before it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)
        return 0;
    px_plexusd_notify_forget(); /* the master alone speaks to systemd */
    char name[96];
    snprintf(name, sizeof name, "plexusd worker %d", slot);
    px_log_set_name(name);

    /* The master's mask (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD blocked) is inherited:
     * the server's threads keep it for the stop signals, this thread takes those once they
     * run. SIGCHLD goes back to normal for a handler's children; SIGHUP is ignored, a
     * reload is the master's (it starts new workers). */
    signal(SIGCHLD, SIG_DFL);
    signal(SIGHUP, SIG_IGN);
    sigset_t other;
    sigemptyset(&other);
    sigaddset(&other, SIGCHLD);
    sigaddset(&other, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &other, NULL);
    px_err err = {0};
    px_server *srv = NULL;
    if (px_server_new(cfg, &srv, &err) != PX_OK) {
        px_log(PX_LOG_ERROR, NULL, "%s", err.msg);
        return 1;
    }
    /* The server has its own descriptors of the master's sockets now. The copy of the
     * table this process inherited goes, so that once this worker stops accepting it holds
     * no listening socket open: when every process has let go, a new connection is
     * refused (a client retries it elsewhere) instead of waiting in a queue nobody reads. */
    px_server_release_listeners(NULL);
    snprintf(name, sizeof name, "plexusd %s worker %d", px_server_id(srv), slot);
    px_log_set_name(name);
    if (px_server_start(srv, &err) != PX_OK) {
        px_log(PX_LOG_ERROR, NULL, "%s", err.msg);
        px_server_shutdown(srv);
        px_server_free(srv);
        return 1;
    }
    px__srv = srv;
    struct sigaction sa = {.sa_handler = px__on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    pthread_t chan;
    int chan_ok = pthread_create(&chan, NULL, px__channel_run, &fd) == 0;
    if (!chan_ok || px_chan_send(fd, PX_CHAN_READY, 0, NULL, 0) != 0)
        px_server_stop(srv); /* no master to serve for */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGQUIT);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    px_server_wait(srv);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    int sig = __atomic_load_n(&px__sig, __ATOMIC_RELAXED);
    px_log(PX_LOG_INFO, NULL, "%s: finishing calls in flight, then exiting",
           px__signame(sig ? sig : SIGTERM));
    int stuck = px_server_shutdown(srv);
    /* Ends the channel thread (its read returns 0) before what it uses goes. */
    shutdown(fd, SHUT_RDWR);
    if (chan_ok)
        pthread_join(chan, NULL);
    close(fd);
    if (stuck) {
        px_log(PX_LOG_INFO, NULL, "stopped, leaving %d thread(s) in a handler behind", stuck);
        fflush(stderr);
        _exit(0);
    }
    px_server_free(srv);
    px_log(PX_LOG_INFO, NULL, "stopped");
    return 0;
}
