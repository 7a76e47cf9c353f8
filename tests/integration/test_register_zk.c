/* server.register with registry_zookeeper, end to end: a real ZooKeeper (px_zk), real
 * plexusd servers that register themselves, and the nodes read back with the ZooKeeper
 * C client. Checked: one node per listener with the layout's JSON (the bound port, id,
 * protocols, codecs, weight, pid); a SIGTERM deletes the node before the process is
 * gone; a kill -9 leaves it until the session times out; a server frozen for longer than
 * its session comes back with a new one; a ZooKeeper outage longer than
 * the session ends with every live server's node back; a server started while ZooKeeper
 * is down serves, and registers once it is up; a reload publishes the new weight; the
 * master of server.processes registers once; bad register: keys are refused at
 * FILE:LINE:COL by plexusd -t. Timings are printed, never asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "px_proc.h"
#include "px_zk.h"

#define PROVIDERS "/plexus/calc/providers"
#define MAXN 16

static px_zk g_zk;
static zhandle_t *g_zh;
static FILE *g_zk_log; /* the test's own session's reconnect lines, not in its output */

typedef struct node {
    char name[64];
    char address[64];
    char id[32];
    long long weight, pid, version;
    char protocols[64], codecs[64]; /* joined with ',' */
} node;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void join_strings(json_t *a, char *out, size_t cap)
{
    out[0] = 0;
    for (size_t i = 0; json_is_array(a) && i < json_array_size(a); i++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", i ? "," : "", json_string_value(json_array_get(a, i)));
    }
}

/* The providers' nodes as they are now; -1 when ZooKeeper cannot be asked. */
static int list_nodes(node *out, int cap)
{
    struct String_vector kids = {0};
    int rc = zoo_get_children(g_zh, PROVIDERS, 0, &kids);
    if (rc == ZNONODE)
        return 0;
    if (rc != ZOK)
        return -1;
    int n = 0;
    for (int i = 0; i < kids.count && n < cap; i++) {
        char path[256], buf[1024];
        int len = sizeof buf - 1;
        snprintf(path, sizeof path, "%s/%s", PROVIDERS, kids.data[i]);
        if (zoo_get(g_zh, path, 0, buf, &len, NULL) != ZOK || len < 0)
            continue; /* gone between the two reads */
        buf[len] = 0;
        json_t *o = json_loads(buf, 0, NULL);
        node *nd = &out[n++];
        memset(nd, 0, sizeof *nd);
        snprintf(nd->name, sizeof nd->name, "%s", kids.data[i]);
        snprintf(nd->address, sizeof nd->address, "%s",
                 json_string_value(json_object_get(o, "address")) ?: "");
        snprintf(nd->id, sizeof nd->id, "%s", json_string_value(json_object_get(o, "id")) ?: "");
        nd->weight = json_integer_value(json_object_get(o, "weight"));
        nd->pid = json_integer_value(json_object_get(o, "pid"));
        nd->version = json_integer_value(json_object_get(o, "version"));
        join_strings(json_object_get(o, "protocols"), nd->protocols, sizeof nd->protocols);
        join_strings(json_object_get(o, "codecs"), nd->codecs, sizeof nd->codecs);
        json_decref(o);
    }
    deallocate_String_vector(&kids);
    return n;
}

static void addr_of(const px_proc *p, char *buf, size_t cap)
{
    snprintf(buf, cap, "127.0.0.1:%d", p->port);
}

/* How many nodes publish addr (with this weight, when weight > 0); -1: no answer. */
static int count_addr(const char *addr, long long weight)
{
    node nodes[MAXN];
    int n = list_nodes(nodes, MAXN), c = 0;
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(nodes[i].address, addr) == 0 && (weight <= 0 || nodes[i].weight == weight))
            c++;
    return c;
}

