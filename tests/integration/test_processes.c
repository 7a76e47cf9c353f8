/* plexusd with worker processes (server.processes: 3), real processes throughout: calls
 * spread over the workers (Whoami of the fxpid fixture says the serving pid); a worker
 * kill -9'ed under load, with idempotent calls and the retry module, costs no call and is
 * replaced; SIGTERM lets a call in flight finish; SIGHUP with another codec starts new
 * workers and the old ones exit, without a failed call; a bad file on SIGHUP is refused
 * with FILE:LINE:COL and the workers serve on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_load.h"
#include "px_proc.h"
#include "px_raw.h"
#include "px_time.h"

#define NW 3

static const char *SERVER_YAML = "  processes: 3\n"
                                 "  io_threads: 1\n"
                                 "  codecs: [protobuf]\n"
                                 "  services:\n"
                                 "    - module: fxpid\n";
/* The same with the json codec too: what a reload changes. */
static const char *SERVER_YAML_JSON = "  processes: 3\n"
                                      "  io_threads: 1\n"
                                      "  codecs: [protobuf, json]\n"
                                      "  services:\n"
                                      "    - module: fxpid\n";

/* One endpoint, the master's port: a retry goes to it again (over another connection or
 * a new one), which is what a worker's death needs. */
static const char *UPSTREAM_YAML = "      failover: { module: retry, retries: 5 }\n"
                                   "      timeout: { module: fixed, connect: 500ms, call: 5s }\n"
                                   "      health: { max_fails: 0 }\n"
                                   "      pool_size: 4\n";

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- what the master and its workers do -------------------------------------------- */

static int log_count(const px_proc *p, const char *needle)
{
    FILE *f = fopen(p->log, "r");
    char line[2048];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* Waits (bounded: 30 s) until the log has needle `times` times. */
static int log_wait(const px_proc *p, const char *needle, int times)
{
    for (int i = 0; i < 3000; i++) {
        if (log_count(p, needle) >= times)
            return 0;
        pause_ms(10);
    }
    fprintf(stderr, "no '%s' (x%d) in %s within 30 s\n", needle, times, p->log);
    return -1;
}

static void show_log(const px_proc *p)
{
    FILE *f = fopen(p->log, "r");
    char line[2048];
    while (f && fgets(line, sizeof line, f))
        fprintf(stderr, "  | %s", line);
    if (f)
        fclose(f);
}

/* The master's children now, from /proc; their number. */
static int workers_of(pid_t master, pid_t *out, int cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)master, (int)master);
    FILE *f = fopen(path, "r");
    int n = 0;
    long pid;
    while (f && n < cap && fscanf(f, "%ld", &pid) == 1)
        out[n++] = (pid_t)pid;
    if (f)
        fclose(f);
    return n;
}

static int has_pid(const pid_t *set, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (set[i] == pid)
            return 1;
    return 0;
}

/* Waits (bounded: 30 s) until the master has exactly NW children, none of them in
 * `gone` (n_gone pids): they exited and others took their place. */
static int wait_workers(pid_t master, const pid_t *gone, int n_gone, pid_t *now)
{
    for (int i = 0; i < 3000; i++) {
        int n = workers_of(master, now, 16), fresh = n == NW;
        for (int k = 0; k < n && fresh; k++)
            fresh = !has_pid(gone, n_gone, now[k]);
        if (fresh)
            return 0;
        pause_ms(10);
    }
    return -1;
}

static int start_master(px_proc *p, const char *yaml)
{
    if (px_proc_start(p, "w", yaml) != 0)
        return -1;
    /* It accepts once a worker listens; it serves once every worker said READY. */
    return log_wait(p, "serving with 3 worker processes", 1);
}

static int rewrite_conf(const px_proc *p, const char *yaml)
{
    FILE *f = fopen(p->conf, "w");
    if (!f)
        return -1;
    fprintf(f, "modules:\n  path: [%s]\nserver:\n  listen: '127.0.0.1:%d'\n  id: %s\n%s",
            getenv("PX_MODULE_DIR"), p->port, p->id, yaml);
    return fclose(f);
}

