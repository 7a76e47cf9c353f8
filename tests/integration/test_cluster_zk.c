/* A cluster on one machine, as docs/DEPLOYING.md lays it out: a real ZooKeeper
 * (tests/support/px_zk.c), plexusd calc servers s0..s3 that register themselves
 * (server.register: zookeeper, session timeout 2 s), and a client in this process whose
 * upstream reads them (naming: zookeeper), under a steady load of async Whoami calls
 * (idempotent, failover retry):
 * - the three are discovered and calls spread over them;
 * - s1 is killed (kill -9): its node goes after the session timeout, the client drops
 *   it, and from then no connection at all reaches its port (a listener of the test
 *   takes the port over and counts them: zero); no call fails, the retry sends those
 *   that met the dead server elsewhere;
 * - s3 starts and registers: it takes calls;
 * - ZooKeeper stops for 10 s mid-load and restarts: no call fails, the client's list
 *   stays, and the live servers' registrations are there again afterwards.
 * Timings are printed, never asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "plexus/plexus.h"
#include "px_client_int.h"
#include "px_load.h"
#include "px_proc.h"
#include "px_time.h"
#include "px_zk.h"
#include "px_zk_client.h"

#define NSRV 4
#define PROVIDERS "/plexus/calc/providers"
#define CALLS 60000
#define CHUNK 100           /* calls ... */
#define CHUNK_US 100000     /* ... over 100 ms */

typedef struct fx {
    px_zk zk;
    zhandle_t *zh; /* the test's own session: reads the providers */
    px_proc srv[NSRV];
    char addr[NSRV][64];
    char conf[256];
    px_config *cfg;
    px_client *cl;
    px_load load;
    px_call_opts opts;
    FILE *zk_log;
} fx;

static void zk_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)type, (void)state, (void)path, (void)ctx;
}

/* Whether a provider node publishes addr now; -1 when ZooKeeper does not answer. */
static int published(fx *f, const char *addr)
{
    struct String_vector kids = {0};
    int rc = zoo_get_children(f->zh, PROVIDERS, 0, &kids);
    if (rc != ZOK)
        return rc == ZNONODE ? 0 : -1;
    int found = 0;
    for (int i = 0; i < kids.count && !found; i++) {
        char path[256], buf[1024];
        int len = sizeof buf - 1;
        snprintf(path, sizeof path, "%s/%s", PROVIDERS, kids.data[i]);
        if (zoo_get(f->zh, path, 0, buf, &len, NULL) != ZOK || len < 0)
            continue;
        buf[len] = 0;
        json_t *o = json_loads(buf, 0, NULL);
        const char *a = json_string_value(json_object_get(o, "address"));
        found = a && strcmp(a, addr) == 0;
        json_decref(o);
    }
    deallocate_String_vector(&kids);
    return found;
}

/* ---- a poller thread: when s1's node disappears ---- */

typedef struct gone_watch {
    fx *f;
    const char *addr;
    int stop;        /* atomic */
    int64_t gone_us; /* atomic: when it was first seen absent; 0 not yet */
    pthread_t th;
} gone_watch;

static void *gone_main(void *arg)
{
    gone_watch *g = arg;
    while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
        if (published(g->f, g->addr) == 0) {
            __atomic_store_n(&g->gone_us, px_mono_us(), __ATOMIC_RELEASE);
            break;
        }
        usleep(5000);
    }
    return NULL;
}

/* ---- a listener on the dead server's port: every connection is a call sent there ---- */

static int trap_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 64), 0);
    return fd;
}

static void trap_count(void *arg)
{
    int *t = arg; /* t[0] fd, t[1] count */
    int c;
    while ((c = accept(t[0], NULL, NULL)) >= 0) {
        t[1]++;
        close(c);
    }
}

/* ---- the cluster ---- */

static char g_server_yaml[1024];

static void server_yaml(const fx *f)
{
    snprintf(g_server_yaml, sizeof g_server_yaml,
             "  io_threads: 1\n  codecs: [protobuf]\n  services:\n    - module: calc\n"
             "  register:\n    module: zookeeper\n    servers: '%s'\n    service: calc\n"
             "    session_timeout: 2s\n",
             f->zk.connect);
}

static void start_server(fx *f, int i)
{
    char id[8];
    snprintf(id, sizeof id, "s%d", i);
    assert_int_equal(px_proc_start(&f->srv[i], id, g_server_yaml), 0);
    px_host_port(f->addr[i], sizeof f->addr[i], "127.0.0.1", f->srv[i].port);
}

