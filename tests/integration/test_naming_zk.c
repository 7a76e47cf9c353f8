/* naming zookeeper against a real ZooKeeper (tests/support/px_zk.c) and real plexusd calc
 * servers s0..s3. The test registers the providers itself with the ZooKeeper C API, as
 * docs/DEPLOYING.md lays them out: one ephemeral sequential node per server, each from
 * its own session, so that closing a session is that server vanishing. A client in this
 * process reads them (naming: {module: zookeeper}) under a steady load of async calls:
 * - the first list is there when px_client_new returns, calls spread over s0, s1, s2;
 * - s1's session closes: its node goes, and no call made after the client's list
 *   changed is answered by s1;
 * - s3 registers and takes calls;
 * - a malformed node is refused with a log line naming its znode, the list stays;
 * - ZooKeeper stops for a few seconds and restarts: no call fails, the list stays all
 *   along, the connected gauge goes to 0 and back to 1, and s1 registering after the
 *   restart is seen.
 * Timings are printed, never asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_client_int.h"
#include "px_load.h"
#include "px_proc.h"
#include "px_time.h"
#include "px_zk.h"

extern char **environ;

#define NSRV 4
#define PROVIDERS "/plexus/calc/providers"
#define CALLS 60000
/* Load chunks: 100 calls over 100 ms, the test's checks between them. */
#define CHUNK 100
#define CHUNK_US (100 * 1000)

typedef struct fx {
    px_zk zk;
    px_proc srv[NSRV];
    char addr[NSRV][64];
    zhandle_t *admin;      /* makes the parents and the malformed node */
    zhandle_t *prov[NSRV]; /* each provider's own session; NULL: not registered */
    char conf[256];
    px_config *cfg;
    px_client *cl;
    px_load load;
    FILE *zk_client_log;
} fx;

/* ---- log capture: the module's lines, still shown ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char refused_line[1024]; /* the first "znode ... refused" line */
static char session_id[32];     /* "0x...": the client's last session, as it logged it */

static void log_hook(void *arg, px_log_level lvl, const char *module, const char *msg)
{
    (void)arg;
    fprintf(stderr, "%s [%s] %s\n", px_log_level_name(lvl), module, msg);
    pthread_mutex_lock(&log_mu);
    if (!refused_line[0] && strstr(msg, "znode ") && strstr(msg, " refused: "))
        snprintf(refused_line, sizeof refused_line, "%s", msg);
    const char *sid = strstr(msg, "(session 0x");
    if (sid)
        sscanf(sid, "(session %31[0-9a-fx]", session_id);
    pthread_mutex_unlock(&log_mu);
}

/* ---- ZooKeeper sessions of the test ---- */

static void zk_session_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)type, (void)path;
    if (type == ZOO_SESSION_EVENT)
        __atomic_store_n((int *)ctx, state, __ATOMIC_RELEASE);
}

static int zk_states[NSRV + 1];

/* A connected session (bounded wait: 30 s). */
static zhandle_t *zk_connect(fx *f, int *state)
{
    __atomic_store_n(state, 0, __ATOMIC_RELEASE);
    zhandle_t *zh = zookeeper_init(f->zk.connect, zk_session_watch, 10000, NULL, state, 0);
    assert_non_null(zh);
    for (int i = 0; i < 3000 && __atomic_load_n(state, __ATOMIC_ACQUIRE) != ZOO_CONNECTED_STATE;
         i++)
        usleep(10000);
    assert_int_equal(__atomic_load_n(state, __ATOMIC_ACQUIRE), ZOO_CONNECTED_STATE);
    return zh;
}

/* An ephemeral sequential provider node with data from session zh; its path in out. */
static void zk_node(zhandle_t *zh, const char *data, char *out, int out_len)
{
    int rc = zoo_create(zh, PROVIDERS "/p-", data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE,
                        ZOO_EPHEMERAL | ZOO_SEQUENCE, out, out_len);
    assert_int_equal(rc, ZOK);
}