/* ---- clients -------------------------------------------------------------------------- */

/* Whoami over a new connection: the pid of the worker that accepted it, or -1. */
static pid_t whoami_new_conn(int port)
{
    px_raw_reader *r = malloc(sizeof *r);
    pid_t pid = -1;
    *r = px_raw_open(port, "protobuf");
    px_frame q = {.type = PX_FRAME_REQUEST, .id = 1,
                  .method = (const uint8_t *)"calc.Calculator/Whoami", .method_len = 22};
    px_frame f;
    if (r->fd >= 0 && px_raw_send(r->fd, &q, 1) == 0 && px_raw_next(r, &f) == 0 &&
        f.type == PX_FRAME_RESPONSE) {
        Calc__WhoamiReply *rep = calc__whoami_reply__unpack(NULL, f.body_len, f.body);
        long v;
        if (rep && sscanf(rep->id, "pid=%ld", &v) == 1)
            pid = (pid_t)v;
        calc__whoami_reply__free_unpacked(rep, NULL);
    }
    if (r->fd >= 0)
        close(r->fd);
    free(r);
    return pid;
}

typedef struct client {
    char conf[256];
    px_config *cfg;
    px_client *cl;
} client;

static int client_open(client *c, const px_proc *p, const char *codec)
{
    char yaml[1024];
    snprintf(c->conf, sizeof c->conf, "%s/client-%s.yaml", p->dir, codec);
    snprintf(yaml, sizeof yaml, "%s      codec: %s\n", UPSTREAM_YAML, codec);
    px_err err = {0};
    if (px_write_client_conf(c->conf, &p->port, 1, yaml) != 0 ||
        px_config_load(c->conf, &c->cfg, &err) != PX_OK ||
        px_client_new(c->cfg, "calc", &c->cl, &err) != PX_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void client_close(client *c)
{
    px_client_free(c->cl);
    px_config_free(c->cfg);
    unlink(c->conf);
}

/* One Whoami through c: its status (the pid that served in *pid when OK). */
static px_status whoami(client *c, pid_t *pid)
{
    Calc__WhoamiRequest req = CALC__WHOAMI_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    px_err err = {0};
    px_call_opts o = {.idempotent = 1};
    px_status st = px_call_wait(c->cl, "calc.Calculator/Whoami", &req.base,
                                &calc__whoami_reply__descriptor, &o, &reply, &err);
    long v = -1;
    if (st == PX_OK)
        sscanf(((Calc__WhoamiReply *)reply)->id, "pid=%ld", &v);
    else
        fprintf(stderr, "Whoami: %s: %s\n", px_status_name(st), err.msg);
    if (pid)
        *pid = (pid_t)v;
    px_msg_free(reply);
    return st;
}

/* A steady load of idempotent Whoami calls; `at` runs once, a third into the run. */
typedef struct run {
    px_load load;
    px_call_opts opts;
    int ticks, fired;
    void (*at)(void *);
    void *arg;
} run;

static void run_tick(void *arg)
{
    run *r = arg;
    if (!r->fired && ++r->ticks >= 1000) { /* 1000 pacing steps: a third of the calls */
        r->fired = 1;
        r->at(r->arg);
    }
}

/* n calls over dur_ms with at() in the middle; every call must end OK exactly once. */
static void load_with(client *c, int n, int dur_ms, void (*at)(void *), void *arg,
                      const char *title)
{
    run r = {.opts = {.idempotent = 1}, .at = at, .arg = arg};
    assert_int_equal(px_load_init(&r.load, c->cl, n), 0);
    r.load.opts = &r.opts;
    assert_int_equal(px_load_run(&r.load, n, (int64_t)dur_ms * 1000, run_tick, &r), 0);
    assert_int_equal(px_load_drain(&r.load, 30 * 1000000LL, NULL, NULL), 0);
    assert_true(r.fired);
    px_load_sum s;
    px_load_sum_up(&r.load, 0, r.load.issued, &s);
    px_load_sum_print(&r.load, 0, r.load.issued, &s, title);
    assert_int_equal(s.calls, n);
    assert_int_equal(s.ok, n);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.twice, 0);
    assert_int_equal(s.never, 0);
    px_load_free(&r.load);
}

/* ---- the tests -------------------------------------------------------------------------- */

static void test_calls_spread_over_workers(void **state)
{
    (void)state;
    px_proc p;
    assert_int_equal(start_master(&p, SERVER_YAML), 0);
    pid_t w[16];
    assert_int_equal(workers_of(p.pid, w, 16), NW);
    /* Each worker accepts on the same sockets: new connections reach all of them. Up to
     * 300 connections, until each worker has answered one. */
    pid_t seen[NW];
    int n_seen = 0, conns = 0;
    for (; conns < 300 && n_seen < NW; conns++) {
        pid_t pid = whoami_new_conn(p.port);
        assert_true(pid > 0);
        assert_true(has_pid(w, NW, pid)); /* a worker answered, not the master */
        if (!has_pid(seen, n_seen, pid))
            seen[n_seen++] = pid;
    }
    fprintf(stderr, "%d workers answered within %d connections\n", n_seen, conns);
    assert_int_equal(n_seen, NW);
    assert_int_equal(px_proc_stop(&p), 0);
}

typedef struct victim {
    client *c;
    pid_t master, pid;
} victim;

/* Kills the worker that answers a call of the client: it holds one of its connections
 * at least, with some of the slow calls on it. */
static void kill_a_worker(void *arg)
{
    victim *v = arg;
    pid_t w[16];
    assert_int_equal(workers_of(v->master, w, 16), NW);
    assert_int_equal(whoami(v->c, &v->pid), PX_OK);
    assert_true(has_pid(w, NW, v->pid));
    fprintf(stderr, "kill -9 worker pid %d\n", (int)v->pid);
    kill(v->pid, SIGKILL);
}

/* Slow idempotent calls in flight across the kill: those on the dead worker's
 * connections are retried. Each must end OK exactly once. */
#define NSLOW 60
typedef struct slow_set {
    int fired[NSLOW], ok; /* atomic */
    int idx[NSLOW];
} slow_set;
static slow_set *slow_of;

static void slow_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    int i = *(int *)user;
    __atomic_add_fetch(&slow_of->fired[i], 1, __ATOMIC_ACQ_REL);
    if (st == PX_OK)
        __atomic_add_fetch(&slow_of->ok, 1, __ATOMIC_ACQ_REL);
    else
        fprintf(stderr, "slow call %d: %s: %s\n", i, px_status_name(st), msg);
}