static uint32_t live(const fx *f)
{
    return px_upstream_live_count(f->cl->up);
}

static void load_chunk(fx *f, void (*tick)(void *), void *arg)
{
    assert_int_equal(px_load_run(&f->load, CHUNK, CHUNK_US, tick, arg), 0);
}

static int load_until_live(fx *f, uint32_t want, int64_t *at_us)
{
    int at = px_load_until_live(&f->load, want, at_us);
    assert_true(at >= 0);
    return at;
}

static int load_second(fx *f, void (*tick)(void *), void *arg)
{
    int at = px_load_second(&f->load, tick, arg);
    assert_true(at >= 0);
    return at;
}

/* The test's own session, made (again): after a ZooKeeper restart the old one may sit
 * in a connection attempt to the server that was still starting (up to two thirds of its
 * timeout), and the reads would wait for it rather than show the servers' nodes. */
static void observer_connect(fx *f)
{
    if (f->zh)
        zookeeper_close(f->zh);
    f->zh = zookeeper_init(f->zk.connect, zk_watch, 15000, NULL, NULL, 0);
    assert_non_null(f->zh);
    for (int i = 0; i < 3000 && zoo_state(f->zh) != ZOO_CONNECTED_STATE; i++)
        usleep(10000);
    assert_int_equal(zoo_state(f->zh), ZOO_CONNECTED_STATE);
}