/* Server i registers from a session of its own, as plexusd's registration does. */
static void provider_up(fx *f, int i)
{
    char data[256], path[128];
    snprintf(data, sizeof data,
             "{\"address\":\"%s\",\"weight\":1,\"protocols\":[\"native\"],"
             "\"codecs\":[\"protobuf\"],\"id\":\"s%d\",\"pid\":%d,\"version\":1}",
             f->addr[i], i, (int)f->srv[i].pid);
    f->prov[i] = zk_connect(f, &zk_states[i]);
    zk_node(f->prov[i], data, path, sizeof path);
}

/* Server i vanishes from ZooKeeper: its session closes, the server deletes its node. */
static void provider_down(fx *f, int i)
{
    zookeeper_close(f->prov[i]);
    f->prov[i] = NULL;
}

/* ---- the client's view ---- */

static uint32_t live(const fx *f)
{
    return px_upstream_live_count(f->cl->up);
}

/* The value of the series `series` in this process's metrics; -1 when absent. */
static double metric(const char *series)
{
    char *t = px_metrics_text(NULL);
    assert_non_null(t);
    char key[256];
    snprintf(key, sizeof key, "\n%s ", series);
    const char *p = strstr(t, key);
    double v = p ? strtod(p + strlen(key), NULL) : -1;
    free(t);
    return v;
}

#define CONNECTED "plexus_naming_zookeeper_connected{upstream=\"calc\"}"

/* One chunk of load. */
static void load_chunk(fx *f)
{
    assert_int_equal(px_load_run(&f->load, CHUNK, CHUNK_US, NULL, NULL), 0);
}

/* The persistent parents of the providers, as the first registering server makes them. */
static void make_parents(fx *f)
{
    const char *parents[] = {"/plexus", "/plexus/calc", PROVIDERS};
    for (int i = 0; i < 3; i++)
        assert_int_equal(zoo_create(f->admin, parents[i], NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0,
                                    NULL, 0),
                         ZOK);
}