/* Polls (bounded: 40 s) until addr is published by `want` nodes; the ms it took, or -1. */
static int64_t wait_count(const char *addr, long long weight, int want)
{
    int64_t t0 = now_ms();
    for (int i = 0; i < 4000; i++) {
        if (count_addr(addr, weight) == want)
            return now_ms() - t0;
        sleep_ms(10);
    }
    return -1;
}

static void write_conf(const char *path, const px_proc *p, const char *server_yaml)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "modules:\n  path: [%s]\nserver:\n  listen: '127.0.0.1:%d'\n  id: %s\n%s",
            getenv("PX_MODULE_DIR") ?: "build/modules", p->port, p->id, server_yaml);
    fclose(f);
}

/* A calc server registered with the test's ZooKeeper (session timeout 2 s). */
static void server_yaml(char *buf, size_t cap, int weight, const char *extra)
{
    snprintf(buf, cap,
             "  io_threads: 1\n  codecs: [protobuf]\n  services:\n    - module: calc\n"
             "  register:\n    module: zookeeper\n    servers: '%s'\n    service: calc\n"
             "    weight: %d\n    session_timeout: 2s\n%s",
             g_zk.connect, weight, extra ? extra : "");
}

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)type, (void)state, (void)path, (void)ctx;
}

/* The test's own session, made again: after a ZooKeeper restart the old one may sit in
 * a connection attempt to the server that was still starting (up to two thirds of its
 * timeout), and the reads would wait for it rather than show the servers' nodes. */
static int observer_connect(void)
{
    if (g_zh)
        zookeeper_close(g_zh);
    g_zh = zookeeper_init(g_zk.connect, watcher, 15000, NULL, NULL, 0);
    for (int i = 0; g_zh && i < 3000 && zoo_state(g_zh) != ZOO_CONNECTED_STATE; i++)
        sleep_ms(10);
    return g_zh && zoo_state(g_zh) == ZOO_CONNECTED_STATE ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    if (!px_zk_available())
        return 0;
    px_proc_die_with_test();
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    if (px_zk_start(&g_zk) != 0)
        return -1;
    char path[300];
    snprintf(path, sizeof path, "%s/client.log", g_zk.dir);
    if ((g_zk_log = fopen(path, "w")) != NULL)
        zoo_set_log_stream(g_zk_log);
    return observer_connect();
}

static int teardown(void **state)
{
    (void)state;
    if (g_zh)
        zookeeper_close(g_zh);
    zoo_set_log_stream(NULL);
    if (g_zk_log)
        fclose(g_zk_log);
    if (g_zk.pid || g_zk.dir[0])
        px_zk_destroy(&g_zk);
    return 0;
}

/* Three servers publish the layout; an outage brings them back; a reload republishes;
 * SIGTERM deletes at once, kill -9 after the session timeout. */
