/* plexusd as one process: the server, and its reload in place. A reload builds a new
 * server generation from the file read again while the old one serves; the new one
 * accepts on the very sockets of the old (the process's kept listeners), then the old one
 * stops accepting, tells its clients GOAWAY and finishes its calls in flight on a thread
 * of its own, and is freed with its config, which closes the modules only it used.
 * docs/ARCHITECTURE.md says why reloads are made this way. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "pidfile.h"
#include "serve.h"

typedef struct pxd_gen {
    px_config *cfg;
    px_server *srv;
    px_registration *reg;   /* server.register:, while the generation is the one serving */
    unsigned number;
    pthread_t retire;       /* its drain, once a newer generation serves */
    int done;               /* atomic: the drain is over (stuck: threads left behind) */
    int stuck;
    struct pxd_gen *next;   /* the generations still draining */
} pxd_gen;

static int pxd__wake = -1; /* eventfd: a signal came */
static volatile sig_atomic_t pxd__stop, pxd__hup;

static void pxd__on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP)
        pxd__hup = 1;
    else
        pxd__stop = sig;
    uint64_t one = 1;
    if (write(pxd__wake, &one, sizeof one) < 0) { /* the count is full: a wake-up is due */ }
    errno = saved;
}

static sigset_t pxd__sigs(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    return s;
}

/* Starts srv with the signals blocked, so that its threads inherit the mask and the
 * signals reach the main thread. */
