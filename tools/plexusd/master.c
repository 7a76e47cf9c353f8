/* plexusd: the master of worker processes, nginx's model. It owns the config and the
 * listening sockets and runs no server itself: it forks the workers, forks one again when
 * it dies, reloads by starting a new generation of workers and draining the old one once
 * the new is ready, and drains them all on SIGTERM. One thread, one poll loop: the signals
 * come through a signalfd, the workers' READY through their channels. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "master.h"
#include "master_int.h"
#include "notify.h"
#include "pidfile.h"
#include "worker.h"

/* How long a generation of workers may take to say READY before the start or the reload
 * counts as failed (their modules' create may be slow, but not forever). */
#define PXM_READY_WITHIN_US (60 * 1000000LL)
/* A worker that dies sooner than this after its fork "died at once": the next respawn of
 * its slot waits, doubling from PXM_BACKOFF_MIN_MS up to PXM_BACKOFF_MAX_MS, so a worker
 * that cannot run does not make the master fork in a tight loop. */
#define PXM_QUICK_DEATH_US (1000000LL)
#define PXM_BACKOFF_MIN_MS 100
#define PXM_BACKOFF_MAX_MS 5000

static double pxm_unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- workers ------------------------------------------------------------------------ */

static pxm_worker *pxm_find(px_master *m, pid_t pid)
{
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].pid == pid)
            return &m->w[i];
    return NULL;
}

/* Forks the worker slot of generation g. 0, or -1 (logged) when it could not. */
static int pxm_spawn(px_master *m, const pxm_gen *g, int slot)
{
    pthread_mutex_lock(&m->mu);
    if (m->nw == m->capw) {
        size_t cap = m->capw ? m->capw * 2 : 8;
        pxm_worker *w = realloc(m->w, cap * sizeof *w);
        if (w == NULL) {
            pthread_mutex_unlock(&m->mu);
            px_log(PX_LOG_ERROR, NULL, "cannot start worker %d: out of memory", slot);
            return -1;
        }
        m->w = w;
        m->capw = cap;
    }
    pthread_mutex_unlock(&m->mu);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        px_log(PX_LOG_ERROR, NULL, "cannot start worker %d: socketpair: %s", slot,
               strerror(errno));
        return -1;
    }
    pid_t master = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        px_log(PX_LOG_ERROR, NULL, "cannot start worker %d: fork: %s", slot, strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        /* The child keeps its own end of its channel only: a worker holding another's
         * would keep that channel open after its master end closed. */
        close(sv[0]);
        close(m->sfd);
        for (size_t i = 0; i < m->nw; i++)
            close(m->w[i].fd);
        exit(px_plexusd_worker_run(g->cfg, sv[1], slot, master));
    }
    close(sv[1]);
    pthread_mutex_lock(&m->mu);
    m->w[m->nw++] = (pxm_worker){.pid = pid, .fd = sv[0], .slot = slot, .gen = g->id,
                                 .started_us = px_master_now_us()};
    pthread_mutex_unlock(&m->mu);
    px_log(PX_LOG_INFO, NULL, "worker %d started (pid %d)", slot, (int)pid);
    return 0;
}

/* Tells every live worker of generation gen to drain (sig: SIGQUIT for a reload's old
 * generation, SIGTERM on stop) and no longer counts on it. */
static void pxm_retire(px_master *m, unsigned gen, int sig)
{
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].gen == gen && !m->w[i].retiring) {
            m->w[i].retiring = 1;
            kill(m->w[i].pid, sig);
        }
    pthread_mutex_unlock(&m->mu);
}

static int pxm_gen_alive(const px_master *m, unsigned gen)
{
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].gen == gen)
            return 1;
    return 0;
}

/* Frees the configs of old generations that no worker serves any longer. */
static void pxm_free_drained(px_master *m)
{
    for (size_t i = 0; i < m->n_old;) {
        if (pxm_gen_alive(m, m->old[i].id)) {
            i++;
            continue;
        }
        px_log(PX_LOG_INFO, NULL, "configuration generation %u: its workers are gone",
               m->old[i].id);
        px_config_free(m->old[i].cfg);
        m->old[i] = m->old[--m->n_old];
    }
}

/* Keeps g's config until its workers (already told to drain) are gone. */
static void pxm_keep_old(px_master *m, pxm_gen g)
{
    pxm_gen *o = realloc(m->old, (m->n_old + 1) * sizeof *o);
    if (o == NULL) {
        /* Workers have their own copy of the config: only the master's goes early. */
        px_config_free(g.cfg);
        return;
    }
    m->old = o;
    m->old[m->n_old++] = g;
}