static void test_register_lifecycle(void **state)
{
    (void)state;
    if (!g_zh)
        skip();
    px_proc s[3];
    char y[1024], addr[3][64];
    /* s2 has a second listener on port 0: its node must carry the port it got. */
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        server_yaml(y, sizeof y, 1, NULL);
        assert_int_equal(px_proc_start(&s[i], id, y), 0);
        addr_of(&s[i], addr[i], sizeof addr[i]);
    }
    int64_t t = 0;
    for (int i = 0; i < 3; i++) {
        int64_t w = wait_count(addr[i], 1, 1);
        assert_true(w >= 0);
        t = w > t ? w : t;
    }
    printf("registered: 3 servers' nodes seen within %lld ms of their start\n", (long long)t);
    node nodes[MAXN];
    int n = list_nodes(nodes, MAXN);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < 3 && strcmp(nodes[i].address, addr[k]) != 0)
            k++;
        assert_true(k < 3);
        assert_string_equal(nodes[i].id, s[k].id);
        assert_int_equal(nodes[i].pid, s[k].pid);
        assert_int_equal(nodes[i].weight, 1);
        assert_int_equal(nodes[i].version, 1);
        assert_string_equal(nodes[i].protocols, "native");
        assert_string_equal(nodes[i].codecs, "protobuf");
        assert_int_equal(strncmp(nodes[i].name, "p-", 2), 0);
        assert_int_equal(strlen(nodes[i].name), 12); /* p- and ZooKeeper's 10 digits */
    }

    /* ZooKeeper away for longer than the sessions' timeout, then back. */
    assert_int_equal(px_zk_stop(&g_zk), 0);
    sleep_ms(3000);
    int64_t t0 = now_ms();
    assert_int_equal(px_zk_restart(&g_zk), 0);
    int64_t up = now_ms() - t0;
    assert_int_equal(observer_connect(), 0);
    t = 0;
    for (int i = 0; i < 3; i++) {
        int64_t w = wait_count(addr[i], 1, 1);
        assert_true(w >= 0);
        t = w > t ? w : t;
    }
    printf("ZooKeeper down 3 s (sessions 2 s): every live server's node back %lld ms after "
           "it served again (its restart took %lld ms)\n", (long long)t, (long long)up);

    /* A reload with another weight: the new node, and the old one goes. */
    server_yaml(y, sizeof y, 7, NULL);
    write_conf(s[2].conf, &s[2], y);
    assert_int_equal(kill(s[2].pid, SIGHUP), 0);
    int64_t w = wait_count(addr[2], 7, 1);
    assert_true(w >= 0);
    assert_int_equal(wait_count(addr[2], 1, 0) >= 0, 1);
    printf("reload: weight 7 published %lld ms after SIGHUP\n", (long long)w);

    /* Cut off for longer than its session (SIGSTOP, as a partition would): ZooKeeper
     * expires the session and drops the node; running again, the server finds its
     * session expired, makes a new one and registers again. */
    assert_int_equal(kill(s[2].pid, SIGSTOP), 0);
    t0 = now_ms();
    int64_t cut = wait_count(addr[2], 0, 0);
    int64_t t_cont = now_ms();
    assert_int_equal(kill(s[2].pid, SIGCONT), 0);
    assert_true(cut >= 0);
    int64_t back = wait_count(addr[2], 7, 1);
    assert_true(back >= 0);
    printf("partition (SIGSTOP): node gone after %lld ms; registered again %lld ms after "
           "SIGCONT (a new session)\n", (long long)(t_cont - t0), (long long)back);

    /* SIGTERM: deregistered before the process is gone. */
    t0 = now_ms();
    assert_int_equal(kill(s[0].pid, SIGTERM), 0);
    int64_t gone = -1, exited = -1;
    for (int i = 0; i < 3000 && exited < 0; i++) {
        int status;
        if (gone < 0 && count_addr(addr[0], 0) == 0)
            gone = now_ms() - t0;
        if (waitpid(s[0].pid, &status, WNOHANG) == s[0].pid) {
            exited = now_ms() - t0;
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        } else {
            sleep_ms(1);
        }
    }
    s[0].pid = 0;
    assert_true(exited >= 0);
    /* Gone by the time the process is (the exit waits for the deletion). */
    assert_int_equal(count_addr(addr[0], 0), 0);
    printf("SIGTERM: node gone %lld ms after the signal; process exited after %lld ms\n",
           (long long)(gone >= 0 ? gone : exited), (long long)exited);

    /* kill -9: the node stays until ZooKeeper expires the session (2 s). */
    t0 = now_ms();
    px_proc_kill(&s[1]);
    w = wait_count(addr[1], 0, 0);
    assert_true(w >= 0);
    printf("kill -9: node gone %lld ms after the kill (session timeout 2 s)\n",
           (long long)(now_ms() - t0));
    assert_int_equal(count_addr(addr[2], 7), 1);

    px_proc_stop(&s[2]);
    px_proc_kill(&s[0]);
    assert_int_equal(wait_count(addr[2], 0, 0) >= 0, 1);
}