static fx *fx_up(void)
{
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(px_zk_start(&f->zk), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/client.log", f->zk.dir);
    f->zk_log = fopen(path, "w"); /* the test's own sessions' reconnect lines */
    zoo_set_log_stream(f->zk_log);
    observer_connect(f);
    server_yaml(f);
    return f;
}

static void fx_client(fx *f)
{
    snprintf(f->conf, sizeof f->conf, "%s/client.yaml", f->zk.dir);
    assert_int_equal(px_zk_client_new(f->conf, f->zk.connect, "",
                                      "      balancer: round_robin\n"
                                      "      failover: { module: retry, retries: 2 }\n"
                                      "      timeout: { module: fixed, connect: 1s, call: 5s }\n",
                                      &f->cfg, &f->cl),
                     0);
    assert_int_equal(px_load_init(&f->load, f->cl, CALLS), 0);
    f->opts.idempotent = 1; /* Whoami: a call that met a dying server may be repeated */
    f->load.opts = &f->opts;
}

static void fx_down(fx *f)
{
    assert_int_equal(px_load_drain(&f->load, 10 * 1000000, NULL, NULL), 0);
    px_client_free(f->cl);
    px_config_free(f->cfg);
    px_load_free(&f->load);
    for (int i = 0; i < NSRV; i++)
        if (f->srv[i].pid > 0)
            assert_int_equal(px_proc_stop(&f->srv[i]), 0);
    zookeeper_close(f->zh);
    zoo_set_log_stream(NULL);
    fclose(f->zk_log);
    unlink(f->conf);
    px_zk_destroy(&f->zk);
    free(f);
}

static void test_cluster(void **state)
{
    (void)state;
    if (!px_zk_available())
        skip();
    fx *f = fx_up();
    for (int i = 0; i < 3; i++)
        start_server(f, i);
    /* Each server registers once it serves; the client waits for a first list. */
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3000 && published(f, f->addr[i]) != 1; k++)
            usleep(10000);
    fx_client(f);
    px_load *l = &f->load;
    int64_t t_in;
    load_until_live(f, 3, &t_in);

    /* Phase 1: discovered, calls spread. */
    int at1 = l->issued, end1 = load_second(f, NULL, NULL);
    px_load_sum s;
    px_load_sum_up(l, at1, end1, &s);
    print_message("  discovered: s0 %d s1 %d s2 %d (of %d)\n", s.per_server[0],
                  s.per_server[1], s.per_server[2], s.calls);
    assert_int_equal(s.ok, s.calls);
    assert_true(s.per_server[0] > 0 && s.per_server[1] > 0 && s.per_server[2] > 0);

    /* Phase 2: kill -9 s1. */
    gone_watch g = {.f = f, .addr = f->addr[1]};
    int port1 = f->srv[1].port, at_kill = l->issued;
    int64_t t_kill = px_mono_us();
    px_proc_kill(&f->srv[1]);
    assert_int_equal(pthread_create(&g.th, NULL, gone_main, &g), 0);
    int64_t t_drop;
    int at_drop = load_until_live(f, 2, &t_drop);
    /* The port is free again: from now on whatever connects to it is counted. */
    int trap[2] = {trap_open(port1), 0};
    int end2 = load_second(f, trap_count, trap);
    trap_count(trap);
    __atomic_store_n(&g.stop, 1, __ATOMIC_RELEASE);
    pthread_join(g.th, NULL);
    close(trap[0]);
    int64_t t_gone = __atomic_load_n(&g.gone_us, __ATOMIC_ACQUIRE);
    px_load_sum_up(l, at_kill, end2, &s);
    print_message("  kill -9 s1: node gone after %.0f ms (session timeout 2 s); out of the "
                  "client's list after %.0f ms; connections to its port afterwards: %d; "
                  "calls since the kill: %d, ok %d, failed %d\n",
                  t_gone ? (t_gone - t_kill) / 1000.0 : -1.0, (t_drop - t_kill) / 1000.0,
                  trap[1], s.calls, s.ok, s.failed);
    assert_true(t_gone > 0);
    assert_int_equal(trap[1], 0);
    assert_int_equal(s.ok, s.calls);
    px_load_sum_up(l, at_drop, end2, &s);
    assert_int_equal(s.per_server[1], 0);

    /* Phase 3: s3 joins. */
    int64_t t_start = px_mono_us();
    start_server(f, 3);
    int at_join = load_until_live(f, 3, &t_in);
    int end3 = load_second(f, NULL, NULL);
    int64_t first = px_load_first_answer(l, 3, t_start);
    px_load_sum_up(l, at_join, end3, &s);
    print_message("  s3 joins: in the client's list %.0f ms after plexusd was started, first "
                  "answer after %.0f ms; then s0 %d s2 %d s3 %d (of %d)\n",
                  (t_in - t_start) / 1000.0, first ? (first - t_start) / 1000.0 : -1.0,
                  s.per_server[0], s.per_server[2], s.per_server[3], s.calls);
    assert_int_equal(s.ok, s.calls);
    assert_true(s.per_server[3] > 0);

    /* Phase 4: ZooKeeper stops for 10 s under load, then restarts. */
    int at_stop = l->issued;
    uint32_t lo = live(f), hi = lo;
    assert_int_equal(px_zk_stop(&f->zk), 0);
    int64_t t_stop = px_mono_us();
    while (px_mono_us() - t_stop < 10 * 1000000LL) {
        load_chunk(f, NULL, NULL);
        uint32_t n = live(f);
        lo = n < lo ? n : lo;
        hi = n > hi ? n : hi;
    }
    assert_int_equal(px_zk_restart(&f->zk), 0);
    int64_t t_up = px_mono_us(), t_back = 0;
    observer_connect(f);
    const int alive[] = {0, 2, 3};
    for (int k = 0; k < 300 && !t_back; k++) {
        load_chunk(f, NULL, NULL);
        int all = 1;
        for (int i = 0; i < 3; i++)
            all &= published(f, f->addr[alive[i]]) == 1;
        if (all)
            t_back = px_mono_us();
    }
    int end4 = load_second(f, NULL, NULL);
    px_load_sum_up(l, at_stop, end4, &s);
    print_message("  ZooKeeper stopped 10 s under load (%.1f s until it served again): the client's list stayed between %u and "
                  "%u; registrations there %.0f ms after its restart; calls %d, ok %d, "
                  "failed %d\n",
                  (t_up - t_stop) / 1e6, lo, hi, t_back ? (t_back - t_up) / 1000.0 : -1.0,
                  s.calls, s.ok, s.failed);
    assert_true(t_back > 0);
    assert_int_equal(s.failed + s.never + s.twice, 0);
    assert_int_equal(lo, 3);
    assert_int_equal(hi, 3);
    assert_int_equal(live(f), 3);
    assert_true(s.per_server[0] > 0 && s.per_server[2] > 0 && s.per_server[3] > 0);

    px_load_sum_up(l, 0, end4, &s);
    px_load_sum_print(l, 0, end4, &s, "all");
    assert_int_equal(s.ok, s.calls);
    fx_down(f);
}

int main(void)
{
    px_proc_die_with_test();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