/* The inode of the socket listening on 127.0.0.1:port (/proc/net/tcp), 0 when none. */
static unsigned long listen_inode(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    unsigned long found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        unsigned lport, st;
        unsigned long inode;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &lport, &st,
                   &inode) == 3 && (int)lport == port && st == 0x0A)
            found = inode;
    }
    if (f)
        fclose(f);
    return found;
}

/* Whether process pid has a descriptor of socket inode. */
static int holds_socket(pid_t pid, unsigned long inode)
{
    char dir[64], want[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *d = opendir(dir);
    struct dirent *e;
    int held = 0;
    while (d && !held && (e = readdir(d)) != NULL) {
        char path[320], link[64];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = 0;
            held = strcmp(link, want) == 0;
        }
    }
    if (d)
        closedir(d);
    return held;
}

/* The value of the sample `series` (its name and labels as written) in a metrics text;
 * -1 when absent. */
static double sample_of(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

/* The admin listener of a master serves the sum over its workers: calls answered by
 * several workers, counted once each, exactly. */
static void test_admin_sums_workers(void **state)
{
    (void)state;
    int admin_port = px_free_port();
    char yaml[512];
    snprintf(yaml, sizeof yaml, "%s  filters: [metrics]\nadmin:\n  listen: 127.0.0.1:%d\n",
             SERVER_YAML, admin_port);
    px_proc p;
    assert_int_equal(start_master(&p, yaml), 0);
    pid_t w[16], seen[NW];
    assert_int_equal(workers_of(p.pid, w, 16), NW);
    /* A new connection each: the calls spread over the workers. */
    enum { CALLS = 60 };
    int n_seen = 0;
    for (int i = 0; i < CALLS; i++) {
        pid_t pid = whoami_new_conn(p.port);
        assert_true(has_pid(w, NW, pid));
        if (!has_pid(seen, n_seen, pid))
            seen[n_seen++] = pid;
    }
    assert_true(n_seen >= 2);
    char url[64], out[65536], err[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", admin_port);
    char *argv[] = {"/usr/bin/curl", "-sS", "--max-time", "10", url, NULL};
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 0);
    double calls = sample_of(out, "plexus_server_calls_total{service=\"calc.Calculator\","
                                  "method=\"Whoami\",code=\"OK\"}");
    fprintf(stderr, "%d workers answered %d calls; the admin counts %.0f, plexus_workers %.0f\n",
            n_seen, CALLS, calls, sample_of(out, "plexus_workers"));
    assert_true(calls == CALLS);
    assert_true(sample_of(out, "plexus_workers") == NW);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", admin_port);
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "ready\n");
    /* The workers do not hold the admin's socket (they close it as they fork). */
    unsigned long inode = listen_inode(admin_port);
    assert_true(inode != 0);
    assert_true(holds_socket(p.pid, inode));
    for (int i = 0; i < NW; i++)
        assert_false(holds_socket(w[i], inode));
    assert_int_equal(px_proc_stop(&p), 0);
}