/* ZooKeeper down when plexusd starts: it serves anyway, and registers once ZooKeeper is
 * back. The master of server.processes: 2 registers its listener once. */
static void test_register_late_and_master(void **state)
{
    (void)state;
    if (!g_zh)
        skip();
    px_proc p, m;
    char y[1024], a[64], am[64];
    assert_int_equal(px_zk_stop(&g_zk), 0);
    server_yaml(y, sizeof y, 1, NULL);
    assert_int_equal(px_proc_start(&p, "late", y), 0); /* serves: it accepts connections */
    server_yaml(y, sizeof y, 2, "  processes: 2\n");
    assert_int_equal(px_proc_start(&m, "master", y), 0);
    sleep_ms(500);
    assert_int_equal(px_zk_restart(&g_zk), 0);
    int64_t t0 = now_ms();
    assert_int_equal(observer_connect(), 0);
    addr_of(&p, a, sizeof a);
    addr_of(&m, am, sizeof am);
    int64_t w = wait_count(a, 1, 1);
    assert_true(w >= 0);
    printf("started while ZooKeeper was down: registered %lld ms after ZooKeeper served "
           "again\n", (long long)(now_ms() - t0));
    assert_true(wait_count(am, 2, 1) >= 0);
    sleep_ms(300);
    assert_int_equal(count_addr(am, 0), 1); /* the master's one node, not one per worker */
    node nodes[MAXN];
    int n = list_nodes(nodes, MAXN);
    for (int i = 0; i < n; i++)
        if (strcmp(nodes[i].address, am) == 0)
            assert_int_equal(nodes[i].pid, m.pid);
    assert_int_equal(px_proc_stop(&m), 0);
    assert_int_equal(count_addr(am, 0), 0);
    assert_int_equal(px_proc_stop(&p), 0);
    assert_int_equal(count_addr(a, 0), 0);
}

/* A second listener on 0.0.0.0 port 0 with advertise: each listener is published with
 * the advertised host and the port its socket got, and that address serves. */
static void test_register_advertise_port0(void **state)
{
    (void)state;
    if (!g_zh)
        skip();
    px_proc p;
    char y[1024], a[64];
    server_yaml(y, sizeof y, 1,
                "    advertise: 127.0.0.1\n  listeners:\n    - listen: '0.0.0.0:0'\n");
    assert_int_equal(px_proc_start(&p, "adv", y), 0);
    addr_of(&p, a, sizeof a);
    assert_true(wait_count(a, 1, 1) >= 0);
    node nodes[MAXN];
    int n = 0, other = -1;
    for (int k = 0; k < 3000 && other < 0; k++) {
        n = list_nodes(nodes, MAXN);
        for (int i = 0; i < n; i++)
            if (strcmp(nodes[i].id, "adv") == 0 && strcmp(nodes[i].address, a) != 0)
                other = i;
        if (other < 0)
            sleep_ms(10);
    }
    assert_true(other >= 0);
    int port = 0;
    assert_int_equal(sscanf(nodes[other].address, "127.0.0.1:%d", &port), 1);
    assert_true(port > 0 && port != p.port);
    printf("0.0.0.0:0 with advertise 127.0.0.1: published as %s\n", nodes[other].address);
    /* It is the listener's real port: a calc call through it is answered. */
    char *argv[] = {NULL, "call", nodes[other].address, "calc.Calculator/Whoami", "{}", NULL};
    char bin[512], out[2048], err[2048];
    snprintf(bin, sizeof bin, "%s/bin/plexus", getenv("PX_BINARY_DIR") ?: "build");
    argv[0] = bin;
    if (px_run(argv, out, sizeof out, err, sizeof err) != 0 || !strstr(out, "adv"))
        fail_msg("plexus call %s: %s%s", nodes[other].address, out, err);
    assert_int_equal(px_proc_stop(&p), 0);
    assert_int_equal(count_addr(a, 0), 0);
    assert_int_equal(count_addr(nodes[other].address, 0), 0);
}