/* ZooKeeper and the servers; the providers' parents when `parents`. */
static fx *fx_up(int parents)
{
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(px_zk_start(&f->zk), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/client.log", f->zk.dir);
    /* The test's own sessions log reconnect attempts there, not into the test's output. */
    f->zk_client_log = fopen(path, "w");
    zoo_set_log_stream(f->zk_client_log);
    /* The library's log lines off, for every session of the process: it formats server
     * addresses into one static buffer from each session's threads (a race
     * ThreadSanitizer reports between two sessions' connection lines), and nothing here
     * reads them (naming_zookeeper forwards them at debug level only). */
    zoo_set_debug_level((ZooLogLevel)0);
    for (int i = 0; i < NSRV; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        assert_int_equal(px_proc_start(&f->srv[i], id,
                                       "  io_threads: 1\n"
                                       "  codecs: [protobuf]\n"
                                       "  services:\n"
                                       "    - module: calc\n"),
                         0);
        px_host_port(f->addr[i], sizeof f->addr[i], "127.0.0.1", f->srv[i].port);
    }
    f->admin = zk_connect(f, &zk_states[NSRV]);
    if (parents)
        make_parents(f);
    return f;
}

/* The client: its start waits for the first list. */
static void fx_client(fx *f, const char *session_timeout, const char *servers)
{
    snprintf(f->conf, sizeof f->conf, "%s/client.yaml", f->zk.dir);
    FILE *c = fopen(f->conf, "w");
    assert_non_null(c);
    fprintf(c,
            "modules:\n  path: [%s]\nclient:\n  descriptors: [calc]\n  upstreams:\n    calc:\n"
            "      naming: { module: zookeeper, servers: '%s', service: calc, protocol: native,\n"
            "                session_timeout: %s, connect_timeout: 20s }\n"
            "      balancer: round_robin\n"
            "      timeout: { module: fixed, connect: 1s, call: 5s }\n",
            getenv("PX_MODULE_DIR"), servers, session_timeout);
    fclose(c);
    px_err err;
    px_err_clear(&err);
    int64_t t0 = px_mono_us();
    if (px_config_load(f->conf, &f->cfg, &err) != PX_OK ||
        px_client_new(f->cfg, "calc", &f->cl, &err) != PX_OK)
        fail_msg("client: %s", err.msg);
    print_message("  px_client_new with naming zookeeper: %lld ms\n",
                  (long long)(px_mono_us() - t0) / 1000);
    assert_int_equal(px_load_init(&f->load, f->cl, CALLS), 0);
}

static void fx_down(fx *f)
{
    assert_int_equal(px_load_drain(&f->load, 10 * 1000000, NULL, NULL), 0);
    px_client_free(f->cl);
    px_config_free(f->cfg);
    px_load_free(&f->load);
    for (int i = 0; i < NSRV; i++) {
        if (f->prov[i])
            zookeeper_close(f->prov[i]);
        assert_int_equal(px_proc_stop(&f->srv[i]), 0);
    }
    zookeeper_close(f->admin);
    zoo_set_log_stream(NULL);
    fclose(f->zk_client_log);
    unlink(f->conf);
    px_zk_destroy(&f->zk);
    free(f);
}

/* Whether server i is in the client's list: its `up` series shows while it is listed. */
static int listed(const fx *f, int i)
{
    char series[160];
    snprintf(series, sizeof series,
             "plexus_upstream_endpoint_up{upstream=\"calc\",endpoint=\"%s\"}", f->addr[i]);
    return metric(series) >= 0;
}

/* Runs load (one call a millisecond) until ok(f, arg) (bounded: 30 s); the call index at
 * which it was seen, and when. */
static int load_until(fx *f, int (*ok)(const fx *, int), int arg, int64_t *at_us)
{
    for (int k = 0; k < 30000; k++) {
        if (ok(f, arg)) {
            *at_us = px_mono_us();
            return f->load.issued;
        }
        assert_int_equal(px_load_run(&f->load, 1, 1000, NULL, NULL), 0);
    }
    fail_msg("the client's list never came to what the test waits for (%u endpoints)",
             live(f));
    return -1;
}

static int has_n(const fx *f, int n)
{
    return live(f) == (uint32_t)n;
}

/* Up to `chunks` chunks of load, until the connected gauge reads `until` (-1: all of
 * them); range[0..1] widened to the smallest and largest list seen. Whether it read
 * `until`. */
static int load_watching(fx *f, int chunks, int until, uint32_t range[2])
{
    for (int k = 0; k < chunks; k++) {
        load_chunk(f);
        uint32_t n = live(f);
        range[0] = n < range[0] ? n : range[0];
        range[1] = n > range[1] ? n : range[1];
        if (until >= 0 && metric(CONNECTED) == until)
            return 1;
    }
    return 0;
}

/* A second of load, every call of it completed: the index after its last call. */
static int load_second(fx *f)
{
    for (int k = 0; k < 10; k++)
        load_chunk(f);
    assert_int_equal(px_load_drain(&f->load, 10 * 1000000, NULL, NULL), 0);
    return f->load.issued;
}

/* Server i registers; load runs until the client lists `want` endpoints. The call
 * index from which the list had it; *ms: how long that took. */
static int join(fx *f, int i, uint32_t want, double *ms)
{
    int64_t t0 = px_mono_us(), t_in;
    provider_up(f, i);
    int at = load_until(f, has_n, (int)want, &t_in);
    *ms = (t_in - t0) / 1000.0;
    return at;
}

static void test_naming_zookeeper(void **state)
{
    (void)state;
    if (!px_zk_available())
        skip();
    px_log_set_hook(log_hook, NULL);
    fx *f = fx_up(1);
    for (int i = 0; i < 3; i++)
        provider_up(f, i);
    fx_client(f, "6s", f->zk.connect);
    px_load *l = &f->load;
    /* The start waited for the first list: the first call has endpoints. */
    assert_int_equal(live(f), 3);
    assert_true(metric(CONNECTED) == 1);
    assert_true(metric("plexus_naming_endpoints{upstream=\"calc\"}") == 3);

    /* Phase 1: calls spread over the three. */
    int p1_end = load_second(f);
    px_load_sum s1;
    px_load_sum_up(l, 0, p1_end, &s1);
    print_message("  three registered: s0 %d s1 %d s2 %d s3 %d (of %d)\n", s1.per_server[0],
                  s1.per_server[1], s1.per_server[2], s1.per_server[3], s1.calls);
    assert_int_equal(s1.ok, s1.calls);
    assert_true(s1.per_server[0] > 0 && s1.per_server[1] > 0 && s1.per_server[2] > 0);
    assert_int_equal(s1.per_server[3], 0);

    /* Phase 2: s1's session closes, its node goes. */
    int64_t t_close = px_mono_us();
    int at_close = l->issued;
    provider_down(f, 1);
    int64_t t_gone;
    int at_gone = load_until(f, has_n, 2, &t_gone);
    print_message("  s1's node gone: out of the client's list %.1f ms after its session "
                  "closed (%d calls made in between)\n",
                  (t_gone - t_close) / 1000.0, at_gone - at_close);
    int p2_end = load_second(f);
    px_load_sum s2;
    px_load_sum_up(l, at_gone, p2_end, &s2);
    print_message("  after s1 left: s0 %d s1 %d s2 %d s3 %d (of %d)\n", s2.per_server[0],
                  s2.per_server[1], s2.per_server[2], s2.per_server[3], s2.calls);
    assert_int_equal(s2.ok, s2.calls);
    assert_int_equal(s2.per_server[1], 0);
    assert_true(s2.per_server[0] > 0 && s2.per_server[2] > 0);

    /* Phase 3: s3 registers and takes calls. */
    int64_t t_reg = px_mono_us();
    double in_ms;
    int at_in = join(f, 3, 3, &in_ms);
    int p3_end = load_second(f);
    int64_t first = px_load_first_answer(l, 3, t_reg);
    print_message("  s3 registered: in the client's list after %.1f ms, first answer after "
                  "%.1f ms\n",
                  in_ms, first ? (first - t_reg) / 1000.0 : -1.0);
    px_load_sum s3;
    px_load_sum_up(l, at_in, p3_end, &s3);
    assert_int_equal(s3.ok, s3.calls);
    assert_true(s3.per_server[3] > 0);
    assert_int_equal(s3.per_server[1], 0);

    /* Phase 4: a malformed node is refused with its znode named; the list stays. */
    char bad_path[128];
    zk_node(f->admin, "{\"address\": 127.0.0.1:9}", bad_path, sizeof bad_path);
    int seen = 0;
    for (int k = 0; k < 300 && !seen; k++) {
        load_chunk(f);
        pthread_mutex_lock(&log_mu);
        seen = refused_line[0] != 0;
        pthread_mutex_unlock(&log_mu);
    }
    assert_true(seen);
    print_message("  malformed node: \"%s\"\n", refused_line);
    assert_non_null(strstr(refused_line, bad_path));
    assert_non_null(strstr(refused_line, "malformed JSON"));
    assert_true(metric("plexus_naming_zookeeper_nodes_refused_total{upstream=\"calc\"}") >= 1);
    for (int k = 0; k < 5; k++)
        load_chunk(f);
    assert_int_equal(live(f), 3);

    /* Phase 5: ZooKeeper stops mid-load, then restarts. */
    int at_stop = l->issued;
    uint32_t range[2] = {live(f), live(f)};
    assert_int_equal(px_zk_stop(&f->zk), 0);
    int64_t t_stop = px_mono_us();
    int saw_zero = load_watching(f, 300, 0, range);
    print_message("  ZooKeeper stopped: connected gauge 0 after %.1f ms\n",
                  (px_mono_us() - t_stop) / 1000.0);
    assert_true(saw_zero);
    /* A few seconds without ZooKeeper: the list stays. */
    load_watching(f, 15, -1, range);
    assert_int_equal(px_zk_restart(&f->zk), 0);
    int64_t t_restart = px_mono_us();
    int saw_one = load_watching(f, 300, 1, range);
    print_message("  ZooKeeper down %.1f s; connected again %.1f ms after its restart; the "
                  "client's list stayed between %u and %u endpoints\n",
                  (t_restart - t_stop) / 1e6, (px_mono_us() - t_restart) / 1000.0, range[0],
                  range[1]);
    assert_true(saw_one);
    assert_int_equal(range[0], 3);
    assert_int_equal(range[1], 3);
    /* A change made after the restart is seen: s1 registers again and takes calls. */
    int at_in1 = join(f, 1, 4, &in_ms);
    int p5_end = load_second(f);
    print_message("  s1 registered after the restart: in the client's list after %.1f ms\n",
                  in_ms);
    px_load_sum s5, all;
    px_load_sum_up(l, at_in1, p5_end, &s5);
    assert_true(s5.per_server[1] > 0);
    px_load_sum_up(l, at_stop, p5_end, &all);
    px_load_sum_print(l, at_stop, p5_end, &all, "outage and after");
    assert_int_equal(all.failed + all.never + all.twice, 0);
    px_load_sum_up(l, 0, p5_end, &all);
    px_load_sum_print(l, 0, p5_end, &all, "all");
    assert_int_equal(all.ok, all.calls);
    px_log_set_hook(NULL, NULL);
    fx_down(f);
}

/* ---- a relay between the client and ZooKeeper, to cut the client off alone ---- */

/* socat forwarding a port of its own to ZooKeeper, in a process group of its own so that
 * killing the group ends the connections it relays too. */
typedef struct relay {
    pid_t pid;
    int port;
} relay;

static void relay_start(relay *r, int zk_port)
{
    char listen[96], to[64];
    if (r->port == 0)
        r->port = px_free_port();
    snprintf(listen, sizeof listen, "TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr", r->port);
    snprintf(to, sizeof to, "TCP:127.0.0.1:%d", zk_port);
    char *const argv[] = {"setpriv", "--pdeathsig", "KILL", "--", "socat", listen, to, NULL};
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    assert_int_equal(posix_spawnp(&r->pid, "setpriv", NULL, &attr, argv, environ), 0);
    posix_spawnattr_destroy(&attr);
    for (int k = 0; k < 1000; k++) { /* bounded: 10 s until it listens */
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return;
        usleep(10000);
    }
    fail_msg("socat did not listen on %d", r->port);
}

static void relay_cut(relay *r)
{
    if (r->pid <= 0)
        return;
    kill(-r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

/* Whether ZooKeeper's session tracker still holds the session "0x..." (`dump` lists
 * each live session as "\t0x...\n" before its ephemeral nodes). */
static int session_alive(const fx *f, const char *sid)
{
    char buf[16384], line[48];
    assert_int_equal(px_zk_4lw(&f->zk, "dump", buf, sizeof buf), 0);
    char *end = strstr(buf, "ephemeral nodes dump");
    if (end)
        *end = 0;
    snprintf(line, sizeof line, "\t%s\n", sid);
    return strstr(buf, line) != NULL;
}

static int s3_in_s2_out(const fx *f, int unused)
{
    (void)unused;
    return listed(f, 3) && !listed(f, 2);
}

#define EXPIRATIONS "plexus_naming_zookeeper_session_expirations_total{upstream=\"calc\"}"

/* The client reaches ZooKeeper through a relay. No providers node when the client
 * starts: it starts at once without endpoints and watches for the node. Later the relay
 * is cut until ZooKeeper has expired the client's session, while ZooKeeper and the
 * servers' sessions go on; when the relay is back the
 * client is told, makes a new session and reads again. The list stays all along, no
 * call fails, and changes made afterwards are seen through the new session. */
static void test_missing_node_and_expired_session(void **state)
{
    (void)state;
    if (!px_zk_available())
        skip();
    px_log_set_hook(log_hook, NULL);
    fx *f = fx_up(0);
    relay r = {0};
    relay_start(&r, f->zk.port);
    char via[48];
    snprintf(via, sizeof via, "127.0.0.1:%d", r.port);
    fx_client(f, "1s", via);
    px_load *l = &f->load;
    assert_int_equal(live(f), 0);
    Calc__WhoamiRequest req = CALC__WHOAMI_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    px_err err;
    assert_int_equal(px_call(f->cl, "calc.Calculator/Whoami", &req.base,
                             &calc__whoami_reply__descriptor, NULL, &reply, &err),
                     PX_UNAVAILABLE);
    px_msg_free(reply);

    /* The servers register: the client was watching for the node. */
    int64_t t0 = px_mono_us();
    make_parents(f);
    provider_up(f, 0);
    provider_up(f, 2);
    for (int k = 0; k < 3000 && live(f) != 2; k++)
        usleep(10000);
    assert_int_equal(live(f), 2);
    print_message("  providers node made, two servers registered: listed after %.1f ms\n",
                  (px_mono_us() - t0) / 1000.0);
    int p1_end = load_second(f);
    px_load_sum s1;
    px_load_sum_up(l, 0, p1_end, &s1);
    assert_int_equal(s1.ok, s1.calls);
    assert_true(s1.per_server[0] > 0 && s1.per_server[2] > 0);

    /* Cut off until ZooKeeper expired the session (1 s). */
    char sid[32];
    pthread_mutex_lock(&log_mu);
    memcpy(sid, session_id, sizeof sid);
    pthread_mutex_unlock(&log_mu);
    assert_true(session_alive(f, sid));
    int at_cut = l->issued;
    uint32_t range[2] = {live(f), live(f)};
    relay_cut(&r);
    int64_t t_cut = px_mono_us();
    assert_true(load_watching(f, 300, 0, range));
    int chunks = 0;
    for (; chunks < 300 && session_alive(f, sid); chunks++)
        load_watching(f, 1, -1, range);
    assert_false(session_alive(f, sid));
    print_message("  cut off: ZooKeeper dropped the session after %.1f s\n",
                  (px_mono_us() - t_cut) / 1e6);
    relay_start(&r, f->zk.port);
    int64_t t_back = px_mono_us();
    int back = 0;
    for (int k = 0; k < 300 && !back; k++)
        back = load_watching(f, 1, 1, range) && metric(EXPIRATIONS) >= 1;
    print_message("  a new session connected %.1f ms after the relay was back; the list "
                  "stayed between %u and %u endpoints\n",
                  (px_mono_us() - t_back) / 1000.0, range[0], range[1]);
    assert_true(back);
    assert_true(metric(EXPIRATIONS) == 1);
    assert_int_equal(range[0], 2);
    assert_int_equal(range[1], 2);

    /* Changes after it reach the client through the new session: s2 goes, s3 comes. */
    int64_t t_change = px_mono_us(), t_in;
    provider_down(f, 2);
    provider_up(f, 3);
    int at_in = load_until(f, s3_in_s2_out, 0, &t_in);
    print_message("  s2 gone and s3 registered: the client's list has them after %.1f ms\n",
                  (t_in - t_change) / 1000.0);
    int p3_end = load_second(f);
    px_load_sum s3, all;
    px_load_sum_up(l, at_in, p3_end, &s3);
    assert_int_equal(s3.per_server[2], 0);
    assert_true(s3.per_server[0] > 0 && s3.per_server[3] > 0);
    px_load_sum_up(l, at_cut, p3_end, &all);
    px_load_sum_print(l, at_cut, p3_end, &all, "cut, expiry and after");
    assert_int_equal(all.ok, all.calls);
    px_log_set_hook(NULL, NULL);
    fx_down(f);
    relay_cut(&r);
}

int main(void)
{
    px_proc_die_with_test();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_naming_zookeeper),
        cmocka_unit_test(test_missing_node_and_expired_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