static void test_worker_killed_under_load(void **state)
{
    (void)state;
    px_proc p;
    assert_int_equal(start_master(&p, SERVER_YAML), 0);
    client c;
    assert_int_equal(client_open(&c, &p, "protobuf"), 0);
    static slow_set slow; /* static: outlives a failed assertion's early return */
    memset(&slow, 0, sizeof slow);
    slow_of = &slow;
    Calc__SleepRequest req = CALC__SLEEP_REQUEST__INIT;
    req.ms = 1500; /* still running when the kill comes, a second into the load */
    px_call_opts o = {.idempotent = 1};
    for (int i = 0; i < NSLOW; i++) {
        px_err err;
        slow.idx[i] = i;
        assert_int_equal(px_call_async(c.cl, "calc.Calculator/Sleep", &req.base,
                                       &calc__sleep_reply__descriptor, &o, slow_done,
                                       &slow.idx[i], &err),
                         PX_OK);
    }
    victim v = {.c = &c, .master = p.pid};
    load_with(&c, 6000, 3000, kill_a_worker, &v, "kill -9 a worker");
    for (int i = 0; i < 3000 && __atomic_load_n(&slow.ok, __ATOMIC_ACQUIRE) < NSLOW; i++)
        pause_ms(10);
    int fired = 0;
    for (int i = 0; i < NSLOW; i++)
        fired += __atomic_load_n(&slow.fired[i], __ATOMIC_ACQUIRE) == 1;
    px_client_stats st;
    px_client_stats_get(c.cl, &st);
    fprintf(stderr, "slow calls: %d of %d OK, %d ended exactly once; client: %llu retries\n",
            slow.ok, NSLOW, fired, (unsigned long long)st.retries);
    assert_int_equal(slow.ok, NSLOW);
    assert_int_equal(fired, NSLOW);
    assert_true(st.retries > 0); /* the calls on the dead worker went elsewhere */
    /* The master saw it die and started another in its place. */
    assert_int_equal(log_wait(&p, "killed by signal 9", 1), 0);
    pid_t now[16];
    assert_int_equal(wait_workers(p.pid, &v.pid, 1, now), 0);
    assert_int_equal(log_count(&p, "starting it again"), 1);
    /* And the new one serves. */
    pid_t seen = 0;
    for (int i = 0; i < 300 && seen != now[0] && seen != now[1] && seen != now[2]; i++)
        seen = whoami_new_conn(p.port);
    assert_true(has_pid(now, NW, seen));
    client_close(&c);
    assert_int_equal(px_proc_stop(&p), 0);
}