static int pxm_slots_alloc(px_master *m, int n)
{
    free(m->respawn_at);
    free(m->backoff_ms);
    m->respawn_at = calloc((size_t)n, sizeof *m->respawn_at);
    m->backoff_ms = calloc((size_t)n, sizeof *m->backoff_ms);
    return m->respawn_at && m->backoff_ms ? 0 : -1;
}

static void pxm_abandon(px_master *m, const char *why);

/* ---- the generation that is starting: at start, or a reload's ---------------------- */

/* Binds what cfg listens on and the table lacks (the workers inherit the table), then
 * forks cfg's workers. -1 (logged, with why in err) when the sockets cannot be bound. */
static int pxm_start_gen(px_master *m, px_config *cfg, px_err *err)
{
    if (px_server_keep_listeners(cfg, err) != PX_OK)
        return -1;
    m->next = (pxm_gen){.cfg = cfg, .id = ++m->last_gen, .n = px_config_server_processes(cfg)};
    m->next_deadline_us = px_master_now_us() + PXM_READY_WITHIN_US;
    for (int i = 0; i < m->next.n; i++)
        if (pxm_spawn(m, &m->next, i) != 0) {
            pxm_abandon(m, "could not start its workers"); /* those forked go again */
            break;
        }
    return 0;
}

static int pxm_next_ready(const px_master *m)
{
    int ready = 0;
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].gen == m->next.id && m->w[i].ready && !m->w[i].retiring)
            ready++;
    return ready == m->next.n;
}

/* Every worker of the new generation serves: it becomes the current one; the old one
 * drains (SIGQUIT) and its config goes once its workers are gone. */
static void pxm_promote(px_master *m)
{
    if (pxm_slots_alloc(m, m->next.n) != 0)
        px_log(PX_LOG_ERROR, NULL, "out of memory: workers that die will not be restarted");
    if (m->cur.cfg) {
        pxm_retire(m, m->cur.id, SIGQUIT);
        pxm_keep_old(m, m->cur);
    }
    m->cur = m->next;
    m->next = (pxm_gen){0};
    /* The old workers keep their own descriptors of the sockets they accept on while they
     * drain: the master's go for the listeners the new configuration dropped. */
    px_server_release_listeners(m->cur.cfg);
    px_err err;
    /* The master publishes the sockets it owns, once every worker serves them; the new
     * registration before the old one goes (clients dedupe one address listed twice). A
     * registration that cannot start leaves the workers serving unregistered. */
    px_registration *reg = NULL;
    if (px_registration_start(m->cur.cfg, NULL, &reg, &err) != PX_OK)
        px_log(PX_LOG_WARN, NULL, "serving unregistered: %s", err.msg);
    px_registration_stop(m->reg);
    m->reg = reg;
    if (m->adm && px_admin_set_config(m->adm, m->cur.cfg, &err) != PX_OK)
        px_log(PX_LOG_WARN, NULL, "admin: %s", err.msg);
    if (!m->started && m->pidfile[0])
        pxd_pidfile_write(m->pidfile);
    pthread_mutex_lock(&m->mu);
    if (m->started)
        m->reloads_ok++;
    m->last_reload_ok_s = pxm_unix_now();
    pthread_mutex_unlock(&m->mu);
    char status[64];
    snprintf(status, sizeof status, "serving with %d worker processes", m->cur.n);
    px_log(PX_LOG_INFO, NULL, "%s%s", m->started ? "reloaded: " : "", status);
    pthread_mutex_lock(&m->mu); /* the admin's thread reads it (px_plexusd_master_ready) */
    m->started = 1;
    pthread_mutex_unlock(&m->mu);
    px_plexusd_notify_ready(status);
}

/* The new generation failed (a worker died before READY, or none said it in time): its
 * workers go, the current generation serves on. */
static void pxm_abandon(px_master *m, const char *why)
{
    pxm_retire(m, m->next.id, SIGTERM);
    pxm_keep_old(m, m->next);
    m->next = (pxm_gen){0};
    px_server_release_listeners(m->cur.cfg); /* NULL at the start: all of them */
    if (!m->started) {
        px_log(PX_LOG_ERROR, NULL, "start failed: %s", why);
        return;
    }
    pthread_mutex_lock(&m->mu);
    m->reloads_failed++;
    pthread_mutex_unlock(&m->mu);
    px_log(PX_LOG_ERROR, NULL, "reload failed: %s; the workers of the previous configuration "
                               "keep serving", why);
    px_plexusd_notify_ready("serving (the last reload failed)");
}