/* plexusd -t refuses bad register: blocks, saying where. */
static void test_register_bad_keys(void **state)
{
    (void)state;
    struct {
        const char *yaml, *want;
    } cases[] = {
        {"  register:\n    module: zookeeper\n    servers: 'h:1'\n    service: calc\n"
         "    sevrice: x\n", ":9:5: server.register: unknown key 'sevrice'"},
        {"  register:\n    module: zookeeper\n    servers: 'h:1'\n",
         ":6:5: server.register: missing required key 'service'"},
        {"  register:\n    module: zookeeper\n    servers: 'h:1'\n    service: calc\n"
         "    session_timeout: soon\n", ":9:22: server.register.session_timeout: 'soon' is not"},
        {"  register:\n    module: zookeeper\n    servers: 'h:1'\n    service: calc\n"
         "    weight: 0\n", ":9:13: server.register.weight: 0 is out of range"},
        {"  register:\n    module: zookeeper\n    servers: 'h:1'\n    service: calc\n"
         "    advertise: db1.example\n", ":9:16: server.register.advertise: 'db1.example' "
         "is not a numeric"},
        {"  register:\n    module: zookeeper\n    servers: 'h:1'\n    service: calc\n"
         "    root: plexus\n", ":6:13: registry 'zookeeper': root: expected an absolute"},
        {"  register:\n    module: zookeeper\n    servers: 'h:1'\n    service: calc\n"
         "    advertise: '0.0.0.0'\n", ":9:16: server.register.advertise: '0.0.0.0' is a wildcard"},
        {"  register:\n    module: nosuch\n", ":6:13: module 'nosuch' (registry): registry_nosuch.so"},
        {"  register: [zookeeper]\n", ":5:13: server.register: expected {module: NAME"},
    };
    char dir[] = "/tmp/px_regbad_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], bin[512];
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    snprintf(bin, sizeof bin, "%s/bin/plexusd", getenv("PX_BINARY_DIR") ?: "build");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "modules:\n  path: [%s]\nserver:\n  listen: '127.0.0.1:1'\n%s",
                getenv("PX_MODULE_DIR") ?: "build/modules", cases[i].yaml);
        fclose(f);
        char out[2048], err[2048];
        char *argv[] = {bin, "-t", "-c", path, NULL};
        int rc = px_run(argv, out, sizeof out, err, sizeof err);
        char want[512];
        snprintf(want, sizeof want, "%s%s", path, cases[i].want);
        if (rc == 0 || strstr(err, want) == NULL)
            fail_msg("case %zu: exit %d, stderr: %s (wanted %s)", i, rc, err, want);
    }
    /* A wildcard listener needs advertise: refused at the register block. */
    FILE *f = fopen(path, "w");
    fprintf(f, "modules:\n  path: [%s]\nserver:\n  listen: '0.0.0.0:1'\n  register:\n"
               "    module: zookeeper\n    servers: 'h:1'\n    service: calc\n",
            getenv("PX_MODULE_DIR") ?: "build/modules");
    fclose(f);
    char out[2048], err[2048];
    char *argv[] = {bin, "-t", "-c", path, NULL};
    assert_int_not_equal(px_run(argv, out, sizeof out, err, sizeof err), 0);
    char want[512];
    snprintf(want, sizeof want, "%s:6:5: server.register: missing key 'advertise'", path);
    if (!strstr(err, want))
        fail_msg("stderr: %s", err);
    /* ... and with it the file is fine. */
    f = fopen(path, "a");
    fprintf(f, "    advertise: 10.0.0.5\n");
    fclose(f);
    if (px_run(argv, out, sizeof out, err, sizeof err) != 0)
        fail_msg("with advertise: %s", err);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_bad_keys),
        cmocka_unit_test(test_register_lifecycle),
        cmocka_unit_test(test_register_late_and_master),
        cmocka_unit_test(test_register_advertise_port0),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