/* A call in flight when SIGTERM comes finishes; then the master and its workers exit. */
typedef struct slow_call {
    client *c;
    px_status st;
    int64_t slept_ms;
} slow_call;

static void *slow_run(void *arg)
{
    slow_call *s = arg;
    Calc__SleepRequest req = CALC__SLEEP_REQUEST__INIT;
    req.ms = 1500;
    ProtobufCMessage *reply = NULL;
    px_err err = {0};
    s->st = px_call_wait(s->c->cl, "calc.Calculator/Sleep", &req.base,
                         &calc__sleep_reply__descriptor, NULL, &reply, &err);
    if (s->st == PX_OK)
        s->slept_ms = ((Calc__SleepReply *)reply)->slept_ms;
    else
        fprintf(stderr, "Sleep: %s: %s\n", px_status_name(s->st), err.msg);
    px_msg_free(reply);
    return NULL;
}

static void test_sigterm_drains(void **state)
{
    (void)state;
    px_proc p;
    assert_int_equal(start_master(&p, SERVER_YAML), 0);
    pid_t w[16];
    assert_int_equal(workers_of(p.pid, w, 16), NW);
    client c;
    assert_int_equal(client_open(&c, &p, "protobuf"), 0);
    assert_int_equal(whoami(&c, NULL), PX_OK); /* connected: the Sleep leaves at once */
    slow_call s = {.c = &c};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_run, &s), 0);
    pause_ms(300); /* the request reaches a worker; the reply is 1.2 s away */
    int rc = px_proc_stop(&p); /* SIGTERM, and waits for the master's exit */
    pthread_join(t, NULL);
    assert_int_equal(s.st, PX_OK);
    assert_int_equal(s.slept_ms, 1500);
    assert_int_equal(rc, 0);
    for (int i = 0; i < NW; i++) /* the master reaped every worker before it exited */
        assert_true(kill(w[i], 0) != 0 && errno == ESRCH);
    client_close(&c);
}

typedef struct reload {
    px_proc *p;
    const char *yaml;
} reload;

static void do_reload(void *arg)
{
    reload *r = arg;
    assert_int_equal(rewrite_conf(r->p, r->yaml), 0);
    fprintf(stderr, "SIGHUP with a new configuration\n");
    kill(r->p->pid, SIGHUP);
}

static void test_sighup_new_workers(void **state)
{
    (void)state;
    px_proc p;
    assert_int_equal(start_master(&p, SERVER_YAML), 0);
    pid_t old[16];
    assert_int_equal(workers_of(p.pid, old, 16), NW);
    client c, j;
    assert_int_equal(client_open(&c, &p, "protobuf"), 0);
    assert_int_equal(client_open(&j, &p, "json"), 0);
    assert_true(whoami(&j, NULL) != PX_OK); /* json is not served yet */
    reload r = {&p, SERVER_YAML_JSON};
    load_with(&c, 6000, 3000, do_reload, &r, "SIGHUP: new workers");
    assert_int_equal(log_wait(&p, "reloaded: serving with 3 worker processes", 1), 0);
    pid_t now[16];
    assert_int_equal(wait_workers(p.pid, old, NW, now), 0);
    assert_int_equal(log_wait(&p, "after draining", NW), 0);
    for (int i = 0; i < NW; i++)
        assert_true(kill(old[i], 0) != 0 && errno == ESRCH);
    pid_t who = 0;
    assert_int_equal(whoami(&j, &who), PX_OK); /* the new workers serve json */
    assert_true(has_pid(now, NW, who));
    client_close(&j);
    client_close(&c);
    assert_int_equal(px_proc_stop(&p), 0);
}