/* ---- signals ------------------------------------------------------------------------ */

/* A reload refused before any worker was forked (the file, or a socket to bind): the
 * workers serve on. */
static void pxm_refuse(px_master *m, px_config *cfg, const px_err *err)
{
    px_config_free(cfg);
    m->next = (pxm_gen){0};
    px_server_release_listeners(m->cur.cfg); /* what this attempt bound goes again */
    pthread_mutex_lock(&m->mu);
    m->reloads_failed++;
    pthread_mutex_unlock(&m->mu);
    px_log(PX_LOG_ERROR, NULL, "reload refused: %s; the workers keep serving the previous "
                               "configuration", err->msg);
    px_plexusd_notify_ready("serving (the last reload was refused)");
}

static void pxm_reload(px_master *m)
{
    if (m->next.cfg) {
        px_log(PX_LOG_INFO, NULL, "SIGHUP: a reload is under way already; ignored");
        return;
    }
    px_log(PX_LOG_INFO, NULL, "SIGHUP: reloading %s", m->file);
    px_plexusd_notify_reloading();
    px_err err = {0};
    px_config *cfg = NULL;
    if (px_config_load(m->file, &cfg, &err) != PX_OK) {
        pxm_refuse(m, NULL, &err);
        return;
    }
    if (!px_config_has_server(cfg)) {
        px_err_set(&err, PX_INVALID_ARGUMENT, "%s: no server: section to run", m->file);
        pxm_refuse(m, cfg, &err);
        return;
    }
    if (pxm_start_gen(m, cfg, &err) != 0)
        pxm_refuse(m, cfg, &err);
}

static void pxm_stop(px_master *m, int sig)
{
    if (m->stopping)
        return;
    pthread_mutex_lock(&m->mu);
    m->stopping = 1;
    pthread_mutex_unlock(&m->mu);
    px_plexusd_notify_stopping();
    px_log(PX_LOG_INFO, NULL, "%s: draining the workers, then exiting",
           sig == SIGINT ? "SIGINT" : sig == SIGQUIT ? "SIGQUIT" : "SIGTERM");
    /* Deregistered first: clients stop picking this server while its workers drain. */
    px_registration_stop(m->reg);
    m->reg = NULL;
    if (m->next.cfg) {
        pxm_retire(m, m->next.id, SIGTERM);
        pxm_keep_old(m, m->next);
        m->next = (pxm_gen){0};
    }
    pxm_retire(m, m->cur.id, SIGTERM);
    /* The workers keep their descriptors until they stop accepting; the master's go now. */
    px_server_release_listeners(NULL);
}

static void pxm_describe_exit(int status, char *buf, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
}

/* A child is gone: expected (it was draining), a new generation's failure, or a worker
 * of the current one that dies: forked again, at once or after its backoff. */
static void pxm_reaped(px_master *m, pid_t pid, int status)
{
    pxm_worker *w = pxm_find(m, pid);
    if (w == NULL)
        return;
    pxm_worker dead = *w;
    pthread_mutex_lock(&m->mu);
    close(w->fd);
    px_chan_rx_free(&w->rx);
    *w = m->w[--m->nw];
    pthread_mutex_unlock(&m->mu);
    char how[96];
    pxm_describe_exit(status, how, sizeof how);
    if (dead.retiring) {
        px_log(PX_LOG_INFO, NULL, "worker %d (pid %d) %s after draining", dead.slot, (int)pid,
               how);
        pxm_free_drained(m);
        return;
    }
    if (m->next.cfg && dead.gen == m->next.id) {
        char why[160];
        snprintf(why, sizeof why, "worker %d (pid %d) %s before it served", dead.slot,
                 (int)pid, how);
        pxm_abandon(m, why);
        pxm_free_drained(m);
        return;
    }
    if (m->stopping || dead.gen != m->cur.id || m->respawn_at == NULL)
        return;
    int64_t now = px_master_now_us();
    int *b = &m->backoff_ms[dead.slot];
    if (now - dead.started_us < PXM_QUICK_DEATH_US)
        *b = *b ? (*b * 2 > PXM_BACKOFF_MAX_MS ? PXM_BACKOFF_MAX_MS : *b * 2)
                : PXM_BACKOFF_MIN_MS;
    else
        *b = 0;
    m->respawn_at[dead.slot] = now + (int64_t)*b * 1000;
    pthread_mutex_lock(&m->mu);
    m->restarts++;
    pthread_mutex_unlock(&m->mu);
    if (*b)
        px_log(PX_LOG_ERROR, NULL, "worker %d (pid %d) %s %lld ms after its start; starting "
                                   "it again in %d ms", dead.slot, (int)pid, how,
               (long long)((now - dead.started_us) / 1000), *b);
    else
        px_log(PX_LOG_ERROR, NULL, "worker %d (pid %d) %s; starting it again", dead.slot,
               (int)pid, how);
}