static px_status pxd__start(px_server *srv, px_err *err)
{
    sigset_t sigs = pxd__sigs(), old;
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    px_status st = px_server_start(srv, err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}

static void pxd__name(const px_server *srv)
{
    char name[96];
    snprintf(name, sizeof name, "plexusd %s", px_server_id(srv));
    px_log_set_name(name);
}

static void *pxd__retire_main(void *arg)
{
    pxd_gen *g = arg;
    g->stuck = px_server_shutdown(g->srv);
    if (g->stuck) {
        px_log(PX_LOG_WARN, NULL, "generation %u: %d thread(s) still in a handler: it stays "
               "in memory until the process exits", g->number, g->stuck);
    } else {
        px_server_free(g->srv);
        px_config_free(g->cfg); /* closes the modules no other generation uses */
        px_log(PX_LOG_INFO, NULL, "generation %u: drained and freed", g->number);
    }
    __atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Joins the retired generations whose drain is over (all of them when wait is set);
 * returns how many left threads behind. */
static int pxd__reap(pxd_gen **list, int wait)
{
    int stuck = 0;
    for (pxd_gen **p = list; *p;) {
        pxd_gen *g = *p;
        if (!wait && !__atomic_load_n(&g->done, __ATOMIC_ACQUIRE)) {
            p = &g->next;
            continue;
        }
        pthread_join(g->retire, NULL);
        stuck += g->stuck;
        *p = g->next;
        free(g);
    }
    return stuck;
}

/* A new generation from file, serving; NULL when the file or the server is refused
 * (logged: the running generation goes on as it was). */
static pxd_gen *pxd__generation(const char *file, const pxd_gen *cur)
{
    px_err err = {0};
    px_config *cfg = NULL;
    if (px_config_load(file, &cfg, &err) != PX_OK) {
        px_log(PX_LOG_ERROR, NULL, "reload refused: %s; generation %u keeps serving", err.msg,
               cur->number);
        return NULL;
    }
    px_server *srv = NULL;
    if (!px_config_has_server(cfg))
        px_err_set(&err, PX_INVALID_ARGUMENT, "%s: no server: section to run", file);
    else if (px_server_keep_listeners(cfg, &err) == PX_OK &&
             px_server_new(cfg, &srv, &err) == PX_OK && pxd__start(srv, &err) == PX_OK) {
        pxd_gen *g = calloc(1, sizeof *g);
        if (g) {
            *g = (pxd_gen){.cfg = cfg, .srv = srv, .number = cur->number + 1};
            return g;
        }
        px_err_set(&err, PX_RESOURCE_EXHAUSTED, "out of memory");
    }
    px_log(PX_LOG_ERROR, NULL, "reload refused: %s; generation %u keeps serving", err.msg,
           cur->number);
    if (srv) {
        px_server_shutdown(srv);
        px_server_free(srv);
    }
    px_server_release_listeners(cur->cfg); /* what this attempt bound goes again */
    px_config_free(cfg);
    return NULL;
}

/* Publishes g in the registry its config names. A registration that cannot start is
 * no reason to stop serving: logged, and the server serves unregistered (a module that
 * cannot reach its registry yet starts anyway and keeps trying on its own). */
static void pxd__register(pxd_gen *g)
{
    px_err err = {0};
    /* The module's threads (the registry client's) inherit the mask: signals stay the
     * main thread's. */
    sigset_t sigs = pxd__sigs(), old;
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    px_status st = px_registration_start(g->cfg, g->srv, &g->reg, &err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (st != PX_OK)
        px_log(PX_LOG_WARN, NULL, "generation %u serves unregistered: %s", g->number, err.msg);
}

/* The reloads' own series (a master adds the same ones to its workers' sum). */
static px_metric *pxd__reloads[2]; /* result ok, failed */
static px_metric *pxd__reload_ok_at;

static void pxd__metrics_init(void)
{
    const char *result[] = {"result"};
    px_metric_family *f = px_metric_family_get(
        "plexus_config_reloads_total", "Reloads of the configuration (SIGHUP), by result.",
        PX_METRIC_COUNTER, result, 1, NULL, 0, NULL);
    const char *ok[] = {"ok"}, *failed[] = {"failed"};
    pxd__reloads[0] = f ? px_metric_get(f, ok, NULL) : NULL;
    pxd__reloads[1] = f ? px_metric_get(f, failed, NULL) : NULL;
    f = px_metric_family_get("plexus_config_last_reload_success_timestamp_seconds",
                             "When the configuration serving was loaded (Unix seconds).",
                             PX_METRIC_GAUGE, NULL, 0, NULL, 0, NULL);
    pxd__reload_ok_at = f ? px_metric_get(f, NULL, NULL) : NULL;
}

static void pxd__metrics_loaded(int ok)
{
    if (ok && pxd__reload_ok_at) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        px_metric_set(pxd__reload_ok_at, (double)ts.tv_sec + ts.tv_nsec / 1e9);
    }
}

/* SIGHUP: the next generation serves and cur drains on a thread; returns the one serving. */
static pxd_gen *pxd__reload(const char *file, pxd_gen *cur, pxd_gen **retiring)
{
    px_log(PX_LOG_INFO, NULL, "SIGHUP: reading %s again", file);
    pxd_gen *g = pxd__generation(file, cur);
    if (pxd__reloads[g != NULL ? 0 : 1])
        px_metric_add(pxd__reloads[g != NULL ? 0 : 1], 1);
    pxd__metrics_loaded(g != NULL);
    if (!g)
        return cur;
    px_server_release_listeners(g->cfg); /* the sockets only cur listened on */
    if (px_config_server_processes(g->cfg) > 1)
        px_log(PX_LOG_WARN, NULL, "server.processes: %d takes effect at a restart: this "
               "plexusd runs as one process", px_config_server_processes(g->cfg));
    pxd__name(g->srv);
    /* The new registration first, then the old one goes: clients dedupe the two entries
     * of one address, and are never left without this server in between. */
    pxd__register(g);
    px_registration_stop(cur->reg);
    cur->reg = NULL;
    sigset_t sigs = pxd__sigs(), old;
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    int rc = pthread_create(&cur->retire, NULL, pxd__retire_main, cur);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        /* No thread for the drain: the main thread does it (signals wait meanwhile). */
        pxd__retire_main(cur);
        free(cur);
    } else {
        cur->next = *retiring;
        *retiring = cur;
    }
    px_log(PX_LOG_INFO, NULL, "reload: generation %u serves %s; generation %u drains",
           g->number, file, g->number - 1);
    return g;
}

int pxd_serve(const char *file, px_config *cfg)
{
    px_err err = {0};
    char pidpath[4096];
    int has_pid = pxd_pidfile_path(cfg, pidpath, sizeof pidpath);
    if (has_pid < 0) {
        fprintf(stderr, "plexusd: %s: server.pid_file: the path is too long\n", file);
        px_config_free(cfg);
        return 1;
    }
    pxd__wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (pxd__wake < 0) {
        fprintf(stderr, "plexusd: eventfd: %s\n", strerror(errno));
        px_config_free(cfg);
        return 1;
    }
    sigset_t sigs = pxd__sigs();
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    pxd_gen *cur = calloc(1, sizeof *cur);
    px_server *srv = NULL;
    if (!cur || px_server_keep_listeners(cfg, &err) != PX_OK ||
        px_server_new(cfg, &srv, &err) != PX_OK) {
        fprintf(stderr, "plexusd: %s\n", cur ? err.msg : "out of memory");
        px_server_release_listeners(NULL);
        px_config_free(cfg);
        free(cur);
        return 1;
    }
    *cur = (pxd_gen){.cfg = cfg, .srv = srv, .number = 1};
    pxd__name(srv);
    /* The admin listener (the config's admin:, else none) starts once the server serves,
     * with the signals blocked like the server's threads. */
    px_admin *adm = NULL;
    if (px_server_start(srv, &err) != PX_OK ||
        px_admin_new(cfg, NULL, NULL, &adm, &err) != PX_OK) {
        fprintf(stderr, "plexusd: %s\n", err.msg);
        px_server_shutdown(srv);
        px_server_free(srv);
        px_server_release_listeners(NULL);
        px_config_free(cfg);
        free(cur);
        return 1;
    }
    pxd__metrics_init();
    pxd__metrics_loaded(1);
    if (has_pid > 0)
        pxd_pidfile_write(pidpath);
    if (adm != NULL) {
        px_admin_set_ready(adm, 1, NULL);
        px_log(PX_LOG_INFO, NULL, "admin on http://%s", px_admin_address(adm));
    }
    struct sigaction sa = {.sa_handler = pxd__on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* Published once it serves: a client that finds it can call it. */
    pxd__register(cur);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    px_plexusd_notify_ready("serving");
    pxd_gen *retiring = NULL;
    while (!pxd__stop) {
        /* A signal wakes it; else every 200 ms a look at the drains. */
        struct pollfd pfd = {.fd = pxd__wake, .events = POLLIN};
        uint64_t n;
        if (poll(&pfd, 1, 200) > 0 && read(pxd__wake, &n, sizeof n) < 0) { /* drained */ }
        pxd__reap(&retiring, 0);
        if (pxd__hup && !pxd__stop) {
            pxd__hup = 0;
            px_plexusd_notify_reloading();
            cur = pxd__reload(file, cur, &retiring);
            /* /status and /config show the file serving (the admin keeps its address). */
            if (adm != NULL && px_admin_set_config(adm, cur->cfg, &err) != PX_OK)
                px_log(PX_LOG_WARN, NULL, "admin: %s", err.msg);
            px_plexusd_notify_ready("serving");
        }
    }
    px_plexusd_notify_stopping();
    px_log(PX_LOG_INFO, NULL, "%s: finishing calls in flight, then exiting",
           pxd__stop == SIGINT ? "SIGINT" : "SIGTERM");
    px_admin_set_ready(adm, 0, "draining");
    /* Deregistered first, so that clients stop picking this server while it drains. */
    px_registration_stop(cur->reg);
    cur->reg = NULL;
    /* The kept sockets go first, so that the server's own close as it stops accepting
     * is the last: a client connecting then is refused, not queued and reset. */
    px_server_release_listeners(NULL);
    int stuck = px_server_shutdown(cur->srv);
    stuck += pxd__reap(&retiring, 1);
    if (has_pid > 0)
        pxd_pidfile_remove(pidpath);
    if (stuck) {
        /* Threads still in a handler would touch what freeing releases: leave it all to
         * the exit, without running atexit handlers under them. */
        px_log(PX_LOG_INFO, NULL, "stopped, leaving %d thread(s) in a handler behind", stuck);
        fflush(stderr);
        _exit(0);
    }
    px_admin_free(adm);
    for (int i = 0; i < 2; i++)
        px_metric_release(pxd__reloads[i]);
    px_metric_release(pxd__reload_ok_at);
    px_server_free(cur->srv);
    px_config_free(cur->cfg);
    free(cur);
    close(pxd__wake);
    px_log(PX_LOG_INFO, NULL, "stopped");
    return 0;
}