static void test_sighup_bad_config(void **state)
{
    (void)state;
    px_proc p;
    assert_int_equal(start_master(&p, SERVER_YAML), 0);
    pid_t old[16];
    assert_int_equal(workers_of(p.pid, old, 16), NW);
    client c;
    assert_int_equal(client_open(&c, &p, "protobuf"), 0);
    /* Line 8, column 3: a key the server: section does not have. */
    reload r = {&p, "  processes: 3\n  codecs: [protobuf]\n  bogus: 1\n"};
    load_with(&c, 3000, 1500, do_reload, &r, "SIGHUP: a bad file");
    assert_int_equal(log_wait(&p, "reload refused", 1), 0);
    char where[300];
    snprintf(where, sizeof where, "reload refused: %s:8:3: server: unknown key 'bogus'",
             p.conf);
    if (log_count(&p, where) != 1)
        show_log(&p);
    assert_int_equal(log_count(&p, where), 1);
    /* The same workers serve on. */
    pid_t now[16];
    assert_int_equal(workers_of(p.pid, now, 16), NW);
    for (int i = 0; i < NW; i++)
        assert_true(has_pid(old, NW, now[i]));
    pid_t who = 0;
    assert_int_equal(whoami(&c, &who), PX_OK);
    assert_true(has_pid(old, NW, who));
    client_close(&c);
    assert_int_equal(px_proc_stop(&p), 0);
}

/* A worker killed again and again as soon as it is back: the master starts it again
 * after a delay that doubles (100, 200, 400 ms...), logged, instead of forking in a tight
 * loop; the others serve on throughout. */
static void test_respawn_backoff(void **state)
{
    (void)state;
    px_proc p;
    assert_int_equal(start_master(&p, SERVER_YAML), 0);
    pid_t w[16], killed[8];
    assert_int_equal(workers_of(p.pid, w, 16), NW);
    int n_killed = 0;
    killed[n_killed++] = w[0];
    kill(w[0], SIGKILL);
    for (int round = 1; round < 4; round++) {
        /* Its successor: the one child not seen before (bounded: 30 s). */
        pid_t now[16], fresh = 0;
        assert_int_equal(wait_workers(p.pid, killed, n_killed, now), 0);
        for (int k = 0; k < NW; k++)
            if (!has_pid(w, NW, now[k]))
                fresh = now[k];
        assert_true(fresh > 0);
        killed[n_killed++] = fresh;
        kill(fresh, SIGKILL);
    }
    assert_int_equal(log_wait(&p, "starting it again in 400 ms", 1), 0);
    assert_int_equal(log_count(&p, "starting it again in 100 ms"), 1);
    assert_int_equal(log_count(&p, "starting it again in 200 ms"), 1);
    pid_t now[16];
    assert_int_equal(wait_workers(p.pid, killed, n_killed, now), 0);
    assert_true(whoami_new_conn(p.port) > 0);
    assert_int_equal(px_proc_stop(&p), 0);
}

/* 1 while pid runs (not gone, not a zombie waiting for whoever adopted it). */
static int running(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *st = strrchr(buf, ')'); /* "pid (comm) S ..." */
    return st && st[1] == ' ' && st[2] != 'Z' && st[2] != 'X';
}

/* The master killed -9: its workers do not serve on unsupervised (PR_SET_PDEATHSIG
 * tells them to drain and exit). */
static void test_workers_die_with_master(void **state)
{
    (void)state;
    px_proc p;
    assert_int_equal(start_master(&p, SERVER_YAML), 0);
    pid_t w[16];
    assert_int_equal(workers_of(p.pid, w, 16), NW);
    px_proc_kill(&p);
    int left = NW;
    for (int i = 0; i < 3000 && left > 0; i++) {
        left = 0;
        for (int k = 0; k < NW; k++)
            left += running(w[k]);
        if (left)
            pause_ms(10);
    }
    assert_int_equal(left, 0);
}

int main(void)
{
    px_proc_die_with_test();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_spread_over_workers),
        cmocka_unit_test(test_admin_sums_workers),
        cmocka_unit_test(test_worker_killed_under_load),
        cmocka_unit_test(test_sigterm_drains),
        cmocka_unit_test(test_sighup_new_workers),
        cmocka_unit_test(test_sighup_bad_config),
        cmocka_unit_test(test_respawn_backoff),
        cmocka_unit_test(test_workers_die_with_master),
    };
    return cmocka_run_group_tests_name("plexusd worker processes", tests, NULL, NULL);
}