static void pxm_signals(px_master *m)
{
    struct signalfd_siginfo si;
    while (read(m->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) {
            int status;
            pid_t pid;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                pxm_reaped(m, pid, status);
        } else if (sig == SIGHUP) {
            if (!m->stopping && m->started)
                pxm_reload(m);
        } else {
            pxm_stop(m, sig);
        }
    }
}

/* ---- the loop ----------------------------------------------------------------------- */

static void pxm_respawn_due(px_master *m, int64_t now)
{
    for (int s = 0; m->respawn_at && s < m->cur.n; s++)
        if (m->respawn_at[s] && m->respawn_at[s] <= now) {
            m->respawn_at[s] = 0;
            if (pxm_spawn(m, &m->cur, s) != 0)
                m->respawn_at[s] = now + PXM_BACKOFF_MAX_MS * 1000LL;
        }
}

static int pxm_timeout_ms(const px_master *m, int64_t now)
{
    int64_t next = m->next.cfg ? m->next_deadline_us : 0;
    for (int s = 0; m->respawn_at && s < m->cur.n && !m->stopping; s++)
        if (m->respawn_at[s] && (!next || m->respawn_at[s] < next))
            next = m->respawn_at[s];
    if (!next)
        return -1;
    return next <= now ? 0 : (int)((next - now + 999) / 1000);
}

static void pxm_loop(px_master *m)
{
    struct pollfd *p = NULL;
    pxm_worker **who = NULL;
    size_t cap = 0;
    for (;;) {
        /* Stopping, or the start failed: once the last worker is gone. */
        if ((m->stopping || (!m->started && !m->next.cfg)) && m->nw == 0)
            break;
        if (cap < m->nw + 2) {
            cap = (m->nw + 2) * 2;
            struct pollfd *np = realloc(p, cap * sizeof *p);
            pxm_worker **nwho = np ? realloc(who, cap * sizeof *who) : NULL;
            if (np)
                p = np;
            if (nwho)
                who = nwho;
            if (!np || !nwho) {
                px_log(PX_LOG_ERROR, NULL, "out of memory; stopping");
                pxm_stop(m, SIGTERM);
                cap = 0;
                sleep(1);
                continue;
            }
        }
        size_t np = 0;
        p[np++] = (struct pollfd){.fd = m->sfd, .events = POLLIN};
        pthread_mutex_lock(&m->mu); /* eof is written by the metrics' collection too */
        for (size_t i = 0; i < m->nw; i++)
            if (!m->w[i].ready && !m->w[i].eof) {
                who[np] = &m->w[i];
                p[np++] = (struct pollfd){.fd = m->w[i].fd, .events = POLLIN};
            }
        pthread_mutex_unlock(&m->mu);
        /* The admin listener runs here, on the master's only thread (it forks). */
        size_t adm_at = np;
        if (m->adm)
            p[np++] = (struct pollfd){.fd = px_admin_poll_fd(m->adm), .events = POLLIN};
        int64_t now = px_master_now_us();
        int wait_ms = pxm_timeout_ms(m, now);
        int adm_ms = px_admin_poll_timeout_ms(m->adm);
        if (m->adm && adm_ms >= 0 && (wait_ms < 0 || adm_ms < wait_ms))
            wait_ms = adm_ms;
        int n = poll(p, np, wait_ms);
        if (n < 0 && errno != EINTR) {
            px_log(PX_LOG_ERROR, NULL, "poll: %s", strerror(errno));
            break;
        }
        /* Channels first: the pointers in who stay valid until a reap moves workers. */
        for (size_t k = 1; n > 0 && k < adm_at; k++) {
            if (!p[k].revents)
                continue;
            pxm_worker *w = who[k];
            int r = px_chan_rx_fill(&w->rx, w->fd);
            px_chan_hdr h;
            const char *body;
            pthread_mutex_lock(&m->mu);
            if (px_chan_rx_peek(&w->rx, &h, &body) && h.kind == PX_CHAN_READY) {
                px_chan_rx_pop(&w->rx);
                w->ready = 1;
            } else if (r < 0) {
                w->eof = 1;
            }
            pthread_mutex_unlock(&m->mu);
        }
        if (n > 0 && p[0].revents)
            pxm_signals(m);
        px_admin_poll(m->adm);
        now = px_master_now_us();
        if (m->next.cfg && pxm_next_ready(m))
            pxm_promote(m);
        else if (m->next.cfg && now >= m->next_deadline_us)
            pxm_abandon(m, "its workers did not say they serve in time");
        if (!m->stopping)
            pxm_respawn_due(m, now);
    }
    free(p);
    free(who);
}

static char *pxm_admin_metrics(void *ud, size_t *len)
{
    (void)ud;
    return px_plexusd_master_metrics(1000, len);
}

static int pxm_admin_ready(void *ud, char *why, size_t cap)
{
    (void)ud;
    return px_plexusd_master_ready(why, cap);
}

static void pxm_admin_status(void *ud, char *buf, size_t cap)
{
    (void)ud;
    px_plexusd_master_status(buf, cap);
}

int px_plexusd_master_run(const char *file, px_config *cfg)
{
    px_log_set_name("plexusd master");
    px_master m = {.file = file, .sfd = -1};
    pthread_mutex_init(&m.mu, NULL);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGQUIT);
    sigaddset(&sigs, SIGCHLD);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    m.sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m.sfd < 0) {
        px_log(PX_LOG_ERROR, NULL, "signalfd: %s", strerror(errno));
        px_config_free(cfg);
        return 1;
    }
    px_log(PX_LOG_INFO, NULL, "starting %d worker processes", px_config_server_processes(cfg));
    int has_pid = pxd_pidfile_path(cfg, m.pidfile, sizeof m.pidfile);
    if (has_pid == 0)
        m.pidfile[0] = 0;
    if (has_pid < 0) {
        fprintf(stderr, "plexusd: %s: server.pid_file: the path is too long\n", file);
        close(m.sfd);
        px_config_free(cfg);
        return 1;
    }
    px_err err = {0};
    /* The admin listener of a master shows the sum over its workers (they close their
     * copy of its socket as they fork). Polled by the master's loop: no thread runs in
     * the master, so its forks are safe. */
    px_admin_hooks hooks = {.metrics = pxm_admin_metrics, .ready = pxm_admin_ready,
                            .status = pxm_admin_status};
    if (px_admin_new_polled(cfg, &hooks, NULL, &m.adm, &err) != PX_OK) {
        fprintf(stderr, "plexusd: %s\n", err.msg);
        close(m.sfd);
        px_config_free(cfg);
        return 1;
    }
    if (m.adm)
        px_log(PX_LOG_INFO, NULL, "admin on http://%s", px_admin_address(m.adm));
    if (pxm_start_gen(&m, cfg, &err) != 0) {
        fprintf(stderr, "plexusd: %s\n", err.msg);
        px_admin_free(m.adm);
        px_server_release_listeners(NULL);
        close(m.sfd);
        px_config_free(cfg);
        return 1;
    }
    __atomic_store_n(&px_master_running, &m, __ATOMIC_RELEASE);
    pxm_loop(&m);
    px_registration_stop(m.reg);
    px_admin_free(m.adm);
    int ok = m.started || m.stopping; /* a SIGTERM during the start is no failure */
    __atomic_store_n(&px_master_running, NULL, __ATOMIC_RELEASE);
    px_server_release_listeners(NULL);
    if (m.started && m.pidfile[0])
        pxd_pidfile_remove(m.pidfile);
    close(m.sfd);
    px_config_free(m.cur.cfg);
    px_config_free(m.next.cfg);
    for (size_t i = 0; i < m.n_old; i++)
        px_config_free(m.old[i].cfg);
    free(m.old);
    free(m.w);
    free(m.respawn_at);
    free(m.backoff_ms);
    pthread_mutex_destroy(&m.mu);
    px_log(PX_LOG_INFO, NULL, "stopped");
    return ok ? 0 : 1;
}
